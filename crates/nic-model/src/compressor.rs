//! The whole autoencoder with its entropy model and optional gain units, and the
//! rate–distortion objective.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::hyper::{gaussian_likelihood, pad_to_multiple};
use crate::{Analysis, Architecture, FactorizedPrior, Gains, Hyperprior, Synthesis};

#[derive(Module, Debug)]
pub struct Compressor {
    pub analysis: Analysis,
    pub synthesis: Synthesis,
    /// The factorized prior of the latents, in models without a hyperprior.
    pub prior: Option<FactorizedPrior>,
    /// The scale hyperprior, which then models the latents instead.
    pub hyper: Option<Hyperprior>,
    /// Per-level gains of a variable-rate model.
    pub gains: Option<Gains>,
}

/// Rate–distortion figures of one batch (scalars, as 1-element tensors so `loss` can be
/// differentiated).
pub struct RdOutput {
    /// Mean over the images of λ·255²·MSE + bpp.
    pub loss: Tensor<1>,
    /// Bits per pixel, latents and side latents, from the entropy model's likelihoods.
    pub bpp: Tensor<1>,
    /// The side latents' share of `bpp` (zero without a hyperprior).
    pub side_bpp: Tensor<1>,
    /// Mean squared error on the 0..=1 scale.
    pub mse: Tensor<1>,
}

/// What each image of a batch is trained or evaluated for.
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    /// Rate level per image (variable-rate models; empty otherwise).
    pub levels: &'a [usize],
    /// λ per image.
    pub lambdas: &'a [f64],
}

/// Uniform noise in ±½ standing in for rounding during training, shaped like the latents and
/// (with a hyperprior) the side latents; see [`Compressor::noise_shapes`].
pub struct Noise {
    pub y: Tensor<4>,
    pub z: Option<Tensor<4>>,
}

impl Compressor {
    pub fn new(arch: &Architecture, device: &Device) -> Self {
        let levels = arch.rate_levels;
        Compressor {
            analysis: Analysis::new(arch, device),
            synthesis: Synthesis::new(arch, device),
            prior: (!arch.has_hyperprior())
                .then(|| FactorizedPrior::new(arch.latent_channels, device)),
            hyper: arch.has_hyperprior().then(|| Hyperprior::new(arch, device)),
            gains: arch
                .is_variable_rate()
                .then(|| Gains::new(&vec![1.0; levels], 1.0, arch.latent_channels, device)),
        }
    }

    /// Training objective. Rounding has no useful gradient, so the rate is computed on latents
    /// with additive uniform noise (a continuous relaxation whose density matches the
    /// discretized one), while the synthesis sees the rounded latents with a straight-through
    /// gradient, so it is trained on exactly what the decoder will get.
    ///
    /// The noise is passed in rather than drawn here so that the caller controls its seed:
    /// burn's random state is global to the process, which would make runs irreproducible.
    pub fn rd_train(&self, x: Tensor<4>, noise: Noise, targets: Targets) -> RdOutput {
        let (y, inverse) = self.gained_latents(x.clone(), targets.levels);
        let (likelihood, side) = match &self.hyper {
            Some(hp) => {
                let z = self.side_latents(y.clone()) + noise.z.expect("side-latent noise");
                let side = hp.prior.likelihood(z.clone());
                let scales = crop_like(hp.scales(z), &y);
                (gaussian_likelihood(y.clone() + noise.y, scales), Some(side))
            }
            None => (self.factorized().likelihood(y.clone() + noise.y), None),
        };
        let y_st = y.clone() + (y.clone().round() - y).detach();
        let x_hat = self.synthesis.forward(apply(y_st, inverse));
        rd(x, x_hat, likelihood, side, targets.lambdas)
    }

    /// The same figures with real rounding, as the codec does it: bpp is the ideal information
    /// content of the quantized latents under the (floating-point) entropy model.
    pub fn rd_eval(&self, x: Tensor<4>, targets: Targets) -> RdOutput {
        let (y, inverse) = self.gained_latents(x.clone(), targets.levels);
        let z_hat = self
            .hyper
            .as_ref()
            .map(|_| self.side_latents(y.clone()).round());
        let y_hat = y.round();
        let (likelihood, side) = self.likelihoods(y_hat.clone(), z_hat);
        let x_hat = self
            .synthesis
            .forward(apply(y_hat, inverse))
            .clamp(0.0, 1.0);
        rd(x, x_hat, likelihood, side, targets.lambdas)
    }

    /// Likelihoods of rounded latents and, with a hyperprior, of the rounded side latents
    /// `z_hat` that predict their scales.
    fn likelihoods(
        &self,
        y_hat: Tensor<4>,
        z_hat: Option<Tensor<4>>,
    ) -> (Tensor<4>, Option<Tensor<4>>) {
        match &self.hyper {
            Some(hp) => {
                let z_hat = z_hat.expect("side latents for a hyperprior model");
                let side = hp.prior.likelihood(z_hat.clone());
                let scales = crop_like(hp.scales(z_hat), &y_hat);
                (gaussian_likelihood(y_hat, scales), Some(side))
            }
            None => (self.factorized().likelihood(y_hat), None),
        }
    }

    fn factorized(&self) -> &FactorizedPrior {
        self.prior
            .as_ref()
            .expect("a model without a hyperprior has a factorized prior")
    }

