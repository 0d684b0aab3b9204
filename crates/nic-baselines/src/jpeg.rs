//! JPEG two ways: the pure-Rust encoder of the `image` crate, and libjpeg-turbo's code as built
//! by the `mozjpeg` crate.
//!
//! mozjpeg is a fork of libjpeg-turbo; with its `JCP_FASTEST` profile (mozjpeg's
//! `set_fastest_defaults`) it drops trellis quantization, progressive scans and its own
//! quantization tables and writes the same files as libjpeg-turbo (baseline, Annex K tables scaled
//! by the IJG quality formula). We add optimized Huffman tables, as `cjpeg -optimize` does. It
//! builds from source with the C compiler (and NASM, when installed, for the SIMD kernels).

use std::panic::{AssertUnwindSafe, catch_unwind};

use image::{ImageFormat, RgbImage};
use mozjpeg::{ColorSpace, Compress, Decompress};

use crate::{Error, LossyCodec, rgb_image, standard_sweep};

/// The `image` crate's baseline JPEG encoder (4:2:0), decoded by the `image` crate.
pub struct ImageJpeg;

impl LossyCodec for ImageJpeg {
    fn name(&self) -> &'static str {
        "jpeg-image"
    }

    fn description(&self) -> String {
        "JPEG, the image crate's encoder (baseline, 4:2:0), quality 5-95".into()
    }

    fn qualities(&self) -> Vec<u8> {
        standard_sweep()
    }

    fn encode(&self, image: &RgbImage, quality: u8) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(image)
            .map_err(|e| Error::new(self.name(), e))?;
        Ok(out)
    }

    fn decode(&self, data: &[u8]) -> Result<RgbImage, Error> {
        let decoded = image::load_from_memory_with_format(data, ImageFormat::Jpeg)
            .map_err(|e| Error::new(self.name(), e))?;
        Ok(decoded.to_rgb8())
    }
}

/// libjpeg-turbo-compatible JPEG with optimized Huffman tables, decoded by the same library.
#[derive(Clone, Copy)]
pub enum TurboJpeg {
    /// Chroma subsampled 2×2, the web's usual setting.
    Yuv420,
    /// Full-resolution chroma.
    Yuv444,
}

impl TurboJpeg {
    /// Chroma "pixel" size in luma pixels, for both chroma channels.
    fn chroma_pixel(self) -> (u8, u8) {
        match self {
            TurboJpeg::Yuv420 => (2, 2),
            TurboJpeg::Yuv444 => (1, 1),
        }
    }
}

/// Runs libjpeg code, turning its errors (which unwind through the C code) into [`Error`].
fn guarded<T>(codec: &'static str, f: impl FnOnce() -> std::io::Result<T>) -> Result<T, Error> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(|e| Error::new(codec, e)),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "libjpeg error".into());
            Err(Error::new(codec, message))
        }
    }
}

impl LossyCodec for TurboJpeg {
    fn name(&self) -> &'static str {
        match self {
            TurboJpeg::Yuv420 => "jpeg-turbo-420",
            TurboJpeg::Yuv444 => "jpeg-turbo-444",
        }
    }

    fn description(&self) -> String {
        let sampling = match self {
            TurboJpeg::Yuv420 => "4:2:0",
            TurboJpeg::Yuv444 => "4:4:4",
        };
        format!(
            "JPEG, libjpeg-turbo's encoder and settings (mozjpeg-sys 2.2 with the JCP_FASTEST \
             profile: baseline, standard tables), {sampling}, optimized Huffman tables, quality 5-95"
        )
    }

    fn qualities(&self) -> Vec<u8> {
        standard_sweep()
    }

    fn encode(&self, image: &RgbImage, quality: u8) -> Result<Vec<u8>, Error> {
        let chroma = self.chroma_pixel();
        guarded(self.name(), || {
            let mut c = Compress::new(ColorSpace::JCS_RGB);
            c.set_fastest_defaults();
            c.set_size(image.width() as usize, image.height() as usize);
            c.set_quality(quality as f32);
            c.set_chroma_sampling_pixel_sizes(chroma, chroma);
            c.set_optimize_coding(true);
            let mut started = c.start_compress(Vec::new())?;
            started.write_scanlines(image.as_raw())?;
            started.finish()
        })
    }

    fn decode(&self, data: &[u8]) -> Result<RgbImage, Error> {
        let (width, height, pixels) = guarded(self.name(), || {
            let mut d = Decompress::new_mem(data)?.rgb()?;
            let (width, height) = (d.width() as u32, d.height() as u32);
            let pixels: Vec<u8> = d.read_scanlines()?;
            d.finish()?;
            Ok((width, height, pixels))
        })?;
        rgb_image(self.name(), width, height, pixels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cjpeg` from libjpeg-turbo (Debian: libjpeg-turbo-progs), if installed.
    fn cjpeg() -> Option<std::path::PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join("cjpeg"))
            .find(|p| p.is_file())
    }

    /// The claim behind the name `jpeg-turbo-*`: the same bytes as libjpeg-turbo's own `cjpeg
    /// -optimize` with the same sampling.
    #[test]
    fn files_are_identical_to_libjpeg_turbo_cjpeg() {
        let Some(cjpeg) = cjpeg() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs cjpeg: apt-get install libjpeg-turbo-progs"
            );
            eprintln!("skipped: no cjpeg (apt-get install libjpeg-turbo-progs)");
            return;
        };
        let image = crate::tests::test_image(97, 65);
        let dir = std::env::temp_dir().join(format!("nic-cjpeg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ppm = dir.join("in.ppm");
        let mut bytes = format!("P6\n{} {}\n255\n", image.width(), image.height()).into_bytes();
        bytes.extend_from_slice(image.as_raw());
        std::fs::write(&ppm, bytes).unwrap();
        for (codec, sample) in [(TurboJpeg::Yuv420, "2x2"), (TurboJpeg::Yuv444, "1x1")] {
            for quality in [5u8, 50, 95] {
                let out = std::process::Command::new(&cjpeg)
                    .args([
                        "-quality",
                        &quality.to_string(),
                        "-optimize",
                        "-sample",
                        sample,
                    ])
                    .arg(&ppm)
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "cjpeg: {err}");
                let ours = codec.encode(&image, quality).unwrap();
                assert!(
                    ours == out.stdout,
                    "{} q{quality}: {} vs {} bytes",
                    codec.name(),
                    ours.len(),
                    out.stdout.len()
                );
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
