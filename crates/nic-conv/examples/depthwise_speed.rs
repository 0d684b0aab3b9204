//! Times a training step's worth of the depthwise filter (forward and both gradients) here and
//! as burn's shifted sums, interleaved, at the checkerboard context's shape in the photo
//! campaign (batch 8, 256 channels, 16×16 latents, 5×5):
//! `cargo run --release -p nic-conv --example depthwise_speed [ROUNDS]`.

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};

fn step(ours: bool, x: &Tensor<4>, w: &Tensor<4>) -> f64 {
    let start = Instant::now();
    let (x, w) = (x.clone().require_grad(), w.clone().require_grad());
    let y = if ours {
        nic_conv::depthwise(x.clone(), w.clone())
    } else {
        nic_conv::depthwise_burn(x.clone(), w.clone())
    };
    let grads = y.sum().backward();
    let _ = (x.grad(&grads).unwrap(), w.grad(&grads).unwrap());
    start.elapsed().as_secs_f64()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(10, |r| r.parse().expect("rounds"));
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::random([8, 256, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    let w = Tensor::<4>::random([256, 1, 5, 5], Distribution::Normal(0.0, 0.1), &device);
    let (mut ours, mut burn) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(step(true, &x, &w));
        burn.push(step(false, &x, &w));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (o, b) = (median(&mut ours), median(&mut burn));
    println!(
        "forward + backward, median of {rounds}: nic-conv {:.1} ms, burn's shifted sums {:.1} ms ({:.0}×)",
        o * 1e3,
        b * 1e3,
        b / o
    );
}
