//! Per-image measurements. Encode and decode are timed one at a time on the calling thread,
//! so that no measurement runs beside another; the quality metrics, which are not timed, are
//! then computed for a whole quality sweep in parallel.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::ProgressBar;
use nic_baselines::{LosslessCodec, Png};
use nic_image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;

use crate::CompareError;
use crate::subjects::{RateBreakdown, Subject};

/// One codec at one quality on one image (or one lossless compressor on one image).
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// Path relative to the data folder.
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub codec: String,
    /// The codec's quality setting; `None` for lossless compressors.
    pub quality: Option<u8>,
    /// Whole file, headers included.
    pub bytes: usize,
    pub bpp: f64,
    /// Raw 24-bit RGB size over file size.
    pub ratio_raw: f64,
    /// Size of the same image as a maximally compressed PNG over file size.
    pub ratio_png: f64,
    /// RGB PSNR in dB (infinite for an exact copy); `None` for lossless compressors (checked
    /// to be exact).
    pub psnr: Option<f64>,
    pub ms_ssim: Option<f64>,
    /// Scales MS-SSIM used (5, fewer for small images, 0 when it is undefined).
    pub ms_ssim_scales: usize,
    pub encode_seconds: f64,
    pub decode_seconds: f64,
    /// nic only: header, per-tensor bytes and ideal information content.
    pub breakdown: Option<RateBreakdown>,
}

impl Measurement {
    /// PSNR for averaging and interpolation: an exact reconstruction (infinite PSNR, which
    /// happens when the source is itself a JPEG re-encoded with its own tables) counts at the
    /// highest finite PSNR its size allows, one sample off by one: 10·log10(255²·3WH).
    pub fn finite_psnr(&self) -> Option<f64> {
        let samples = 3.0 * self.width as f64 * self.height as f64;
        self.psnr
            .map(|p| p.min(nic_metrics::psnr_from_mse(1.0 / samples)))
    }
}

/// One timed encode + decode, before its quality is measured.
struct Coded {
    quality: u8,
    bytes: usize,
    breakdown: Option<RateBreakdown>,
    decoded: RgbImage,
    encode_seconds: f64,
    decode_seconds: f64,
}

/// Measures every subject at every quality and every lossless compressor on every image.
pub fn measure_all(
    images: &[PathBuf],
    subjects: &[Box<dyn Subject>],
    lossless: &[Box<dyn LosslessCodec>],
    bar: &ProgressBar,
) -> Result<Vec<Measurement>, CompareError> {
    let mut all = Vec::new();
    for (path, name) in images.iter().zip(image_names(images)) {
        bar.set_message(name.clone());
        let image = nic_image::load_rgb8(path)?.image;
        let exact = lossless_runs(lossless, &image, &name, bar)?;
        // The PNG every ratio is taken against: the lossless run's, when PNG was one of them.
        let png_bytes = match exact.iter().find(|run| run.0 == Png.name()) {
            Some(run) => run.1,
            None => Png.compress(&image)?.len(),
        };
        let base = Measurement {
            image: name,
            width: image.width(),
            height: image.height(),
            codec: String::new(),
            quality: None,
            bytes: 0,
            bpp: 0.0,
            ratio_raw: 0.0,
            ratio_png: 0.0,
            psnr: None,
            ms_ssim: None,
            ms_ssim_scales: 0,
            encode_seconds: 0.0,
            decode_seconds: 0.0,
            breakdown: None,
        };
        for subject in subjects {
            let coded = sweep(subject.as_ref(), &image, bar)?;
            let measured: Vec<Measurement> = coded
                .into_par_iter()
                .map(|c| {
                    let (w, h) = (image.width() as usize, image.height() as usize);
                    let ms = nic_metrics::ms_ssim(image.as_raw(), c.decoded.as_raw(), w, h);
                    Measurement {
                        codec: subject.name().to_string(),
                        quality: Some(c.quality),
                        psnr: Some(nic_metrics::psnr(image.as_raw(), c.decoded.as_raw())),
                        ms_ssim: ms.map(|m| m.value),
                        ms_ssim_scales: ms.map_or(0, |m| m.scales),
                        breakdown: c.breakdown,
                        encode_seconds: c.encode_seconds,
                        decode_seconds: c.decode_seconds,
                        ..sized(&base, c.bytes, png_bytes)
                    }
                })
                .collect();
            all.extend(measured);
        }
        for (codec, bytes, encode_seconds, decode_seconds) in exact {
            all.push(Measurement {
                codec: codec.to_string(),
                encode_seconds,
                decode_seconds,
                ..sized(&base, bytes, png_bytes)
            });
        }
    }
    Ok(all)
}

