//! The passes of one convolution layer over a batch, as matrix products.
//!
//! A convolution and its transpose share one weight matrix `W` of `small_channels` rows and
//! `big_channels · taps` columns (burn's `[out, in, kh, kw]` for a convolution, `[in, out, kh,
//! kw]` for a transposed one, both read row-major), and one index map ([`Geometry`]). Every
//! pass is then one of three products:
//!
//! | pass | convolution | transposed convolution |
//! |---|---|---|
//! | [`Layer::to_small`]: `W · im2col(big)` | forward | input gradient |
//! | [`Layer::to_big`]: `col2im(Wᵀ · small)` | input gradient | forward |
//! | [`Layer::weight_gradient`]: `small · im2col(big)ᵀ` | weight gradient | weight gradient |
//!
//! ([`Layer::transposed_gradients`] runs a transposed convolution's two backward products off
//! one im2col.)
//!
//! The batch goes through in chunks whose patch matrix stays under [`PATCH_BUDGET`]: several
//! small pictures share one wide product (64 pictures of 32×32 have 4 patches each at the last
//! layer), and a large picture goes through in bands of patch rows, so that its patches are
//! never all in memory at once.

use std::ops::Range;

use rayon::prelude::*;

use crate::Geometry;
use crate::im2col::{col2im, im2col};
use crate::matmul::{View, matmul};
use crate::scratch::Scratch;

/// Most values of a chunk's patch matrix (8 Mi values, 32 MiB of f32): wide enough for the
/// products to run at full speed (a training step at 8 × 256² has 2 chunks per picture at its
/// widest layer), small enough to be a minor share of a step's or a picture's memory.
pub const PATCH_BUDGET: usize = 1 << 23;

/// One layer's shapes: `batch` images with `big_channels` planes of `geometry.big` on one side
/// and `small_channels` planes of `geometry.small` on the other.
#[derive(Debug, Clone, Copy)]
pub struct Layer {
    pub batch: usize,
    pub big_channels: usize,
    pub small_channels: usize,
    pub geometry: Geometry,
}

/// Images `first..first + images`, patch rows `band` of each.
#[derive(Debug, Clone)]
struct Chunk {
    first: usize,
    images: usize,
    band: Range<usize>,
}

impl Layer {
    fn big_image(&self) -> usize {
        self.big_channels * self.geometry.big_len()
    }

    fn small_image(&self) -> usize {
        self.small_channels * self.geometry.small_len()
    }

    /// Rows of the patch matrix: big channels × kernel taps.
    fn patch_rows(&self) -> usize {
        self.big_channels * self.geometry.taps()
    }

    fn weight_len(&self) -> usize {
        self.small_channels * self.patch_rows()
    }

    /// The batch cut into chunks whose patch matrix fits [`PATCH_BUDGET`]: whole images while
    /// one fits, else bands of patch rows of one image.
    fn chunks(&self) -> Vec<Chunk> {
        let [hs, ws] = self.geometry.small;
        let per_row = (self.patch_rows() * ws).max(1);
        let per_image = per_row * hs;
        if per_image <= PATCH_BUDGET {
            let step = (PATCH_BUDGET / per_image.max(1)).clamp(1, self.batch.max(1));
            (0..self.batch)
                .step_by(step)
                .map(|first| Chunk {
                    first,
                    images: step.min(self.batch - first),
                    band: 0..hs,
                })
                .collect()
        } else {
            let rows = (PATCH_BUDGET / per_row).max(1);
            (0..self.batch)
                .flat_map(|first| {
                    (0..hs).step_by(rows).map(move |r| Chunk {
                        first,
                        images: 1,
                        band: r..(r + rows).min(hs),
                    })
                })
                .collect()
        }
    }

