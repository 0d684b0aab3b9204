//! Wider hidden layers for a trained network, without changing what it computes.
//!
//! A model trained with N hidden channels is embedded in a freshly drawn one with more: every
//! trained weight keeps its place, the new channels get the fresh network's weights, and the
//! weights by which a *trained* channel would read a *new* one are zero. The wider network
//! then computes exactly what the trained one did (the new channels are computed but nothing
//! trained reads them), so fine-tuning starts from the trained model's own rate and
//! distortion instead of from scratch. The new channels are not dead: their activations are
//! not zero, so the zero weights that read them get gradients at the first step.

use std::ops::Range;

use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::Tensor;

/// `fresh` with `trained` in its leading corner (every dimension of `trained` at most that of
/// `fresh`), detached: a new parameter, not a function of the two.
pub(crate) fn embed<const D: usize>(fresh: Tensor<D>, trained: Tensor<D>) -> Tensor<D> {
    let corner: Vec<Range<usize>> = trained.dims().iter().map(|&d| 0..d).collect();
    fresh.slice_assign(&corner[..], trained).detach()
}

/// A convolution (weights `[out, in, k, k]`) embedded in a wider one.
pub(crate) fn conv(trained: Conv2d, mut fresh: Conv2d) -> Conv2d {
    let [o, i, _, _] = trained.weight.dims();
    let [_, wide_in, kh, kw] = fresh.weight.dims();
    let w = embed(fresh.weight.val(), trained.weight.val());
    fresh.weight = Param::from_tensor(zero(w, [0..o, i..wide_in, 0..kh, 0..kw]));
    fresh.bias = bias(trained.bias, fresh.bias);
    fresh
}

/// A transposed convolution (weights `[in, out, k, k]`) embedded in a wider one.
pub(crate) fn deconv(trained: ConvTranspose2d, mut fresh: ConvTranspose2d) -> ConvTranspose2d {
    let [i, o, _, _] = trained.weight.dims();
    let [wide_in, _, kh, kw] = fresh.weight.dims();
    let w = embed(fresh.weight.val(), trained.weight.val());
    fresh.weight = Param::from_tensor(zero(w, [i..wide_in, 0..o, 0..kh, 0..kw]));
    fresh.bias = bias(trained.bias, fresh.bias);
    fresh
}

/// `w` with the block `block` set to zero (nothing where the block is empty: a layer whose
/// inputs did not widen).
fn zero(w: Tensor<4>, block: [Range<usize>; 4]) -> Tensor<4> {
    if block.iter().any(|r| r.is_empty()) {
        return w;
    }
    w.slice_fill(block, 0.0).detach()
}

fn bias(
    trained: Option<Param<Tensor<1>>>,
    fresh: Option<Param<Tensor<1>>>,
) -> Option<Param<Tensor<1>>> {
    match (trained, fresh) {
        (Some(t), Some(f)) => Some(Param::from_tensor(embed(f.val(), t.val()))),
        (_, f) => f,
    }
}
