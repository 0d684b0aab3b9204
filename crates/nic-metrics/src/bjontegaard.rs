//! Bjøntegaard-delta rate and PSNR: the average difference between two rate-distortion curves
//! over the quality range they share, the figure codec papers and standards bodies report.
//!
//! Method (Bjøntegaard 2001, VCEG-M33, with the piecewise cubic interpolation adopted by
//! JCT-VC/JVET in place of the original cubic polynomial fit, and used by the `bjontegaard`
//! Python package with `method='pchip'`):
//! 1. each curve's points are sorted by PSNR, and the rate is taken as log10(bpp);
//! 2. log-rate is interpolated as a function of PSNR with a monotone piecewise cubic Hermite
//!    interpolant (PCHIP, Fritsch and Carlson 1980, with the slopes SciPy's `PchipInterpolator`
//!    uses), so the curve never overshoots between measured points;
//! 3. both interpolants are integrated exactly over the overlap of the two PSNR ranges;
//! 4. the mean difference Δ in log10-rate gives BD-rate = (10^Δ − 1)·100 %: negative means the
//!    test codec needs fewer bits than the anchor for the same PSNR.
//!
//! BD-PSNR is the same computation with the roles swapped: PSNR interpolated over log10-rate.

/// A rate-distortion point: rate (bpp, or any positive rate) and quality (PSNR in dB).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RdPoint {
    pub rate: f64,
    pub quality: f64,
}

/// BD-rate of `test` against `anchor` in percent, or `None` if a curve has fewer than two
/// distinct points, a non-positive rate, or the curves share no quality range.
pub fn bd_rate(anchor: &[RdPoint], test: &[RdPoint]) -> Option<f64> {
    let to_curve = |points: &[RdPoint]| -> Option<Vec<(f64, f64)>> {
        points
            .iter()
            .map(|p| (p.rate > 0.0).then(|| (p.quality, p.rate.log10())))
            .collect()
    };
    let delta = mean_difference(&to_curve(anchor)?, &to_curve(test)?)?;
    Some((10f64.powf(delta) - 1.0) * 100.0)
}

/// BD-PSNR of `test` against `anchor` in dB (positive: better quality at the same rate).
pub fn bd_psnr(anchor: &[RdPoint], test: &[RdPoint]) -> Option<f64> {
    let to_curve = |points: &[RdPoint]| -> Option<Vec<(f64, f64)>> {
        points
            .iter()
            .map(|p| (p.rate > 0.0).then(|| (p.rate.log10(), p.quality)))
            .collect()
    };
    mean_difference(&to_curve(anchor)?, &to_curve(test)?)
}

