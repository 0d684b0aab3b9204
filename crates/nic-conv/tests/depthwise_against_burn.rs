//! The depthwise filter against the same sum in burn's tensor operations (`depthwise_burn`,
//! burn's own gradients) and, forward, against burn's grouped `conv2d`: outputs and the
//! gradients of x and the filters on random shapes (batch 1, 3 and 8; one channel to 256;
//! kernels 1, 3 and 5; planes smaller than the filter, odd and one-pixel planes), and the
//! forward pass without autodiff.
//!
//! Tolerance: every value within 1e-4 of the largest magnitude of the reference tensor.

mod common;

use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{assert_close, values};

#[derive(Debug, Clone, Copy)]
struct Case {
    batch: usize,
    channels: usize,
    size: [usize; 2],
    kernel: usize,
}

impl Case {
    fn x_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.size[0], self.size[1]]
    }

    fn w_shape(&self) -> [usize; 4] {
        [self.channels, 1, self.kernel, self.kernel]
    }
}

fn random(rng: &mut StdRng, shape: [usize; 4], device: &Device) -> Tensor<4> {
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// Output and the gradients of x and the filters for a random linear loss.
fn run(case: &Case, seed: u64, ours: bool) -> Vec<Vec<f32>> {
    let device = Device::flex().autodiff();
    let mut rng = StdRng::seed_from_u64(seed);
    let x = random(&mut rng, case.x_shape(), &device).require_grad();
    let w = random(&mut rng, case.w_shape(), &device).require_grad();
    let loss = random(&mut rng, case.x_shape(), &device);
    let y = if ours {
        nic_conv::depthwise(x.clone(), w.clone())
    } else {
        nic_conv::depthwise_burn(x.clone(), w.clone())
    };
    let grads = (y.clone() * loss).sum().backward();
    vec![
        values(y),
        values(x.grad(&grads).unwrap()),
        values(w.grad(&grads).unwrap()),
    ]
}

#[test]
fn gradients_match_burn() {
    let cases = [
        (1, 1, [1, 1], 5),
        (1, 3, [5, 7], 5),
        (3, 4, [9, 2], 3),
        (2, 6, [3, 3], 5),
        (8, 256, [16, 16], 5),
        (1, 2, [40, 33], 1),
        (1, 5, [2, 9], 7),
    ];
    for (seed, &(batch, channels, size, kernel)) in cases.iter().enumerate() {
        let case = Case {
            batch,
            channels,
            size,
            kernel,
        };
        let ours = run(&case, seed as u64, true);
        let burn = run(&case, seed as u64, false);
        for (what, (o, b)) in ["output", "x gradient", "filter gradient"]
            .iter()
            .zip(ours.into_iter().zip(burn))
        {
            assert_close(what, &case, o, b);
        }
    }
}

#[test]
fn forward_is_burns_grouped_convolution() {
    let device = Device::flex();
    let mut rng = StdRng::seed_from_u64(7);
    for (batch, channels, size, kernel) in [(2, 12, [11, 6], 5), (1, 3, [4, 4], 3)] {
        let case = Case {
            batch,
            channels,
            size,
            kernel,
        };
        let x = random(&mut rng, case.x_shape(), &device);
        let w = random(&mut rng, case.w_shape(), &device);
        let p = case.kernel / 2;
        let options = ConvOptions::new([1, 1], [p, p], [1, 1], case.channels);
        let burn = burn::tensor::module::conv2d(x.clone(), w.clone(), None, options);
        let ours = nic_conv::depthwise(x, w);
        assert_close("output", &case, values(ours), values(burn));
    }
}

#[test]
fn only_the_gradients_asked_for_are_computed() {
    // Filters without gradients: x's gradient alone, and the other way round.
    let device = Device::flex().autodiff();
    let case = Case {
        batch: 2,
        channels: 4,
        size: [6, 7],
        kernel: 5,
    };
    let mut rng = StdRng::seed_from_u64(3);
    let x = random(&mut rng, case.x_shape(), &device);
    let w = random(&mut rng, case.w_shape(), &device);
    let loss = random(&mut rng, case.x_shape(), &device);
    for x_grad in [true, false] {
        let x = if x_grad {
            x.clone().require_grad()
        } else {
            x.clone()
        };
        let w = if x_grad {
            w.clone()
        } else {
            w.clone().require_grad()
        };
        let grads = |f: fn(Tensor<4>, Tensor<4>) -> Tensor<4>| {
            (f(x.clone(), w.clone()) * loss.clone()).sum().backward()
        };
        let (ours, want) = (grads(nic_conv::depthwise), grads(nic_conv::depthwise_burn));
        let (asked, other) = if x_grad { (&x, &w) } else { (&w, &x) };
        let of = |g| values(asked.grad(g).unwrap());
        assert_close("gradient", &case, of(&ours), of(&want));
        assert!(other.grad(&ours).is_none());
    }
}
