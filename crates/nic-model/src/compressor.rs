//! The whole autoencoder with its prior, and the rate–distortion objective.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::{Analysis, Architecture, FactorizedPrior, Synthesis};

#[derive(Module, Debug)]
pub struct Compressor {
    pub analysis: Analysis,
    pub synthesis: Synthesis,
    pub prior: FactorizedPrior,
}

/// Rate–distortion figures of one batch (scalars, as 1-element tensors so `loss` can be
/// differentiated).
pub struct RdOutput {
    /// λ·255²·MSE + bpp.
    pub loss: Tensor<1>,
    /// Bits per pixel, from the prior's likelihoods.
    pub bpp: Tensor<1>,
    /// Mean squared error on the 0..=1 scale.
    pub mse: Tensor<1>,
}

impl Compressor {
    pub fn new(arch: &Architecture, device: &Device) -> Self {
        Compressor {
            analysis: Analysis::new(arch, device),
            synthesis: Synthesis::new(arch, device),
            prior: FactorizedPrior::new(arch.latent_channels, device),
        }
    }

    /// Training objective. Rounding has no useful gradient, so the rate is computed on latents
    /// with additive uniform noise (a continuous relaxation whose density matches the
    /// discretized one), while the synthesis sees the rounded latents with a straight-through
    /// gradient, so it is trained on exactly what the decoder will get.
    ///
    /// `noise` (uniform in ±½, shaped like the latents, see [`Compressor::latent_shape`]) is
    /// passed in rather than drawn here so that the caller controls its seed: burn's random
    /// state is global to the process, which would make runs irreproducible.
    pub fn rd_train(&self, x: Tensor<4>, noise: Tensor<4>, lambda: f64) -> RdOutput {
        let y = self.analysis.forward(x.clone());
        let likelihood = self.prior.likelihood(y.clone() + noise);
        let y_st = y.clone() + (y.clone().round() - y).detach();
        let x_hat = self.synthesis.forward(y_st);
        rd(x, x_hat, likelihood, lambda)
    }

    /// The same figures with real rounding, as the codec does it: bpp is the ideal information
    /// content of the quantized latents under the prior.
    pub fn rd_eval(&self, x: Tensor<4>, lambda: f64) -> RdOutput {
        let y_hat = self.analysis.forward(x.clone()).round();
        let likelihood = self.prior.likelihood(y_hat.clone());
        let x_hat = self.synthesis.forward(y_hat).clamp(0.0, 1.0);
        rd(x, x_hat, likelihood, lambda)
    }

    /// Shape of the latents of a `[batch, 3, h, w]` input.
    pub fn latent_shape(&self, batch: usize, height: usize, width: usize) -> [usize; 4] {
        let s = Architecture::STRIDE;
        [
            batch,
            self.prior.channels(),
            height.div_ceil(s),
            width.div_ceil(s),
        ]
    }

    /// Image (`[batch, 3, h, w]`, h and w multiples of 16) → unquantized latents.
    pub fn analyze(&self, x: Tensor<4>) -> Tensor<4> {
        self.analysis.forward(x)
    }

    /// Quantized latents → image, clamped to 0..=1.
    pub fn synthesize(&self, y_hat: Tensor<4>) -> Tensor<4> {
        self.synthesis.forward(y_hat).clamp(0.0, 1.0)
    }

    /// Ideal information content, in bits, of quantized latents under the prior.
    pub fn information_bits(&self, y_hat: Tensor<4>) -> f64 {
        let bits = self
            .prior
            .likelihood(y_hat)
            .log()
            .sum()
            .div_scalar(-std::f64::consts::LN_2);
        bits.into_scalar::<f32>() as f64
    }
}

fn rd(x: Tensor<4>, x_hat: Tensor<4>, likelihood: Tensor<4>, lambda: f64) -> RdOutput {
    let [b, _, h, w] = x.dims();
    let pixels = (b * h * w) as f64;
    let bpp = likelihood
        .log()
        .sum()
        .div_scalar(-std::f64::consts::LN_2 * pixels);
    let mse = (x_hat - x).square().mean();
    let loss = mse.clone().mul_scalar(lambda * 255.0 * 255.0) + bpp.clone();
    RdOutput { loss, bpp, mse }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn train_and_eval_objectives_are_finite_and_close() {
        let device = Device::flex();
        device.seed(3);
        let model = Compressor::new(&Architecture::TINY, &device);
        let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(0.0, 1.0), &device);
        let noise = Tensor::random(
            model.latent_shape(2, 32, 32),
            Distribution::Uniform(-0.5, 0.5),
            &device,
        );
        let t = model.rd_train(x.clone(), noise, 0.01);
        let e = model.rd_eval(x, 0.01);
        let (tb, eb) = (t.bpp.into_scalar::<f32>(), e.bpp.into_scalar::<f32>());
        assert!(tb.is_finite() && eb.is_finite() && tb > 0.0 && eb > 0.0);
        assert!(t.loss.into_scalar::<f32>().is_finite());
    }
}