    /// The chunk's images of a big-side tensor, as im2col takes them.
    fn big_part<'a>(&self, big: &'a [f32], c: &Chunk) -> &'a [f32] {
        &big[c.first * self.big_image()..][..c.images * self.big_image()]
    }

    /// The chunk's patches of a small-side tensor as a `small_channels × patches` matrix: a
    /// strided view of one image's band, or the chunk's images copied side by side.
    fn small_part<'a>(&self, small: &'a [f32], c: &Chunk, wide: &'a mut Scratch) -> View<'a> {
        let (cs, ps, ws) = (
            self.small_channels,
            self.geometry.small_len(),
            self.geometry.small[1],
        );
        let image = &small[c.first * self.small_image()..][..c.images * self.small_image()];
        if c.images == 1 {
            View::strided(&image[c.band.start * ws..], cs, c.band.len() * ws, ps)
        } else {
            let wide = wide.sized(cs * c.images * ps);
            widen(image, cs, c.images, ps, wide);
            View::new(wide, cs, c.images * ps)
        }
    }

    /// `small = W · im2col(big) + bias`: a convolution's forward pass, or a transposed one's
    /// input gradient (then without bias).
    pub fn to_small(&self, big: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        assert_eq!(big.len(), self.batch * self.big_image(), "big-side input");
        assert_eq!(weight.len(), self.weight_len(), "weight");
        let (cs, ps, ws, rows) = (
            self.small_channels,
            self.geometry.small_len(),
            self.geometry.small[1],
            self.patch_rows(),
        );
        let mut out = vec![0.0; self.batch * self.small_image()];
        if let Some(bias) = bias {
            fill_planes(&mut out, bias, ps);
        }
        let (mut cols, mut wide) = (Scratch::take(), Scratch::take());
        let w = View::new(weight, cs, rows);
        for c in self.chunks() {
            let n = c.images * c.band.len() * ws;
            let cols = cols.sized(rows * n);
            im2col(
                self.big_part(big, &c),
                self.big_channels,
                c.images,
                &self.geometry,
                c.band.clone(),
                cols,
            );
            let dst = &mut out[c.first * self.small_image()..][..c.images * self.small_image()];
            if c.images == 1 {
                let dst = &mut dst[c.band.start * ws..];
                matmul(dst, ps, w, View::new(cols, rows, n), true);
            } else {
                let wide = wide.sized(cs * n);
                matmul(wide, n, w, View::new(cols, rows, n), false);
                add_unwidened(wide, cs, c.images, ps, dst);
            }
        }
        out
    }

    /// `big = col2im(Wᵀ · small) + bias`: a transposed convolution's forward pass, or a
    /// convolution's input gradient (then without bias).
    pub fn to_big(&self, small: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        assert_eq!(
            small.len(),
            self.batch * self.small_image(),
            "small-side input"
        );
        assert_eq!(weight.len(), self.weight_len(), "weight");
        let (cs, ws, rows) = (
            self.small_channels,
            self.geometry.small[1],
            self.patch_rows(),
        );
        let mut out = vec![0.0; self.batch * self.big_image()];
        if let Some(bias) = bias {
            fill_planes(&mut out, bias, self.geometry.big_len());
        }
        let (mut cols, mut wide) = (Scratch::take(), Scratch::take());
        // Wᵀ copied once (it is small): gemm runs a contiguous left operand up to 1.7 times as
        // fast as a transposed view when the chunks are narrow.
        let weight_t = transpose(weight, cs, rows);
        let wt = View::new(&weight_t, rows, cs);
        for c in self.chunks() {
            let n = c.images * c.band.len() * ws;
            let cols = cols.sized(rows * n);
            let s = self.small_part(small, &c, &mut wide);
            matmul(cols, n, wt, s, false);
            let dst = &mut out[c.first * self.big_image()..][..c.images * self.big_image()];
            col2im(
                cols,
                self.big_channels,
                c.images,
                &self.geometry,
                c.band.clone(),
                dst,
            );
        }
        out
    }

    /// A transposed convolution's backward pass, where `big` is the output gradient and
    /// `small` the input: the input gradient `W · im2col(big)` ([`Layer::to_small`]) and the
    /// weight gradient `Σ small · im2col(big)ᵀ` ([`Layer::weight_gradient`]) from one im2col
    /// per chunk, each only if asked for (the weight gradient transposed, as in
    /// [`Layer::weight_gradient`]).
    pub fn transposed_gradients(
        &self,
        big: &[f32],
        small: &[f32],
        weight: &[f32],
        want_input: bool,
        want_weight: bool,
    ) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
        assert_eq!(big.len(), self.batch * self.big_image(), "big-side input");
        assert_eq!(
            small.len(),
            self.batch * self.small_image(),
            "small-side input"
        );
        assert_eq!(weight.len(), self.weight_len(), "weight");
        let (cs, ps, ws, rows) = (
            self.small_channels,
            self.geometry.small_len(),
            self.geometry.small[1],
            self.patch_rows(),
        );
        let mut dx = want_input.then(|| vec![0.0; self.batch * self.small_image()]);
        let mut dwt = want_weight.then(|| vec![0.0; self.weight_len()]);
        let (mut cols, mut wide, mut product) = (Scratch::take(), Scratch::take(), Scratch::take());
        let w = View::new(weight, cs, rows);
        for c in self.chunks() {
            let n = c.images * c.band.len() * ws;
            let cols = cols.sized(rows * n);
            im2col(
                self.big_part(big, &c),
                self.big_channels,
                c.images,
                &self.geometry,
                c.band.clone(),
                cols,
            );
            let patches = View::new(cols, rows, n);
            if let Some(dx) = dx.as_mut() {
                let dst = &mut dx[c.first * self.small_image()..][..c.images * self.small_image()];
                if c.images == 1 {
                    matmul(&mut dst[c.band.start * ws..], ps, w, patches, true);
                } else {
                    let product = product.sized(cs * n);
                    matmul(product, n, w, patches, false);
                    add_unwidened(product, cs, c.images, ps, dst);
                }
            }
            if let Some(dwt) = dwt.as_mut() {
                let s = self.small_part(small, &c, &mut wide);
                matmul(dwt, cs, patches, s.t(), true);
            }
        }
        (dx, dwt.map(|t| transpose(&t, rows, cs)))
    }

    /// `dW = Σ small · im2col(big)ᵀ` over the batch, the weight gradient of either kind: for a
    /// convolution `small` is the output gradient and `big` the input; for a transposed one
    /// `small` is the input and `big` the output gradient.
    ///
    /// The product is taken as `dWᵀ = im2col(big) · smallᵀ` and transposed at the end: gemm
    /// runs it three times as fast as `small · im2col(big)ᵀ` (measured at 96 × 2400 × 4096:
    /// 268 against 83 GFLOP/s), the weight matrix being tiny next to the patches.
    pub fn weight_gradient(&self, small: &[f32], big: &[f32]) -> Vec<f32> {
        assert_eq!(
            small.len(),
            self.batch * self.small_image(),
            "small-side input"
        );
        assert_eq!(big.len(), self.batch * self.big_image(), "big-side input");
        let (cs, ws, rows) = (
            self.small_channels,
            self.geometry.small[1],
            self.patch_rows(),
        );
        let mut dwt = vec![0.0; self.weight_len()];
        let (mut cols, mut wide) = (Scratch::take(), Scratch::take());
        for c in self.chunks() {
            let n = c.images * c.band.len() * ws;
            let cols = cols.sized(rows * n);
            im2col(
                self.big_part(big, &c),
                self.big_channels,
                c.images,
                &self.geometry,
                c.band.clone(),
                cols,
            );
            let s = self.small_part(small, &c, &mut wide);
            matmul(&mut dwt, cs, View::new(cols, rows, n), s.t(), true);
        }
        transpose(&dwt, rows, cs)
    }
}

