//! GDN and inverse GDN (Ballé et al. 2016) as one operation on the CPU:
//! y = x / √n (inverse: y = x · √n) with n = β + Γ·x², the 1×1 "convolution" Γ·x² a matrix
//! product per image.
//!
//! Written with burn's tensor operations, a GDN layer is six element-wise passes forward, each
//! allocating a full activation, and more backward, among them `sqrt`'s gradient through `powf`:
//! in a training step at 256² crops these passes took about as long as the convolutions' own
//! element-wise work. Here the forward pass is one product and two passes, and the backward
//! pass, from the kept s = 1/√n (inverse: √n), is two products and two passes:
//!
//! - t = ∂L/∂n = −½·g·x·s³ (inverse: ½·g·x / s),
//! - ∂L/∂x = g·s + 2·x·(Γᵀt),
//! - ∂L/∂Γ = Σ over images of t·(x²)ᵀ, ∂L/∂β = Σ over pixels of t.
//!
//! β and Γ are the effective (non-negative) values; their reparameterization stays in the
//! model, written with burn's operations (it is tiny).

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
use crate::matmul::{View, matmul};
use crate::{ROUTED, Route};

/// GDN of `x` (NCHW) with effective `beta` (C) and `gamma` (C × C, row i the weights of
/// channel i's norm); `inverse` multiplies by √n instead of dividing.
///
/// On burn Flex tensors, with or without autodiff, this runs here; on other devices (or with
/// `NIC_CONV=burn`) it is the same formula in burn's tensor operations.
pub fn gdn(x: Tensor<4>, beta: Tensor<1>, gamma: Tensor<2>, inverse: bool) -> Tensor<4> {
    match route(&x, &beta, &gamma) {
        Some(Route::Flex) => {
            let (y, _) = forward(
                &x.try_into_primitive::<Flex>().expect(ROUTED),
                &beta.try_into_primitive::<Flex>().expect(ROUTED),
                &gamma.try_into_primitive::<Flex>().expect(ROUTED),
                inverse,
                false,
            );
            Tensor::from_primitive::<Flex>(y)
        }
        Some(Route::AutodiffFlex) => Tensor::from_primitive::<Autodiff<Flex>>(forward_autodiff(
            x.try_into_primitive::<Autodiff<Flex>>().expect(ROUTED),
            beta.try_into_primitive::<Autodiff<Flex>>().expect(ROUTED),
            gamma.try_into_primitive::<Autodiff<Flex>>().expect(ROUTED),
            inverse,
        )),
        None => gdn_burn(x, beta, gamma, inverse),
    }
}

/// The same formula in burn's tensor operations (every other device, and the reference of the
/// tests): Γ·x² as one batched matrix product over the pixels.
pub fn gdn_burn(x: Tensor<4>, beta: Tensor<1>, gamma: Tensor<2>, inverse: bool) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let norm = (gamma
        .unsqueeze::<3>()
        .matmul(x.clone().square().reshape([b, c, h * w]))
        + beta.reshape([1, c, 1]))
    .reshape([b, c, h, w]);
    if inverse {
        x * norm.sqrt()
    } else {
        x / norm.sqrt()
    }
}

fn route(x: &Tensor<4>, beta: &Tensor<1>, gamma: &Tensor<2>) -> Option<Route> {
    let c = x.dims()[1];
    if !crate::enabled() || beta.dims() != [c] || gamma.dims() != [c, c] {
        return None;
    }
    let r = crate::route_of(x)?;
    (crate::route_of(beta)? == r && crate::route_of(gamma)? == r).then_some(r)
}

/// Per-image pieces of an NCHW tensor: `channels` rows of `plane` values each.
#[derive(Debug, Clone, Copy)]
struct Planes {
    channels: usize,
    plane: usize,
}

impl Planes {
    fn of(x: &FlexTensor) -> Self {
        let [_, channels, h, w] = dims::<4>(x);
        Planes {
            channels,
            plane: h * w,
        }
    }

    fn image(&self) -> usize {
        self.channels * self.plane
    }

    /// Rows per parallel task of an element-wise pass: at least 16 Ki values, so that small
    /// planes (batch 64 of 8×8) are not split into tasks that cost more than they do.
    fn rows_per_task(&self) -> usize {
        (16384 / self.plane.max(1)).max(1)
    }
}

/// Pixels per band of the per-image products: a band's squares are a temporary of channels ×
/// `BAND` values (1.5 MiB at 96 channels) rather than a whole activation.
const BAND: usize = 4096;

/// Calls `f(start, len, squares)` for consecutive bands of one image's pixels, `squares` the
/// band's x² (channels × len, row-major).
fn square_bands(x: &[f32], p: Planes, mut f: impl FnMut(usize, usize, View)) {
    let band = BAND.min(p.plane);
    let mut squares = vec![0.0f32; p.channels * band];
    for start in (0..p.plane).step_by(band.max(1)) {
        let len = band.min(p.plane - start);
        let squares = &mut squares[..p.channels * len];
        for (c, row) in squares.chunks_mut(len).enumerate() {
            let x = &x[c * p.plane + start..][..len];
            vectorized(|| row.iter_mut().zip(x).for_each(|(s, &x)| *s = x * x));
        }
        f(start, len, View::new(squares, p.channels, len));
    }
}