    /// Analysis, then each image's gains (if the model has them); also the inverse gains.
    fn gained_latents(&self, x: Tensor<4>, levels: &[usize]) -> (Tensor<4>, Option<Tensor<4>>) {
        let y = self.analysis.forward(x);
        match &self.gains {
            Some(g) => {
                let (gain, inverse) = g.for_levels(levels);
                (y * gain, Some(inverse))
            }
            None => (y, None),
        }
    }

    /// Shapes of the training noise for a `[batch, 3, h, w]` input: latents, side latents.
    pub fn noise_shapes(
        &self,
        batch: usize,
        height: usize,
        width: usize,
    ) -> ([usize; 4], Option<[usize; 4]>) {
        let (lh, lw) = (
            height.div_ceil(Architecture::STRIDE),
            width.div_ceil(Architecture::STRIDE),
        );
        let m = self.analysis.latent_channels();
        let z = self.hyper.as_ref().map(|hp| {
            let s = Architecture::HYPER_STRIDE;
            [batch, hp.prior.channels(), lh.div_ceil(s), lw.div_ceil(s)]
        });
        ([batch, m, lh, lw], z)
    }

    /// Image (`[batch, 3, h, w]`, h and w multiples of 16) → unquantized latents, before any
    /// gain.
    pub fn analyze(&self, x: Tensor<4>) -> Tensor<4> {
        self.analysis.forward(x)
    }

    /// (Gained) latents → unquantized side latents of the hyperprior.
    pub fn side_latents(&self, y: Tensor<4>) -> Tensor<4> {
        let hp = self.hyper.as_ref().expect("a model with a hyperprior");
        hp.analyze(pad_to_multiple(y, Architecture::HYPER_STRIDE))
    }

    /// Quantized latents (inverse gains already applied) → image, clamped to 0..=1.
    pub fn synthesize(&self, y_hat: Tensor<4>) -> Tensor<4> {
        self.synthesis.forward(y_hat).clamp(0.0, 1.0)
    }

    /// Ideal information content, in bits, of rounded (gained) latents and, with a
    /// hyperprior, of their rounded side latents, under the floating-point entropy model:
    /// (latents, side latents).
    pub fn information_bits(&self, y_hat: Tensor<4>, z_hat: Option<Tensor<4>>) -> (f64, f64) {
        let bits = |l: Tensor<4>| {
            l.log()
                .sum()
                .div_scalar(-std::f64::consts::LN_2)
                .into_scalar::<f32>() as f64
        };
        let (likelihood, side) = self.likelihoods(y_hat, z_hat);
        (bits(likelihood), side.map_or(0.0, bits))
    }
}

fn apply(y: Tensor<4>, gain: Option<Tensor<4>>) -> Tensor<4> {
    match gain {
        Some(g) => y * g,
        None => y,
    }
}

/// `x` cut to the height and width of `like` (scales predicted for padded latents).
fn crop_like(x: Tensor<4>, like: &Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = like.dims();
    x.slice([0..b, 0..c, 0..h, 0..w])
}

fn rd(
    x: Tensor<4>,
    x_hat: Tensor<4>,
    likelihood: Tensor<4>,
    side: Option<Tensor<4>>,
    lambdas: &[f64],
) -> RdOutput {
    let [b, _, h, w] = x.dims();
    let device = x.device();
    let pixels = (b * h * w) as f64;
    let bits = |l: Tensor<4>| l.log().sum().div_scalar(-std::f64::consts::LN_2 * pixels);
    let side_bpp = side.map_or_else(|| Tensor::zeros([1], &device), bits);
    let bpp = bits(likelihood) + side_bpp.clone();
    let per_image = (x_hat - x)
        .square()
        .reshape([b as i32, -1])
        .mean_dim(1)
        .reshape([b]);
    let lambda = Tensor::<1>::from_data(
        TensorData::new(lambdas.iter().map(|&l| l as f32).collect::<Vec<_>>(), [b]),
        &device,
    );
    let distortion = (per_image.clone() * lambda)
        .mean()
        .mul_scalar(255.0 * 255.0);
    RdOutput {
        loss: distortion + bpp.clone(),
        bpp,
        side_bpp,
        mse: per_image.mean(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn noise(model: &Compressor, b: usize, s: usize, device: &Device) -> Noise {
        let (y, z) = model.noise_shapes(b, s, s);
        let u = |shape| Tensor::random(shape, Distribution::Uniform(-0.5, 0.5), device);
        Noise {
            y: u(y),
            z: z.map(u),
        }
    }

    #[test]
    fn train_and_eval_objectives_are_finite_and_close() {
        let device = Device::flex();
        device.seed(3);
        for arch in [Architecture::TINY, Architecture::TINY_HYPER] {
            let model = Compressor::new(&arch, &device);
            let x = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &device);
            let levels = if arch.is_variable_rate() {
                vec![0, 2]
            } else {
                vec![]
            };
            let targets = Targets {
                levels: &levels,
                lambdas: &[0.01, 0.02],
            };
            let t = model.rd_train(x.clone(), noise(&model, 2, 64, &device), targets);
            let e = model.rd_eval(x, targets);
            let (tb, eb) = (t.bpp.into_scalar::<f32>(), e.bpp.into_scalar::<f32>());
            assert!(tb.is_finite() && eb.is_finite() && tb > 0.0 && eb > 0.0);
            assert!(t.loss.into_scalar::<f32>().is_finite());
            let side = e.side_bpp.into_scalar::<f32>();
            assert_eq!(side > 0.0, arch.has_hyperprior(), "{arch:?}: side {side}");
        }
    }
}
