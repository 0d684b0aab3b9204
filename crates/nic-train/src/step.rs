//! One optimization step, exactly as training does it and `nic bench` times it.

use nic_model::burn::grad_clipping::GradientClippingConfig;
use nic_model::burn::module::{Module, ModuleVisitor, Param};
use nic_model::burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use nic_model::burn::tensor::{Device, Tensor, TensorData};
use nic_model::{Compressor, NoiseFor, Targets};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::RdStats;

/// The gradient's norm is clipped to this (CompressAI's `--clip_max_norm` default): a batch
/// of unusual crops cannot throw the weights far.
const MAX_GRADIENT_NORM: f32 = 1.0;

/// The optimizer training uses: Adam with the gradient norm clipped to [`MAX_GRADIENT_NORM`].
pub fn optimizer() -> ModuleOptimizer {
    AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(MAX_GRADIENT_NORM)))
        .init()
}

/// One optimization step: forward pass with noisy latents, rate–distortion loss, backward
/// pass, Adam update. `model` and `x` live on an autodiff device. The objective is the mean
/// of the images' losses, each times its entry of `weights` if given (see
/// [`crate::LevelBalance`]). Returns the updated model and the figures of the weights it was
/// given; a non-finite loss leaves the model and the optimizer as they were (the caller stops
/// there), and so does a finite loss whose gradient is not finite somewhere ([`Step::skipped`]:
/// the clipping would turn an infinite entry into NaN, and Adam's moments keep a NaN for
/// good).
pub fn train_step(
    model: Compressor,
    optim: &mut ModuleOptimizer,
    x: Tensor<4>,
    noise: &dyn Fn(NoiseFor, [usize; 4]) -> Tensor<4>,
    targets: Targets,
    weights: Option<&[f32]>,
    lr: f64,
) -> (Compressor, Step) {
    let out = model.rd_train(x, noise, targets);
    let stats = RdStats::of(&out);
    let image_loss = out
        .image_loss
        .clone()
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 losses");
    let step = Step {
        stats,
        image_loss,
        skipped: false,
    };
    if !stats.loss.is_finite() {
        return (model, step);
    }
    let objective = match weights {
        Some(w) => {
            let w =
                Tensor::<1>::from_data(TensorData::new(w.to_vec(), [w.len()]), &out.loss.device());
            (out.image_loss * w).mean()
        }
        None => out.loss,
    };
    let grads = GradientsParams::from_grads(objective.backward(), &model);
    if !finite_gradients(&model, &grads) {
        return (
            model,
            Step {
                skipped: true,
                ..step
            },
        );
    }
    (optim.step(lr, model, grads), step)
}

/// Whether the gradient of every parameter of `model` in `grads` is finite (each tensor's sum:
/// an infinite or NaN entry makes it non-finite; so would finite entries whose sum overflows,
/// a gradient no step should take either).
fn finite_gradients(model: &Compressor, grads: &GradientsParams) -> bool {
    struct Finite<'a> {
        grads: &'a GradientsParams,
        all: bool,
    }
    impl ModuleVisitor for Finite<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let (true, Some(g)) = (self.all, self.grads.get::<D>(param.id)) {
                self.all = g.sum().into_scalar::<f32>().is_finite();
            }
        }
    }
    let mut check = Finite { grads, all: true };
    model.visit(&mut check);
    check.all
}

/// What a [`train_step`] measured, before its update.
#[derive(Debug, Clone)]
pub struct Step {
    pub stats: RdStats,
    /// Each image's λ·255²·MSE + bpp (as the loss counts the rate).
    pub image_loss: Vec<f32>,
    /// The loss was finite but its gradient was not: no update was made.
    pub skipped: bool,
}

/// The training noise of step `step` (see [`Compressor::rd_train`]): for the latents from
/// `seed`, for the side latents from `!seed`, each with [`uniform_noise`].
pub fn step_noise(
    seed: u64,
    step: u64,
    device: &Device,
) -> impl Fn(NoiseFor, [usize; 4]) -> Tensor<4> + '_ {
    move |which, shape| {
        let seed = match which {
            NoiseFor::Latents => seed,
            NoiseFor::SideLatents => !seed,
        };
        uniform_noise(shape, seed, step, device)
    }
}

/// Uniform noise in ±½ for step `step`, drawn on the host from a seed fixed by (seed, step):
/// the same on every backend and after a resume.
pub fn uniform_noise(shape: [usize; 4], seed: u64, step: u64, device: &Device) -> Tensor<4> {
    // 2⁶⁴/φ spreads consecutive steps over the seed space; the salt ("noise" in ASCII) keeps
    // the noise's stream apart from the sampler's, which is seeded from the same numbers.
    const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
    const SALT: u64 = 0x006e_6f69_7365;
    let mut rng = StdRng::seed_from_u64(seed ^ step.wrapping_mul(GOLDEN) ^ SALT);
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random::<f32>() - 0.5).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

#[cfg(test)]
mod tests {
    use nic_model::Architecture;

    use super::*;

    /// A loss whose gradient is NaN somewhere (√ at zero times zero) is caught; a plain one
    /// is not.
    #[test]
    fn gradients_that_are_not_finite_are_caught() {
        let device = Device::flex().autodiff();
        let model = Compressor::new(&Architecture::TINY, &device);
        let x = Tensor::<4>::ones([1, 3, 32, 32], &device);
        let grads =
            |objective: Tensor<1>| GradientsParams::from_grads(objective.backward(), &model);
        let plain = grads(model.analyze(x.clone()).sum());
        assert!(finite_gradients(&model, &plain));
        let broken = grads(model.analyze(x).mul_scalar(0.0).sqrt().sum());
        assert!(!finite_gradients(&model, &broken));
    }
}
