//! The checkerboard context model (He, Zheng, Sun, Wang and Qin 2021, "Checkerboard Context
//! Model for Efficient Learned Image Compression").
//!
//! A hyperprior predicts every latent from the side latents alone, so what neighbouring
//! latents say about each other is lost. Minnen et al.'s autoregressive context recovers it
//! but decodes one latent at a time. The checkerboard splits the latent grid instead: the
//! *anchors* (row + column even) are coded first with the hyperprior's prediction, and the
//! others get a correction to their mean and scale computed from the decoded anchors around
//! them, all of them at once: two passes, each as parallel as the hyperprior's.
//!
//! What the context reads is the anchors' coded *residuals* round(y − μ): on the mean-scale
//! default a residual's correlation with the mean of its four neighbours' is 0.76–0.78 at
//! qualities 2, 5 and 8 on photos/val (`cargo run --release -p nic-codec --example
//! residual_corr -- models/default ../shared/datasets/photos/val`): the smooth part of the
//! latents that side latents 4× coarser cannot place.
//! The correction of a non-anchor is: for its mean, a 5×5 per-channel filter of the anchors'
//! residuals in its own channel (the direct path, linear), plus, for its mean and scale, a
//! 5×5 convolution of all channels' anchor residuals and a 1×1 projection of the hyperprior's
//! own prediction there (so the context can weigh what it sees against what the side latents
//! said), summed, ReLU, and a 1×1 convolution to M scale and M mean corrections. Every 5×5
//! layer reads the anchors only (the rest is zero), so a non-anchor reads its 12 anchor
//! neighbours and never itself. The corrections are added to the hyper-synthesis output before
//! the scales' ReLU. Grown onto a trained model, the last layer and the direct path start at
//! zero, so the model starts from its own rates. The codec runs it in integer arithmetic
//! ([`nic_hyper`]), like the hyper-synthesis: it changes the decoded means.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use nic_hyper::{HyperError, Layer, Network, Planes, Shape};

/// Side of the context's window over the anchors.
const WINDOW: usize = 5;

/// The context's parameters are stored divided by this and multiplied back where they are
/// used. Adam moves every parameter by about the learning rate per step, whatever the scale of
/// its gradient, so the context, grown from nothing onto a trained model, learns this many
/// times faster than the rest: a learning rate of its own without a second optimizer. (At the
/// campaign's 10⁻⁴ alone its corrections were still about 0.02 after 300 steps.)
const LEARNING_SCALE: f64 = 10.0;

#[derive(Module, Debug)]
pub struct Context {
    /// Anchor residuals (M channels, zero elsewhere) → hidden features, 5×5.
    spatial: Conv2d,
    /// The hyper-synthesis output (2M: scales before ReLU, means) → hidden features, 1×1.
    hyper: Conv2d,
    /// Hidden features → M scale corrections, then M mean corrections, 1×1.
    output: Conv2d,
    /// Anchor residuals → each channel's mean correction from its own channel: 5×5 filters, a
    /// grouped convolution's weights (`[M, 1, 5, 5]`), applied by [`Context::per_channel`].
    direct: Conv2d,
}

/// The context in fixed point, for the codec (see [`Context::corrections`]): the 5×5 layers
/// computed at the non-anchors only, from the taps that reach anchors (a quarter of the full
/// convolution's work), the 1×1 layers on those positions only.
pub struct IntegerContext {
    spatial: Layer,
    hyper: Network,
    output: Network,
    /// One single-channel layer per latent channel.
    direct: Vec<Layer>,
}

impl Context {
    /// A fresh context for `latents` channels with `hidden` channels between its layers.
    pub fn new(latents: usize, hidden: usize, device: &Device) -> Self {
        Self::build(latents, hidden, false, device)
    }

    /// [`Context::new`] with corrections of zero: added to a trained hyperprior, the same
    /// predictions as before.
    pub fn starting_at_zero(latents: usize, hidden: usize, device: &Device) -> Self {
        Self::build(latents, hidden, true, device)
    }

