//! Gain units: one network for every rate (Cui et al. 2021, "Asymmetric gained deep image
//! compression with continuous rate adaptation").
//!
//! A rate level l scales each latent channel by a learned gain before rounding (a finer or
//! coarser quantizer per channel) and by a learned inverse gain before synthesis. Training
//! draws a level, with its own λ, for every image; between levels the gains are interpolated
//! geometrically, which gives a continuous quality scale from one model.

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};

#[derive(Module, Debug)]
pub struct Gains {
    /// `[levels, channels]`, natural logarithms (so gains stay positive and interpolation is
    /// linear).
    log_gain: Param<Tensor<2>>,
    log_inverse: Param<Tensor<2>>,
}

impl Gains {
    /// Starts level l at gain √(λ_l / λ_ref) (and its inverse) on every channel: the
    /// quantizer step that high-rate theory gives for λ_l if the transforms were trained at
    /// `reference`.
    pub fn new(lambdas: &[f64], reference: f64, channels: usize, device: &Device) -> Self {
        let levels = lambdas.len();
        let log: Vec<f32> = lambdas
            .iter()
            .flat_map(|&l| std::iter::repeat_n((0.5 * (l / reference).ln()) as f32, channels))
            .collect();
        let t = Tensor::<2>::from_data(TensorData::new(log, [levels, channels]), device);
        Gains {
            log_gain: Param::from_tensor(t.clone()),
            log_inverse: Param::from_tensor(t.neg()),
        }
    }

    /// These gains with levels added below the bottom one and above the top one, for a model
    /// trained at `trained` to go on at `lambdas` (increasing, with `trained` a run inside it).
    /// The trained levels are kept; a new one starts at the gains of the nearest trained end
    /// times √(λ / λ_end) — the step that high-rate theory gives — so that fine-tuning need
    /// not restart the gains the model has learned. `None` where `lambdas` does not extend
    /// `trained` that way.
    pub fn grown(&self, trained: &[f64], lambdas: &[f64]) -> Option<Gains> {
        let (levels, bottom) = (trained.len(), *trained.first()?);
        let below = lambdas.iter().take_while(|&&l| l < bottom).count();
        let increasing = lambdas.is_sorted_by(|a, b| a < b);
        let kept = lambdas.get(below..below + levels) == Some(trained);
        if !increasing || !kept || levels != self.levels() || lambdas.len() == levels {
            return None;
        }
        let device = self.log_gain.device();
        let grow = |p: &Param<Tensor<2>>, sign: f64| {
            let [_, c] = p.dims();
            let v: Vec<f32> = p.val().into_data().try_into_vec::<f32>().ok()?;
            let from = |end: usize, l: f64| {
                let step = (sign * 0.5 * (l / trained[end]).ln()) as f32;
                v[end * c..][..c].iter().map(move |g| g + step)
            };
            let mut out = Vec::with_capacity(lambdas.len() * c);
            for &l in &lambdas[..below] {
                out.extend(from(0, l));
            }
            out.extend_from_slice(&v);
            for &l in &lambdas[below + levels..] {
                out.extend(from(levels - 1, l));
            }
            let t = Tensor::<2>::from_data(TensorData::new(out, [lambdas.len(), c]), &device);
            Some(Param::from_tensor(t))
        };
        Some(Gains {
            log_gain: grow(&self.log_gain, 1.0)?,
            log_inverse: grow(&self.log_inverse, -1.0)?,
        })
    }

    /// These gains for `channels` latent channels (at least as many as now): the trained
    /// channels keep theirs, and a new channel starts at each level's geometric mean over
    /// them, so it is quantized as finely as a typical trained channel at that level.
    pub fn widened(&self, channels: usize) -> Gains {
        let widen = |p: &Param<Tensor<2>>| {
            let [levels, c] = p.dims();
            assert!(c <= channels, "{c} channels cannot widen to {channels}");
            let v: Vec<f32> = p
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 gains");
            let mut out = Vec::with_capacity(levels * channels);
            for row in v.chunks(c) {
                let mean = row.iter().sum::<f32>() / c as f32;
                out.extend_from_slice(row);
                out.extend(std::iter::repeat_n(mean, channels - c));
            }
            let data = TensorData::new(out, [levels, channels]);
            Param::from_tensor(Tensor::<2>::from_data(data, &p.device()))
        };
        Gains {
            log_gain: widen(&self.log_gain),
            log_inverse: widen(&self.log_inverse),
        }
    }

    pub fn levels(&self) -> usize {
        self.log_gain.dims()[0]
    }

    /// Gains and inverse gains for one level per image, `[batch, channels, 1, 1]` each.
    pub fn for_levels(&self, levels: &[usize]) -> (Tensor<4>, Tensor<4>) {
        let device = self.log_gain.device();
        let idx = Tensor::<1, Int>::from_data(
            TensorData::new(
                levels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
                [levels.len()],
            ),
            &device,
        );
        let pick = |p: &Param<Tensor<2>>| {
            let [_, c] = p.dims();
            p.val()
                .select(0, idx.clone())
                .exp()
                .reshape([levels.len(), c, 1, 1])
        };
        (pick(&self.log_gain), pick(&self.log_inverse))
    }

