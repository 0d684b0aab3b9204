//! The whole autoencoder with its entropy model and optional gain units, and the
//! rate–distortion objective.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};

use crate::{Analysis, Architecture, FactorizedPrior, Gains, Hyperprior, Synthesis};

/// How a model codes its latents: the one place the kind of model is told apart.
// One per model and never moved in bulk, so the hyperprior's size is no reason to box it
// (which burn's module derive would not see through).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum EntropyModel {
    /// One learned density per latent channel.
    Factorized(FactorizedPrior),
    /// Side latents, with their own factorized prior, that predict a Gaussian's scale for
    /// every latent and, in the mean-scale form ([`Hyperprior::predicts_means`]), its mean.
    ScaleHyperprior(Hyperprior),
}

impl EntropyModel {
    pub fn new(arch: &Architecture, device: &Device) -> Self {
        if arch.has_hyperprior() {
            EntropyModel::ScaleHyperprior(Hyperprior::new(arch, device))
        } else {
            EntropyModel::Factorized(FactorizedPrior::new(arch.latent_channels, device))
        }
    }

    /// The factorized prior whose integer tables the model's files use: of the latents, or of
    /// a hyperprior's side latents.
    pub fn factorized_prior(&self) -> &FactorizedPrior {
        match self {
            EntropyModel::Factorized(p) => p,
            EntropyModel::ScaleHyperprior(hp) => &hp.prior,
        }
    }

    /// The hyperprior, if this is one.
    pub fn hyperprior(&self) -> Option<&Hyperprior> {
        match self {
            EntropyModel::ScaleHyperprior(hp) => Some(hp),
            EntropyModel::Factorized(_) => None,
        }
    }

    /// Gained latents `y` quantized by `round` (side latents too: those of `y`, or `z`
    /// where given), with their likelihoods.
    pub fn quantize(
        &self,
        y: Tensor<4>,
        z: Option<Tensor<4>>,
        round: &dyn Fn(Tensor<4>) -> Tensor<4>,
    ) -> Quantized {
        match self {
            EntropyModel::Factorized(p) => {
                let y_hat = round(y);
                Quantized {
                    likelihood: p.likelihood(y_hat.clone()),
                    y_hat,
                    side: None,
                }
            }
            EntropyModel::ScaleHyperprior(hp) => {
                let z_hat = round(z.unwrap_or_else(|| hp.side_latents(y.clone())));
                let (prediction, y_hat) = hp.quantize(z_hat.clone(), y, round);
                Quantized {
                    likelihood: prediction.likelihood(y_hat.clone()),
                    y_hat,
                    side: Some(hp.prior.likelihood(z_hat)),
                }
            }
        }
    }
}

/// Quantized latents and what they cost.
pub struct Quantized {
    /// The values the synthesis gets (before inverse gains).
    pub y_hat: Tensor<4>,
    pub likelihood: Tensor<4>,
    /// Of the side latents, with a hyperprior.
    pub side: Option<Tensor<4>>,
}

#[derive(Module, Debug)]
pub struct Compressor {
    pub analysis: Analysis,
    pub synthesis: Synthesis,
    pub entropy: EntropyModel,
    /// Per-level gains of a variable-rate model.
    pub gains: Option<Gains>,
}

/// Rate–distortion figures of one batch (means over its images as 1-element tensors, so
/// `loss` can be differentiated, and each image's loss).
pub struct RdOutput {
    /// Mean over the images of λ·255²·MSE + bpp.
    pub loss: Tensor<1>,
    /// Each image's λ·255²·MSE + bpp (`[batch]`; `loss` is their mean), for a training
    /// objective that weighs the images (see `nic_train`'s level balance).
    pub image_loss: Tensor<1>,
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
    /// How much of each latent channel's rate the training loss counts (`None`: all of it).
    /// A run that added latents to a trained model phases their rate in, so that it does not
    /// switch them off before the distortion has put them to use. Only the loss sees it: the
    /// figures report the whole rate.
    pub latent_rate: Option<&'a [f32]>,
}