    fn build(latents: usize, hidden: usize, zero: bool, device: &Device) -> Self {
        let p = WINDOW / 2;
        let window = |c: Conv2dConfig| c.with_padding(PaddingConfig2d::Explicit(p, p, p, p));
        let mut output = Conv2dConfig::new([hidden, 2 * latents], [1, 1]);
        let mut direct = window(Conv2dConfig::new([latents, latents], [WINDOW, WINDOW]))
            .with_groups(latents)
            .with_bias(false);
        if zero {
            output = output.with_initializer(Initializer::Zeros);
            direct = direct.with_initializer(Initializer::Zeros);
        }
        // Drawn as usual, stored divided by the scale, so that the layers start as drawn.
        // (Detached: a parameter is a leaf of the autodiff graph.)
        let stored = |mut c: Conv2d| {
            let scaled = |t: Tensor<1>| t.div_scalar(LEARNING_SCALE).detach();
            c.weight = Param::from_tensor(c.weight.val().div_scalar(LEARNING_SCALE).detach());
            c.bias = c.bias.map(|b| Param::from_tensor(scaled(b.val())));
            c
        };
        Context {
            spatial: stored(
                window(Conv2dConfig::new([latents, hidden], [WINDOW, WINDOW])).init(device),
            ),
            hyper: stored(Conv2dConfig::new([2 * latents, hidden], [1, 1]).init(device)),
            output: stored(output.init(device)),
            direct: stored(direct.init(device)),
        }
    }

    /// Latent channels M.
    pub fn latent_channels(&self) -> usize {
        self.spatial.weight.dims()[1]
    }

    /// Corrections (`[b, 2M, h, w]`: scales' pre-activation, then means) for the non-anchors
    /// from the coded residuals round(y − μ) (`[b, M, h, w]`; only the anchors' are read) and
    /// the hyper-synthesis output `raw` (`[b, 2M, h, w]`); zero at the anchors.
    pub fn corrections(&self, residuals: Tensor<4>, raw: Tensor<4>) -> Tensor<4> {
        let [b, m, h, w] = residuals.dims();
        let anchors = anchor_mask(h, w, &residuals.device());
        let read = residuals * anchors.clone();
        // Each layer's output times the scale: the layer of the stored parameters times it.
        let hidden = relu(
            (nic_conv::nn::conv2d(&self.spatial, read.clone())
                + nic_conv::nn::conv2d(&self.hyper, raw))
            .mul_scalar(LEARNING_SCALE),
        );
        let out = nic_conv::nn::conv2d(&self.output, hidden);
        let direct = self.per_channel(read);
        let means = out.clone().slice([0..b, m..2 * m, 0..h, 0..w]) + direct;
        Tensor::cat(vec![out.slice([0..b, 0..m, 0..h, 0..w]), means], 1)
            .mul_scalar(LEARNING_SCALE)
            .mul(anchors.neg().add_scalar(1.0))
    }

    /// The direct path: each channel of the anchors' residuals `read` (zero elsewhere)
    /// filtered by its own 5×5 filter ([`nic_conv::depthwise`]: one pass each way on the CPU,
    /// where burn runs a grouped convolution's gradients one group at a time). At a non-anchor
    /// only the taps that reach anchors read anything else than zero, and the anchors' outputs
    /// are dropped, so the other taps neither act nor learn (their gradient is zero): the
    /// integer path computes the same sums over [`anchor_taps`] alone.
    fn per_channel(&self, read: Tensor<4>) -> Tensor<4> {
        nic_conv::depthwise(read, self.direct.weight.val())
    }

