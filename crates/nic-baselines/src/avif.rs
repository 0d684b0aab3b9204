//! AVIF (AV1 still images), opt-in with the `avif` feature: encoding with `ravif` (rav1e, pure
//! Rust), decoding with `avif-decode` (libaom, built from source with CMake). Both are slow to
//! build and the encoder is slow to run, so the default build leaves them out.
//!
//! Settings: 8-bit (the depth of the input, as `avifenc` keeps it), YCbCr 4:4:4 with BT.601
//! coefficients (ravif's only layout), encoder speed 6 (`avifenc`'s default speed). rav1e
//! encodes with several threads, so AVIF encode times are not single-threaded like the others.

use imgref::Img;
use ravif::{BitDepth, Encoder};
use rgb::RGB8;

use image::RgbImage;

use crate::{Error, LossyCodec, rgb_image, standard_sweep};

pub struct Avif;

impl LossyCodec for Avif {
    fn name(&self) -> &'static str {
        "avif"
    }

    fn description(&self) -> String {
        "AVIF, ravif 0.13 (rav1e) at speed 6, 8-bit YCbCr 4:4:4, decoded by libaom \
         (avif-decode), quality 5-95"
            .into()
    }

    fn qualities(&self) -> Vec<u8> {
        standard_sweep()
    }

    fn encode(&self, image: &RgbImage, quality: u8) -> Result<Vec<u8>, Error> {
        let pixels: Vec<RGB8> = image
            .pixels()
            .map(|p| RGB8::new(p.0[0], p.0[1], p.0[2]))
            .collect();
        let (w, h) = (image.width() as usize, image.height() as usize);
        let encoded = Encoder::new()
            .with_quality(quality as f32)
            .with_speed(6)
            .with_bit_depth(BitDepth::Eight)
            .encode_rgb(Img::new(&pixels[..], w, h))
            .map_err(|e| Error::new(self.name(), e))?;
        Ok(encoded.avif_file)
    }

    fn decode(&self, data: &[u8]) -> Result<RgbImage, Error> {
        let decoded = avif_decode::Decoder::from_avif(data)
            .and_then(|d| d.to_image())
            .map_err(|e| Error::new(self.name(), e))?;
        let avif_decode::Image::Rgb8(img) = decoded else {
            return Err(Error::new(self.name(), "expected 8-bit RGB"));
        };
        let (w, h) = (img.width() as u32, img.height() as u32);
        let bytes = img.pixels().flat_map(|p| [p.r, p.g, p.b]).collect();
        rgb_image(self.name(), w, h, bytes)
    }
}
