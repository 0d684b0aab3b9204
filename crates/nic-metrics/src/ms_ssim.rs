//! Multi-scale structural similarity (MS-SSIM, Wang, Simoncelli and Bovik 2003) on 8-bit RGB,
//! computed as `pytorch_msssim.ms_ssim` does for CompressAI's published results, so
//! that nic's numbers sit on the same scale as theirs: an 11-tap Gaussian window (σ = 1.5)
//! applied without padding, K1 = 0.01, K2 = 0.03, data range 255, five scales with the standard
//! weights, 2×2 average pooling between scales (padding odd sides with zeros that count in the
//! average, as `avg_pool2d` does), negative terms clamped to zero, and the mean over the three
//! channels of each channel's MS-SSIM. (Arithmetic is in f64 where PyTorch uses f32, whose
//! cancellation in E[x²] − μ² shifts values in the fourth or fifth decimal.)
//!
//! Images too small for five scales (the last scale must still be at least 11 pixels on each
//! side, so five scales need 161 pixels, the limit `pytorch_msssim` enforces) use as many scales as fit — two for a 32×32 CIFAR
//! image — with the weights of those scales renormalized to sum to one. `pytorch_msssim`
//! refuses such images; the number of scales used is returned so reports can say so. Below
//! 11×11 no SSIM window fits and there is no value.

/// Gaussian window size and standard deviation.
const WINDOW: usize = 11;
const SIGMA: f64 = 1.5;
/// Per-scale exponents of Wang et al., finest scale first.
const WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);

/// An MS-SSIM value and the number of scales it used (5 unless the image is small).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MsSsim {
    pub value: f64,
    pub scales: usize,
}

/// MS-SSIM of two interleaved 8-bit RGB images of `width × height` pixels, or `None` for images
/// smaller than the 11×11 window.
///
/// # Panics
/// If a buffer does not hold `width × height × 3` bytes.
pub fn ms_ssim(a: &[u8], b: &[u8], width: usize, height: usize) -> Option<MsSsim> {
    assert_eq!(a.len(), width * height * 3, "ms_ssim: wrong buffer size");
    assert_eq!(b.len(), a.len(), "ms_ssim: buffers of different sizes");
    let scales = scales_for(width, height);
    if scales == 0 {
        return None;
    }
    let weight_sum: f64 = WEIGHTS[..scales].iter().sum();
    let weights: Vec<f64> = WEIGHTS[..scales].iter().map(|w| w / weight_sum).collect();
    let window = gaussian_window();
    let value = (0..3)
        .map(|c| {
            let x = Plane::channel(a, width, height, c);
            let y = Plane::channel(b, width, height, c);
            channel_ms_ssim(x, y, &weights, &window)
        })
        .sum::<f64>()
        / 3.0;
    Some(MsSsim { value, scales })
}

/// Number of scales whose coarsest level still fits the window, at most five.
pub fn scales_for(width: usize, height: usize) -> usize {
    let (mut w, mut h) = (width, height);
    let mut scales = 0;
    while scales < WEIGHTS.len() && w >= WINDOW && h >= WINDOW {
        scales += 1;
        (w, h) = (pooled_len(w), pooled_len(h));
    }
    scales
}

fn channel_ms_ssim(mut x: Plane, mut y: Plane, weights: &[f64], window: &[f64; WINDOW]) -> f64 {
    let mut value = 1.0;
    for (scale, weight) in weights.iter().enumerate() {
        let (ssim, cs) = ssim_and_cs(&x, &y, window);
        let term = if scale + 1 == weights.len() { ssim } else { cs };
        value *= term.max(0.0).powf(*weight);
        if scale + 1 < weights.len() {
            x = x.pooled();
            y = y.pooled();
        }
    }
    value
}

/// Normalized 1-D Gaussian, applied separably.
fn gaussian_window() -> [f64; WINDOW] {
    let mut g = [0.0f64; WINDOW];
    let center = (WINDOW / 2) as f64;
    for (i, v) in g.iter_mut().enumerate() {
        let d = i as f64 - center;
        *v = (-(d * d) / (2.0 * SIGMA * SIGMA)).exp();
    }
    let sum: f64 = g.iter().sum();
    g.map(|v| v / sum)
}

