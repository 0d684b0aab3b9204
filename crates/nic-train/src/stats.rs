//! One rate–distortion statistics type for the whole pipeline: a training step's figures, a
//! validation pass, the log's rows and the summary all carry an [`RdStats`].

use nic_model::RdOutput;

/// Rate–distortion figures, means over images.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RdStats {
    /// λ·255²·MSE + bpp.
    pub loss: f64,
    /// Bits per pixel, latents and side latents.
    pub bpp: f64,
    /// The side latents' share of `bpp`.
    pub side_bpp: f64,
    /// Mean squared error on the 0..=1 scale.
    pub mse: f64,
}

impl RdStats {
    /// The figures of a forward pass, read back from the device.
    pub fn of(out: &RdOutput) -> RdStats {
        let scalar = |t: &nic_model::burn::tensor::Tensor<1>| t.clone().into_scalar::<f32>() as f64;
        RdStats {
            loss: scalar(&out.loss),
            bpp: scalar(&out.bpp),
            side_bpp: scalar(&out.side_bpp),
            mse: scalar(&out.mse),
        }
    }

    /// PSNR of the mean MSE, on 8-bit values.
    pub fn psnr(&self) -> f64 {
        nic_metrics::psnr_from_mse(self.mse * 255.0 * 255.0)
    }

    fn scaled(self, w: f64) -> RdStats {
        RdStats {
            loss: w * self.loss,
            bpp: w * self.bpp,
            side_bpp: w * self.side_bpp,
            mse: w * self.mse,
        }
    }

    fn plus(self, o: RdStats) -> RdStats {
        RdStats {
            loss: self.loss + o.loss,
            bpp: self.bpp + o.bpp,
            side_bpp: self.side_bpp + o.side_bpp,
            mse: self.mse + o.mse,
        }
    }
}

/// A weighted mean of [`RdStats`] (of the steps between two log rows, of a validation's
/// chunks).
#[derive(Debug, Default)]
pub(crate) struct Mean {
    sum: RdStats,
    weight: f64,
}

impl Mean {
    pub fn add(&mut self, s: RdStats, weight: f64) {
        self.sum = self.sum.plus(s.scaled(weight));
        self.weight += weight;
    }

    /// The mean so far, and a fresh start.
    pub fn take(&mut self) -> RdStats {
        let mean = self.sum.scaled(1.0 / self.weight.max(f64::MIN_POSITIVE));
        *self = Mean::default();
        mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_are_weighted_and_restart() {
        let s = |v| RdStats {
            loss: v,
            bpp: v,
            side_bpp: v,
            mse: v,
        };
        let mut m = Mean::default();
        m.add(s(1.0), 1.0);
        m.add(s(4.0), 2.0);
        assert_eq!(m.take(), s(3.0));
        m.add(s(2.0), 1.0);
        assert_eq!(m.take(), s(2.0));
        assert!((s(0.001).psnr() - 30.0).abs() < 1e-9);
    }
}
