//! What the comparisons against burn share: reading tensors back, and the tolerance check.

use std::fmt::Debug;

use burn::tensor::Tensor;

/// Every value within this fraction of the largest magnitude of the reference tensor (f32
/// sums of up to some 10⁵ products, summed in another order).
pub const TOLERANCE: f32 = 1e-4;

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

pub fn assert_close(what: &str, case: &impl Debug, got: Vec<f32>, want: Vec<f32>) {
    assert_eq!(got.len(), want.len(), "{what} size, {case:?}");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= TOLERANCE * scale,
        "{what}: off by {worst} of {scale}, {case:?}"
    );
}