/// Draws every parameter's initial values. burn draws them lazily, at a parameter's first use,
/// from the random state as it is then: the seed a caller set would not decide the weights
/// whenever anything else (another test, on another thread) draws in between.
struct DrawNow;

impl ModuleVisitor for DrawNow {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        param.val();
    }
}

/// Which latents a tensor of training noise is for (see [`Compressor::rd_train`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseFor {
    Latents,
    SideLatents,
}

impl Compressor {
    /// A model with fresh weights, all drawn now from `device`'s random state.
    pub fn new(arch: &Architecture, device: &Device) -> Self {
        let levels = arch.rate_levels;
        let model = Compressor {
            analysis: Analysis::new(arch, device),
            synthesis: Synthesis::new(arch, device),
            entropy: EntropyModel::new(arch, device),
            gains: arch
                .is_variable_rate()
                .then(|| Gains::new(&vec![1.0; levels], 1.0, arch.latent_channels, device)),
        };
        model.visit(&mut DrawNow);
        model
    }

    /// Training objective. Rounding has no useful gradient, so the rate is computed on latents
    /// with additive uniform noise (a continuous relaxation whose density matches the
    /// discretized one), while the synthesis sees the rounded latents with a straight-through
    /// gradient, so it is trained on exactly what the decoder will get.
    ///
    /// `noise(which, shape)` gives uniform noise in ±½ of that shape. It is passed in rather
    /// than drawn here so that the caller controls its seed: burn's random state is global to
    /// the process, which would make runs irreproducible.
    pub fn rd_train(
        &self,
        x: Tensor<4>,
        noise: &dyn Fn(NoiseFor, [usize; 4]) -> Tensor<4>,
        targets: Targets,
    ) -> RdOutput {
        let (y, inverse) = self.gained_latents(x.clone(), targets.levels);
        let noisy = |t: Tensor<4>, which| {
            let shape = t.dims();
            t + noise(which, shape)
        };
        // Rounding with the identity's gradient.
        let straight_through = |v: Tensor<4>| v.clone() + (v.clone().round() - v).detach();
        let (likelihood, side, y_st) = match &self.entropy {
            EntropyModel::Factorized(p) => (
                p.likelihood(noisy(y.clone(), NoiseFor::Latents)),
                None,
                straight_through(y),
            ),
            EntropyModel::ScaleHyperprior(hp) => {
                let z = noisy(hp.side_latents(y.clone()), NoiseFor::SideLatents);
                // With a context, the non-anchors' prediction comes from the anchors as the
                // decoder has them: quantized (straight through).
                let (prediction, y_st) = hp.quantize(z.clone(), y.clone(), &straight_through);
                let l = prediction.likelihood(noisy(y, NoiseFor::Latents));
                (l, Some(hp.prior.likelihood(z)), y_st)
            }
        };
        let x_hat = self.synthesis.forward(apply(y_st, inverse));
        rd(
            x,
            x_hat,
            likelihood,
            side,
            targets.lambdas,
            targets.latent_rate,
        )
    }

    /// The same figures with real rounding, as the codec does it: bpp is the ideal information
    /// content of the quantized latents under the (floating-point) entropy model.
    pub fn rd_eval(&self, x: Tensor<4>, targets: Targets) -> RdOutput {
        let (y, inverse) = self.gained_latents(x.clone(), targets.levels);
        let q = self.entropy.quantize(y, None, &|v| v.round());
        let x_hat = self
            .synthesis
            .forward(apply(q.y_hat, inverse))
            .clamp(0.0, 1.0);
        rd(x, x_hat, q.likelihood, q.side, targets.lambdas, None)
    }

    /// Analysis, then each image's gains (if the model has them); also the inverse gains.
    fn gained_latents(&self, x: Tensor<4>, levels: &[usize]) -> (Tensor<4>, Option<Tensor<4>>) {
        let y = self.analyze(x);
        match &self.gains {
            Some(g) => {
                let (gain, inverse) = g.for_levels(levels);
                (y * gain, Some(inverse))
            }
            None => (y, None),
        }
    }

