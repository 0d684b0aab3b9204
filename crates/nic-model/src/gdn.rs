//! Generalized divisive normalization (Ballé, Laparra, Simoncelli 2016).
//!
//! GDN: y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²); inverse GDN multiplies instead. It gaussianizes
//! the responses of the convolutions far better than a pointwise nonlinearity, which is why
//! Ballé-style codecs need fewer channels than with ReLU for the same rate–distortion.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::widen::embed;

/// β and γ are stored reparameterized (as in tensorflow-compression and CompressAI) so they stay
/// non-negative and the gradient near zero stays well scaled: value = max(p, bound)² − PEDESTAL.
const PEDESTAL: f64 = 1.0 / (1u64 << 36) as f64; // (2^-18)²
const BETA_MIN: f64 = 1e-6;

#[derive(Module, Debug)]
pub struct Gdn {
    beta: Param<Tensor<1>>,
    gamma: Param<Tensor<2>>,
    inverse: bool,
}

impl Gdn {
    pub fn new(channels: usize, inverse: bool, device: &Device) -> Self {
        let beta = Tensor::<1>::ones([channels], device)
            .add_scalar(PEDESTAL)
            .sqrt();
        let gamma = Tensor::<2>::eye(channels, device)
            .mul_scalar(0.1)
            .add_scalar(PEDESTAL)
            .sqrt();
        Gdn {
            beta: Param::from_tensor(beta),
            gamma: Param::from_tensor(gamma),
            inverse,
        }
    }

    /// This (trained) GDN embedded in `wider`, a fresh one over more channels: the trained
    /// channels keep their β and γ and are normalized by nothing new (a fresh γ is zero off
    /// its diagonal), so they come out as before; the new ones start as a fresh GDN's.
    pub(crate) fn widened(self, wider: Gdn) -> Gdn {
        Gdn {
            beta: Param::from_tensor(embed(wider.beta.val(), self.beta.val())),
            gamma: Param::from_tensor(embed(wider.gamma.val(), self.gamma.val())),
            inverse: self.inverse,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let beta = non_negative(self.beta.val(), BETA_MIN);
        let gamma = non_negative(self.gamma.val(), 0.0);
        // One fused operation on the CPU (nic-conv: a matrix product and two passes each way
        // instead of six element-wise passes and `sqrt`'s gradient; see docs/speed.md), burn's
        // tensor operations elsewhere.
        nic_conv::gdn(x, beta, gamma, self.inverse)
    }
}

fn non_negative<const D: usize>(p: Tensor<D>, minimum: f64) -> Tensor<D> {
    let bound = (minimum + PEDESTAL).sqrt();
    lower_bound(p, bound).square().sub_scalar(PEDESTAL)
}

/// max(x, bound) whose gradient passes through unchanged, so a parameter below the bound can
/// still be pulled back up (a plain clamp would freeze it there).
pub(crate) fn lower_bound<const D: usize>(x: Tensor<D>, bound: f64) -> Tensor<D> {
    x.clone() + (x.clone().clamp_min(bound) - x).detach()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn gdn_matches_formula_and_inverse_undoes_it_at_init() {
        let device = Device::flex();
        let gdn = Gdn::new(2, false, &device);
        let igdn = Gdn::new(2, true, &device);
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, -2.0, 3.0, 0.5], [1, 2, 1, 2]),
            &device,
        );
        let y: Vec<f32> = gdn
            .forward(x.clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        // At init β = 1, γ = 0.1·I: y = x / sqrt(1 + 0.1 x²).
        for (yi, xi) in y.iter().zip([1.0f32, -2.0, 3.0, 0.5]) {
            assert!((yi - xi / (1.0 + 0.1 * xi * xi).sqrt()).abs() < 1e-5);
        }
        let back: Vec<f32> = igdn
            .forward(gdn.forward(x))
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        // IGDN(GDN(x)) is not the identity, but close to it for small |x|.
        assert!((back[3] - 0.5).abs() < 0.01);
    }
}
