//! Fixed-point convolutions and transposed convolutions with ReLU (or, for a mean-scale
//! hyperprior's means, without it on some outputs).

use rayon::prelude::*;
use thiserror::Error;

use crate::{ACTIVATION_BITS, WEIGHT_BITS};

/// Activations are clamped to ±2^24 (±16384 in real terms) and weights refused beyond ±2^24
/// (±256): with at most [`MAX_TERMS`] products per sum, no sum can reach 2^63.
const MAX_ACTIVATION: i64 = 1 << 24;
const MAX_WEIGHT: i64 = 1 << 24;
const MAX_TERMS: usize = 1 << 14;
/// Side latents are clamped to this magnitude before the network (a decoder must survive any
/// value a hostile file holds; a real encoder never comes near it).
const MAX_INPUT: i32 = 1 << 13;
/// Most values of a convolution's patch matrix at a time (4 Mi i32, 16 MiB): the whole matrix
/// of a 768×512 picture's last layer is 1.3 Mi.
const PATCH_BUDGET: usize = 1 << 22;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HyperError {
    #[error("integer hyper-synthesis: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Weights `[out, in, k, k]` (burn's `Conv2d` layout).
    Conv,
    /// Weights `[in, out, k, k]` (burn's `ConvTranspose2d` layout).
    Transposed,
}

/// Feature maps, `[channels][height][width]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planes {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<i32>,
}

/// The geometry of a layer: a convolution (or a transposed one) with square kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub kind: Kind,
    pub inputs: usize,
    pub outputs: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    /// Transposed convolutions only: extra rows and columns at the bottom and right.
    pub out_padding: usize,
}

impl Shape {
    /// A stride-1 convolution whose output has the input's size (padding `kernel / 2`, odd
    /// kernels).
    pub fn same_size(inputs: usize, outputs: usize, kernel: usize) -> Shape {
        Shape {
            kind: Kind::Conv,
            inputs,
            outputs,
            kernel,
            stride: 1,
            padding: kernel / 2,
            out_padding: 0,
        }
    }
}

/// One layer, then ReLU on its first `rectified` outputs (all of them unless
/// [`Layer::with_linear_outputs`] says otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    shape: Shape,
    /// Outputs `rectified..` are linear: a mean-scale hyperprior's last layer predicts
    /// non-negative scales and then means of either sign.
    rectified: usize,
    /// `WEIGHT_BITS` fraction bits, in the layout of `kind`. Stored as i32 (they are at most
    /// 2^24) so that the products are i32 × i32 → i64, which vectorizes (`vpmuldq`).
    weights: Vec<i32>,
    /// `ACTIVATION_BITS + WEIGHT_BITS` fraction bits.
    bias: Vec<i64>,
    /// The weights as the left operand of the layer's matrix product, in `f64`: see
    /// [`Exact`].
    exact: Exact,
}

/// The weights as a `f64` matrix for [`gemm`]: `[output][input·k·k]` for a convolution,
/// `[output·k·k][input]` for a transposed one (whose product is then scattered onto the
/// output, as col2im does). Integers below 2^53 are exact in `f64`, and so is every sum of
/// them that stays below 2^53: when the largest input times the largest `Σ|w|` of an output
/// ([`Exact::abs_sum`]) is below 2^53, no product and no partial sum in any order can leave
/// that range, so a floating-point matrix product gives the integer sums bit for bit — at the
/// speed of an optimized `f64` product instead of one-at-a-time `i64` multiply-adds. Inputs
/// outside that bound (a hostile file's) take the `i64` path; both give the same bits.
#[derive(Debug, Clone)]
struct Exact {
    weights: Vec<f64>,
    /// The largest sum of |weight| over one output's terms (at most 2^14 · 2^24).
    abs_sum: u64,
}

impl PartialEq for Exact {
    fn eq(&self, other: &Exact) -> bool {
        // Both come from the same integer weights (no NaN), so equality of the matrices is
        // an equivalence.
        self.abs_sum == other.abs_sum && self.weights == other.weights
    }
}

impl Eq for Exact {}

/// The bound below which the `f64` product is exact.
const EXACT_F64: u128 = 1 << 53;

impl Exact {
    fn new(shape: &Shape, weights: &[i32]) -> Exact {
        let Shape {
            inputs,
            outputs,
            kernel: k,
            ..
        } = *shape;
        let taps = k * k;
        let mut matrix = Vec::with_capacity(weights.len());
        let mut sums = vec![0u64; outputs];
        match shape.kind {
            Kind::Conv => {
                matrix.extend(weights.iter().map(|&w| w as f64));
                for (o, sum) in sums.iter_mut().enumerate() {
                    *sum = weights[o * inputs * taps..][..inputs * taps]
                        .iter()
                        .map(|w| w.unsigned_abs() as u64)
                        .sum();
                }
            }
            Kind::Transposed => {
                for o in 0..outputs {
                    for t in 0..taps {
                        for i in 0..inputs {
                            let w = weights[(i * outputs + o) * taps + t];
                            matrix.push(w as f64);
                            sums[o] += w.unsigned_abs() as u64;
                        }
                    }
                }
            }
        }
        Exact {
            weights: matrix,
            abs_sum: sums.into_iter().max().unwrap_or(0),
        }
    }

