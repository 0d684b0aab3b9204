//! Depthwise ("per-channel") convolution with stride 1 and zero padding that keeps the size:
//! each channel of x filtered by its own k×k filter, as one operation on the CPU.
//!
//! burn runs a grouped convolution's gradients one group at a time, and the same filter
//! written as k² shifted, weighted sums in tensor operations is 4k² element-wise passes each
//! way with a full activation allocated by each: in a training step of the checkerboard
//! context (256 channels at 16×16, batch 8) those passes took 0.6 s of 4.9. Here each pass is
//! one loop over the planes, in parallel:
//!
//! - forward: y[c] = Σ_taps w[c, t] · shift_t(x[c]),
//! - ∂L/∂x: the same filter flipped, applied to the output gradient g,
//! - ∂L/∂w[c, t] = Σ over images and pixels of g[c] · shift_t(x[c]).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::Tensor;
use rayon::prelude::*;

use crate::backend::{dims, tensor, values};
use crate::{ROUTED, Route};

/// The depthwise convolution of `x` (`[b, c, h, w]`) with `weight` (`[c, 1, k, k]`, k odd),
/// stride 1, padding k / 2 on every side, no bias: burn's `conv2d` with `groups = c`.
///
/// On burn Flex tensors, with or without autodiff, this runs here; on other devices (or with
/// `NIC_CONV=burn`) it is the same sum as k² shifted, weighted slices in burn's tensor
/// operations ([`depthwise_burn`]).
///
/// # Panics
/// If the weight's shape is not `[c, 1, k, k]` with k odd.
pub fn depthwise(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [_, c, _, _] = x.dims();
    let [wc, one, k, k2] = weight.dims();
    assert!(
        wc == c && one == 1 && k == k2 && k % 2 == 1,
        "depthwise filters must be [{c}, 1, k, k] with k odd, not {:?}",
        weight.dims()
    );
    match route(&x, &weight) {
        Some(Route::Flex) => Tensor::from_primitive::<Flex>(forward(
            &x.try_into_primitive::<Flex>().expect(ROUTED),
            &weight.try_into_primitive::<Flex>().expect(ROUTED),
            false,
        )),
        Some(Route::AutodiffFlex) => Tensor::from_primitive::<Autodiff<Flex>>(forward_autodiff(
            x.try_into_primitive::<Autodiff<Flex>>().expect(ROUTED),
            weight.try_into_primitive::<Autodiff<Flex>>().expect(ROUTED),
        )),
        None => depthwise_burn(x, weight),
    }
}

/// [`depthwise`] in burn's tensor operations: the input zero-padded once, then one shifted
/// slice times its tap's per-channel weight per tap (every other device, and the reference of
/// the tests).
pub fn depthwise_burn(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let k = weight.dims()[2];
    let p = k / 2;
    let padded = Tensor::<4>::zeros([b, c, h + 2 * p, w + 2 * p], &x.device())
        .slice_assign([0..b, 0..c, p..p + h, p..p + w], x.clone());
    let mut sum = Tensor::<4>::zeros([b, c, h, w], &x.device());
    for ky in 0..k {
        for kx in 0..k {
            let tap = weight
                .clone()
                .slice([0..c, 0..1, ky..ky + 1, kx..kx + 1])
                .reshape([1, c, 1, 1]);
            sum = sum + padded.clone().slice([0..b, 0..c, ky..ky + h, kx..kx + w]) * tap;
        }
    }
    sum
}

fn route(x: &Tensor<4>, weight: &Tensor<4>) -> Option<Route> {
    if !crate::enabled() {
        return None;
    }
    let r = crate::route_of(x)?;
    (crate::route_of(weight)? == r).then_some(r)
}

/// One plane's geometry: `h` × `w` pixels, a `k` × `k` filter centred on each.
#[derive(Debug, Clone, Copy)]
struct Plane {
    h: usize,
    w: usize,
    k: usize,
}

impl Plane {
    fn len(&self) -> usize {
        self.h * self.w
    }

    /// For tap offset `d` (0..k) along a side of `n` pixels: the range of outputs whose source
    /// `out + d − k/2` lies inside, and that source's first index (meaningless, and not to be
    /// read, when the range is empty).
    fn span(&self, d: usize, n: usize) -> (std::ops::Range<usize>, usize) {
        let p = self.k / 2;
        let first = p.saturating_sub(d);
        let last = (n + p).saturating_sub(d).min(n);
        (first..last.max(first), (first + d).saturating_sub(p))
    }

