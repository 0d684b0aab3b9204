//! Wider hidden layers for a trained network, without changing what it computes.
//!
//! A model trained with N hidden channels is embedded in a freshly drawn one with more: every
//! trained weight keeps its place, the new channels get the fresh network's weights, and the
//! weights by which a *trained* channel would read a *new* one are zero. The wider network
//! then computes exactly what the trained one did (the new channels are computed but nothing
//! trained reads them), so fine-tuning starts from the trained model's own rate and
//! distortion instead of from scratch. The new channels are not dead: their activations are
//! not zero, so the zero weights that read them get gradients at the first step.
//!
//! More latent channels M are different, because latents are rounded: a new latent that
//! rounds to zero gives the weights reading it no gradient, and zero weights pass the latent
//! no distortion gradient, while its rate is paid from the first step. Measured on the
//! default model (M 128 → 320 with zero weights, models/default/README.md), training switched
//! every new latent off. So the synthesis reads new latents with the fresh network's weights
//! ([`Reading::Fresh`]): the pictures move a little at the start, and the distortion reaches
//! the new latents at once. The side latents still read them with zero weights (unrounded,
//! they get gradients), and the hyper-synthesis predicts the trained latents' scales and
//! means as before ([`output_blocks`]). That start is not yet enough: measured the same way
//! (with the rate phased in, nic_train's `LatentWarmup`), training found nothing for the
//! new latents to carry and switched them off again.

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

/// How a widened layer reads the inputs it did not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Trained outputs read new inputs with zero weights: the same outputs as before.
    Zero,
    /// With the fresh network's weights: for rounded inputs (latents), which zero weights
    /// would never put to use.
    Fresh,
}

/// A transposed convolution (weights `[in, out, k, k]`) embedded in a wider one.
pub(crate) fn deconv(
    trained: ConvTranspose2d,
    mut fresh: ConvTranspose2d,
    new_inputs: Reading,
) -> ConvTranspose2d {
    let [i, o, _, _] = trained.weight.dims();
    let [wide_in, _, kh, kw] = fresh.weight.dims();
    let mut w = embed(fresh.weight.val(), trained.weight.val());
    if new_inputs == Reading::Zero {
        w = zero(w, [i..wide_in, 0..o, 0..kh, 0..kw]);
    }
    fresh.weight = Param::from_tensor(w);
    fresh.bias = bias(trained.bias, fresh.bias);
    fresh
}

/// A convolution whose outputs are equal blocks (the hyper-synthesis's scales, then its
/// means) embedded in one with larger blocks over the same inputs: each trained block at the
/// start of its wider one, so the trained outputs come out as before. The new outputs of a
/// block keep the fresh weights, or are zero (weights and bias) where `zero_new` says so.
pub(crate) fn output_blocks(trained: Conv2d, mut fresh: Conv2d, zero_new: &[bool]) -> Conv2d {
    let [o, i, kh, kw] = trained.weight.dims();
    let [wide_o, wide_i, _, _] = fresh.weight.dims();
    let parts = zero_new.len();
    assert!(i == wide_i && o % parts == 0 && wide_o % parts == 0 && wide_o >= o);
    let (b, wide_b) = (o / parts, wide_o / parts);
    let (mut w, tw) = (fresh.weight.val(), trained.weight.val());
    let mut bias = fresh.bias.as_ref().map(|p| p.val());
    let tb = trained.bias.as_ref().map(|p| p.val());
    for (p, &zero) in zero_new.iter().enumerate() {
        let (from, to) = (p * b, p * wide_b);
        let kept = tw.clone().slice([from..from + b, 0..i, 0..kh, 0..kw]);
        w = w.slice_assign([to..to + b, 0..i, 0..kh, 0..kw], kept);
        if let (Some(f), Some(t)) = (bias.take(), &tb) {
            bias = Some(f.slice_assign(to..to + b, t.clone().slice(from..from + b)));
        }
        if zero && wide_b > b {
            w = w.slice_fill([to + b..to + wide_b, 0..i, 0..kh, 0..kw], 0.0);
            bias = bias.map(|f| f.slice_fill(to + b..to + wide_b, 0.0));
        }
    }
    fresh.weight = Param::from_tensor(w.detach());
    fresh.bias = bias.map(|f| Param::from_tensor(f.detach()));
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