    /// Whether the `f64` product is exact for inputs of magnitude at most `max_input`.
    fn holds(&self, max_input: u64) -> bool {
        (max_input as u128) * (self.abs_sum as u128) < EXACT_F64
    }
}

impl Layer {
    /// Rounds trained weights to fixed point. `weights` and `bias` are in burn's layouts.
    pub fn from_float(shape: Shape, weights: &[f32], bias: &[f32]) -> Result<Layer, HyperError> {
        let Shape {
            inputs,
            outputs,
            kernel,
            stride,
            padding,
            ..
        } = shape;
        let bad = |m: String| Err(HyperError::Invalid(m));
        if inputs == 0 || outputs == 0 || kernel == 0 || stride == 0 || padding >= kernel {
            return bad(format!(
                "layer {inputs}→{outputs}, kernel {kernel}, stride {stride}, padding {padding}"
            ));
        }
        if inputs * kernel * kernel > MAX_TERMS {
            return bad(format!(
                "layer of {inputs}×{kernel}×{kernel} inputs is too wide"
            ));
        }
        if weights.len() != inputs * outputs * kernel * kernel || bias.len() != outputs {
            return bad("weights or bias of the wrong size".into());
        }
        let fixed = |v: f32, bits: u32, limit: i64| {
            let q = (v as f64 * (1u64 << bits) as f64).round();
            (q.is_finite() && q.abs() <= limit as f64).then_some(q as i64)
        };
        let weights: Option<Vec<i32>> = weights
            .iter()
            .map(|&w| fixed(w, WEIGHT_BITS, MAX_WEIGHT).map(|w| w as i32))
            .collect();
        let bias: Option<Vec<i64>> = bias
            .iter()
            .map(|&b| fixed(b, ACTIVATION_BITS + WEIGHT_BITS, 1 << 60))
            .collect();
        let (Some(weights), Some(bias)) = (weights, bias) else {
            return bad("weights out of the fixed-point range".into());
        };
        Ok(Layer {
            shape,
            rectified: outputs,
            exact: Exact::new(&shape, &weights),
            weights,
            bias,
        })
    }

    /// The same layer with outputs `from..` linear (clamped to ±2^24 instead of through ReLU).
    pub fn with_linear_outputs(mut self, from: usize) -> Layer {
        self.rectified = from.min(self.shape.outputs);
        self
    }

    fn output_size(&self, n: usize) -> Option<usize> {
        let Shape {
            kernel: k,
            stride: s,
            padding: p,
            ..
        } = self.shape;
        match self.shape.kind {
            Kind::Conv => (n + 2 * p).checked_sub(k).map(|v| v / s + 1),
            Kind::Transposed => ((n - 1) * s + k + self.shape.out_padding).checked_sub(2 * p),
        }
    }

    fn forward(&self, x: &Planes) -> Result<Planes, HyperError> {
        self.forward_in_bands(x, PATCH_BUDGET, true)
    }

    /// [`Layer::forward`] with patch matrices of at most about `budget` values, through the
    /// `f64` products where they are exact if `fast` (else always in `i64`).
    fn forward_in_bands(
        &self,
        x: &Planes,
        budget: usize,
        fast: bool,
    ) -> Result<Planes, HyperError> {
        if x.channels != self.shape.inputs || x.height == 0 || x.width == 0 {
            return Err(HyperError::Invalid(format!(
                "{} input channels for a layer of {}",
                x.channels, self.shape.inputs
            )));
        }
        let (oh, ow) = match (self.output_size(x.height), self.output_size(x.width)) {
            (Some(h), Some(w)) if h > 0 && w > 0 => (h, w),
            _ => return Err(HyperError::Invalid("input too small".into())),
        };
        let outputs = self.shape.outputs;
        let max_input = x.data.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        let exact = fast && self.exact.holds(max_input as u64);
        let data = match self.shape.kind {
            Kind::Transposed if exact => self.transposed_f64(x, oh, ow, budget),
            Kind::Transposed => {
                let planes: Vec<Vec<i32>> = (0..outputs)
                    .into_par_iter()
                    .map(|o| self.output_plane(x, &[], o, oh, ow))
                    .collect();
                planes.concat()
            }
            // A convolution reads a patch matrix shared by all output channels, built for
            // bands of output rows so that its size stays bounded whatever the picture.
            Kind::Conv => {
                let taps = self.shape.inputs * self.shape.kernel * self.shape.kernel;
                let band = (budget / (taps * ow)).max(1);
                let mut data = vec![0; outputs * oh * ow];
                for top in (0..oh).step_by(band) {
                    let rows = top..(top + band).min(oh);
                    if exact {
                        let n = rows.len() * ow;
                        let patches: Vec<f64> = self.patches(x, rows.clone(), ow);
                        let mut sums = vec![0.0; outputs * n];
                        product(&mut sums, &self.exact.weights, outputs, taps, &patches, n);
                        for (o, plane) in sums.chunks(n).enumerate() {
                            let dst = &mut data[(o * oh + top) * ow..][..n];
                            for (d, &v) in dst.iter_mut().zip(plane) {
                                *d = self.finish(o, v as i64 + self.bias[o]);
                            }
                        }
                        continue;
                    }
                    let patches: Vec<i32> = self.patches(x, rows.clone(), ow);
                    let planes: Vec<Vec<i32>> = (0..outputs)
                        .into_par_iter()
                        .map(|o| self.output_plane(x, &patches, o, rows.len(), ow))
                        .collect();
                    for (o, plane) in planes.iter().enumerate() {
                        data[(o * oh + top) * ow..][..plane.len()].copy_from_slice(plane);
                    }
                }
                data
            }
        };
        Ok(Planes {
            channels: outputs,
            height: oh,
            width: ow,
            data,
        })
    }

