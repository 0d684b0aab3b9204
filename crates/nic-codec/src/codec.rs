//! One model and its entropy coder.

use std::sync::Arc;

use nic_entropy::LatentCoder;
use nic_format::{LatentPayload, NicFile};
use nic_hyper::{Network, ScaleIndex};
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
    #[error("quality {quality} is outside this model's range {lo}–{hi}")]
    Quality { quality: f64, lo: f64, hi: f64 },
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
    /// All entropy-coded payloads.
    pub payload_bytes: usize,
    /// The side latents' payload (part of `payload_bytes`; 0 without a hyperprior).
    pub side_bytes: usize,
    /// Information content of the latents (and side latents) under the model's own
    /// floating-point entropy model: the size an ideal entropy coder would reach.
    pub ideal_bits: f64,
    /// Information content under the integer tables the coder actually uses.
    pub table_bits: f64,
}

/// The integers a file codes: the latents (`[channels][row][col]`) and, with a hyperprior,
/// the side latents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latents {
    pub y: Vec<i32>,
    pub z: Vec<i32>,
}

/// A picture after the analysis transform: its latents before gains and rounding. Encoding
/// at several qualities (the `--target-*` searches) reuses it.
pub struct Analyzed {
    width: u32,
    height: u32,
    lh: usize,
    lw: usize,
    y: Vec<f32>,
}

/// The entropy coders of a model.
enum Entropy {
    /// One table per latent channel.
    Factorized(LatentCoder),
    /// Side latents with one table per channel; latents with the Gaussian table the integer
    /// hyper-synthesis picks for each.
    Hyper {
        side: LatentCoder,
        latents: LatentCoder,
        synthesis: Network,
        index: ScaleIndex,
    },
}

/// A loaded model with its entropy coder, at one quality. Cloning is cheap (the model is
/// shared), so one variable-rate model serves every quality.
#[derive(Clone)]
pub struct Codec {
    pub model: Arc<SavedModel>,
    entropy: Arc<Entropy>,
    quality: f64,
    device: Device,
    max_pixels: u64,
    tile: usize,
}