/// Compresses and decompresses `image` with every lossless codec, timing each step and
/// checking the round trip is exact: (name, bytes, encode seconds, decode seconds).
fn lossless_runs(
    lossless: &[Box<dyn LosslessCodec>],
    image: &RgbImage,
    name: &str,
    bar: &ProgressBar,
) -> Result<Vec<(&'static str, usize, f64, f64)>, CompareError> {
    let mut runs = Vec::new();
    for codec in lossless {
        let t = Instant::now();
        let data = codec.compress(image)?;
        let encode_seconds = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let back = codec.decompress(&data, image.width(), image.height())?;
        let decode_seconds = t.elapsed().as_secs_f64();
        if back != *image {
            return Err(CompareError::Invalid(format!(
                "{}: lossless round trip of {name} is not exact",
                codec.name()
            )));
        }
        runs.push((codec.name(), data.len(), encode_seconds, decode_seconds));
        bar.inc(1);
    }
    Ok(runs)
}

/// Encodes and decodes `image` at every quality of `subject`, timing each step.
fn sweep(
    subject: &dyn Subject,
    image: &RgbImage,
    bar: &ProgressBar,
) -> Result<Vec<Coded>, CompareError> {
    let mut coded = Vec::new();
    for quality in subject.qualities() {
        let t = Instant::now();
        let encoded = subject.encode(image, quality)?;
        let encode_seconds = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let decoded = subject.decode(&encoded.bytes)?;
        let decode_seconds = t.elapsed().as_secs_f64();
        if decoded.dimensions() != image.dimensions() {
            return Err(CompareError::Invalid(format!(
                "{} quality {quality} decoded a {}×{} image from a {}×{} one",
                subject.name(),
                decoded.width(),
                decoded.height(),
                image.width(),
                image.height()
            )));
        }
        coded.push(Coded {
            quality,
            bytes: encoded.bytes.len(),
            breakdown: encoded.breakdown,
            decoded,
            encode_seconds,
            decode_seconds,
        });
        bar.inc(1);
    }
    Ok(coded)
}

/// `base` with the size fields filled in for a file of `bytes` bytes.
fn sized(base: &Measurement, bytes: usize, png_bytes: usize) -> Measurement {
    let raw = base.width as f64 * base.height as f64 * 3.0;
    Measurement {
        bytes,
        bpp: nic_metrics::bpp(bytes, base.width, base.height),
        ratio_raw: raw / bytes as f64,
        ratio_png: png_bytes as f64 / bytes as f64,
        ..base.clone()
    }
}

/// How images are named in results: their paths relative to the deepest folder holding them all.
pub fn image_names(images: &[PathBuf]) -> Vec<String> {
    let root = common_root(images);
    images
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
        .collect()
}

/// The deepest folder containing every image, so names stay short but unique.
fn common_root(paths: &[PathBuf]) -> PathBuf {
    let mut root = paths
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    while !paths.iter().all(|p| p.starts_with(&root)) {
        if !root.pop() {
            break;
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_to_the_common_folder() {
        let paths = [
            PathBuf::from("/d/cifar/test/cat/1.png"),
            PathBuf::from("/d/cifar/test/dog/2.png"),
        ];
        assert_eq!(common_root(&paths), PathBuf::from("/d/cifar/test"));
        assert_eq!(common_root(&paths[..1]), PathBuf::from("/d/cifar/test/cat"));
    }
}