    /// A stride-1 convolution's outputs at `positions` only (indices `row·width + col` of its
    /// output plane, the input's size), summed over the kernel taps `taps` (`(ky, kx)`) only:
    /// `[outputs][1][positions.len()]`. For inputs known to be zero under the other taps at
    /// those positions (a checkerboard context reads half the latents for the other half), a
    /// fraction of the full convolution's work. Inputs are clamped to the activations' range.
    pub fn forward_at(
        &self,
        x: &Planes,
        positions: &[usize],
        taps: &[(usize, usize)],
    ) -> Result<Planes, HyperError> {
        self.forward_at_with(x, positions, taps, true)
    }

    /// [`Layer::forward_at`] through the `f64` product where it is exact if `fast` (else
    /// always in `i64`).
    fn forward_at_with(
        &self,
        x: &Planes,
        positions: &[usize],
        taps: &[(usize, usize)],
        fast: bool,
    ) -> Result<Planes, HyperError> {
        let Shape {
            kind,
            inputs,
            outputs,
            kernel: k,
            stride,
            ..
        } = self.shape;
        let (h, w) = (x.height, x.width);
        if kind != Kind::Conv
            || stride != 1
            || 2 * self.shape.padding + 1 != k
            || x.channels != inputs
            || x.data.len() != inputs * h * w
            || positions.iter().any(|&p| p >= h * w)
            || taps.iter().any(|&(ky, kx)| ky >= k || kx >= k)
        {
            return Err(HyperError::Invalid(format!(
                "outputs at positions of a {inputs}×{h}×{w} input through a {kind:?} layer of stride {stride}"
            )));
        }
        let p = self.shape.padding as isize;
        let limit = MAX_ACTIVATION as i32;
        let n = positions.len();
        let rows = inputs * taps.len();
        // Row (input, tap) of the patch matrix: the input at each position's tap.
        let patches: Vec<i32> = (0..rows)
            .into_par_iter()
            .flat_map_iter(|r| {
                let (i, (ky, kx)) = (r / taps.len(), taps[r % taps.len()]);
                let plane = &x.data[i * h * w..][..h * w];
                positions.iter().map(move |&pos| {
                    let iy = (pos / w) as isize + ky as isize - p;
                    let ix = (pos % w) as isize + kx as isize - p;
                    if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                        plane[iy as usize * w + ix as usize].clamp(-limit, limit)
                    } else {
                        0
                    }
                })
            })
            .collect();
        let weight = |o: usize, r: usize| {
            let (i, (ky, kx)) = (r / taps.len(), taps[r % taps.len()]);
            self.weights[((o * inputs + i) * k + ky) * k + kx]
        };
        let max_input = patches.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        let data = if fast && self.exact.holds(max_input as u64) {
            let a: Vec<f64> = (0..outputs * rows)
                .map(|j| weight(j / rows, j % rows) as f64)
                .collect();
            let b: Vec<f64> = patches.iter().map(|&v| v as f64).collect();
            let mut sums = vec![0.0; outputs * n];
            product(&mut sums, &a, outputs, rows, &b, n);
            self.finish_planes(&sums, n)
        } else {
            (0..outputs)
                .into_par_iter()
                .flat_map_iter(|o| {
                    let mut acc = vec![self.bias[o]; n];
                    for r in 0..rows {
                        let wv = weight(o, r);
                        if wv != 0 {
                            accumulate(&mut acc, &patches[r * n..][..n], wv);
                        }
                    }
                    acc.into_iter().map(move |a| self.finish(o, a))
                })
                .collect()
        };
        Ok(Planes {
            channels: outputs,
            height: 1,
            width: n,
            data,
        })
    }

    /// A convolution's input for output rows `rows` as a matrix: row `(i·k + ky)·k + kx` holds,
    /// for every output position `(oy, ox)`, input `i` at `(oy·s + ky − p, ox·s + kx − p)`
    /// (zero outside).
    fn patches<T: From<i32> + Copy + Default + Send + Sync>(
        &self,
        x: &Planes,
        rows: std::ops::Range<usize>,
        ow: usize,
    ) -> Vec<T> {
        let Shape {
            inputs,
            kernel: k,
            stride: s,
            ..
        } = self.shape;
        let p = self.shape.padding as isize;
        let (h, w) = (x.height, x.width);
        let n = rows.len() * ow;
        let mut cols = vec![T::default(); inputs * k * k * n];
        cols.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
            let (i, ky, kx) = (r / (k * k), r / k % k, r % k);
            let input = &x.data[i * h * w..][..h * w];
            let xs = valid(ow, s, kx as isize - p, w);
            if xs.is_empty() {
                return;
            }
            let first = ((xs.start * s) as isize + kx as isize - p) as usize;
            let inside = valid(rows.end, s, ky as isize - p, h);
            for oy in inside.start.max(rows.start)..inside.end {
                let iy = ((oy * s) as isize + ky as isize - p) as usize;
                let line = &input[iy * w + first..];
                let out = &mut row[(oy - rows.start) * ow..][xs.clone()];
                for (o, v) in out.iter_mut().zip(line.iter().step_by(s)) {
                    *o = T::from(*v);
                }
            }
        });
        cols
    }

    /// Output channel `o`: the exact integer sum, rescaled (rounding half up), through ReLU
    /// (or clamped to ±2^24 for a linear output).
    ///
    /// The same code compiled for AVX-512 or AVX2 where the CPU has them (chosen at run time):
    /// the baseline x86-64 target has no vector multiply of 32-bit into 64-bit integers, so
    /// there the products run one at a time. Integer arithmetic is exact, so every version,
    /// and every order of the sums, gives the same bits.
    fn output_plane(
        &self,
        x: &Planes,
        patches: &[i32],
        o: usize,
        oh: usize,
        ow: usize,
    ) -> Vec<i32> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                return unsafe { self.output_plane_avx512(x, patches, o, oh, ow) };
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                return unsafe { self.output_plane_avx2(x, patches, o, oh, ow) };
            }
        }
        self.output_plane_any(x, patches, o, oh, ow)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn output_plane_avx512(
        &self,
        x: &Planes,
        patches: &[i32],
        o: usize,
        oh: usize,
        ow: usize,
    ) -> Vec<i32> {
        self.output_plane_any(x, patches, o, oh, ow)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn output_plane_avx2(
        &self,
        x: &Planes,
        patches: &[i32],
        o: usize,
        oh: usize,
        ow: usize,
    ) -> Vec<i32> {
        self.output_plane_any(x, patches, o, oh, ow)
    }

    /// [`Layer::output_plane`] for any CPU. Every product runs over a long contiguous run: a
    /// convolution sums rows of the patch matrix (one per input channel and tap); a transposed
    /// one sums, for each tap, the whole input planes weighted by that tap, and adds the sum
    /// once to the output pixels the tap reaches (`oy = iy·s + ky − p`, `ox = ix·s + kx − p`).
    #[inline(always)]
    fn output_plane_any(
        &self,
        x: &Planes,
        patches: &[i32],
        o: usize,
        oh: usize,
        ow: usize,
    ) -> Vec<i32> {
        let Shape {
            kind,
            inputs,
            outputs,
            kernel: k,
            stride: s,
            ..
        } = self.shape;
        let p = self.shape.padding as isize;
        let (h, w) = (x.height, x.width);
        let mut acc = vec![self.bias[o]; oh * ow];
        match kind {
            Kind::Conv => {
                let taps = inputs * k * k;
                for (r, &wv) in self.weights[o * taps..][..taps].iter().enumerate() {
                    if wv != 0 {
                        accumulate(&mut acc, &patches[r * oh * ow..][..oh * ow], wv);
                    }
                }
            }
            Kind::Transposed => {
                let mut sum = vec![0i64; h * w];
                for ky in 0..k {
                    let rows = valid(h, s, ky as isize - p, oh);
                    for kx in 0..k {
                        let cols = valid(w, s, kx as isize - p, ow);
                        if rows.is_empty() || cols.is_empty() {
                            continue;
                        }
                        sum.fill(0);
                        for i in 0..inputs {
                            let wv = self.weights[((i * outputs + o) * k + ky) * k + kx];
                            if wv != 0 {
                                accumulate(&mut sum, &x.data[i * h * w..][..h * w], wv);
                            }
                        }
                        let tap = Tap {
                            ky,
                            kx,
                            s,
                            p,
                            w,
                            ow,
                        };
                        tap.add(&mut acc, &sum, 0, rows.clone(), cols);
                    }
                }
            }
        }
        acc.into_iter().map(|a| self.finish(o, a)).collect()
    }

    /// Output `o`'s value from its exact sum with the bias: rescaled (rounding half up),
    /// then through ReLU, or clamped to ±2^24 for a linear output.
    #[inline(always)]
    fn finish(&self, o: usize, sum: i64) -> i32 {
        let half = 1i64 << (WEIGHT_BITS - 1);
        ((sum + half) >> WEIGHT_BITS).clamp(self.floor(o), MAX_ACTIVATION) as i32
    }

    /// A transposed layer's output through one `f64` product per band of input rows (exact
    /// under [`Exact::holds`]): `cols[(o, ky, kx)][pixel] = Σᵢ w · x`, then every tap's row
    /// added onto the output pixels it reaches, as [`Layer::output_plane_any`] does.
    fn transposed_f64(&self, x: &Planes, oh: usize, ow: usize, budget: usize) -> Vec<i32> {
        let Shape {
            inputs,
            outputs,
            kernel: k,
            stride: s,
            ..
        } = self.shape;
        let p = self.shape.padding as isize;
        let (h, w) = (x.height, x.width);
        let band = (budget / (outputs * k * k * w)).max(1);
        let mut acc = vec![0.0f64; outputs * oh * ow];
        for top in (0..h).step_by(band) {
            let lines = top..(top + band).min(h);
            let n = lines.len() * w;
            // The band of every input plane, side by side: `[input][line][column]`.
            let mut input = vec![0.0f64; inputs * n];
            input.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
                let src = &x.data[(i * h + top) * w..][..n];
                for (d, &v) in row.iter_mut().zip(src) {
                    *d = v as f64;
                }
            });
            let mut cols = vec![0.0f64; outputs * k * k * n];
            product(
                &mut cols,
                &self.exact.weights,
                outputs * k * k,
                inputs,
                &input,
                n,
            );
            acc.par_chunks_mut(oh * ow)
                .enumerate()
                .for_each(|(o, plane)| {
                    for ky in 0..k {
                        let rows = valid(h, s, ky as isize - p, oh);
                        let rows = rows.start.max(lines.start)..rows.end.min(lines.end);
                        for kx in 0..k {
                            let across = valid(w, s, kx as isize - p, ow);
                            if rows.is_empty() || across.is_empty() {
                                continue;
                            }
                            let sums = &cols[((o * k + ky) * k + kx) * n..][..n];
                            let tap = Tap {
                                ky,
                                kx,
                                s,
                                p,
                                w,
                                ow,
                            };
                            tap.add(plane, sums, top, rows.clone(), across);
                        }
                    }
                });
        }
        self.finish_planes(&acc, oh * ow)
    }

    /// Every output plane (`plane` values each) of exact `f64` sums, with its bias, through
    /// [`Layer::finish`].
    fn finish_planes(&self, sums: &[f64], plane: usize) -> Vec<i32> {
        sums.par_chunks(plane.max(1))
            .enumerate()
            .flat_map_iter(|(o, plane)| {
                plane
                    .iter()
                    .map(move |&v| self.finish(o, v as i64 + self.bias[o]))
            })
            .collect()
    }

    /// The lowest value output `o` takes: 0 through ReLU, −2^24 for a linear output.
    fn floor(&self, o: usize) -> i64 {
        if o < self.rectified {
            0
        } else {
            -MAX_ACTIVATION
        }
    }
}