/// Mean SSIM and mean contrast-structure term over the valid (unpadded) window positions.
fn ssim_and_cs(x: &Plane, y: &Plane, window: &[f64; WINDOW]) -> (f64, f64) {
    let xx = x.map2(x, |a, b| a * b);
    let yy = y.map2(y, |a, b| a * b);
    let xy = x.map2(y, |a, b| a * b);
    let [mu_x, mu_y, e_xx, e_yy, e_xy] = [x, y, &xx, &yy, &xy].map(|p| p.filtered(window));
    let (mut ssim_sum, mut cs_sum) = (0.0f64, 0.0f64);
    for i in 0..mu_x.data.len() {
        let (mx, my) = (mu_x.data[i], mu_y.data[i]);
        let sxx = e_xx.data[i] - mx * mx;
        let syy = e_yy.data[i] - my * my;
        let sxy = e_xy.data[i] - mx * my;
        let cs = (2.0 * sxy + C2) / (sxx + syy + C2);
        let luminance = (2.0 * mx * my + C1) / (mx * mx + my * my + C1);
        cs_sum += cs;
        ssim_sum += luminance * cs;
    }
    let n = mu_x.data.len() as f64;
    (ssim_sum / n, cs_sum / n)
}

/// Output length of a 2-tap, stride-2 average pool that pads odd lengths by one on each side.
fn pooled_len(n: usize) -> usize {
    let pad = n % 2;
    (n + 2 * pad - 2) / 2 + 1
}

/// One channel as floats, row-major.
struct Plane {
    width: usize,
    height: usize,
    data: Vec<f64>,
}

impl Plane {
    fn channel(rgb: &[u8], width: usize, height: usize, c: usize) -> Plane {
        let data = rgb.chunks_exact(3).map(|p| p[c] as f64).collect();
        Plane {
            width,
            height,
            data,
        }
    }