/// The bias gradient: each channel's sum over the batch and the plane (summed in f64, so the
/// order of a million f32 additions does not show).
pub fn channel_sums(t: &[f32], batch: usize, channels: usize, plane: usize) -> Vec<f32> {
    assert_eq!(t.len(), batch * channels * plane, "channel sums input");
    (0..channels)
        .into_par_iter()
        .map(|c| {
            (0..batch)
                .map(|b| {
                    t[(b * channels + c) * plane..][..plane]
                        .iter()
                        .map(|&v| v as f64)
                        .sum::<f64>()
                })
                .sum::<f64>() as f32
        })
        .collect()
}

/// The transpose of a row-major `rows × cols` matrix.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    t.par_chunks_mut(rows.max(1))
        .enumerate()
        .for_each(|(c, line)| {
            for (r, v) in line.iter_mut().enumerate() {
                *v = m[r * cols + c];
            }
        });
    t
}

/// Every plane of `dst` (NCHW, any batch) set to its channel's value.
fn fill_planes(dst: &mut [f32], values: &[f32], plane: usize) {
    if plane == 0 {
        return;
    }
    let channels = values.len();
    dst.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(i, p)| p.fill(values[i % channels]));
}

/// `[n, c, p]` → `[c, n·p]`, so that a chunk of images is one matrix with a row per channel.
fn widen(src: &[f32], c: usize, n: usize, p: usize, wide: &mut [f32]) {
    if p == 0 {
        return;
    }
    wide.par_chunks_mut(n * p)
        .enumerate()
        .for_each(|(ch, row)| {
            for b in 0..n {
                row[b * p..][..p].copy_from_slice(&src[(b * c + ch) * p..][..p]);
            }
        });
}

/// `dst[n, c, p] += wide[c, n·p]`.
fn add_unwidened(wide: &[f32], c: usize, n: usize, p: usize, dst: &mut [f32]) {
    if p == 0 {
        return;
    }
    dst.par_chunks_mut(p).enumerate().for_each(|(i, plane)| {
        let (b, ch) = (i / c, i % c);
        for (d, s) in plane.iter_mut().zip(&wide[ch * n * p + b * p..][..p]) {
            *d += s;
        }
    });
}