    /// Gains and inverse gains at a real-valued quality q in 1..=levels (level ⌊q⌋ − 1 and the
    /// next, interpolated geometrically), as host vectors.
    pub fn at_quality(&self, quality: f64) -> (Vec<f32>, Vec<f32>) {
        let top = self.levels() - 1;
        let q = (quality - 1.0).clamp(0.0, top as f64);
        let lo = (q.floor() as usize).min(top.saturating_sub(1));
        let t = q - lo as f64;
        let at = |p: &Param<Tensor<2>>| -> Vec<f32> {
            let v: Vec<f32> = p
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 gains");
            let c = v.len() / (top + 1);
            let hi = (lo + 1).min(top);
            (0..c)
                .map(|ch| {
                    let (a, b) = (v[lo * c + ch] as f64, v[hi * c + ch] as f64);
                    ((1.0 - t) * a + t * b).exp() as f32
                })
                .collect()
        };
        (at(&self.log_gain), at(&self.log_inverse))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_qualities_agree() {
        let device = Device::flex();
        let g = Gains::new(&[0.001, 0.004, 0.016], 0.004, 2, &device);
        let (gain, inv) = g.for_levels(&[0, 2]);
        let gain: Vec<f32> = gain.into_data().try_into_vec::<f32>().unwrap();
        let inv: Vec<f32> = inv.into_data().try_into_vec::<f32>().unwrap();
        assert!((gain[0] - 0.5).abs() < 1e-6 && (gain[3] - 2.0).abs() < 1e-6);
        assert!((inv[0] - 2.0).abs() < 1e-5);
        let (g1, _) = g.at_quality(1.0);
        let (g15, _) = g.at_quality(1.5);
        let (g3, _) = g.at_quality(3.0);
        assert!((g1[0] - 0.5).abs() < 1e-6 && (g3[1] - 2.0).abs() < 1e-6);
        assert!((g15[0] - 0.5f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn widened_gains_keep_the_trained_channels_and_start_new_ones_at_the_mean() {
        let device = Device::flex();
        let log = TensorData::new(vec![-0.7f32, -0.5, 0.1, 0.3], [2, 2]);
        let g = Gains {
            log_gain: Param::from_tensor(Tensor::<2>::from_data(log.clone(), &device)),
            log_inverse: Param::from_tensor(Tensor::<2>::from_data(log, &device).neg()),
        };
        let (gain, inv) = g.widened(3).for_levels(&[0, 1]);
        let gain: Vec<f32> = gain.into_data().try_into_vec::<f32>().unwrap();
        let inv: Vec<f32> = inv.into_data().try_into_vec::<f32>().unwrap();
        let want = [-0.7f32, -0.5, -0.6, 0.1, 0.3, 0.2];
        for (i, w) in want.iter().enumerate() {
            assert!((gain[i] - w.exp()).abs() < 1e-6, "gain {i}");
            assert!((inv[i] - (-w).exp()).abs() < 1e-5, "inverse {i}");
        }
    }

    #[test]
    fn grown_gains_keep_the_trained_levels_and_extrapolate_the_new_ones_from_the_nearest_end() {
        let device = Device::flex();
        let trained = [0.001, 0.004];
        // Per-channel gains as training leaves them: not the starting theory.
        let log = TensorData::new(vec![-0.7f32, -0.6, 0.1, 0.3], [2, 2]);
        let g = Gains {
            log_gain: Param::from_tensor(Tensor::<2>::from_data(log.clone(), &device)),
            log_inverse: Param::from_tensor(Tensor::<2>::from_data(log, &device).neg()),
        };
        let grown = g.grown(&trained, &[0.001, 0.004, 0.016, 0.064]).unwrap();
        assert_eq!(grown.levels(), 4);
        let (gain, inv) = grown.for_levels(&[0, 1, 2, 3]);
        let gain: Vec<f32> = gain.into_data().try_into_vec::<f32>().unwrap();
        let inv: Vec<f32> = inv.into_data().try_into_vec::<f32>().unwrap();
        let close = |a: f32, b: f32| (a - b).abs() < 1e-5 * b.abs().max(1.0);
        // The trained levels as they were, each new level 2× (√4) the gain of the one below.
        assert!(close(gain[0], (-0.7f32).exp()) && close(gain[3], 0.3f32.exp()));
        assert!(close(gain[4], 2.0 * 0.1f32.exp()) && close(gain[7], 4.0 * 0.3f32.exp()));
        assert!(close(inv[5], 0.5 * (-0.3f32).exp()) && close(inv[6], 0.25 * (-0.1f32).exp()));
        // Below the bottom level too: 1/2 (√(1/4)) the gain of the one above, the trained
        // levels moved up by one.
        let both = g.grown(&trained, &[0.00025, 0.001, 0.004, 0.016]).unwrap();
        let gain: Vec<f32> = both
            .for_levels(&[0, 1, 2, 3])
            .0
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert!(close(gain[0], 0.5 * (-0.7f32).exp()) && close(gain[1], 0.5 * (-0.6f32).exp()));
        assert!(close(gain[2], (-0.7f32).exp()) && close(gain[5], 0.3f32.exp()));
        assert!(close(gain[6], 2.0 * 0.1f32.exp()));
        // What does not keep the trained levels as a run of increasing λ is refused.
        for bad in [
            &[0.001, 0.004][..],
            &[0.001, 0.005, 0.016],
            &[0.001, 0.004, 0.003],
            &[0.002, 0.001, 0.004],
            &[0.0005, 0.001, 0.002, 0.004],
        ] {
            assert!(g.grown(&trained, bad).is_none(), "{bad:?}");
        }
        assert!(g.grown(&trained, &[0.001, 0.004, 0.016, 0.016]).is_none());
    }
}
