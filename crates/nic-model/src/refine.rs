//! Per-picture refinement of the latents (`nic encode --effort`): the encoder looks for the
//! integers that cost least under the model's own rate–distortion objective; the decoder is
//! unchanged.
//!
//! The analysis transform is amortized: trained to give good latents for all pictures, it
//! does not give the best ones for a given picture (the "amortization gap"; Campos et al.
//! 2019, Yang et al. 2020). Here the latents y and side latents z of one picture are optimized
//! by Adam on λ·255²·MSE + bpp from the analysis's start. Rounding has no useful gradient, so
//! it is replaced by soft rounding (Agustsson and Theis 2020), a smooth staircase whose
//! sharpness α rises over the steps until it is nearly rounding: early steps see a smooth
//! objective, late ones nearly the real one. The real cost (hard rounding) of the result is
//! then compared with that of the start, and the better is returned: refinement never gives
//! latents that cost more than the analysis's.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Tensor;

use crate::compressor::{apply, rd};
use crate::{Compressor, RdOutput};

/// How long and how fast latents are refined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Optimizer steps (each one forward and one backward pass of the synthesis and the
    /// entropy model).
    pub steps: usize,
    /// Adam's step, in latent units (about how far each latent moves per step at the start).
    pub lr: f64,
}

/// Soft rounding's sharpness at the first and the last step (geometric in between): at 1 the
/// staircase is nearly the identity, at 16 nearly rounding (a latent 0.1 from a step's middle
/// is rounded 97 % of the way).
const SHARPNESS: (f64, f64) = (1.0, 16.0);

impl Schedule {
    fn sharpness_at(&self, step: usize) -> f64 {
        let t = step as f64 / (self.steps.max(2) - 1) as f64;
        SHARPNESS.0 * (SHARPNESS.1 / SHARPNESS.0).powf(t.min(1.0))
    }
}

/// The variables of the optimization: a picture's gained latents and, with a hyperprior, its
/// side latents, both unrounded.
#[derive(Module, Debug)]
struct Variables {
    y: Param<Tensor<4>>,
    z: Option<Param<Tensor<4>>>,
}

/// Refined latents (unrounded; the codec rounds them) and what the refinement gained.
pub struct Refined {
    pub y: Tensor<4>,
    pub z: Option<Tensor<4>>,
    /// The cost λ·255²·MSE + bpp of the start and of the latents returned (rounded).
    pub start_loss: f64,
    pub loss: f64,
}

/// How latents are quantized in [`Compressor::rd_latents`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rounding {
    /// Rounded, as the codec does: the real cost.
    Hard,
    /// Soft rounding of this sharpness, differentiable.
    Soft(f64),
}

impl Compressor {
    /// The rate–distortion cost of one picture's gained latents `y` (`[1, M, h, w]`) and side
    /// latents `z`, quantized by `rounding`. Without `z`, a hyperprior's side latents are the
    /// hyper-analysis of `y`. `inverse` are the inverse gains, `x` the picture
    /// (`[1, 3, 16h, 16w]`).
    pub fn rd_latents(
        &self,
        x: Tensor<4>,
        y: Tensor<4>,
        z: Option<Tensor<4>>,
        inverse: Option<Tensor<4>>,
        lambda: f64,
        rounding: Rounding,
    ) -> RdOutput {
        let quantize = |v: Tensor<4>| match rounding {
            Rounding::Hard => v.round(),
            Rounding::Soft(alpha) => soft_round(v, alpha),
        };
        let q = self.entropy.quantize(y, z, &quantize);
        let x_hat = self
            .synthesis
            .forward(apply(q.y_hat, inverse))
            .clamp(0.0, 1.0);
        rd(x, x_hat, q.likelihood, q.side, &[lambda], None)
    }