/// Kernel tap `(ky, kx)` of a transposed layer of stride `s` and padding `p`, between input
/// lines of `w` values and output lines of `ow`.
struct Tap {
    ky: usize,
    kx: usize,
    s: usize,
    p: isize,
    w: usize,
    ow: usize,
}

impl Tap {
    /// `plane[iy·s + ky − p][ix·s + kx − p] += sums[iy − top][ix]` for the input pixels `rows ×
    /// across` (inside the output, from [`valid`]): the tap's sums over the input channels
    /// added onto the output pixels it reaches, for either path's accumulator type.
    fn add<T: Copy + std::ops::AddAssign>(
        &self,
        plane: &mut [T],
        sums: &[T],
        top: usize,
        rows: std::ops::Range<usize>,
        across: std::ops::Range<usize>,
    ) {
        let Tap {
            ky,
            kx,
            s,
            p,
            w,
            ow,
        } = *self;
        let first = ((across.start * s) as isize + kx as isize - p) as usize;
        for iy in rows {
            let oy = ((iy * s) as isize + ky as isize - p) as usize;
            let out = plane[oy * ow + first..].iter_mut().step_by(s);
            for (a, v) in out.zip(&sums[(iy - top) * w..][across.clone()]) {
                *a += *v;
            }
        }
    }
}