/// `dst` (one image) = Γ·x²: the norms before β.
fn gamma_times_squares(dst: &mut [f32], x: &[f32], gamma: &[f32], p: Planes) {
    let gamma = View::new(gamma, p.channels, p.channels);
    square_bands(x, p, |start, _, squares| {
        matmul(&mut dst[start..], p.plane, gamma, squares, false)
    });
}

/// The forward pass: y, and (if `keep`) s = 1/√n (inverse: √n) for the backward pass. y is
/// rounded as burn's formula rounds it (x / √n, x · √n).
fn forward(
    x: &FlexTensor,
    beta: &FlexTensor,
    gamma: &FlexTensor,
    inverse: bool,
    keep: bool,
) -> (FlexTensor, Option<FlexTensor>) {
    let p = Planes::of(x);
    let (xv, bv, gv) = (values(x), values(beta), values(gamma));
    let rows = p.rows_per_task();
    let chunk = p.plane * rows;
    let mut y = vec![0.0f32; xv.len()];
    let mut s = vec![0.0f32; if keep { xv.len() } else { 0 }];
    // With s: the norms go into s, then y and s from them.
    let image_keep = |y: &mut [f32], s: &mut [f32], x: &[f32]| {
        gamma_times_squares(s, x, &gv, p);
        y.par_chunks_mut(chunk)
            .zip(s.par_chunks_mut(chunk))
            .zip(x.par_chunks(chunk))
            .enumerate()
            .for_each(|(task, ((y, s), x))| {
                let planes = y.chunks_mut(p.plane).zip(s.chunks_mut(p.plane));
                for (row, ((y, s), x)) in planes.zip(x.chunks(p.plane)).enumerate() {
                    let beta = bv[task * rows + row];
                    vectorized(|| {
                        for ((y, s), &x) in y.iter_mut().zip(s).zip(x) {
                            let root = (*s + beta).sqrt();
                            (*y, *s) = if inverse {
                                (x * root, root)
                            } else {
                                (x / root, 1.0 / root)
                            };
                        }
                    });
                }
            });
    };
    // Without: the norms go into y, which then becomes the output in place.
    let image = |y: &mut [f32], x: &[f32]| {
        gamma_times_squares(y, x, &gv, p);
        y.par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .enumerate()
            .for_each(|(task, (y, x))| {
                for (row, (y, x)) in y.chunks_mut(p.plane).zip(x.chunks(p.plane)).enumerate() {
                    let beta = bv[task * rows + row];
                    vectorized(|| {
                        for (y, &x) in y.iter_mut().zip(x) {
                            let root = (*y + beta).sqrt();
                            *y = if inverse { x * root } else { x / root };
                        }
                    });
                }
            });
    };
    if keep {
        y.par_chunks_mut(p.image())
            .zip(s.par_chunks_mut(p.image()))
            .zip(xv.par_chunks(p.image()))
            .for_each(|((y, s), x)| image_keep(y, s, x));
    } else {
        y.par_chunks_mut(p.image())
            .zip(xv.par_chunks(p.image()))
            .for_each(|(y, x)| image(y, x));
    }
    let shape = dims::<4>(x);
    (tensor(y, shape), keep.then(|| tensor(s, shape)))
}

/// Gradients of x, β and Γ, each computed only if asked for.
struct Wanted {
    x: bool,
    beta: bool,
    gamma: bool,
}

type Grads = (Option<FlexTensor>, Option<FlexTensor>, Option<FlexTensor>);

/// One image's share of ∂L/∂Γ and ∂L/∂β (summed over images afterwards).
struct Partial {
    gamma: Vec<f32>,
    beta: Vec<f64>,
}

impl Partial {
    fn zero(channels: usize) -> Self {
        Partial {
            gamma: vec![0.0; channels * channels],
            beta: vec![0.0; channels],
        }
    }

    fn add(mut self, other: Partial) -> Self {
        self.gamma
            .iter_mut()
            .zip(&other.gamma)
            .for_each(|(a, b)| *a += b);
        self.beta
            .iter_mut()
            .zip(&other.beta)
            .for_each(|(a, b)| *a += b);
        self
    }
}