    /// Refines one picture's latents from `y` and `z` (see the module's documentation).
    /// The model must live on an autodiff device, with its parameters not requiring gradients
    /// (`model.fork(&device.autodiff()).no_grad()`), and the tensors on the same device.
    /// `on_step` is called after every step.
    #[allow(clippy::too_many_arguments)]
    pub fn refine(
        &self,
        x: Tensor<4>,
        y: Tensor<4>,
        z: Option<Tensor<4>>,
        inverse: Option<Tensor<4>>,
        lambda: f64,
        schedule: Schedule,
        on_step: &mut dyn FnMut(),
    ) -> Refined {
        let (y, z) = (y.detach(), z.map(|z| z.detach()));
        let cost = |y: &Tensor<4>, z: &Option<Tensor<4>>| {
            let out = self.rd_latents(
                x.clone(),
                y.clone(),
                z.clone(),
                inverse.clone(),
                lambda,
                Rounding::Hard,
            );
            out.loss.into_scalar::<f32>() as f64
        };
        let start_loss = cost(&y, &z);
        let mut vars = Variables {
            y: Param::from_tensor(y.clone().require_grad()),
            z: z.clone().map(|z| Param::from_tensor(z.require_grad())),
        };
        let mut optim = AdamConfig::new().init();
        for step in 0..schedule.steps {
            let out = self.rd_latents(
                x.clone(),
                vars.y.val(),
                vars.z.as_ref().map(Param::val),
                inverse.clone(),
                lambda,
                Rounding::Soft(schedule.sharpness_at(step)),
            );
            let grads = GradientsParams::from_grads(out.loss.backward(), &vars);
            vars = optim.step(schedule.lr, vars, grads);
            on_step();
        }
        let refined = (vars.y.val().detach(), vars.z.map(|z| z.val().detach()));
        let loss = cost(&refined.0, &refined.1);
        if loss < start_loss {
            Refined {
                y: refined.0,
                z: refined.1,
                start_loss,
                loss,
            }
        } else {
            // Also when the refinement went non-finite.
            Refined {
                y,
                z,
                start_loss,
                loss: start_loss,
            }
        }
    }
}

/// Soft rounding s_α(v) = ⌊v⌋ + ½ + ½·tanh(α·(r − ½)) / tanh(α/2), r = v − ⌊v⌋: continuous
/// and increasing, equal to v at every integer and half-integer, tending to rounding as α
/// grows and to the identity as α → 0.
fn soft_round(v: Tensor<4>, alpha: f64) -> Tensor<4> {
    let floor = v.clone().floor().detach();
    let r = v - floor.clone();
    let t = r.sub_scalar(0.5).mul_scalar(alpha).tanh();
    floor + t.div_scalar(2.0 * (alpha / 2.0).tanh()).add_scalar(0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Architecture;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn refinement_lowers_the_cost() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 11);
        let ad = device.clone().autodiff();
        for arch in [
            Architecture::TINY,
            Architecture::TINY_HYPER,
            Architecture::TINY_MEAN_SCALE,
        ] {
            let model = Compressor::new(&arch, &device).fork(&ad).no_grad();
            // A smooth picture with detail (burn's random state is shared with other tests).
            let values: Vec<f32> = (0..3 * 64 * 64)
                .map(|i| {
                    let (c, y, x) = (i / 4096, (i / 64) % 64, i % 64);
                    0.5 + 0.4 * ((x as f32 * 0.3 + c as f32).sin() * (y as f32 * 0.2).cos())
                })
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(values, [1, 3, 64, 64]), &ad);
            let y = model.analyze(x.clone()).detach();
            let z = model
                .entropy
                .hyperprior()
                .map(|hp| hp.side_latents(y.clone()).detach());
            let mut steps = 0;
            let schedule = Schedule { steps: 12, lr: 0.2 };
            let r = model.refine(x, y, z.clone(), None, 0.05, schedule, &mut || steps += 1);
            assert_eq!(steps, 12);
            // Strictly lower: the start is kept only if the refinement did not improve on it.
            assert!(
                r.start_loss.is_finite() && r.loss < r.start_loss,
                "{arch:?}: {} → {}",
                r.start_loss,
                r.loss
            );
            assert_eq!(r.z.is_some(), z.is_some());
        }
    }
}
