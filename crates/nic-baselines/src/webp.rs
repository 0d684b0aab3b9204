//! WebP through libwebp (built from source by `libwebp-sys`), lossy mode at libwebp's default
//! effort (method 4), the setting of `cwebp -q`.

use image::RgbImage;

use crate::{Error, LossyCodec, rgb_image, standard_sweep};

/// Lossy WebP (VP8, 4:2:0).
pub struct WebP;

impl LossyCodec for WebP {
    fn name(&self) -> &'static str {
        "webp"
    }

    fn description(&self) -> String {
        "WebP, libwebp lossy (method 4, the cwebp default), quality 5-95".into()
    }

    fn qualities(&self) -> Vec<u8> {
        standard_sweep()
    }

    fn encode(&self, image: &RgbImage, quality: u8) -> Result<Vec<u8>, Error> {
        let encoder = webp::Encoder::from_rgb(image.as_raw(), image.width(), image.height());
        let memory = encoder
            .encode_simple(false, quality as f32)
            .map_err(|e| Error::new(self.name(), format!("{e:?}")))?;
        Ok(memory.to_vec())
    }

    fn decode(&self, data: &[u8]) -> Result<RgbImage, Error> {
        let decoded = webp::Decoder::new(data)
            .decode()
            .ok_or_else(|| Error::new(self.name(), "not a decodable WebP file"))?;
        if decoded.is_alpha() {
            return Err(Error::new(self.name(), "unexpected alpha channel"));
        }
        rgb_image(
            self.name(),
            decoded.width(),
            decoded.height(),
            decoded.to_vec(),
        )
    }
}
