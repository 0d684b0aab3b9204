//! Tables of discretized Gaussians, the probability models of a scale hyperprior.
//!
//! A hyperprior predicts a scale σ for every latent; coding with exactly that Gaussian would
//! need a table per latent, built in floating point on both sides (and possibly differently).
//! Instead the scales are snapped to a fixed, log-spaced set and each member gets an integer
//! table once, when the model is exported; the tables are stored in the model.

use crate::table::{ChannelTable, TableError};

/// Smallest and largest scale of the set (CompressAI's range: below 0.11 nearly every latent is
/// zero anyway; 256 is far above any latent of a trained model).
pub const SCALE_MIN: f64 = 0.11;
pub const SCALE_MAX: f64 = 256.0;
/// Members of the set: neighbours 13 % apart, so snapping costs at most ~0.2 % of the rate.
pub const SCALE_COUNT: usize = 64;
/// Mass left out of each side of a table (coded through the escape symbol).
const TAIL: f64 = 1e-7;

/// The log-spaced scales, ascending.
pub fn scales() -> Vec<f64> {
    let (lo, hi) = (SCALE_MIN.ln(), SCALE_MAX.ln());
    (0..SCALE_COUNT)
        .map(|i| (lo + (hi - lo) * i as f64 / (SCALE_COUNT - 1) as f64).exp())
        .collect()
}

/// P(⌊v⌉ = k) for v ~ N(0, σ²), as an integer table over the integers where the mass is.
pub fn gaussian_table(scale: f64) -> Result<ChannelTable, TableError> {
    // Upper tail mass beyond k − ½: Q(x) = ½ erfc(x / √2).
    let q = |k: f64| 0.5 * libm::erfc((k - 0.5) / (scale * std::f64::consts::SQRT_2));
    let mut r = 0i32;
    while q(r as f64 + 1.0) > TAIL {
        r += 1;
    }
    let pmf: Vec<f64> = (-r..=r)
        .map(|k| match k.abs() as f64 {
            0.0 => 1.0 - 2.0 * q(1.0),
            k => q(k) - q(k + 1.0),
        })
        .collect();
    ChannelTable::from_pmf(-r, &pmf, 2.0 * q(r as f64 + 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_follow_the_gaussian() {
        let s = scales();
        assert_eq!(s.len(), SCALE_COUNT);
        assert!((s[0] - SCALE_MIN).abs() < 1e-12 && (s[63] - SCALE_MAX).abs() < 1e-9);
        let one = (1u64 << crate::PRECISION) as f64;
        for &scale in &[SCALE_MIN, 1.0, 10.0, SCALE_MAX] {
            let t = gaussian_table(scale).unwrap();
            t.check().unwrap();
            let (lo, hi) = t.range();
            assert_eq!(lo, -hi);
            // P(0) = erf(½ / (σ√2)).
            let p0 = t.freqs[-lo as usize] as f64 / one;
            let want = libm::erf(0.5 / (scale * std::f64::consts::SQRT_2));
            assert!((p0 - want).abs() < 1e-6, "σ {scale}: {p0} vs {want}");
            assert!(hi as f64 <= 6.0 * scale + 2.0);
        }
    }
}
