//! One model and its entropy coder.

use nic_entropy::LatentCoder;
use nic_format::{LatentPayload, NicFile};
use nic_image::{Planar, RgbImage};
use nic_model::burn::tensor::{Device, Tensor, TensorData};
use nic_model::{Architecture, SavedModel};
use thiserror::Error;

use crate::tiles::{DEFAULT_TILE, tiles};

/// Pixels per latent along each side.
const S: usize = Architecture::STRIDE;

/// Default limit on the image size in pixels. The transforms run in tiles of bounded size, but
/// the picture, its latents and the file are held whole (a few bytes per pixel), so sizes
/// beyond this are refused up front rather than exhausting memory on a hostile header;
/// [`Codec::with_max_pixels`] changes it.
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
    tile: usize,
}

impl Codec {
    pub fn new(model: SavedModel, device: Device) -> Result<Codec, CodecError> {
        let coder = LatentCoder::new(&model.info.tables)?;
        Ok(Codec {
            model,
            coder,
            device,
            max_pixels: MAX_PIXELS,
            tile: DEFAULT_TILE,
        })
    }

    /// Sets the largest picture, in pixels, this codec encodes or decodes (default
    /// [`MAX_PIXELS`]); the decoder checks it against the header before allocating anything.
    pub fn with_max_pixels(mut self, max_pixels: u64) -> Codec {
        self.max_pixels = max_pixels;
        self
    }

    /// Sets the side of the tiles the transforms run on, in latents (16 pixels each; default
    /// [`DEFAULT_TILE`]). Smaller tiles use less memory and repeat more work at their margins.
    pub fn with_tile_size(mut self, latents: usize) -> Codec {
        self.tile = latents.max(1);
        self
    }

    pub fn id_hex(&self) -> String {
        hex(&self.model.id)
    }

    /// Encodes a picture of any size from 1×1: it is padded to a multiple of the network's
    /// stride by repeating its edges, and the decoder crops the padding away. Large pictures go
    /// through the analysis transform in tiles (see [`crate::tiles`]).
    pub fn encode(&self, img: &RgbImage) -> Result<(Vec<u8>, EncodeStats), CodecError> {
        let (width, height) = (img.width(), img.height());
        check_size(width, height, self.max_pixels)?;
        let channels = self.model.info.architecture.latent_channels;
        let (lw, lh) = Architecture::latent_size(width, height);
        let (lw, lh) = (lw as usize, lh as usize);
        let plane = lh * lw;
        let (latents, ideal_bits) = self.analyze(img, lh, lw)?;
        let values: Vec<i32> = latents
            .into_iter()
            // Ties to even, as burn's `round` (used for the ideal information content).
            .map(|v| {
                if v.is_finite() {
                    v.round_ties_even() as i32
                } else {
                    0
                }
            })
            .collect();
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
        let (lh, lw) = (lh as usize, lw as usize);
        let plane = lh * lw;
        let values = self.coder.decode(&latent.bytes, plane)?;
        self.synthesize(&values, lh, lw, file.width, file.height)
    }