    /// This (trained) model embedded in `wider`, a fresh model of the same kind with at least
    /// as many hidden channels N and latent channels M. With the same M: the same pictures,
    /// latents and rates, a start from which training puts new hidden channels to use. With
    /// more M the trained latents and side latents are as before, the new latents are coded
    /// (so the rate starts higher; their gains start at each level's mean gain) and read by
    /// the synthesis with fresh weights, so the pictures move a little (see [`crate::widen`]
    /// for why).
    pub fn widened(self, wider: Compressor) -> Compressor {
        let m = wider.analysis.latent_channels();
        let entropy = match (self.entropy, wider.entropy) {
            (EntropyModel::ScaleHyperprior(t), EntropyModel::ScaleHyperprior(f)) => {
                EntropyModel::ScaleHyperprior(t.widened(f))
            }
            (EntropyModel::Factorized(t), _) => {
                assert_eq!(t.channels(), m, "a factorized prior is widened in N only");
                EntropyModel::Factorized(t)
            }
            _ => panic!("widening keeps the kind of entropy model"),
        };
        Compressor {
            analysis: self.analysis.widened(wider.analysis),
            synthesis: self.synthesis.widened(wider.synthesis),
            entropy,
            gains: self.gains.map(|g| g.widened(m)),
        }
    }

    /// This model with its scale hyperprior in the mean-scale form, the means starting at
    /// zero (see [`Hyperprior::with_zero_means`]); a factorized model is returned as it is.
    pub fn with_zero_means(self) -> Compressor {
        let entropy = match self.entropy {
            EntropyModel::ScaleHyperprior(hp) => {
                EntropyModel::ScaleHyperprior(hp.with_zero_means())
            }
            other => other,
        };
        Compressor { entropy, ..self }
    }

    /// This mean-scale model with a checkerboard context of `hidden` channels whose
    /// corrections start at zero (see [`Hyperprior::with_context`]): the same latents and
    /// rates, now coded in two passes.
    pub fn with_context(self, hidden: usize) -> Compressor {
        let entropy = match self.entropy {
            EntropyModel::ScaleHyperprior(hp) => {
                EntropyModel::ScaleHyperprior(hp.with_context(hidden))
            }
            EntropyModel::Factorized(_) => panic!("a context corrects a mean-scale hyperprior"),
        };
        Compressor { entropy, ..self }
    }

    /// Image (`[batch, 3, h, w]`, h and w multiples of 16) → unquantized latents, before any
    /// gain.
    ///
    /// Detail latents, if the model has them, come last: those of the residue the synthesis
    /// leaves of the transforms' latents (see [`crate::transforms`]). Training does not send
    /// their gradient back through that synthesis (the residue is a constant to them), which
    /// keeps a step's cost to one more forward synthesis.
    pub fn analyze(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.analysis.forward(x.clone());
        if self.analysis.detail_channels() == 0 {
            return y;
        }
        let residue = (x - self.synthesis.transforms(y.clone())).detach();
        let detail = self.analysis.detail(residue).expect("detail latents");
        Tensor::cat(vec![y, detail], 1)
    }

    /// Quantized latents (inverse gains already applied) → image, clamped to 0..=1.
    pub fn synthesize(&self, y_hat: Tensor<4>) -> Tensor<4> {
        self.synthesis.forward(y_hat).clamp(0.0, 1.0)
    }
}

/// The information content, in bits, of values with these likelihoods.
pub fn information_bits(likelihood: Tensor<4>) -> f64 {
    likelihood
        .log()
        .sum()
        .div_scalar(-std::f64::consts::LN_2)
        .into_scalar::<f32>() as f64
}

pub(crate) fn apply(y: Tensor<4>, gain: Option<Tensor<4>>) -> Tensor<4> {
    match gain {
        Some(g) => y * g,
        None => y,
    }
}

