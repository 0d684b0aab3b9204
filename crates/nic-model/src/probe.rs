//! Where a model's quality stops: measurements of its own ceilings, for model cards and for
//! choosing what to train next.
//!
//! A variable-rate model's top level can saturate for three different reasons, and each asks
//! for a different fix: the transforms themselves (synthesis of the *unquantized* latents is
//! the autoencoder's own ceiling: capacity or training), the quantizer (the top level's gains
//! are too small to use what the transforms can do: the λ range or the gains' training), or
//! the entropy model (scales pinned at the tables' bounds). [`Compressor::probe`] measures
//! all three on one picture, on the floating-point path (the codec's integer scale index
//! changes the rate by well under 1 %, not the decoded picture).

use burn::tensor::{Tensor, TensorData};

use crate::{Compressor, information_bits};

/// How far past the top level [`Compressor::probe`] extrapolates: the top level's gains
/// times each of these (a quantizer step 2 and 4 times finer).
pub const FINER: [f64; 2] = [2.0, 4.0];

/// One picture's figures at one quantizer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Point {
    /// Mean squared error on the 0..=1 scale (synthesis output clamped to 0..=1).
    pub mse: f64,
    /// Mean squared error against the synthesis of the unquantized latents: what the rounding
    /// alone costs, apart from the transforms' own error (which `mse` also holds, and which
    /// can hide a small rounding error in f32 sums).
    pub rounding_mse: f64,
    /// Ideal information content of the latents, bits per pixel.
    pub bpp: f64,
    /// The side latents' part of `bpp`.
    pub side_bpp: f64,
    /// The detail latents' part of `bpp` (0 without them).
    pub detail_bpp: f64,
    /// Share of latents whose predicted scale is at or below the tables' smallest scale.
    pub at_min_scale: f64,
    /// Largest |rounded latent|.
    pub max_symbol: f64,
    /// How many latent channels carry 99 % of the latents' bits (the others are, in effect,
    /// switched off): says whether latent channels added to a trained model are in use.
    pub channels_99: usize,
}

/// The fewest channels whose bits (`bits[c]`, channel c's) add up to 99 % of all of them.
fn channels_carrying_99(mut bits: Vec<f64>) -> usize {
    bits.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = bits.iter().sum();
    let mut sum = 0.0;
    for (i, b) in bits.iter().enumerate() {
        sum += b;
        if sum >= 0.99 * total {
            return i + 1;
        }
    }
    bits.len()
}

/// The figures of [`Compressor::probe`].
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// MSE of the synthesis of the unquantized latents: the transforms' own ceiling.
    pub unquantized_mse: f64,
    /// One point per rate level (one for a fixed-rate model).
    pub levels: Vec<Point>,
    /// Geometric mean over channels of each level's gain (1 for a fixed-rate model).
    pub gains: Vec<f64>,
    /// Geometric mean over channels of each level's gain × inverse gain (1 when the inverse
    /// gain undoes the gain exactly).
    pub gain_products: Vec<f64>,
    /// The top level's gains times each of [`FINER`].
    pub finer: Vec<Point>,
}

