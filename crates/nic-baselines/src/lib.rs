//! The classical codecs that nic is measured against, behind two small interfaces: lossy codecs
//! swept over a quality setting ([`LossyCodec`]) and lossless compressors that only give a size
//! reference ([`LosslessCodec`]).
//!
//! Every codec encodes 8-bit RGB and decodes back to 8-bit RGB, so that quality is always measured
//! on the same pixels the learned codec sees. The C libraries (libjpeg-turbo's code through
//! mozjpeg, libwebp, zstd) are compiled from source by their `-sys` crates; nothing here links a
//! system library.

#[cfg(feature = "avif")]
mod avif;
mod jpeg;
mod lossless;
mod webp;

#[cfg(feature = "avif")]
pub use avif::Avif;
pub use jpeg::{ImageJpeg, TurboJpeg};
pub use lossless::{Png, Stream};
pub use webp::WebP;

use image::RgbImage;

/// Why a codec failed. Baselines only see images nic produced or loaded, so an error here is a
/// library failure, reported with the codec's name rather than unwound through the benchmark.
#[derive(Debug, thiserror::Error)]
#[error("{codec}: {message}")]
pub struct Error {
    pub codec: &'static str,
    pub message: String,
}

impl Error {
    pub(crate) fn new(codec: &'static str, message: impl std::fmt::Display) -> Self {
        Error {
            codec,
            message: message.to_string(),
        }
    }
}

/// A lossy codec with an integer quality knob (higher = better quality, larger files).
pub trait LossyCodec: Send + Sync {
    /// Short name used on the command line and for result files, e.g. `jpeg-turbo-420`.
    fn name(&self) -> &'static str;
    /// One line saying which library and which settings, for reports.
    fn description(&self) -> String;
    /// The quality settings a comparison sweeps, lowest first.
    fn qualities(&self) -> Vec<u8>;
    /// Encodes `image` into a complete file (headers included).
    fn encode(&self, image: &RgbImage, quality: u8) -> Result<Vec<u8>, Error>;
    /// Decodes a file made by [`LossyCodec::encode`].
    fn decode(&self, data: &[u8]) -> Result<RgbImage, Error>;
}

/// A lossless compressor, used only as a size reference (ratio against raw RGB).
pub trait LosslessCodec: Send + Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> String;
    /// Compresses the image (PNG) or its raw interleaved RGB bytes (general-purpose compressors).
    fn compress(&self, image: &RgbImage) -> Result<Vec<u8>, Error>;
    /// Inverse of [`LosslessCodec::compress`]; the benchmark checks the round trip is exact.
    fn decompress(&self, data: &[u8], width: u32, height: u32) -> Result<RgbImage, Error>;
}

/// JPEG and WebP quality settings swept by a comparison: 5, 10, …, 95.
pub fn standard_sweep() -> Vec<u8> {
    (1..=19).map(|i| i * 5).collect()
}

/// Every lossy baseline compiled in (AVIF only with the `avif` feature).
pub fn lossy_codecs() -> Vec<Box<dyn LossyCodec>> {
    vec![
        Box::new(ImageJpeg),
        Box::new(TurboJpeg::Yuv420),
        Box::new(TurboJpeg::Yuv444),
        Box::new(WebP),
        #[cfg(feature = "avif")]
        Box::new(Avif),
    ]
}

/// Every lossless reference: PNG at maximum compression, then general-purpose compressors on the
/// raw RGB bytes.
pub fn lossless_codecs() -> Vec<Box<dyn LosslessCodec>> {
    let mut codecs: Vec<Box<dyn LosslessCodec>> = vec![Box::new(Png)];
    codecs.extend(Stream::ALL.map(|s| Box::new(s) as Box<dyn LosslessCodec>));
    codecs
}

/// Builds an image from decoded RGB bytes, checking the size the decoder returned.
pub(crate) fn rgb_image(
    codec: &'static str,
    width: u32,
    height: u32,
    data: Vec<u8>,
) -> Result<RgbImage, Error> {
    let got = data.len();
    RgbImage::from_raw(width, height, data).ok_or_else(|| {
        Error::new(
            codec,
            format!("decoder returned {got} bytes for a {width}×{height} RGB image"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Smooth gradients with a little texture: compressible, but not trivially. (Tiny images are
    /// avoided: below ~64 pixels a side JPEG's 16-bit quantization tables at low quality make
    /// the file grow as quality falls.)
    pub(crate) fn test_image(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            let t = ((x / 3 + y / 2) % 4) as u8;
            image::Rgb([
                (x * 2) as u8 + t,
                (y * 3) as u8,
                ((x + y) * 2) as u8 / 2 + t,
            ])
        })
    }

    #[test]
    fn lossy_codecs_round_trip_and_grow_with_quality() {
        let image = test_image(97, 65);
        for codec in lossy_codecs() {
            let mut last_size = 0;
            let mut last_psnr = 0.0;
            for quality in [10, 50, 95] {
                let data = codec.encode(&image, quality).unwrap();
                let decoded = codec.decode(&data).unwrap();
                assert_eq!(decoded.dimensions(), image.dimensions(), "{}", codec.name());
                let mse = image
                    .as_raw()
                    .iter()
                    .zip(decoded.as_raw())
                    .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                    .sum::<f64>()
                    / image.as_raw().len() as f64;
                let psnr = 10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10();
                assert!(
                    data.len() > last_size,
                    "{} q{quality}: {} B after {last_size}",
                    codec.name(),
                    data.len()
                );
                assert!(psnr > last_psnr, "{} q{quality}: {psnr}", codec.name());
                last_size = data.len();
                last_psnr = psnr;
            }
            assert!(last_psnr > 30.0, "{} at q95: {last_psnr} dB", codec.name());
        }
    }

    #[test]
    fn lossless_codecs_are_exact_and_compress() {
        // Flat 8×8 blocks: every compressor, LZ4 included, finds repeats.
        let image = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x / 8 * 30) as u8, (y / 8 * 40) as u8, 100])
        });
        for codec in lossless_codecs() {
            let data = codec.compress(&image).unwrap();
            assert!(data.len() < image.as_raw().len(), "{}", codec.name());
            let back = codec.decompress(&data, 64, 48).unwrap();
            assert_eq!(back, image, "{}", codec.name());
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let garbage = [0x12u8, 0x34, 0x56, 0x78, 0x9a];
        for codec in lossy_codecs() {
            assert!(codec.decode(&garbage).is_err(), "{}", codec.name());
        }
        for codec in lossless_codecs() {
            assert!(
                codec.decompress(&garbage, 4, 4).is_err(),
                "{}",
                codec.name()
            );
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = lossy_codecs().iter().map(|c| c.name()).collect();
        names.extend(lossless_codecs().iter().map(|c| c.name()));
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