/// `out += w · input`, element by element: i32 products widened to i64, which the compiler
/// turns into vector multiplies over these contiguous slices.
#[inline(always)]
fn accumulate(out: &mut [i64], input: &[i32], w: i32) {
    for (o, &v) in out.iter_mut().zip(input) {
        *o += v as i64 * w as i64;
    }
}

/// `dst = a · b` for row-major `a` (`m × k`) and `b` (`k × n`), in `f64`, through the
/// optimized matrix product burn's CPU backend uses too.
fn product(dst: &mut [f64], a: &[f64], m: usize, k: usize, b: &[f64], n: usize) {
    assert!(
        a.len() == m * k && b.len() == k * n && dst.len() == m * n,
        "product shapes"
    );
    if m * n == 0 {
        return;
    }
    if k == 0 {
        dst.fill(0.0);
        return;
    }
    let parallelism = if m * n * k >= 1 << 20 && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the three slices hold exactly the row-major matrices described (checked above),
    // and `dst`, a unique borrow, cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Positions `o < n` for which `o·s + offset` lies in `0..len`: the outputs that read inside
/// the input (convolutions), or the inputs that land inside the output (transposed ones).
fn valid(n: usize, s: usize, offset: isize, len: usize) -> std::ops::Range<usize> {
    let s = s as isize;
    // smallest o with o·s + offset ≥ 0, largest with o·s + offset ≤ len − 1
    let lo = if offset >= 0 {
        0
    } else {
        (-offset + s - 1) / s
    };
    let hi = (len as isize - 1 - offset).div_euclid(s) + 1;
    lo.max(0) as usize..(hi.max(0) as usize).min(n)
}

/// A chain of layers, each followed by ReLU (on the outputs it rectifies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    layers: Vec<Layer>,
}