    /// `out += Σ_taps filter[t] · shift_t(x)` (the filter `k × k`, row-major).
    fn filter_into(&self, out: &mut [f32], x: &[f32], filter: &[f32]) {
        for ky in 0..self.k {
            let (rows, src_row) = self.span(ky, self.h);
            for kx in 0..self.k {
                let (cols, src_col) = self.span(kx, self.w);
                let weight = filter[ky * self.k + kx];
                if weight == 0.0 || cols.is_empty() {
                    continue;
                }
                for (i, y) in rows.clone().enumerate() {
                    let src = &x[(src_row + i) * self.w + src_col..][..cols.len()];
                    let dst = &mut out[y * self.w + cols.start..][..cols.len()];
                    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += weight * s);
                }
            }
        }
    }

    /// `sums[t] += Σ_pixels g · shift_t(x)`: one plane's share of the filter's gradient.
    fn correlate_into(&self, sums: &mut [f64], g: &[f32], x: &[f32]) {
        for ky in 0..self.k {
            let (rows, src_row) = self.span(ky, self.h);
            for kx in 0..self.k {
                let (cols, src_col) = self.span(kx, self.w);
                if cols.is_empty() {
                    continue;
                }
                let mut sum = 0.0f64;
                for (i, y) in rows.clone().enumerate() {
                    let src = &x[(src_row + i) * self.w + src_col..][..cols.len()];
                    let grad = &g[y * self.w + cols.start..][..cols.len()];
                    sum += grad.iter().zip(src).map(|(&g, &s)| g * s).sum::<f32>() as f64;
                }
                sums[ky * self.k + kx] += sum;
            }
        }
    }
}

fn plane_of(x: &FlexTensor, w: &FlexTensor) -> Plane {
    let [_, _, h, width] = dims::<4>(x);
    Plane {
        h,
        w: width,
        k: dims::<4>(w)[2],
    }
}

/// The forward pass, or with `flipped` the input gradient's (each filter turned by 180°).
fn forward(x: &FlexTensor, w: &FlexTensor, flipped: bool) -> FlexTensor {
    let plane = plane_of(x, w);
    let channels = dims::<4>(x)[1];
    let taps = plane.k * plane.k;
    let (xv, mut wv) = (values(x), values(w).into_owned());
    if flipped {
        wv.chunks_mut(taps).for_each(|f| f.reverse());
    }
    let mut out = vec![0.0f32; xv.len()];
    if plane.len() > 0 {
        out.par_chunks_mut(plane.len())
            .zip(xv.par_chunks(plane.len()))
            .enumerate()
            .for_each(|(i, (out, x))| {
                let c = i % channels;
                plane.filter_into(out, x, &wv[c * taps..][..taps]);
            });
    }
    tensor(out, dims::<4>(x))
}

/// ∂L/∂w from the output gradient `g` and the input `x`, summed in f64 per channel.
fn weight_gradient(x: &FlexTensor, w: &FlexTensor, g: &FlexTensor) -> FlexTensor {
    let plane = plane_of(x, w);
    let [batch, channels, _, _] = dims::<4>(x);
    let taps = plane.k * plane.k;
    let (xv, gv) = (values(x), values(g));
    let mut dw = vec![0.0f32; channels * taps];
    dw.par_chunks_mut(taps).enumerate().for_each(|(c, dw)| {
        let mut sums = vec![0.0f64; taps];
        for b in 0..batch {
            let at = (b * channels + c) * plane.len();
            let (x, g) = (&xv[at..][..plane.len()], &gv[at..][..plane.len()]);
            plane.correlate_into(&mut sums, g, x);
        }
        dw.iter_mut().zip(&sums).for_each(|(d, &s)| *d = s as f32);
    });
    tensor(dw, dims::<4>(w))
}

/// The autodiff node; parents x and the filters.
#[derive(Debug)]
struct DepthwiseBackward;

impl Backward<Flex, 2> for DepthwiseBackward {
    /// x and the filters, kept as values.
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, w) = ops.state;
        let [x_node, w_node] = ops.parents;
        if let Some(node) = x_node {
            grads.register::<Flex>(node.id, forward(&grad, &w, true));
        }
        if let Some(node) = w_node {
            grads.register::<Flex>(node.id, weight_gradient(&x, &w, &grad));
        }
    }
}

type AdTensor = FloatTensor<Autodiff<Flex>>;

fn forward_autodiff(x: AdTensor, w: AdTensor) -> AdTensor {
    let node = DepthwiseBackward.prepare::<NoCheckpointing>([x.node(), w.node()]);
    match node.compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let y = forward(x.primitive(), w.primitive(), false);
            prep.finish((x.primitive().clone(), w.primitive().clone()), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x.primitive(), w.primitive(), false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_keep_sources_inside_the_plane() {
        let plane = Plane { h: 4, w: 4, k: 5 };
        // Offset 0 reads two to the left: outputs 2.. read sources 0..
        assert_eq!(plane.span(0, 4), (2..4, 0));
        assert_eq!(plane.span(2, 4), (0..4, 0));
        assert_eq!(plane.span(4, 4), (0..2, 2));
        // A plane narrower than the filter's reach: nothing.
        assert_eq!(Plane { h: 1, w: 1, k: 5 }.span(0, 1), (2..2, 0));
        assert_eq!(Plane { h: 1, w: 1, k: 5 }.span(2, 1), (0..1, 0));
    }
}