    fn map2(&self, other: &Plane, f: impl Fn(f64, f64) -> f64) -> Plane {
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| f(a, b))
            .collect();
        Plane { data, ..*self }
    }

    /// Separable "valid" convolution with the window: the output shrinks by `WINDOW - 1`.
    fn filtered(&self, window: &[f64; WINDOW]) -> Plane {
        let out_w = self.width - (WINDOW - 1);
        let out_h = self.height - (WINDOW - 1);
        let mut rows = vec![0.0f64; self.height * out_w];
        for r in 0..self.height {
            let src = &self.data[r * self.width..(r + 1) * self.width];
            let dst = &mut rows[r * out_w..(r + 1) * out_w];
            for (c, out) in dst.iter_mut().enumerate() {
                *out = src[c..c + WINDOW]
                    .iter()
                    .zip(window)
                    .map(|(a, w)| a * w)
                    .sum();
            }
        }
        let mut data = vec![0.0f64; out_h * out_w];
        for (k, w) in window.iter().enumerate() {
            for r in 0..out_h {
                let src = &rows[(r + k) * out_w..(r + k + 1) * out_w];
                let dst = &mut data[r * out_w..(r + 1) * out_w];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += w * s;
                }
            }
        }
        Plane {
            width: out_w,
            height: out_h,
            data,
        }
    }

    /// 2×2 average pooling with `avg_pool2d`'s padding rule: an odd side is padded by one zero
    /// on each side, and the zeros count in the average.
    fn pooled(&self) -> Plane {
        let (pad_x, pad_y) = (self.width % 2, self.height % 2);
        let (out_w, out_h) = (pooled_len(self.width), pooled_len(self.height));
        let mut data = vec![0.0f64; out_w * out_h];
        for oy in 0..out_h {
            for ox in 0..out_w {
                let mut sum = 0.0;
                for dy in 0..2 {
                    for dx in 0..2 {
                        let (sy, sx) = (
                            (2 * oy + dy) as isize - pad_y as isize,
                            (2 * ox + dx) as isize - pad_x as isize,
                        );
                        if sy >= 0
                            && sx >= 0
                            && (sy as usize) < self.height
                            && (sx as usize) < self.width
                        {
                            sum += self.data[sy as usize * self.width + sx as usize];
                        }
                    }
                }
                data[oy * out_w + ox] = sum / 4.0;
            }
        }
        Plane {
            width: out_w,
            height: out_h,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(width: usize, height: usize, value: u8) -> Vec<u8> {
        vec![value; width * height * 3]
    }

    fn textured(width: usize, height: usize, seed: u32) -> Vec<u8> {
        let mut state = seed;
        (0..width * height * 3)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let smooth = ((i / 3) % width * 255 / width) as u32;
                ((smooth + (state >> 27)) % 256) as u8
            })
            .collect()
    }

    #[test]
    fn identical_images_score_one() {
        let a = textured(200, 180, 1);
        let m = ms_ssim(&a, &a, 200, 180).unwrap();
        assert!((m.value - 1.0).abs() < 1e-6, "{m:?}");
        assert_eq!(m.scales, 5);
    }

    /// Worked example: for two constant images every contrast-structure term is exactly 1 and
    /// the luminance term is (2ab + C1)/(a² + b² + C1) at every scale, so MS-SSIM is that term
    /// raised to the coarsest scale's weight.
    #[test]
    fn constant_images_give_the_closed_form() {
        let (a, b) = (100.0f64, 140.0f64);
        let expected = ((2.0 * a * b + C1) / (a * a + b * b + C1)).powf(0.1333);
        let m = ms_ssim(&constant(192, 192, 100), &constant(192, 192, 140), 192, 192).unwrap();
        assert!(
            (m.value - expected).abs() < 1e-6,
            "{} vs {expected}",
            m.value
        );
    }

    #[test]
    fn more_noise_scores_lower_and_order_does_not_matter() {
        let a = textured(64, 64, 3);
        let noisy = |amount: i32| -> Vec<u8> {
            a.iter()
                .enumerate()
                .map(|(i, &v)| {
                    let n = ((i as i32 * 7919) % (2 * amount + 1)) - amount;
                    (v as i32 + n).clamp(0, 255) as u8
                })
                .collect()
        };
        let (small, large) = (noisy(4), noisy(40));
        let s = ms_ssim(&a, &small, 64, 64).unwrap().value;
        let l = ms_ssim(&a, &large, 64, 64).unwrap().value;
        assert!(1.0 > s && s > l && l > 0.0, "{s} {l}");
        let swapped = ms_ssim(&small, &a, 64, 64).unwrap().value;
        assert!((s - swapped).abs() < 1e-9);
    }

    #[test]
    fn small_images_use_fewer_scales() {
        assert_eq!(scales_for(768, 512), 5);
        assert_eq!(scales_for(161, 161), 5);
        assert_eq!(scales_for(160, 400), 4);
        assert_eq!(scales_for(32, 32), 2);
        assert_eq!(scales_for(11, 300), 1);
        assert_eq!(scales_for(10, 300), 0);
        let a = textured(32, 32, 5);
        assert_eq!(ms_ssim(&a, &a, 32, 32).unwrap().scales, 2);
        assert!(ms_ssim(&constant(10, 10, 0), &constant(10, 10, 0), 10, 10).is_none());
    }

    #[test]
    fn pooling_follows_avg_pool2d_padding() {
        // 3×1 → padded to [0, a, b, c, 0] horizontally: outputs (0+a)/4·… with count_include_pad.
        let p = Plane {
            width: 3,
            height: 2,
            data: vec![4.0, 8.0, 12.0, 4.0, 8.0, 12.0],
        };
        let q = p.pooled();
        assert_eq!((q.width, q.height), (2, 1));
        assert_eq!(
            q.data,
            vec![(4.0 + 4.0) / 4.0, (8.0 + 12.0 + 8.0 + 12.0) / 4.0]
        );
        assert_eq!(pooled_len(7), 4);
        assert_eq!(pooled_len(8), 4);
    }
}
