//! The fused GDN against the same formula in burn's tensor operations (`gdn_burn`, burn's own
//! gradients): outputs and the gradients of x, β and Γ, GDN and inverse GDN, on random shapes
//! (batch 1, 3 and 64, one channel to 96, odd and one-pixel planes, planes larger than one
//! parallel task), and the forward pass without autodiff.
//!
//! Tolerance: every value within 1e-4 of the largest magnitude of the reference tensor (sums
//! of up to 96 products per norm, and of up to 10⁵ per parameter gradient, in another order).

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{assert_close, values};

#[derive(Debug, Clone, Copy)]
struct Case {
    batch: usize,
    channels: usize,
    size: [usize; 2],
    inverse: bool,
}

fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// Random inputs as a trained GDN sees them: x of either sign, β in [0.1, 1.1], Γ ≥ 0 with a
/// stronger diagonal.
fn inputs(case: &Case, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let [h, w] = case.size;
    let c = case.channels;
    let n = case.batch * c * h * w;
    let x = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
    let beta = (0..c).map(|_| rng.random_range(0.1..1.1)).collect();
    let gamma = (0..c * c)
        .map(|i| rng.random_range(0.0..0.1) + if i % (c + 1) == 0 { 0.2 } else { 0.0 })
        .collect();
    let loss_weights = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    (x, beta, gamma, loss_weights)
}

/// Output and the gradients of x, β and Γ for a random linear loss.
fn run(case: &Case, seed: u64, ours: bool) -> Vec<Vec<f32>> {
    let device = Device::flex().autodiff();
    let (x, beta, gamma, loss) = inputs(case, seed);
    let [h, w] = case.size;
    let (b, c) = (case.batch, case.channels);
    let x = tensor(x, [b, c, h, w], &device).require_grad();
    let beta = tensor(beta, [c], &device).require_grad();
    let gamma = tensor(gamma, [c, c], &device).require_grad();
    let y = if ours {
        nic_conv::gdn(x.clone(), beta.clone(), gamma.clone(), case.inverse)
    } else {
        nic_conv::gdn_burn(x.clone(), beta.clone(), gamma.clone(), case.inverse)
    };
    let grads = (y.clone() * tensor(loss, [b, c, h, w], &device))
        .sum()
        .backward();
    vec![
        values(y),
        values(x.grad(&grads).unwrap()),
        values(beta.grad(&grads).unwrap()),
        values(gamma.grad(&grads).unwrap()),
    ]
}

fn check(case: Case, seed: u64) {
    let ours = run(&case, seed, true);
    let burn = run(&case, seed, false);
    for (what, (o, b)) in ["output", "x gradient", "β gradient", "Γ gradient"]
        .iter()
        .zip(ours.into_iter().zip(burn))
    {
        assert_close(what, &case, o, b);
    }
}

#[test]
fn gradients_match_burn() {
    let cases = [
        (1, 1, [1, 1]),
        (1, 3, [5, 7]),
        (3, 4, [9, 2]),
        (2, 96, [33, 17]),
        (64, 8, [8, 8]),
        (1, 16, [130, 129]),
    ];
    for (seed, &(batch, channels, size)) in cases.iter().enumerate() {
        for inverse in [false, true] {
            let case = Case {
                batch,
                channels,
                size,
                inverse,
            };
            check(case, seed as u64);
        }
    }
}

#[test]
fn forward_without_autodiff_matches_burn() {
    let device = Device::flex();
    for inverse in [false, true] {
        let case = Case {
            batch: 2,
            channels: 12,
            size: [31, 20],
            inverse,
        };
        let (x, beta, gamma, _) = inputs(&case, 9);
        let x = tensor(x, [2, 12, 31, 20], &device);
        let beta = tensor(beta, [12], &device);
        let gamma = tensor(gamma, [12, 12], &device);
        let ours = nic_conv::gdn(x.clone(), beta.clone(), gamma.clone(), inverse);
        let burn = nic_conv::gdn_burn(x, beta, gamma, inverse);
        assert_close("output", &case, values(ours), values(burn));
    }
}

#[test]
fn only_the_gradients_asked_for_are_computed() {
    // Weights without gradients (as when refining one picture's latents): x's gradient alone.
    let device = Device::flex().autodiff();
    let case = Case {
        batch: 2,
        channels: 5,
        size: [6, 7],
        inverse: false,
    };
    let (x, beta, gamma, loss) = inputs(&case, 4);
    let x = tensor(x, [2, 5, 6, 7], &device).require_grad();
    let beta = tensor(beta, [5], &device);
    let gamma = tensor(gamma, [5, 5], &device);
    let y = nic_conv::gdn(x.clone(), beta.clone(), gamma.clone(), false);
    let reference = nic_conv::gdn_burn(x.clone(), beta, gamma, false);
    let weights = tensor(loss, [2, 5, 6, 7], &device);
    let ours = x.grad(&(y * weights.clone()).sum().backward()).unwrap();
    let want = x.grad(&(reference * weights).sum().backward()).unwrap();
    assert_close("x gradient", &case, values(ours), values(want));
}
