//! An exponential moving average of the weights (Polyak averaging), the model a run exports
//! when `--ema` is given.
//!
//! At a learning rate that keeps training moving (1e-4 at batch 8), the weights wander around
//! the minimum by more than the run improves it between validations: lowering the rate tenfold
//! for a few hundred steps gained more than thousands of steps at the rate (models/default's
//! card). The average of the recent weights sits where that wandering is centred, without
//! slowing the run that produces them.

use nic_model::Compressor;
use nic_model::burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use nic_model::burn::tensor::Tensor;

/// The averaged weights, on the device without autodiff: after every step
/// `average ← d·average + (1 − d)·weights`, so the last 1/(1 − d) steps count most, where d is
/// `decay` once the run is past its first steps (see [`Average::decay_at`]).
#[derive(Debug, Clone)]
pub(crate) struct Average {
    pub model: Compressor,
    pub decay: f64,
}

impl Average {
    /// An average that starts at `model`'s weights.
    pub fn new(model: &Compressor, decay: f64) -> Self {
        Average {
            model: model.valid(),
            decay,
        }
    }

    /// The decay after the run's step `step` (counted from 0): `decay`, but at most
    /// (1 + step) / (10 + step), the warm-up of TensorFlow's `ExponentialMovingAverage`. A run
    /// starts from weights that training leaves fast — fresh ones, or a model just given more
    /// latents, whose rate falls by half in the first 250 steps — and without the warm-up
    /// its average would carry them for thousands of steps (0.999²⁵⁰ = 0.78 of them at step
    /// 250). Counted in the run's steps, so it needs no state of its own in a checkpoint.
    pub fn decay_at(&self, step: u64) -> f64 {
        let s = step as f64;
        self.decay.min((1.0 + s) / (10.0 + s))
    }

    /// Moves the average towards `model`'s weights (those of the same run, so the same
    /// parameters in the same order) after the run's step `step`.
    pub fn update(&mut self, model: &Compressor, step: u64) {
        let mut weights = Flattened::default();
        model.valid().visit(&mut weights);
        let mut blend = Blend {
            weights: weights.0.into_iter(),
            keep: self.decay_at(step),
        };
        self.model = self.model.clone().map(&mut blend);
        assert!(
            blend.weights.next().is_none(),
            "the average and the model have different parameters"
        );
    }
}

/// Every float parameter, flattened, in the order a visit meets them.
#[derive(Default)]
struct Flattened(Vec<Tensor<1>>);

impl ModuleVisitor for Flattened {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let v = param.val();
        let n = v.shape().num_elements();
        self.0.push(v.reshape([n]));
    }
}

/// Maps each parameter `a` to `a + (1 − keep)·(w − a)` with the next of `weights`.
struct Blend {
    weights: std::vec::IntoIter<Tensor<1>>,
    keep: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let w = self
            .weights
            .next()
            .expect("the average and the model have different parameters");
        let keep = self.keep;
        param.map(|a| {
            let w = w.reshape(a.shape());
            a.clone() + (w - a).mul_scalar(1.0 - keep)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nic_model::Architecture;
    use nic_model::burn::tensor::Device;

    fn values(model: &Compressor) -> Vec<f32> {
        let mut f = Flattened::default();
        model.visit(&mut f);
        f.0.into_iter()
            .flat_map(|t| t.into_data().try_to_vec::<f32>().unwrap())
            .collect()
    }

    #[test]
    fn each_update_moves_every_weight_by_its_share() {
        let _serial = nic_testkit::rng_turn();
        let device = Device::flex();
        let ad = device.clone().autodiff();
        let arch = Architecture::TINY_HYPER;
        let a = Compressor::new(&arch, &ad);
        let b = Compressor::new(&arch, &ad);
        let c = Compressor::new(&arch, &ad);
        let mut avg = Average::new(&a, 0.75);
        // Past the warm-up, the decay is the one asked for.
        assert_eq!((avg.decay_at(30), avg.decay_at(1000)), (0.75, 0.75));
        avg.update(&b, 1000);
        avg.update(&c, 1001);
        let (a, b, c, got) = (values(&a), values(&b), values(&c), values(&avg.model));
        assert_eq!(got.len(), a.len());
        assert!(a.len() > 1000);
        let mut moved = 0;
        for i in 0..a.len() {
            // 0.75·(0.75·a + 0.25·b) + 0.25·c
            let want = 0.5625 * a[i] + 0.1875 * b[i] + 0.25 * c[i];
            assert!(
                (got[i] - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "weight {i}: {} against {want}",
                got[i]
            );
            moved += usize::from(got[i] != a[i]);
        }
        // Fresh models differ in their random weights (biases and gains may start equal).
        assert!(moved > a.len() / 2, "{moved} of {} weights moved", a.len());
    }

    #[test]
    fn the_first_steps_leave_the_starting_weights_behind() {
        let _serial = nic_testkit::rng_turn();
        let device = Device::flex();
        let arch = Architecture::TINY_HYPER;
        let (a, b) = (
            Compressor::new(&arch, &device),
            Compressor::new(&arch, &device),
        );
        let mut avg = Average::new(&a, 0.999);
        assert_eq!(avg.decay_at(0), 0.1);
        assert!((avg.decay_at(250) - 251.0 / 260.0).abs() < 1e-12);
        assert_eq!(avg.decay_at(9000), 0.999);
        avg.update(&b, 0);
        let (a, b, got) = (values(&a), values(&b), values(&avg.model));
        for i in 0..a.len() {
            let want = 0.1 * a[i] + 0.9 * b[i];
            assert!(
                (got[i] - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "weight {i}"
            );
        }
    }
}