impl Network {
    pub fn new(layers: Vec<Layer>) -> Result<Network, HyperError> {
        if layers.is_empty()
            || layers
                .windows(2)
                .any(|w| w[0].shape.outputs != w[1].shape.inputs)
        {
            return Err(HyperError::Invalid("layers do not chain".into()));
        }
        Ok(Network { layers })
    }

    pub fn outputs(&self) -> usize {
        self.layers
            .last()
            .expect("at least one layer")
            .shape
            .outputs
    }

    /// Runs the network on integer side latents `[channels][height][width]`; the outputs have
    /// `ACTIVATION_BITS` fraction bits.
    pub fn run(&self, z: &[i32], height: usize, width: usize) -> Result<Planes, HyperError> {
        let channels = self.layers[0].shape.inputs;
        if z.len() != channels * height * width {
            return Err(HyperError::Invalid(format!(
                "{} side latents for {channels}×{height}×{width}",
                z.len()
            )));
        }
        let mut x = Planes {
            channels,
            height,
            width,
            data: z
                .iter()
                .map(|&v| v.clamp(-MAX_INPUT, MAX_INPUT) << ACTIVATION_BITS)
                .collect(),
        };
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        Ok(x)
    }

    /// Runs the network on inputs already in fixed point (`ACTIVATION_BITS` fraction bits),
    /// as a context model's quantized latents are: clamped to the activations' range first,
    /// whatever a hostile file made them.
    pub fn run_fixed(&self, mut x: Planes) -> Result<Planes, HyperError> {
        let channels = self.layers[0].shape.inputs;
        if x.channels != channels || x.data.len() != channels * x.height * x.width {
            return Err(HyperError::Invalid(format!(
                "{} values for {channels}×{}×{}",
                x.data.len(),
                x.height,
                x.width
            )));
        }
        let limit = MAX_ACTIVATION as i32;
        x.data
            .iter_mut()
            .for_each(|v| *v = (*v).clamp(-limit, limit));
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward floating-point reference of one layer, with ReLU.
    fn reference(l: &Layer, w: &[f32], b: &[f32], x: &[f64], h: usize, wd: usize) -> Vec<f64> {
        let (oh, ow) = (l.output_size(h).unwrap(), l.output_size(wd).unwrap());
        let sh = l.shape;
        let (k, s, p) = (sh.kernel, sh.stride as isize, sh.padding as isize);
        let mut out: Vec<f64> = (0..sh.outputs * oh * ow)
            .map(|j| b[j / (oh * ow)] as f64)
            .collect();
        for o in 0..sh.outputs {
            for i in 0..sh.inputs {
                for ky in 0..k {
                    for kx in 0..k {
                        for a in 0..h as isize {
                            for c in 0..wd as isize {
                                let (oy, ox, iy, ix, wv);
                                match sh.kind {
                                    Kind::Conv => {
                                        (iy, ix) = (a, c);
                                        // iy = oy·s + ky − p
                                        let ny = iy + p - ky as isize;
                                        let nx = ix + p - kx as isize;
                                        if ny % s != 0 || nx % s != 0 {
                                            continue;
                                        }
                                        (oy, ox) = (ny / s, nx / s);
                                        wv = w[((o * sh.inputs + i) * k + ky) * k + kx];
                                    }
                                    Kind::Transposed => {
                                        (iy, ix) = (a, c);
                                        oy = iy * s + ky as isize - p;
                                        ox = ix * s + kx as isize - p;
                                        wv = w[((i * sh.outputs + o) * k + ky) * k + kx];
                                    }
                                }
                                if oy < 0 || ox < 0 || oy >= oh as isize || ox >= ow as isize {
                                    continue;
                                }
                                out[(o * oh + oy as usize) * ow + ox as usize] +=
                                    x[(i * h + iy as usize) * wd + ix as usize] * wv as f64;
                            }
                        }
                    }
                }
            }
        }
        out.into_iter().map(|v| v.max(0.0)).collect()
    }

    /// The layer's definition in exact integers, summed in the naive order: what every
    /// implementation of the fixed-point layer must give bit for bit.
    fn exact(l: &Layer, x: &[i32], h: usize, wd: usize) -> Vec<i32> {
        let (oh, ow) = (l.output_size(h).unwrap(), l.output_size(wd).unwrap());
        let sh = l.shape;
        let (k, s, p) = (sh.kernel as isize, sh.stride as isize, sh.padding as isize);
        let mut acc: Vec<i128> = (0..sh.outputs * oh * ow)
            .map(|j| l.bias[j / (oh * ow)] as i128)
            .collect();
        for o in 0..sh.outputs {
            for i in 0..sh.inputs {
                for ky in 0..k {
                    for kx in 0..k {
                        let (wv, ku) = match sh.kind {
                            Kind::Conv => (
                                l.weights[((o * sh.inputs + i) * sh.kernel + ky as usize)
                                    * sh.kernel
                                    + kx as usize],
                                1,
                            ),
                            Kind::Transposed => (
                                l.weights[((i * sh.outputs + o) * sh.kernel + ky as usize)
                                    * sh.kernel
                                    + kx as usize],
                                0,
                            ),
                        };
                        for a in 0..h as isize {
                            for c in 0..wd as isize {
                                let (oy, ox) = if ku == 1 {
                                    let (ny, nx) = (a + p - ky, c + p - kx);
                                    if ny % s != 0 || nx % s != 0 {
                                        continue;
                                    }
                                    (ny / s, nx / s)
                                } else {
                                    (a * s + ky - p, c * s + kx - p)
                                };
                                if oy < 0 || ox < 0 || oy >= oh as isize || ox >= ow as isize {
                                    continue;
                                }
                                acc[(o * oh + oy as usize) * ow + ox as usize] +=
                                    wv as i128 * x[(i * h + a as usize) * wd + c as usize] as i128;
                            }
                        }
                    }
                }
            }
        }
        let half = 1i128 << (WEIGHT_BITS - 1);
        acc.into_iter()
            .enumerate()
            .map(|(j, a)| {
                let floor = l.floor(j / (oh * ow)) as i128;
                ((a + half) >> WEIGHT_BITS).clamp(floor, MAX_ACTIVATION as i128) as i32
            })
            .collect()
    }

    #[test]
    fn integer_layers_equal_their_exact_definition() {
        for (kind, k, s, p, op, h, w) in [
            (Kind::Conv, 3, 1, 1, 0, 7, 5),
            (Kind::Conv, 5, 2, 2, 0, 9, 6),
            (Kind::Conv, 1, 1, 0, 0, 3, 4),
            (Kind::Transposed, 5, 2, 2, 1, 3, 4),
            (Kind::Transposed, 5, 2, 2, 0, 5, 3),
            (Kind::Transposed, 3, 3, 1, 2, 2, 3),
            (Kind::Transposed, 3, 1, 1, 0, 4, 4),
        ] {
            let (ci, co) = (3, 5);
            let wf = pseudo_random(ci * co * k * k, 11, 1.5);
            let bf = pseudo_random(co, 5, 3.0);
            let shape = Shape {
                kind,
                inputs: ci,
                outputs: co,
                kernel: k,
                stride: s,
                padding: p,
                out_padding: op,
            };
            // Outputs 3 and 4 linear, as a mean-scale hyperprior's means.
            let l = Layer::from_float(shape, &wf, &bf)
                .unwrap()
                .with_linear_outputs(3);
            let x: Vec<i32> = pseudo_random(ci * h * w, 9, 40.0)
                .iter()
                .map(|v| (v * (1 << ACTIVATION_BITS) as f32) as i32)
                .collect();
            let planes = Planes {
                channels: ci,
                height: h,
                width: w,
                data: x.clone(),
            };
            let want = exact(&l, &x, h, w);
            assert!(
                want.iter().any(|&v| v < 0),
                "no negative linear output tests nothing"
            );
            assert_eq!(
                l.forward(&planes).unwrap().data,
                want,
                "{shape:?} on {h}×{w}"
            );
            // So do the i64 path, and both in bands of one row.
            assert!(
                l.exact.holds(40 << ACTIVATION_BITS),
                "the f64 path is tested"
            );
            for (budget, fast) in [(PATCH_BUDGET, false), (1, true), (1, false)] {
                let banded = l.forward_in_bands(&planes, budget, fast).unwrap();
                assert_eq!(banded.data, want, "{shape:?} on {h}×{w}, {budget} {fast}");
            }
        }
    }

    #[test]
    fn outputs_at_chosen_positions_from_chosen_taps_equal_the_full_layer() {
        // A checkerboard: inputs only where row + column is even, outputs wanted only at the
        // others, which read those inputs through the taps where ky + kx is odd.
        let (ci, co, k, h, w) = (3, 4, 5, 7, 6);
        let shape = Shape {
            kind: Kind::Conv,
            inputs: ci,
            outputs: co,
            kernel: k,
            stride: 1,
            padding: 2,
            out_padding: 0,
        };
        let l = Layer::from_float(
            shape,
            &pseudo_random(ci * co * k * k, 7, 1.5),
            &pseudo_random(co, 3, 3.0),
        )
        .unwrap()
        .with_linear_outputs(2);
        let data: Vec<i32> = pseudo_random(ci * h * w, 13, 40.0)
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let p = i % (h * w);
                if (p / w + p % w) % 2 == 0 {
                    (v * (1 << ACTIVATION_BITS) as f32) as i32
                } else {
                    0
                }
            })
            .collect();
        let x = Planes {
            channels: ci,
            height: h,
            width: w,
            data,
        };
        let full = l.forward(&x).unwrap();
        let positions: Vec<usize> = (0..h * w).filter(|p| (p / w + p % w) % 2 == 1).collect();
        let taps: Vec<(usize, usize)> = (0..k * k)
            .map(|t| (t / k, t % k))
            .filter(|(ky, kx)| (ky + kx) % 2 == 1)
            .collect();
        assert_eq!(taps.len(), 12);
        let want: Vec<i32> = (0..co)
            .flat_map(|o| positions.iter().map(move |&p| (o, p)))
            .map(|(o, p)| full.data[o * h * w + p])
            .collect();
        assert!(want.iter().any(|&v| v < 0) && want.iter().any(|&v| v > 0));
        for fast in [true, false] {
            let got = l.forward_at_with(&x, &positions, &taps, fast).unwrap();
            assert_eq!(
                (got.channels, got.height, got.width),
                (co, 1, positions.len())
            );
            assert_eq!(got.data, want, "fast {fast}");
        }
        // Positions outside the plane, or taps outside the kernel, are errors.
        assert!(l.forward_at(&x, &[h * w], &taps).is_err());
        assert!(l.forward_at(&x, &positions, &[(5, 0)]).is_err());
    }

    fn pseudo_random(n: usize, seed: u32, scale: f32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| {
                let v = (i ^ seed).wrapping_mul(2_654_435_761) >> 8;
                (v as f32 / (1 << 24) as f32 - 0.5) * scale
            })
            .collect()
    }

    #[test]
    fn integer_layers_follow_the_real_valued_ones() {
        for (kind, k, s, p, op) in [
            (Kind::Conv, 3, 1, 1, 0),
            (Kind::Conv, 5, 2, 2, 0),
            (Kind::Transposed, 5, 2, 2, 1),
        ] {
            let (ci, co, h, w) = (3, 4, 5, 7);
            let wf = pseudo_random(ci * co * k * k, 7, 0.8);
            let bf = pseudo_random(co, 3, 2.0);
            let shape = Shape {
                kind,
                inputs: ci,
                outputs: co,
                kernel: k,
                stride: s,
                padding: p,
                out_padding: op,
            };
            let l = Layer::from_float(shape, &wf, &bf).unwrap();
            let z: Vec<i32> = (0..ci * h * w).map(|i| (i as i32 * 7 % 9) - 4).collect();
            let net = Network::new(vec![l.clone()]).unwrap();
            let got = net.run(&z, h, w).unwrap();
            let x: Vec<f64> = z.iter().map(|&v| v as f64).collect();
            let want = reference(&l, &wf, &bf, &x, h, w);
            assert_eq!(got.data.len(), want.len(), "{kind:?}");
            let one = (1 << ACTIVATION_BITS) as f64;
            for (g, r) in got.data.iter().zip(&want) {
                assert!((*g as f64 / one - r).abs() < 2e-3, "{kind:?}: {g} vs {r}");
            }
            if kind == Kind::Transposed {
                assert_eq!((got.height, got.width), (2 * h, 2 * w));
            }
        }
    }

    #[test]
    fn hostile_inputs_are_errors_or_clamped_never_overflow() {
        let k = 5;
        let wf = vec![255.0f32; 2 * 2 * k * k];
        let shape = |kind, channels, kernel, stride, padding, out_padding| Shape {
            kind,
            inputs: channels,
            outputs: channels,
            kernel,
            stride,
            padding,
            out_padding,
        };
        let big = shape(Kind::Transposed, 2, k, 2, 2, 1);
        let l = Layer::from_float(big, &wf, &[1e9, -1e9]).unwrap();
        let net = Network::new(vec![l.clone(), l]).unwrap();
        let out = net
            .run(&[i32::MAX, i32::MIN, 5, -5, 0, 1, 2, 3], 2, 2)
            .unwrap();
        assert!(
            out.data
                .iter()
                .all(|&v| (0..=MAX_ACTIVATION as i32).contains(&v))
        );
        assert!(net.run(&[1, 2, 3], 2, 2).is_err());
        let one = shape(Kind::Conv, 1, 1, 1, 0, 0);
        assert!(Layer::from_float(one, &[f32::NAN], &[0.0]).is_err());
        assert!(Layer::from_float(one, &[1e9], &[0.0]).is_err());
    }
}