    /// The same network in fixed point, for the codec: inputs and outputs with
    /// `ACTIVATION_BITS` fraction bits.
    pub fn integer(&self) -> Result<IntegerContext, HyperError> {
        let layer = |c: &Conv2d| {
            let [outputs, inputs, kernel, _] = c.weight.dims();
            let shape = Shape::same_size(inputs, outputs, kernel);
            // The layer as it acts: its stored parameters times the scale.
            let floats = |t: Tensor<1>| {
                t.mul_scalar(LEARNING_SCALE)
                    .into_data()
                    .try_into_vec::<f32>()
                    .expect("f32")
            };
            let bias = c
                .bias
                .as_ref()
                .map(|b| floats(b.val()))
                .expect("layers have biases");
            Ok::<_, HyperError>(
                Layer::from_float(shape, &floats(c.weight.val().flatten(0, 3)), &bias)?
                    .with_linear_outputs(0),
            )
        };
        // The per-channel filters as single-channel layers.
        let m = self.latent_channels();
        let filters = self.direct.weight.val().mul_scalar(LEARNING_SCALE);
        let filters = filters.into_data().try_into_vec::<f32>().expect("f32");
        let shape = Shape::same_size(1, 1, WINDOW);
        let direct = filters
            .chunks_exact(WINDOW * WINDOW)
            .take(m)
            .map(|f| Ok(Layer::from_float(shape, f, &[0.0])?.with_linear_outputs(0)))
            .collect::<Result<Vec<_>, HyperError>>()?;
        Ok(IntegerContext {
            spatial: layer(&self.spatial)?,
            hyper: Network::new(vec![layer(&self.hyper)?])?,
            output: Network::new(vec![layer(&self.output)?])?,
            direct,
        })
    }
}

impl IntegerContext {
    /// The corrections at the non-anchors `positions` (indices `row·w + col`; `[2M][1][n]`, in
    /// their order) from the anchors' residuals (`[M][h][w]`, `ACTIVATION_BITS` fraction bits;
    /// anything elsewhere: not read) and the hyper-synthesis output at those positions
    /// (`[2M][1][n]`).
    pub fn corrections(
        &self,
        residuals: &Planes,
        positions: &[usize],
        raw: Planes,
    ) -> Result<Planes, HyperError> {
        let taps = anchor_taps();
        let mut hidden = self.spatial.forward_at(residuals, positions, &taps)?;
        let from_raw = self.hyper.run_fixed(raw)?;
        // Both at most 2^24 in magnitude: the sum fits, and ReLU keeps it at most 2^25, which
        // the next layer clamps to its range.
        for (h, r) in hidden.data.iter_mut().zip(&from_raw.data) {
            *h = (*h + r).max(0);
        }
        let mut out = self.output.run_fixed(hidden)?;
        let (m, plane, n) = (
            self.direct.len(),
            residuals.height * residuals.width,
            positions.len(),
        );
        for (c, filter) in self.direct.iter().enumerate() {
            let channel = Planes {
                channels: 1,
                height: residuals.height,
                width: residuals.width,
                data: residuals.data[c * plane..][..plane].to_vec(),
            };
            let fix = filter.forward_at(&channel, positions, &taps)?;
            for (o, d) in out.data[(m + c) * n..][..n].iter_mut().zip(&fix.data) {
                // Both at most 2^24: the sum is clamped back to that range.
                *o = (*o + d).clamp(-(1 << 24), 1 << 24);
            }
        }
        Ok(out)
    }
}

/// The taps `(ky, kx)` of a 5×5 window that reach anchors from a non-anchor at its centre:
/// those at an odd row + column offset (12 of 25).
fn anchor_taps() -> Vec<(usize, usize)> {
    (0..WINDOW * WINDOW)
        .map(|t| (t / WINDOW, t % WINDOW))
        .filter(|&(ky, kx)| (ky + kx) % 2 == 1)
        .collect()
}

/// Whether latent position (`row`, `col`) is an anchor: coded first, with the hyperprior's
/// prediction alone.
pub fn is_anchor(row: usize, col: usize) -> bool {
    (row + col).is_multiple_of(2)
}

/// `[1, 1, h, w]`: 1 at the anchors, 0 elsewhere.
pub fn anchor_mask(h: usize, w: usize, device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..h * w)
        .map(|i| if is_anchor(i / w, i % w) { 1.0 } else { 0.0 })
        .collect();
    Tensor::<1>::from_floats(values.as_slice(), device).reshape([1, 1, h, w])
}