/// Share of the shorter curve's quality range that the other curve covers too, from 0 to 1. BD
/// figures average over the shared range only, so a small share means they describe a sliver
/// of the curves. (The shorter curve, not the union of both, is the reference: a learned codec
/// with four models beside a 19-point JPEG sweep would otherwise always look poorly covered.)
pub fn quality_overlap(anchor: &[RdPoint], test: &[RdPoint]) -> f64 {
    let range = |points: &[RdPoint]| {
        points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.quality), hi.max(p.quality))
            })
    };
    let ((a_lo, a_hi), (t_lo, t_hi)) = (range(anchor), range(test));
    let shorter = (a_hi - a_lo).min(t_hi - t_lo);
    let shared = a_hi.min(t_hi) - a_lo.max(t_lo);
    if shorter > 0.0 && shared.is_finite() {
        (shared / shorter).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Mean of `test(x) − anchor(x)` over the overlap of the two x ranges.
fn mean_difference(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Option<f64> {
    let anchor = Pchip::new(anchor)?;
    let test = Pchip::new(test)?;
    let low = anchor.x_min().max(test.x_min());
    let high = anchor.x_max().min(test.x_max());
    if high <= low {
        return None;
    }
    Some((test.integral(low, high) - anchor.integral(low, high)) / (high - low))
}

/// Monotone piecewise cubic Hermite interpolant through points with distinct x.
#[derive(Clone, Debug)]
pub struct Pchip {
    x: Vec<f64>,
    y: Vec<f64>,
    slope: Vec<f64>,
}

impl Pchip {
    /// Builds the interpolant from `(x, y)` points in any order. Points with the same x as an
    /// earlier one (after sorting) are dropped. `None` if fewer than two points remain or a value
    /// is not finite.
    pub fn new(points: &[(f64, f64)]) -> Option<Pchip> {
        if points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
            return None;
        }
        let mut sorted = points.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        sorted.dedup_by(|b, a| b.0 == a.0);
        if sorted.len() < 2 {
            return None;
        }
        let (x, y): (Vec<f64>, Vec<f64>) = sorted.into_iter().unzip();
        let slope = slopes(&x, &y);
        Some(Pchip { x, y, slope })
    }

    pub fn x_min(&self) -> f64 {
        self.x[0]
    }

    pub fn x_max(&self) -> f64 {
        self.x[self.x.len() - 1]
    }

    /// Value at `t`, which must lie within `[x_min, x_max]` (it is clamped to it).
    pub fn eval(&self, t: f64) -> f64 {
        let t = t.clamp(self.x_min(), self.x_max());
        let k = self.segment(t);
        self.eval_in(k, t)
    }

    /// Exact integral over `[a, b]` within the knots: the integral of each cubic piece is computed
    /// with two-point Gauss–Legendre quadrature, which is exact for cubics.
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        let (a, b) = (
            a.clamp(self.x_min(), self.x_max()),
            b.clamp(self.x_min(), self.x_max()),
        );
        if b <= a {
            return 0.0;
        }
        let mut total = 0.0;
        for k in 0..self.x.len() - 1 {
            let lo = a.max(self.x[k]);
            let hi = b.min(self.x[k + 1]);
            if hi > lo {
                let (mid, half) = ((lo + hi) / 2.0, (hi - lo) / 2.0);
                let offset = half / 3f64.sqrt();
                total += half * (self.eval_in(k, mid - offset) + self.eval_in(k, mid + offset));
            }
        }
        total
    }

    fn segment(&self, t: f64) -> usize {
        let n = self.x.len();
        self.x[1..n - 1].partition_point(|&knot| knot <= t)
    }

    /// Cubic Hermite piece `k` evaluated at `t`.
    fn eval_in(&self, k: usize, t: f64) -> f64 {
        let h = self.x[k + 1] - self.x[k];
        let s = (t - self.x[k]) / h;
        let (s2, s3) = (s * s, s * s * s);
        let h00 = 2.0 * s3 - 3.0 * s2 + 1.0;
        let h10 = s3 - 2.0 * s2 + s;
        let h01 = -2.0 * s3 + 3.0 * s2;
        let h11 = s3 - s2;
        h00 * self.y[k]
            + h10 * h * self.slope[k]
            + h01 * self.y[k + 1]
            + h11 * h * self.slope[k + 1]
    }
}