fn backward(
    x: &FlexTensor,
    s: &FlexTensor,
    gamma: &FlexTensor,
    grad: &FlexTensor,
    inverse: bool,
    want: Wanted,
) -> Grads {
    let p = Planes::of(x);
    let (xv, sv, gv, gamma_v) = (values(x), values(s), values(grad), values(gamma));
    let c = p.channels;
    let rows = p.rows_per_task();
    // One image: t into `t`, then ∂L/∂x into `dx` if asked, and this image's partial sums.
    let image = |b: usize, dx: Option<&mut [f32]>, mut acc: Partial| {
        let range = b * p.image()..(b + 1) * p.image();
        let (x, s, g) = (&xv[range.clone()], &sv[range.clone()], &gv[range]);
        let chunk = p.plane * rows;
        let mut t = vec![0.0f32; p.image()];
        if inverse {
            zip_apply(&mut t, x, s, g, chunk, |t, x, s, g| *t = 0.5 * g * x / s);
        } else {
            zip_apply(&mut t, x, s, g, chunk, |t, x, s, g| {
                *t = -0.5 * g * x * s * s * s
            });
        }
        if let Some(dx) = dx {
            // Γᵀt into dx, then dx = g·s + 2·x·(Γᵀt) in place.
            matmul(
                dx,
                p.plane,
                View::new(&gamma_v, c, c).t(),
                View::new(&t, c, p.plane),
                false,
            );
            zip_apply(dx, x, s, g, chunk, |d, x, s, g| *d = g * s + 2.0 * x * *d);
        }
        if want.gamma {
            square_bands(x, p, |start, len, squares| {
                let t = View::strided(&t[start..], c, len, p.plane);
                matmul(&mut acc.gamma, c, t, squares.t(), true)
            });
        }
        if want.beta {
            for (sum, row) in acc.beta.iter_mut().zip(t.chunks(p.plane)) {
                *sum += row.iter().map(|&v| v as f64).sum::<f64>();
            }
        }
        acc
    };
    let batch = xv.len() / p.image().max(1);
    let mut dx = vec![0.0f32; if want.x { xv.len() } else { 0 }];
    let sums = if want.x {
        dx.par_chunks_mut(p.image())
            .enumerate()
            .fold(|| Partial::zero(c), |acc, (b, dx)| image(b, Some(dx), acc))
            .reduce(|| Partial::zero(c), Partial::add)
    } else {
        (0..batch)
            .into_par_iter()
            .fold(|| Partial::zero(c), |acc, b| image(b, None, acc))
            .reduce(|| Partial::zero(c), Partial::add)
    };
    (
        want.x.then(|| tensor(dx, dims::<4>(x))),
        want.beta
            .then(|| tensor(sums.beta.iter().map(|&v| v as f32).collect(), [c])),
        want.gamma.then(|| tensor(sums.gamma, [c, c])),
    )
}

/// Runs `f` compiled for AVX-512 or AVX2 where the CPU has them (chosen at run time; the
/// baseline x86-64 target has 4-wide vectors only). Every element's arithmetic is the same
/// IEEE operations in every version, so the results are the same bits.
#[inline(always)]
fn vectorized(f: impl FnOnce()) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { avx512(f) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(f: impl FnOnce()) {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2(f: impl FnOnce()) {
    f()
}

/// `f(out, x, s, g)` for every element of four equal-length slices, in parallel tasks of
/// `chunk` values, vectorized.
fn zip_apply(
    out: &mut [f32],
    x: &[f32],
    s: &[f32],
    g: &[f32],
    chunk: usize,
    f: impl Fn(&mut f32, f32, f32, f32) + Sync,
) {
    out.par_chunks_mut(chunk)
        .zip(x.par_chunks(chunk))
        .zip(s.par_chunks(chunk))
        .zip(g.par_chunks(chunk))
        .for_each(|(((out, x), s), g)| {
            vectorized(|| {
                for (((o, &x), &s), &g) in out.iter_mut().zip(x).zip(s).zip(g) {
                    f(o, x, s, g);
                }
            })
        });
}

/// The autodiff node; parents x, β, Γ.
#[derive(Debug)]
struct GdnBackward {
    inverse: bool,
}

impl Backward<Flex, 3> for GdnBackward {
    /// x, s and Γ, kept as values (s is no node's output).
    type State = (FlexTensor, FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, s, gamma) = ops.state;
        let parent = |i: usize| ops.parents.get(i).and_then(|p| p.as_ref());
        let want = Wanted {
            x: parent(0).is_some(),
            beta: parent(1).is_some(),
            gamma: parent(2).is_some(),
        };
        let (dx, dbeta, dgamma) = backward(&x, &s, &gamma, &grad, self.inverse, want);
        for (i, g) in [dx, dbeta, dgamma].into_iter().enumerate() {
            if let (Some(node), Some(g)) = (parent(i), g) {
                grads.register::<Flex>(node.id, g);
            }
        }
    }
}

type AdTensor = FloatTensor<Autodiff<Flex>>;

fn forward_autodiff(x: AdTensor, beta: AdTensor, gamma: AdTensor, inverse: bool) -> AdTensor {
    let node =
        GdnBackward { inverse }.prepare::<NoCheckpointing>([x.node(), beta.node(), gamma.node()]);
    match node.compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (y, s) = forward(
                x.primitive(),
                beta.primitive(),
                gamma.primitive(),
                inverse,
                true,
            );
            let state = (
                x.primitive().clone(),
                s.expect("kept"),
                gamma.primitive().clone(),
            );
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => {
            let (y, _) = forward(
                x.primitive(),
                beta.primitive(),
                gamma.primitive(),
                inverse,
                false,
            );
            prep.finish(y)
        }
    }
}