impl Compressor {
    /// Measures `x` (`[1, 3, h, w]`, h and w multiples of [`crate::Architecture::STRIDE`]);
    /// see the module documentation.
    pub fn probe(&self, x: Tensor<4>) -> Probe {
        let device = x.device();
        let [_, _, h, w] = x.dims();
        let pixels = (h * w) as f64;
        let y = self.analyze(x.clone());
        let distance =
            |a: Tensor<4>, b: Tensor<4>| (a - b).square().mean().into_scalar::<f32>() as f64;
        let unquantized = self.synthesize(y.clone());
        let unquantized_mse = distance(unquantized.clone(), x.clone());
        let [_, channels, _, _] = y.dims();
        let per_channel = |v: &[f32]| {
            Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, channels, 1, 1]), &device)
        };
        let point = |gain: &[f32], inverse: &[f32]| -> Point {
            let gained = y.clone() * per_channel(gain);
            // The side latents are rounded once, for both the rate and the scales' floor.
            let z_hat = self
                .entropy
                .hyperprior()
                .map(|hp| hp.side_latents(gained.clone()).round());
            let at_min_scale = match (self.entropy.hyperprior(), &z_hat) {
                (Some(hp), Some(z_hat)) => {
                    let scales = hp.predict(z_hat.clone(), gained.dims()).scales;
                    let n = scales.shape().num_elements() as f64;
                    let low = scales.lower_equal_elem(nic_entropy::SCALE_MIN).int().sum();
                    low.into_scalar::<i64>() as f64 / n
                }
                _ => 0.0,
            };
            let q = self.entropy.quantize(gained, z_hat, &|v| v.round());
            // The largest quantized latent.
            let max_symbol = q.y_hat.clone().abs().max().into_scalar::<f32>() as f64;
            let (likelihood, y_hat) = (q.likelihood, q.y_hat);
            let per_channel_bits: Vec<f64> = likelihood
                .log()
                .sum_dim(3)
                .sum_dim(2)
                .div_scalar(-std::f64::consts::LN_2)
                .into_data()
                .iter::<f64>()
                .collect();
            let side_bits = q.side.map_or(0.0, information_bits);
            let first_detail = channels - self.analysis.detail_channels();
            let detail_bits: f64 = per_channel_bits[first_detail..].iter().sum();
            let x_hat = self.synthesize(y_hat * per_channel(inverse));
            Point {
                mse: distance(x_hat.clone(), x.clone()),
                rounding_mse: distance(x_hat, unquantized.clone()),
                bpp: (per_channel_bits.iter().sum::<f64>() + side_bits) / pixels,
                side_bpp: side_bits / pixels,
                detail_bpp: detail_bits / pixels,
                at_min_scale,
                max_symbol,
                channels_99: channels_carrying_99(per_channel_bits),
            }
        };
        let geometric_mean = |v: &[f32]| -> f64 {
            (v.iter().map(|&g| (g as f64).ln()).sum::<f64>() / v.len() as f64).exp()
        };
        let mut probe = Probe {
            unquantized_mse,
            ..Probe::default()
        };
        let levels = self.gains.as_ref().map_or(1, |g| g.levels());
        let mut top = (vec![1.0; channels], vec![1.0; channels]);
        for level in 0..levels {
            let (gain, inverse) = match &self.gains {
                Some(g) => g.at_quality(level as f64 + 1.0),
                None => (vec![1.0; channels], vec![1.0; channels]),
            };
            probe.levels.push(point(&gain, &inverse));
            probe.gains.push(geometric_mean(&gain));
            let product: Vec<f32> = gain.iter().zip(&inverse).map(|(a, b)| a * b).collect();
            probe.gain_products.push(geometric_mean(&product));
            top = (gain, inverse);
        }
        for factor in FINER {
            let gain: Vec<f32> = top.0.iter().map(|&g| g * factor as f32).collect();
            let inverse: Vec<f32> = top.1.iter().map(|&g| g / factor as f32).collect();
            probe.finer.push(point(&gain, &inverse));
        }
        probe
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Architecture, Gains};
    use burn::tensor::{Device, Distribution};

    #[test]
    fn the_channels_that_carry_99_percent_of_the_bits() {
        assert_eq!(channels_carrying_99(vec![0.0, 50.0, 0.5, 49.5]), 2);
        assert_eq!(channels_carrying_99(vec![0.0, 50.0, 1.5, 48.5]), 3);
        assert_eq!(channels_carrying_99(vec![1.0; 10]), 10);
        assert_eq!(channels_carrying_99(vec![7.0]), 1);
    }

    #[test]
    fn finer_quantizers_approach_the_unquantized_synthesis() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 5);
        let detail = Architecture {
            detail_channels: 4,
            ..Architecture::TINY_HYPER
        };
        for arch in [Architecture::TINY_HYPER, detail] {
            let mut model = Compressor::new(&arch, &device);
            // Gains of 10, 100 and 1000 (an untrained network's latents are small), so that the
            // quantizer steps span from visible to negligible.
            model.gains = Some(Gains::new(
                &[1e-6, 1e-4, 1e-2],
                1e-8,
                arch.latent_channels,
                &device,
            ));
            let x = Tensor::<4>::random([1, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &device);
            let p = model.probe(x);
            let levels = arch.rate_levels;
            assert_eq!(p.levels.len(), levels);
            assert_eq!(p.gains.len(), levels);
            assert!(p.unquantized_mse.is_finite() && p.unquantized_mse > 0.0);
            // Ever finer steps leave less rounding error: a step 400 times finer, at least 100
            // times less (in squared error it is ~10⁵ times less).
            assert!(p.levels[0].rounding_mse > 0.0, "{p:?}");
            assert!(
                p.finer[1].rounding_mse <= 0.01 * p.levels[0].rounding_mse,
                "{p:?}"
            );
            for q in p.levels.iter().chain(&p.finer) {
                // |a − b|² ≤ 2 (|a − x|² + |x − b|²)
                let bound = 2.0 * (q.mse + p.unquantized_mse);
                assert!(q.mse > 0.0 && q.rounding_mse <= bound, "{q:?}");
            }
            assert!((p.gains[2] / p.gains[0] - 100.0).abs() < 1e-3);
            for q in p.levels.iter().chain(&p.finer) {
                assert!(q.bpp > q.side_bpp && q.side_bpp > 0.0, "{q:?}");
                assert!((1..=arch.latent_channels).contains(&q.channels_99), "{q:?}");
                assert!((0.0..=1.0).contains(&q.at_min_scale));
            }
            assert!(p.finer[1].bpp > p.levels[levels - 1].bpp);
            for g in &p.gain_products {
                assert!((g - 1.0).abs() < 1e-5, "{g}");
            }
            // The detail latents' bits are a part of the latents', and there are none
            // without them.
            for q in p.levels.iter().chain(&p.finer) {
                let latents = q.bpp - q.side_bpp;
                match arch.detail_channels {
                    0 => assert_eq!(q.detail_bpp, 0.0),
                    _ => assert!(q.detail_bpp > 0.0 && q.detail_bpp < latents, "{q:?}"),
                }
            }
        }
    }
}
