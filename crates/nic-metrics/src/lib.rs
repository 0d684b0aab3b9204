//! Quality and size metrics, computed the way the learned-compression literature reports them
//! (CompressAI): on 8-bit RGB values, over all pixels and the three channels; and the
//! Bjøntegaard delta that summarizes a whole rate-distortion curve against another.

mod bjontegaard;
mod ms_ssim;

pub use bjontegaard::{Pchip, RdPoint, bd_psnr, bd_rate, quality_overlap};
pub use ms_ssim::{MsSsim, ms_ssim, scales_for};

/// Mean squared error between two equally sized 8-bit buffers (any layout, same for both).
///
/// # Panics
/// If the buffers differ in length: comparing images of different sizes is a caller bug.
pub fn mse(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "mse of buffers of different lengths");
    if a.is_empty() {
        return 0.0;
    }
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as i64 - y as i64;
            (d * d) as u64
        })
        .sum();
    sum as f64 / a.len() as f64
}

/// Peak signal-to-noise ratio in dB for 8-bit data: 10·log10(255² / MSE).
/// Identical images give `f64::INFINITY`.
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    psnr_from_mse(mse(a, b))
}

/// PSNR in dB from an MSE on the 0–255 scale.
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// Bits per pixel of a file of `bytes` bytes for a `width × height` image.
pub fn bpp(bytes: usize, width: u32, height: u32) -> f64 {
    8.0 * bytes as f64 / (width as f64 * height as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_matches_hand_computation() {
        let a = [0u8, 0, 0, 0];
        let b = [1u8, 1, 1, 1];
        assert_eq!(mse(&a, &b), 1.0);
        assert!((psnr(&a, &b) - 48.130_803_608).abs() < 1e-6);
        let c = [10u8, 0, 0, 0];
        assert_eq!(mse(&a, &c), 25.0);
        assert!(psnr(&a, &a).is_infinite());
    }

    #[test]
    fn bpp_counts_whole_bytes() {
        assert_eq!(bpp(96, 32, 24), 1.0);
    }
}
