//! One model and its entropy coder.

use nic_entropy::LatentCoder;
use nic_format::{LatentPayload, NicFile};
use nic_image::{Planar, RgbImage};
use nic_model::burn::tensor::{Device, Tensor, TensorData};
use nic_model::{Architecture, SavedModel};
use thiserror::Error;

/// Default limit on the image size (in pixels) encoded or decoded in one piece. Memory grows
/// with the pixel count (about 1.5 KB per pixel in the transforms), so larger images are
/// refused up front rather than exhausting memory; [`Codec::with_max_pixels`] changes it.
pub const MAX_PIXELS: u64 = 16 << 20;

#[derive(Debug, Error)]
pub enum CodecError {
    #[error("{0}")]
    Model(String),
    #[error(transparent)]
    Format(#[from] nic_format::FormatError),
    #[error(transparent)]
    Coding(#[from] nic_entropy::CodingError),
    #[error(
        "this file was made with a different model (id {file}) than the one given (id {model}, {dir}); decode it with the model that encoded it"
    )]
    WrongModel {
        file: String,
        model: String,
        dir: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "image of {width}×{height} pixels is over the limit of {limit} pixels (--max-pixels raises it)"
    )]
    TooLarge { width: u32, height: u32, limit: u64 },
}

/// Sizes and information content of one encoded image.
#[derive(Debug, Clone, Copy)]
pub struct EncodeStats {
    /// Whole file, header and CRC included.
    pub file_bytes: usize,
    pub header_bytes: usize,
    pub payload_bytes: usize,
    /// Information content of the latents under the model's own (floating-point) prior: the
    /// size an ideal entropy coder would reach.
    pub ideal_bits: f64,
    /// Information content under the integer tables the coder actually uses.
    pub table_bits: f64,
}

pub struct Codec {
    pub model: SavedModel,
    coder: LatentCoder,
    device: Device,
    max_pixels: u64,
}

impl Codec {
    pub fn new(model: SavedModel, device: Device) -> Result<Codec, CodecError> {
        let coder = LatentCoder::new(&model.info.tables)?;
        Ok(Codec {
            model,
            coder,
            device,
            max_pixels: MAX_PIXELS,
        })
    }

    /// Sets the largest picture, in pixels, this codec encodes or decodes (default
    /// [`MAX_PIXELS`]); the decoder checks it against the header before allocating anything.
    pub fn with_max_pixels(mut self, max_pixels: u64) -> Codec {
        self.max_pixels = max_pixels;
        self
    }

    pub fn id_hex(&self) -> String {
        hex(&self.model.id)
    }