pub(crate) fn rd(
    x: Tensor<4>,
    x_hat: Tensor<4>,
    likelihood: Tensor<4>,
    side: Option<Tensor<4>>,
    lambdas: &[f64],
    latent_rate: Option<&[f32]>,
) -> RdOutput {
    let [b, _, h, w] = x.dims();
    let device = x.device();
    // Each image's bits per pixel of these log-likelihoods.
    let bits = |l: Tensor<4>| {
        l.reshape([b as i32, -1])
            .sum_dim(1)
            .reshape([b])
            .div_scalar(-std::f64::consts::LN_2 * (h * w) as f64)
    };
    let side_bpp = side.map_or_else(|| Tensor::zeros([b], &device), |s| bits(s.log()));
    let log_l = likelihood.log();
    let rate_loss = latent_rate.map(|weights| {
        let m = weights.len();
        let weights =
            Tensor::<4>::from_data(TensorData::new(weights.to_vec(), [1, m, 1, 1]), &device);
        bits(log_l.clone() * weights) + side_bpp.clone()
    });
    let bpp = bits(log_l) + side_bpp.clone();
    let per_image = (x_hat - x)
        .square()
        .reshape([b as i32, -1])
        .mean_dim(1)
        .reshape([b]);
    let lambda = Tensor::<1>::from_data(
        TensorData::new(lambdas.iter().map(|&l| l as f32).collect::<Vec<_>>(), [b]),
        &device,
    );
    let distortion = (per_image.clone() * lambda).mul_scalar(255.0 * 255.0);
    let image_loss = distortion + rate_loss.unwrap_or_else(|| bpp.clone());
    RdOutput {
        loss: image_loss.clone().mean(),
        image_loss,
        bpp: bpp.mean(),
        side_bpp: side_bpp.mean(),
        mse: per_image.mean(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn train_and_eval_objectives_are_finite_and_close() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 3);
        for arch in [
            Architecture::TINY,
            Architecture::TINY_HYPER,
            Architecture::TINY_MEAN_SCALE,
        ] {
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
                latent_rate: None,
            };
            let noise = |_, shape| Tensor::random(shape, Distribution::Uniform(-0.5, 0.5), &device);
            let t = model.rd_train(x.clone(), &noise, targets);
            let e = model.rd_eval(x, targets);
            let (tb, eb) = (t.bpp.into_scalar::<f32>(), e.bpp.into_scalar::<f32>());
            assert!(tb.is_finite() && eb.is_finite() && tb > 0.0 && eb > 0.0);
            assert!(t.loss.into_scalar::<f32>().is_finite());
            let side = e.side_bpp.into_scalar::<f32>();
            assert_eq!(side > 0.0, arch.has_hyperprior(), "{arch:?}: side {side}");
        }
    }

    #[test]
    fn the_loss_counts_each_latent_channels_rate_by_its_weight() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([1, 3, 4, 4], &device);
        // Two latent channels of one position each: 1 and 3 bits; 2 bits of side latents.
        let likelihood =
            Tensor::<4>::from_data(TensorData::new(vec![0.5f32, 0.125], [1, 2, 1, 1]), &device);
        let side = Tensor::<4>::from_data(TensorData::new(vec![0.25f32], [1, 1, 1, 1]), &device);
        let loss = |weights: Option<&[f32]>| {
            let out = rd(
                x.clone(),
                x.clone(),
                likelihood.clone(),
                Some(side.clone()),
                &[0.01],
                weights,
            );
            let bits = |t: Tensor<1>| t.into_scalar::<f32>() * 16.0;
            (bits(out.loss), bits(out.bpp))
        };
        for (weights, want) in [
            (None, 6.0),
            (Some(&[1.0, 1.0][..]), 6.0),
            (Some(&[1.0, 0.5]), 4.5),
            (Some(&[0.0, 0.0]), 2.0),
        ] {
            let (l, bpp) = loss(weights);
            assert!(
                (l - want).abs() < 1e-4,
                "{weights:?}: {l} bits, want {want}"
            );
            // The figures count the whole rate.
            assert!((bpp - 6.0).abs() < 1e-4, "{weights:?}: {bpp}");
        }
    }

    #[test]
    fn a_model_with_more_latent_channels_keeps_its_side_latents_and_codes_the_new_ones() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 29);
        for arch in [Architecture::TINY_HYPER, Architecture::TINY_MEAN_SCALE] {
            let wide = Architecture {
                channels: 13,
                latent_channels: 12,
                ..arch
            };
            let model = Compressor::new(&arch, &device);
            let widened = model.clone().widened(Compressor::new(&wide, &device));
            let x = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &device);
            let targets = Targets {
                levels: &[0, 2],
                lambdas: &[0.01, 0.04],
                latent_rate: None,
            };
            let (a, b) = (
                model.rd_eval(x.clone(), targets),
                widened.rd_eval(x, targets),
            );
            // The pictures move (the synthesis reads the new latents with fresh weights:
            // transforms.rs tests that they are the same without them); the side latents do
            // not.
            let (sa, sb) = (
                a.side_bpp.into_scalar::<f32>(),
                b.side_bpp.into_scalar::<f32>(),
            );
            assert!(
                (sa - sb).abs() <= 1e-5 * sa,
                "{arch:?}: side latents {sa} → {sb}"
            );
            // The new latents are coded: they cost something, not the earth.
            let (ba, bb) = (a.bpp.into_scalar::<f32>(), b.bpp.into_scalar::<f32>());
            assert!(bb > ba && bb < 4.0 * ba, "{arch:?}: bpp {ba} → {bb}");
        }
    }

    #[test]
    fn detail_latents_carry_the_residue_of_the_transforms() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 37);
        let arch = Architecture {
            latent_channels: 10,
            detail_channels: 2,
            ..Architecture::TINY_MEAN_SCALE
        };
        let mut model = Compressor::new(&arch, &device);
        // Two basis rows picking one value of each block.
        let picked = [(0usize, 3usize, 4usize), (2, 15, 0)];
        let mut basis = vec![0.0f32; 2 * crate::BLOCK_VALUES];
        for (k, &(c, r, col)) in picked.iter().enumerate() {
            basis[k * crate::BLOCK_VALUES + (c * 16 + r) * 16 + col] = 1.0;
        }
        model.analysis.set_detail_basis(0, &basis, 3.0);
        model.synthesis.set_detail_basis(0, &basis, 3.0);
        let x = Tensor::<4>::random([1, 3, 32, 32], Distribution::Uniform(0.0, 1.0), &device);
        let y = model.analyze(x.clone());
        assert_eq!(y.dims(), [1, 10, 2, 2]);
        let values = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().unwrap();
        let stack = y.clone().slice([0..1, 0..8, 0..2, 0..2]);
        let (xs, ts) = (values(x.clone()), values(model.synthesis.transforms(stack)));
        let ys = values(y.clone());
        let full = values(model.synthesis.forward(y));
        let at = |v: &[f32], c: usize, r: usize, col: usize| v[(c * 32 + r) * 32 + col];
        for (i, j) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            for (k, &(c, r, col)) in picked.iter().enumerate() {
                let (r, col) = (16 * i + r, 16 * j + col);
                // The latent is the residue there, times the scale …
                let residue = at(&xs, c, r, col) - at(&ts, c, r, col);
                let got = ys[((8 + k) * 2 + i) * 2 + j];
                assert!((got - 3.0 * residue).abs() < 1e-5, "{got} vs {residue}");
                // … so that the unquantized latents give that value of the picture exactly.
                assert!((at(&full, c, r, col) - at(&xs, c, r, col)).abs() < 1e-5);
            }
        }
        // Elsewhere the picture is the transforms'.
        assert!((at(&full, 1, 7, 7) - at(&ts, 1, 7, 7)).abs() < 1e-6);
    }

    #[test]
    fn the_seed_alone_decides_a_new_models_weights() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 9);
        let arch = Architecture::TINY_MEAN_SCALE;
        let a = Compressor::new(&arch, &device);
        device.seed(9);
        let b = Compressor::new(&arch, &device);
        // Something else draws before the models are first used (another test, say).
        Tensor::<1>::random([1000], Distribution::Default, &device);
        struct Values(Vec<f32>);
        impl ModuleVisitor for Values {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0.extend(param.val().into_data().iter::<f32>());
            }
        }
        let values = |m: &Compressor| {
            let mut v = Values(Vec::new());
            m.visit(&mut v);
            v.0
        };
        assert_eq!(values(&a), values(&b));
    }
}