    /// The analysis transform, tile by tile: the unrounded latents (`[channels][row][col]`)
    /// and their information content once rounded, in bits.
    fn analyze(&self, img: &RgbImage, lh: usize, lw: usize) -> Result<(Vec<f32>, f64), CodecError> {
        let channels = self.model.info.architecture.latent_channels;
        let plane = lh * lw;
        let mut latents = vec![0.0f32; channels * plane];
        let mut ideal_bits = 0.0;
        for t in tiles(lh, lw, self.tile) {
            let region = Planar::region(
                img,
                t.ext_cols.start * S,
                t.ext_rows.start * S,
                t.ext_cols.len() * S,
                t.ext_rows.len() * S,
            );
            let x = Tensor::<4>::from_data(
                TensorData::new(region.data, [1, 3, region.height, region.width]),
                &self.device,
            );
            let (top, left) = t.offset();
            let y = self.model.compressor.analyze(x).slice([
                0..1,
                0..channels,
                top..top + t.rows.len(),
                left..left + t.cols.len(),
            ]);
            ideal_bits += self.model.compressor.information_bits(y.clone().round());
            let tile_values = y
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| CodecError::Invalid(format!("reading latents: {e:?}")))?;
            let width = t.cols.len();
            for (i, row) in tile_values.chunks_exact(width).enumerate() {
                let (c, r) = (i / t.rows.len(), i % t.rows.len());
                let start = c * plane + (t.rows.start + r) * lw + t.cols.start;
                latents[start..start + width].copy_from_slice(row);
            }
        }
        Ok((latents, ideal_bits))
    }

    /// The synthesis transform, tile by tile, into a `width × height` picture (the padding
    /// beyond it dropped).
    fn synthesize(
        &self,
        values: &[i32],
        lh: usize,
        lw: usize,
        width: u32,
        height: u32,
    ) -> Result<RgbImage, CodecError> {
        let m = self.model.info.architecture.latent_channels;
        let plane = lh * lw;
        let mut out = RgbImage::new(width, height);
        for t in tiles(lh, lw, self.tile) {
            let (eh, ew) = (t.ext_rows.len(), t.ext_cols.len());
            let mut floats = Vec::with_capacity(m * eh * ew);
            for c in 0..m {
                for r in t.ext_rows.clone() {
                    let row = &values[c * plane + r * lw..][..lw];
                    floats.extend(row[t.ext_cols.clone()].iter().map(|&v| v as f32));
                }
            }
            let y_hat =
                Tensor::<4>::from_data(TensorData::new(floats, [1, m, eh, ew]), &self.device);
            let (top, left) = t.offset();
            let (h, w) = (t.rows.len() * S, t.cols.len() * S);
            let x_hat = self.model.compressor.synthesize(y_hat).slice([
                0..1,
                0..3,
                top * S..top * S + h,
                left * S..left * S + w,
            ]);
            let data = x_hat
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| CodecError::Invalid(format!("reading pixels: {e:?}")))?;
            let planar = Planar {
                width: w,
                height: h,
                data,
            };
            planar.paste_into(&mut out, t.cols.start * S, t.rows.start * S);
        }
        Ok(out)
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

    /// A picture with detail everywhere, so that every latent matters.
    fn textured(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let n = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) >> 7;
            nic_image::image::Rgb([(n % 251) as u8, (x * 3 + y) as u8, ((n >> 8) % 199) as u8])
        })
    }

    #[test]
    fn tiles_give_the_whole_picture_result_without_seams() {
        let (whole, tiled) = (tiny_codec(5), tiny_codec(5).with_tile_size(2));
        let img = textured(100, 70); // 7×5 latents: 12 tiles, inner and edge ones
        let (a, _) = whole.analyze(&img, 5, 7).unwrap();
        let (b, _) = tiled.analyze(&img, 5, 7).unwrap();
        let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = a
            .iter()
            .zip(&b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            scale > 0.0 && worst <= 1e-5 * scale.max(1.0),
            "latents differ by {worst}"
        );

        // Latents with something in every position, so every tile's output matters.
        let values: Vec<i32> = (0..8 * 35).map(|i| (i * 7 % 11) - 5).collect();
        let pa = whole.synthesize(&values, 5, 7, 100, 70).unwrap();
        let pb = tiled.synthesize(&values, 5, 7, 100, 70).unwrap();
        let (ra, rb) = (pa.as_raw(), pb.as_raw());
        assert!(
            ra.iter().any(|&v| v != ra[0]),
            "a flat picture tests nothing"
        );
        let diffs: Vec<u8> = ra.iter().zip(rb).map(|(&x, &y)| x.abs_diff(y)).collect();
        assert!(
            diffs.iter().all(|&d| d <= 1),
            "a seam: {:?}",
            diffs.iter().max()
        );
        let off = diffs.iter().filter(|&&d| d > 0).count();
        assert!(
            off * 1000 <= diffs.len(),
            "{off} of {} values differ",
            diffs.len()
        );
    }

    #[test]
    fn a_file_from_another_model_is_refused() {
        let (a, b) = (tiny_codec(3), tiny_codec(4));
        let (bytes, _) = a.encode(&picture(16, 16)).unwrap();
        let err = b.decode(&NicFile::parse(&bytes).unwrap()).unwrap_err();
        assert!(matches!(err, CodecError::WrongModel { .. }), "{err}");
    }
}