    /// Encodes a picture of any size from 1×1: it is padded to a multiple of the network's
    /// stride by repeating its edges, and the decoder crops the padding away.
    pub fn encode(&self, img: &RgbImage) -> Result<(Vec<u8>, EncodeStats), CodecError> {
        let (width, height) = (img.width(), img.height());
        check_size(width, height, self.max_pixels)?;
        let padded = Planar::from_rgb8(img).pad_to_multiple(Architecture::STRIDE);
        let x = Tensor::<4>::from_data(
            TensorData::new(padded.data, [1, 3, padded.height, padded.width]),
            &self.device,
        );
        let y_hat = self.model.compressor.analyze(x).round();
        let [_, channels, lh, lw] = y_hat.dims();
        let ideal_bits = self.model.compressor.information_bits(y_hat.clone());
        let values: Vec<i32> = y_hat
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| CodecError::Invalid(format!("reading latents: {e:?}")))?
            .into_iter()
            .map(|v| if v.is_finite() { v as i32 } else { 0 })
            .collect();
        let plane = lh * lw;
        let table_bits = self.coder.information_bits(&values, plane)?;
        let bytes = self.coder.encode(&values, plane)?;
        let payload_bytes = bytes.len();
        let file = NicFile {
            model_id: self.model.id,
            width,
            height,
            quality: self.model.info.quality,
            latents: vec![LatentPayload {
                channels: channels as u32,
                height: lh as u32,
                width: lw as u32,
                bytes,
            }],
        };
        let out = file.to_bytes()?;
        let stats = EncodeStats {
            file_bytes: out.len(),
            header_bytes: out.len() - payload_bytes - 4,
            payload_bytes,
            ideal_bits,
            table_bits,
        };
        Ok((out, stats))
    }

    /// Decodes a parsed file made by this model.
    pub fn decode(&self, file: &NicFile) -> Result<RgbImage, CodecError> {
        if file.model_id != self.model.id {
            return Err(CodecError::WrongModel {
                file: hex(&file.model_id),
                model: self.id_hex(),
                dir: format!("quality {}", self.model.info.quality),
            });
        }
        check_size(file.width, file.height, self.max_pixels)?;
        let m = self.model.info.architecture.latent_channels;
        let (lw, lh) = Architecture::latent_size(file.width, file.height);
        let [latent] = file.latents.as_slice() else {
            return Err(CodecError::Invalid(format!(
                "{} latent tensors; this model uses 1",
                file.latents.len()
            )));
        };
        if (latent.channels as usize, latent.height, latent.width) != (m, lh, lw) {
            return Err(CodecError::Invalid(format!(
                "latent shape {}×{}×{} does not match a {}×{} image ({m}×{lh}×{lw})",
                latent.channels, latent.height, latent.width, file.width, file.height
            )));
        }
        let plane = (lh * lw) as usize;
        let values = self.coder.decode(&latent.bytes, plane)?;
        let floats: Vec<f32> = values.into_iter().map(|v| v as f32).collect();
        let y_hat = Tensor::<4>::from_data(
            TensorData::new(floats, [1, m, lh as usize, lw as usize]),
            &self.device,
        );
        let x_hat = self.model.compressor.synthesize(y_hat);
        let [_, _, ph, pw] = x_hat.dims();
        let data = x_hat
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| CodecError::Invalid(format!("reading pixels: {e:?}")))?;
        let planar = Planar {
            width: pw,
            height: ph,
            data,
        };
        Ok(planar
            .crop(file.width as usize, file.height as usize)
            .to_rgb8())
    }
}

fn check_size(width: u32, height: u32, limit: u64) -> Result<(), CodecError> {
    if width == 0 || height == 0 {
        return Err(CodecError::Invalid("image has no pixels".into()));
    }
    if width as u64 * height as u64 > limit {
        return Err(CodecError::TooLarge {
            width,
            height,
            limit,
        });
    }
    Ok(())
}

pub(crate) fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nic_model::{Compressor, ModelInfo, build_tables};

    fn tiny_codec(seed: u64) -> Codec {
        let device = Device::flex();
        device.seed(seed);
        let arch = Architecture::TINY;
        let model = Compressor::new(&arch, &device);
        let info = ModelInfo::new(arch, 1, 0.01, build_tables(&model.prior).unwrap());
        let dir = tempfile::tempdir().unwrap();
        SavedModel::save(dir.path(), &model, &info).unwrap();
        Codec::new(SavedModel::load(dir.path(), &device).unwrap(), device).unwrap()
    }

    fn picture(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            nic_image::image::Rgb([(x * 9) as u8, (y * 5) as u8, 128])
        })
    }

    #[test]
    fn any_size_round_trips_to_the_same_size() {
        let codec = tiny_codec(1);
        for (w, h) in [(1, 1), (31, 17), (769, 513)] {
            let (bytes, stats) = codec.encode(&picture(w, h)).unwrap();
            assert_eq!(stats.file_bytes, bytes.len());
            let file = NicFile::parse(&bytes).unwrap();
            assert_eq!((file.width, file.height), (w, h));
            let out = codec.decode(&file).unwrap();
            assert_eq!((out.width(), out.height()), (w, h));
        }
    }

    #[test]
    fn decoding_is_deterministic_and_matches_the_encoder_latents() {
        let codec = tiny_codec(2);
        let (bytes, _) = codec.encode(&picture(40, 24)).unwrap();
        let file = NicFile::parse(&bytes).unwrap();
        assert_eq!(codec.decode(&file).unwrap(), codec.decode(&file).unwrap());
    }

    #[test]
    fn a_file_from_another_model_is_refused() {
        let (a, b) = (tiny_codec(3), tiny_codec(4));
        let (bytes, _) = a.encode(&picture(16, 16)).unwrap();
        let err = b.decode(&NicFile::parse(&bytes).unwrap()).unwrap_err();
        assert!(matches!(err, CodecError::WrongModel { .. }), "{err}");
    }
}