/// Knot slopes of the Fritsch–Carlson monotone interpolant, as SciPy computes them: a weighted
/// harmonic mean of the neighbouring secants inside, zero at local extrema, and a
/// shape-preserving three-point formula at the ends.
fn slopes(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len();
    let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let m: Vec<f64> = (0..n - 1).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
    if n == 2 {
        return vec![m[0], m[0]];
    }
    let mut d = vec![0.0; n];
    for k in 1..n - 1 {
        let (m0, m1) = (m[k - 1], m[k]);
        if m0 == 0.0 || m1 == 0.0 || m0.signum() != m1.signum() {
            continue;
        }
        let w1 = 2.0 * h[k] + h[k - 1];
        let w2 = h[k] + 2.0 * h[k - 1];
        d[k] = (w1 + w2) / (w1 / m0 + w2 / m1);
    }
    d[0] = edge_slope(h[0], h[1], m[0], m[1]);
    d[n - 1] = edge_slope(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
    d
}

fn edge_slope(h0: f64, h1: f64, m0: f64, m1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if d.signum() != m0.signum() || d == 0.0 {
        0.0
    } else if m0.signum() != m1.signum() && d.abs() > 3.0 * m0.abs() {
        3.0 * m0
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(rates: &[f64], psnrs: &[f64]) -> Vec<RdPoint> {
        rates
            .iter()
            .zip(psnrs)
            .map(|(&rate, &quality)| RdPoint { rate, quality })
            .collect()
    }

    /// The worked example of the `bjontegaard` Python package (four points per curve); the
    /// expected values were computed with that package 1.x and SciPy 1.x:
    /// `bd.bd_rate(ra, pa, rt, pt, method='pchip')` and `bd.bd_psnr(...)`.
    #[test]
    fn matches_the_reference_implementation() {
        let anchor = points(
            &[9487.76, 4593.60, 2486.44, 1358.24],
            &[40.037, 38.615, 37.260, 36.010],
        );
        let test = points(
            &[9787.80, 4656.62, 2542.24, 1386.66],
            &[40.178, 38.580, 37.180, 35.912],
        );
        let rate = bd_rate(&anchor, &test).unwrap();
        let psnr = bd_psnr(&anchor, &test).unwrap();
        assert!((rate - 3.598500452393738).abs() < 1e-9, "{rate}");
        assert!((psnr - -0.07474988648260991).abs() < 1e-9, "{psnr}");
    }

    /// Unequal point counts, partial overlap, large gains (same reference).
    #[test]
    fn matches_the_reference_with_partial_overlap() {
        let anchor = points(&[0.2, 0.4, 0.8, 1.6, 3.2], &[26.0, 28.5, 31.2, 34.0, 37.5]);
        let test = points(&[0.15, 0.33, 0.7, 1.2], &[27.1, 30.0, 33.0, 35.2]);
        let rate = bd_rate(&anchor, &test).unwrap();
        let psnr = bd_psnr(&anchor, &test).unwrap();
        assert!((rate - -44.227425141962925).abs() < 1e-9, "{rate}");
        assert!((psnr - 2.2747597241699613).abs() < 1e-9, "{psnr}");
    }

    /// SciPy's `PchipInterpolator` on the anchor above (x = PSNR, y = log10 rate).
    #[test]
    fn pchip_matches_scipy() {
        let pts: Vec<(f64, f64)> = [0.2f64, 0.4, 0.8, 1.6, 3.2]
            .iter()
            .zip([26.0, 28.5, 31.2, 34.0, 37.5])
            .map(|(r, q)| (q, r.log10()))
            .collect();
        let f = Pchip::new(&pts).unwrap();
        for (t, expected) in [
            (26.0, -0.6989700043360187),
            (27.3, -0.5396658042661213),
            (33.3, 0.13366872972984764),
            (37.0, 0.4671431552642411),
        ] {
            assert!((f.eval(t) - expected).abs() < 1e-12, "{t}: {}", f.eval(t));
        }
        assert!((f.integral(27.1, 35.2) - -0.8649882736156481).abs() < 1e-12);
    }

    /// A curve that needs exactly half the rate everywhere is −50 %, whatever the interpolation.
    #[test]
    fn a_uniform_rate_ratio_is_recovered_exactly() {
        let anchor = points(&[0.1, 0.3, 0.5, 1.0, 2.0], &[25.0, 28.0, 30.0, 33.0, 36.0]);
        let half: Vec<RdPoint> = anchor
            .iter()
            .map(|p| RdPoint {
                rate: p.rate / 2.0,
                ..*p
            })
            .collect();
        assert!((bd_rate(&anchor, &half).unwrap() - -50.0).abs() < 1e-9);
        assert!(bd_rate(&anchor, &anchor).unwrap().abs() < 1e-12);
    }

    #[test]
    fn overlap_is_the_covered_share_of_the_shorter_range() {
        let a = points(&[0.1, 0.2, 0.4], &[25.0, 27.0, 29.0]);
        let b = points(&[0.3, 0.5], &[27.0, 33.0]);
        assert!((quality_overlap(&a, &b) - 2.0 / 4.0).abs() < 1e-12);
        let inside = points(&[0.15, 0.3], &[26.0, 28.0]);
        assert_eq!(quality_overlap(&a, &inside), 1.0);
        assert_eq!(quality_overlap(&a, &a), 1.0);
        assert_eq!(
            quality_overlap(&a, &points(&[1.0, 2.0], &[40.0, 41.0])),
            0.0
        );
    }

    #[test]
    fn degenerate_curves_have_no_bd_rate() {
        let a = points(&[0.1, 0.2], &[25.0, 26.0]);
        assert!(
            bd_rate(&a, &points(&[0.3, 0.4], &[30.0, 31.0])).is_none(),
            "no overlap"
        );
        assert!(bd_rate(&a, &points(&[0.3], &[25.5])).is_none(), "one point");
        assert!(
            bd_rate(&a, &points(&[0.0, 0.4], &[25.0, 26.0])).is_none(),
            "zero rate"
        );
        assert!(
            bd_rate(&a, &points(&[0.1, f64::NAN], &[25.0, 26.0])).is_none(),
            "NaN"
        );
    }
}