impl Codec {
    pub fn new(model: SavedModel, device: Device) -> Result<Codec, CodecError> {
        let info = &model.info;
        let entropy = match (&info.scale_tables, &model.compressor.hyper) {
            (Some(scales), Some(hp)) => {
                let synthesis = hp
                    .integer_synthesis()
                    .map_err(|e| CodecError::Model(e.to_string()))?;
                if synthesis.outputs() != info.architecture.latent_channels {
                    return Err(CodecError::Model(format!(
                        "the hyper-synthesis predicts {} scales per position for {} latent channels",
                        synthesis.outputs(),
                        info.architecture.latent_channels
                    )));
                }
                Entropy::Hyper {
                    side: LatentCoder::new(&info.tables)?,
                    latents: LatentCoder::new(&scales.tables)?,
                    synthesis,
                    index: scales.index().map_err(CodecError::Model)?,
                }
            }
            (None, None) => Entropy::Factorized(LatentCoder::new(&info.tables)?),
            _ => return Err(CodecError::Model("hyperprior without tables".into())),
        };
        let quality = if info.architecture.is_variable_rate() {
            1.0
        } else {
            info.quality as f64
        };
        Ok(Codec {
            model: Arc::new(model),
            entropy: Arc::new(entropy),
            quality,
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

    /// The same model at another quality: any real number in [`Codec::quality_range`] for a
    /// variable-rate model (kept to thousandths, as the file stores it), its own quality for a
    /// single-rate one.
    pub fn with_quality(&self, quality: f64) -> Result<Codec, CodecError> {
        let (lo, hi) = self.quality_range();
        let q = (quality * 1000.0).round() / 1000.0;
        if !(q >= lo && q <= hi) {
            return Err(CodecError::Quality { quality, lo, hi });
        }
        Ok(Codec {
            quality: q,
            ..self.clone()
        })
    }

    pub fn quality(&self) -> f64 {
        self.quality
    }

    pub fn device(&self) -> Device {
        self.device.clone()
    }

    pub fn max_pixels(&self) -> u64 {
        self.max_pixels
    }

    /// Lowest and highest quality this model encodes at.
    pub fn quality_range(&self) -> (f64, f64) {
        let info = &self.model.info;
        match info.architecture.rate_levels {
            0 => (info.quality as f64, info.quality as f64),
            levels => (1.0, levels as f64),
        }
    }

    pub fn id_hex(&self) -> String {
        hex(&self.model.id)
    }

    /// Encodes a picture of any size from 1×1 at this codec's quality: it is padded to a
    /// multiple of the network's stride by repeating its edges, and the decoder crops the
    /// padding away. Large pictures go through the analysis transform in tiles (see
    /// [`crate::tiles`]).
    pub fn encode(&self, img: &RgbImage) -> Result<(Vec<u8>, EncodeStats), CodecError> {
        self.encode_analyzed(&self.analyze(img)?)
    }

    /// The analysis transform of a picture, for [`Codec::encode_analyzed`].
    pub fn analyze(&self, img: &RgbImage) -> Result<Analyzed, CodecError> {
        let (width, height) = (img.width(), img.height());
        check_size(width, height, self.max_pixels)?;
        let (lw, lh) = Architecture::latent_size(width, height);
        let (lw, lh) = (lw as usize, lh as usize);
        let y = self.analyze_tiles(img, lh, lw)?;
        Ok(Analyzed {
            width,
            height,
            lh,
            lw,
            y,
        })
    }

    /// Encodes analyzed latents at this codec's quality.
    pub fn encode_analyzed(&self, a: &Analyzed) -> Result<(Vec<u8>, EncodeStats), CodecError> {
        let (lh, lw) = (a.lh, a.lw);
        let plane = lh * lw;
        let m = self.model.info.architecture.latent_channels;
        let latents = self.quantize(a)?;
        let y_hat = self.tensor(&latents.y, [1, m, lh, lw]);
        let (mut payloads, table_bits, side_bytes, ideal_bits) = match &*self.entropy {
            Entropy::Factorized(coder) => {
                let (ideal, _) = self.model.compressor.information_bits(y_hat, None);
                let bits = coder.information_bits(&latents.y, plane)?;
                let bytes = coder.encode(&latents.y, plane)?;
                (vec![(m, lh, lw, bytes)], bits, 0, ideal)
            }
            Entropy::Hyper {
                side,
                latents: coder,
                ..
            } => {
                let h = self.model.info.architecture.hyper_channels;
                let (zw, zh) = Architecture::hyper_size(lw as u32, lh as u32);
                let (zh, zw) = (zh as usize, zw as usize);
                let indices = self.table_indices(&latents.z, zh, zw, lh, lw)?;
                let z_hat = self.tensor(&latents.z, [1, h, zh, zw]);
                let (ideal_y, ideal_z) = self.model.compressor.information_bits(y_hat, Some(z_hat));
                let bits = side.information_bits(&latents.z, zh * zw)?
                    + coder.information_bits_indexed(&latents.y, &indices)?;
                let z_bytes = side.encode(&latents.z, zh * zw)?;
                let y_bytes = coder.encode_indexed(&latents.y, &indices)?;
                let side_bytes = z_bytes.len();
                (
                    vec![(h, zh, zw, z_bytes), (m, lh, lw, y_bytes)],
                    bits,
                    side_bytes,
                    ideal_y + ideal_z,
                )
            }
        };
        let payload_bytes = payloads.iter().map(|p| p.3.len()).sum();
        let file = NicFile {
            model_id: self.model.id,
            width: a.width,
            height: a.height,
            quality_milli: (self.quality * 1000.0).round() as u32,
            latents: payloads
                .drain(..)
                .map(|(c, h, w, bytes)| LatentPayload {
                    channels: c as u32,
                    height: h as u32,
                    width: w as u32,
                    bytes,
                })
                .collect(),
        };
        let out = file.to_bytes()?;
        let stats = EncodeStats {
            file_bytes: out.len(),
            header_bytes: out.len() - payload_bytes - 4,
            payload_bytes,
            side_bytes,
            ideal_bits,
            table_bits,
        };
        Ok((out, stats))
    }

    /// The integers the encoder codes for analyzed latents at this codec's quality: the
    /// latents times the quality's gains, rounded (ties to even, as burn rounds them), and the
    /// rounded side latents of the hyperprior.
    pub fn quantize(&self, a: &Analyzed) -> Result<Latents, CodecError> {
        let m = self.model.info.architecture.latent_channels;
        let plane = a.lh * a.lw;
        let gains = self.gains(self.quality).map(|(g, _)| g);
        let mut gained = a.y.clone();
        if let Some(g) = &gains {
            for (c, chunk) in gained.chunks_exact_mut(plane).enumerate() {
                chunk.iter_mut().for_each(|v| *v *= g[c]);
            }
        }
        let z = match &*self.entropy {
            Entropy::Factorized(_) => Vec::new(),
            Entropy::Hyper { .. } => {
                let y = self.tensor_f32(gained.clone(), [1, m, a.lh, a.lw]);
                let z = self.model.compressor.side_latents(y);
                to_integers(
                    z.into_data()
                        .try_into_vec::<f32>()
                        .map_err(|e| CodecError::Invalid(format!("reading side latents: {e:?}")))?,
                )
            }
        };
        Ok(Latents {
            y: to_integers(gained),
            z,
        })
    }

    /// Decodes a parsed file made by this model.
    pub fn decode(&self, file: &NicFile) -> Result<RgbImage, CodecError> {
        let latents = self.latents(file)?;
        let (lw, lh) = Architecture::latent_size(file.width, file.height);
        let quality = file.quality_milli as f64 / 1000.0;
        let inverse = self.gains(quality).map(|(_, inv)| inv);
        self.synthesize(
            &latents.y,
            inverse.as_deref(),
            lh as usize,
            lw as usize,
            file.width,
            file.height,
        )
    }

    /// The integers of a file made by this model, entropy-decoded (the first half of
    /// [`Codec::decode`]); equal to what [`Codec::quantize`] gave the encoder.
    pub fn latents(&self, file: &NicFile) -> Result<Latents, CodecError> {
        if file.model_id != self.model.id {
            let info = &self.model.info;
            return Err(CodecError::WrongModel {
                file: hex(&file.model_id),
                model: self.id_hex(),
                dir: match info.architecture.rate_levels {
                    0 => format!("quality {}", info.quality),
                    n => format!("variable rate, qualities 1–{n}"),
                },
            });
        }
        check_size(file.width, file.height, self.max_pixels)?;
        if self.model.info.architecture.is_variable_rate() {
            let (lo, hi) = self.quality_range();
            let q = file.quality_milli as f64 / 1000.0;
            if !(lo..=hi).contains(&q) {
                return Err(CodecError::Invalid(format!(
                    "quality {q} is outside this model's range {lo}–{hi}"
                )));
            }
        }
        let arch = self.model.info.architecture;
        let m = arch.latent_channels;
        let (lw, lh) = Architecture::latent_size(file.width, file.height);
        let (zw, zh) = Architecture::hyper_size(lw, lh);
        let mut shapes = vec![(m as u32, lh, lw)];
        if arch.has_hyperprior() {
            shapes.insert(0, (arch.hyper_channels as u32, zh, zw));
        }
        let got: Vec<_> = file
            .latents
            .iter()
            .map(|l| (l.channels, l.height, l.width))
            .collect();
        if got != shapes {
            return Err(CodecError::Invalid(format!(
                "latent tensors {got:?} do not match a {}×{} image and this model ({shapes:?})",
                file.width, file.height
            )));
        }
        let (lh, lw) = (lh as usize, lw as usize);
        match &*self.entropy {
            Entropy::Factorized(coder) => Ok(Latents {
                y: coder.decode(&file.latents[0].bytes, lh * lw)?,
                z: Vec::new(),
            }),
            Entropy::Hyper { side, latents, .. } => {
                let (zh, zw) = (zh as usize, zw as usize);
                let z = side.decode(&file.latents[0].bytes, zh * zw)?;
                let indices = self.table_indices(&z, zh, zw, lh, lw)?;
                let y = latents.decode_indexed(&file.latents[1].bytes, &indices)?;
                Ok(Latents { y, z })
            }
        }
    }

    /// The table of every latent, from the side latents, in integer arithmetic only: the
    /// encoder and the decoder get the same indices on any machine.
    fn table_indices(
        &self,
        z: &[i32],
        zh: usize,
        zw: usize,
        lh: usize,
        lw: usize,
    ) -> Result<Vec<u8>, CodecError> {
        let Entropy::Hyper {
            synthesis, index, ..
        } = &*self.entropy
        else {
            unreachable!("only hyperprior models have table indices")
        };
        let scales = synthesis
            .run(z, zh, zw)
            .map_err(|e| CodecError::Invalid(e.to_string()))?;
        let mut out = Vec::with_capacity(scales.channels * lh * lw);
        for plane in scales.data.chunks_exact(scales.height * scales.width) {
            for row in plane.chunks_exact(scales.width).take(lh) {
                out.extend(row[..lw].iter().map(|&s| index.index(s)));
            }
        }
        Ok(out)
    }

    /// Gains and inverse gains at `quality` (variable-rate models only).
    fn gains(&self, quality: f64) -> Option<(Vec<f32>, Vec<f32>)> {
        let g = self.model.compressor.gains.as_ref()?;
        Some(g.at_quality(quality))
    }

    fn tensor(&self, values: &[i32], shape: [usize; 4]) -> Tensor<4> {
        self.tensor_f32(values.iter().map(|&v| v as f32).collect(), shape)
    }

    fn tensor_f32(&self, values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
        Tensor::<4>::from_data(TensorData::new(values, shape), &self.device)
    }

    /// The analysis transform, tile by tile: the unrounded latents (`[channels][row][col]`).
    fn analyze_tiles(&self, img: &RgbImage, lh: usize, lw: usize) -> Result<Vec<f32>, CodecError> {
        let channels = self.model.info.architecture.latent_channels;
        let plane = lh * lw;
        let mut latents = vec![0.0f32; channels * plane];
        for t in tiles(lh, lw, self.tile) {
            let region = Planar::region(
                img,
                t.ext_cols.start * S,
                t.ext_rows.start * S,
                t.ext_cols.len() * S,
                t.ext_rows.len() * S,
            );
            let x = self.tensor_f32(region.data, [1, 3, region.height, region.width]);
            let (top, left) = t.offset();
            let y = self.model.compressor.analyze(x).slice([
                0..1,
                0..channels,
                top..top + t.rows.len(),
                left..left + t.cols.len(),
            ]);
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
        Ok(latents)
    }

    /// The synthesis transform, tile by tile, into a `width × height` picture (the padding
    /// beyond it dropped). `inverse` are the per-channel inverse gains of a variable-rate model.
    fn synthesize(
        &self,
        values: &[i32],
        inverse: Option<&[f32]>,
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
                let g = inverse.map_or(1.0, |inv| inv[c]);
                for r in t.ext_rows.clone() {
                    let row = &values[c * plane + r * lw..][..lw];
                    floats.extend(row[t.ext_cols.clone()].iter().map(|&v| v as f32 * g));
                }
            }
            let y_hat = self.tensor_f32(floats, [1, m, eh, ew]);
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

/// Rounds to integers, ties to even (as burn's `round`, which the training and the ideal
/// information content use); non-finite values become 0.
fn to_integers(values: Vec<f32>) -> Vec<i32> {
    values
        .into_iter()
        .map(|v| {
            if v.is_finite() {
                v.round_ties_even() as i32
            } else {
                0
            }
        })
        .collect()
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
    use nic_model::{Compressor, Gains, ModelInfo};

    /// burn's random state is global: tests that draw weights take turns.
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn codec_of(arch: Architecture, seed: u64) -> Codec {
        let device = Device::flex();
        let mut model = {
            let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
            device.seed(seed);
            Compressor::new(&arch, &device)
        };
        let lambdas: Vec<f64> = (0..arch.rate_levels)
            .map(|l| 0.002 * 4f64.powi(l as i32))
            .collect();
        if model.gains.is_some() {
            // Gains of 14 to 57, so the untrained network's small latents round to something.
            model.gains = Some(Gains::new(&lambdas, 1e-5, arch.latent_channels, &device));
        }
        let info = ModelInfo::for_compressor(&model, arch, 1, 0.01, lambdas).unwrap();
        let dir = tempfile::tempdir().unwrap();
        SavedModel::save(dir.path(), &model, &info).unwrap();
        Codec::new(SavedModel::load(dir.path(), &device).unwrap(), device).unwrap()
    }

    fn tiny_codec(seed: u64) -> Codec {
        codec_of(Architecture::TINY, seed)
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
        let a = whole.analyze_tiles(&img, 5, 7).unwrap();
        let b = tiled.analyze_tiles(&img, 5, 7).unwrap();
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
        let pa = whole.synthesize(&values, None, 5, 7, 100, 70).unwrap();
        let pb = tiled.synthesize(&values, None, 5, 7, 100, 70).unwrap();
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
    fn hyperprior_files_decode_to_the_encoders_latents_at_every_quality() {
        let codec = codec_of(Architecture::TINY_HYPER, 6);
        assert_eq!(codec.quality_range(), (1.0, 3.0));
        let img = textured(150, 90); // latents 6×10, side latents 2×3
        let analyzed = codec.analyze(&img).unwrap();
        let mut sizes = Vec::new();
        for q in [1.0, 2.25, 3.0] {
            let c = codec.with_quality(q).unwrap();
            let (bytes, stats) = c.encode_analyzed(&analyzed).unwrap();
            let file = NicFile::parse(&bytes).unwrap();
            assert_eq!(file.quality_milli, (q * 1000.0) as u32);
            assert_eq!(file.latents.len(), 2);
            assert_eq!(stats.side_bytes, file.latents[0].bytes.len());
            let sent = c.quantize(&analyzed).unwrap();
            assert!(
                sent.y.iter().any(|&v| v != 0),
                "all-zero latents test little"
            );
            // Any codec of the same model decodes, whatever quality it was opened at.
            assert_eq!(codec.latents(&file).unwrap(), sent);
            let out = codec.decode(&file).unwrap();
            assert_eq!((out.width(), out.height()), (150, 90));
            // Loose: an untrained hyperprior predicts scales far off, so latents escape the
            // tables often, and an escape costs more than the Gaussian tail it stands for.
            assert!((stats.table_bits - stats.ideal_bits).abs() < 0.1 * stats.ideal_bits + 64.0);
            sizes.push(stats.payload_bytes);
        }
        assert!(sizes[0] < sizes[2], "higher quality, more bytes: {sizes:?}");
        assert!(codec.with_quality(3.5).is_err() && codec.with_quality(f64::NAN).is_err());
        assert!(tiny_codec(1).with_quality(2.0).is_err());
    }

    #[test]
    fn a_file_from_another_model_is_refused() {
        let (a, b) = (tiny_codec(3), tiny_codec(4));
        let (bytes, _) = a.encode(&picture(16, 16)).unwrap();
        let err = b.decode(&NicFile::parse(&bytes).unwrap()).unwrap_err();
        assert!(matches!(err, CodecError::WrongModel { .. }), "{err}");
    }
}
