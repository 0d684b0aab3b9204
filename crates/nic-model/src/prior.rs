//! The factorized prior ("entropy bottleneck", Ballé et al. 2018, appendix 6.1).
//!
//! Each latent channel c has its own univariate density, defined through a learned cumulative
//! function: a chain of small dense layers with non-negative matrices (softplus) and monotone
//! nonlinearities x + a·tanh(x), mapping x to the logit of P(Y ≤ x). The probability of an
//! integer k is then CDF(k + ½) − CDF(k − ½), exact under rounding, and a smooth function of
//! the latents under additive uniform noise during training.

use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, softplus};
use burn::tensor::{Device, Distribution, Tensor};

use crate::gdn::lower_bound;

/// Hidden widths of the cumulative function (the paper's (3, 3, 3)).
const FILTERS: [usize; 3] = [3, 3, 3];
/// Initial spread of the densities; latents start at about this scale.
const INIT_SCALE: f64 = 10.0;
/// Smallest likelihood of one latent value (caps the rate of one latent at ~30 bits).
pub(crate) const LIKELIHOOD_BOUND: f64 = 1e-9;

#[derive(Module, Debug)]
pub struct FactorizedPrior {
    /// Per layer: `[channels, out, in]`, made non-negative with softplus.
    matrices: Vec<Param<Tensor<3>>>,
    /// Per layer: `[channels, out, 1]`.
    biases: Vec<Param<Tensor<3>>>,
    /// Per hidden layer: `[channels, out, 1]`, squashed with tanh.
    factors: Vec<Param<Tensor<3>>>,
}

impl FactorizedPrior {
    pub fn new(channels: usize, device: &Device) -> Self {
        let dims: Vec<usize> = std::iter::once(1)
            .chain(FILTERS)
            .chain(std::iter::once(1))
            .collect();
        let scale = INIT_SCALE.powf(1.0 / (FILTERS.len() + 1) as f64);
        let mut matrices = Vec::new();
        let mut biases = Vec::new();
        let mut factors = Vec::new();
        for k in 0..dims.len() - 1 {
            let (fin, fout) = (dims[k], dims[k + 1]);
            let init = (1.0 / scale / fout as f64).exp_m1().ln();
            matrices.push(Param::from_tensor(Tensor::<3>::full(
                [channels, fout, fin],
                init,
                device,
            )));
            biases.push(Param::from_tensor(Tensor::<3>::random(
                [channels, fout, 1],
                Distribution::Uniform(-0.5, 0.5),
                device,
            )));
            if k < FILTERS.len() {
                factors.push(Param::from_tensor(Tensor::<3>::zeros(
                    [channels, fout, 1],
                    device,
                )));
            }
        }
        FactorizedPrior {
            matrices,
            biases,
            factors,
        }
    }

    pub fn channels(&self) -> usize {
        self.matrices[0].dims()[0]
    }

    /// Logit of the cumulative distribution at `x`, shaped `[channels, 1, samples]`.
    pub fn logits_cumulative(&self, mut x: Tensor<3>) -> Tensor<3> {
        for (k, (m, b)) in self.matrices.iter().zip(&self.biases).enumerate() {
            x = softplus(m.val(), 1.0).matmul(x) + b.val();
            if let Some(f) = self.factors.get(k) {
                x = x.clone() + f.val().tanh() * x.tanh();
            }
        }
        x
    }

    /// Probability of the interval [v − ½, v + ½] for every value, `[channels, 1, samples]`.
    /// Computed on the side of the median where the sigmoid is not saturated, so tails keep
    /// their precision.
    pub fn interval_probability(&self, v: Tensor<3>) -> Tensor<3> {
        let lower = self.logits_cumulative(v.clone().sub_scalar(0.5));
        let upper = self.logits_cumulative(v.add_scalar(0.5));
        let sign = (lower.clone() + upper.clone()).sign().neg().detach();
        (sigmoid(sign.clone() * upper) - sigmoid(sign * lower)).abs()
    }

    /// Likelihood of each latent in `y` (`[batch, channels, h, w]`), bounded below.
    pub fn likelihood(&self, y: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = y.dims();
        let v = y.swap_dims(0, 1).reshape([c, 1, b * h * w]);
        let p = lower_bound(self.interval_probability(v), LIKELIHOOD_BOUND);
        p.reshape([c, b, h, w]).swap_dims(0, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_of_all_integers_sum_to_one() {
        let device = Device::flex();
        let prior = FactorizedPrior::new(3, &device);
        let grid: Vec<f32> = (-200..=200).map(|k| k as f32).collect();
        let v = Tensor::<1>::from_floats(grid.as_slice(), &device)
            .reshape([1, 1, 401])
            .repeat_dim(0, 3);
        let p: Vec<f32> = prior
            .interval_probability(v)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        for c in 0..3 {
            let s: f32 = p[c * 401..(c + 1) * 401].iter().sum();
            assert!((s - 1.0).abs() < 1e-3, "channel {c} sums to {s}");
        }
    }
}
