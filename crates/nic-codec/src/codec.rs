//! One model at one quality: the transforms, the gains and the model's latent codec composed
//! with the container.

use std::sync::{Arc, OnceLock};

use nic_format::{LatentPayload, NicFile};
use nic_image::RgbImage;
use nic_model::burn::module::Module;
use nic_model::burn::tensor::Device;
use nic_model::{Compressor, SavedModel};

use crate::latent_codec::{Decoded, LatentCodec};
use crate::refine::{Effort, Problem, Progress};
use crate::shapes::{Grid, PictureShapes};
use crate::transforms::Transforms;
use crate::{CodecError, MAX_PIXELS};

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
    /// floating-point entropy model: the size an ideal entropy coder would reach. Measured
    /// only when asked for ([`Codec::with_ideal_bits`]): it runs the float entropy model once
    /// more, about a tenth of an encode.
    pub ideal_bits: Option<f64>,
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
    shapes: PictureShapes,
    y: Vec<f32>,
}

/// A loaded model with its latent codec, at one quality. Cloning is cheap (the model is
/// shared), so one variable-rate model serves every quality.
#[derive(Clone)]
pub struct Codec {
    pub model: Arc<SavedModel>,
    transforms: Transforms,
    latent_codec: Arc<LatentCodec>,
    /// The model on the autodiff device, made the first time a picture is refined.
    refiner: Arc<OnceLock<Compressor>>,
    quality: f64,
    max_pixels: u64,
    /// Whether [`EncodeStats::ideal_bits`] is measured.
    ideal_bits: bool,
}

impl Codec {
    pub fn new(model: SavedModel, device: Device) -> Result<Codec, CodecError> {
        let latent_codec = LatentCodec::new(&model)?;
        let info = &model.info;
        let quality = if info.architecture.is_variable_rate() {
            1.0
        } else {
            info.quality as f64
        };
        let model = Arc::new(model);
        Ok(Codec {
            transforms: Transforms::new(model.clone(), device),
            model,
            latent_codec: Arc::new(latent_codec),
            refiner: Arc::default(),
            quality,
            max_pixels: MAX_PIXELS,
            ideal_bits: false,
        })
    }

    /// Sets the largest picture, in pixels, this codec encodes or decodes (default
    /// [`MAX_PIXELS`]); the decoder checks it against the header before allocating anything.
    pub fn with_max_pixels(mut self, max_pixels: u64) -> Codec {
        self.max_pixels = max_pixels;
        self
    }

    /// Also measures each file's [`EncodeStats::ideal_bits`] (for `nic compare`'s coder
    /// overhead), at the cost of one more pass of the floating-point entropy model.
    pub fn with_ideal_bits(mut self, measure: bool) -> Codec {
        self.ideal_bits = measure;
        self
    }

    /// Sets the side of the tiles the transforms run on, in latents (16 pixels each; default
    /// [`crate::tiles::DEFAULT_TILE`]). Smaller tiles use less memory and repeat more work at
    /// their margins.
    pub fn with_tile_size(mut self, latents: usize) -> Codec {
        self.transforms.tile = latents.max(1);
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
        self.transforms.device.clone()
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
        nic_model::id_hex(&self.model.id)
    }

    /// The tensors of a `width × height` picture's file under this model.
    pub fn shapes(&self, width: u32, height: u32) -> PictureShapes {
        PictureShapes::new(&self.model.info.architecture, width, height)
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
        if width == 0 || height == 0 {
            return Err(CodecError::Input("the picture has no pixels".into()));
        }
        check_size(width, height, self.max_pixels)?;
        let shapes = self.shapes(width, height);
        let y = self.transforms.analyze(img, shapes.latents)?;
        Ok(Analyzed {
            width,
            height,
            shapes,
            y,
        })
    }

    /// Encodes analyzed latents at this codec's quality.
    pub fn encode_analyzed(&self, a: &Analyzed) -> Result<(Vec<u8>, EncodeStats), CodecError> {
        self.encode_latents(a, &self.quantize(a)?)
    }

    /// Encodes `img`, analyzed as `a`, at this codec's quality, its latents refined at
    /// `effort` first (see [`crate::refine`]); effort 0 is [`Codec::encode_analyzed`].
    pub fn encode_with_effort(
        &self,
        img: &RgbImage,
        a: &Analyzed,
        effort: Effort,
        progress: Option<Progress>,
    ) -> Result<(Vec<u8>, EncodeStats), CodecError> {
        match effort.schedule() {
            None => self.encode_analyzed(a),
            Some(schedule) => {
                let latents = self.refined(img, a, schedule, progress)?;
                self.encode_latents(a, &latents)
            }
        }
    }

    /// The integers to code for `img` (analyzed as `a`), refined with `schedule`.
    fn refined(
        &self,
        img: &RgbImage,
        a: &Analyzed,
        schedule: nic_model::Schedule,
        progress: Option<Progress>,
    ) -> Result<Latents, CodecError> {
        let grid = a.shapes.latents;
        let gains = self.gains(self.quality);
        let mut y = self.gained(a, gains.as_ref().map(|(g, _)| g.as_slice()));
        let side = self.latent_codec.side_latents(&self.transforms, &y, grid)?;
        let mut z = side.zip(a.shapes.side);
        let ad = self.transforms.device.clone().autodiff();
        let model = self
            .refiner
            .get_or_init(|| self.model.compressor.clone().fork(&ad).no_grad());
        let problem = Problem {
            img,
            y: &mut y,
            latents: grid,
            z: z.as_mut().map(|(v, g)| (v.as_mut_slice(), *g)),
            inverse: gains.as_ref().map(|(_, inv)| inv.as_slice()),
            lambda: self.lambda(),
        };
        crate::refine::refine(model, &ad, problem, schedule, progress)?;
        self.latent_codec
            .quantize_with_side(y, z.map(|(v, _)| v), grid)
    }

    /// The rate–distortion trade-off λ of this codec's quality: the model's, or a
    /// variable-rate model's levels' interpolated geometrically, as the gains are.
    pub fn lambda(&self) -> f64 {
        let info = &self.model.info;
        match info.lambdas.as_slice() {
            [] => info.lambda,
            lambdas => {
                let top = lambdas.len() - 1;
                let q = (self.quality - 1.0).clamp(0.0, top as f64);
                let lo = (q.floor() as usize).min(top.saturating_sub(1));
                let hi = (lo + 1).min(top);
                let t = q - lo as f64;
                (lambdas[lo].ln() * (1.0 - t) + lambdas[hi].ln() * t).exp()
            }
        }
    }

    /// Writes the file of `latents` (the integers of `a` at this quality).
    fn encode_latents(
        &self,
        a: &Analyzed,
        latents: &Latents,
    ) -> Result<(Vec<u8>, EncodeStats), CodecError> {
        let grid = a.shapes.latents;
        let coded = self.latent_codec.encode(latents, grid)?;
        let ideal_bits = self.ideal_bits.then(|| {
            self.latent_codec
                .ideal_bits(&self.transforms, latents, grid)
        });
        let payload_bytes = coded.payloads.iter().map(Vec::len).sum();
        let file = NicFile {
            model_id: self.model.id,
            width: a.width,
            height: a.height,
            quality_milli: (self.quality * 1000.0).round() as u32,
            latents: a
                .shapes
                .in_file_order()
                .into_iter()
                .zip(coded.payloads)
                .map(|(g, bytes)| LatentPayload {
                    channels: g.channels as u32,
                    height: g.height as u32,
                    width: g.width as u32,
                    bytes,
                })
                .collect(),
            metadata: Default::default(),
            means: self.model.info.architecture.has_means(),
            context: self.model.info.architecture.has_context(),
        };
        let out = file.to_bytes()?;
        let stats = EncodeStats {
            file_bytes: out.len(),
            header_bytes: out.len() - payload_bytes - 4,
            payload_bytes,
            side_bytes: coded.side_bytes,
            ideal_bits,
            table_bits: coded.table_bits,
        };
        Ok((out, stats))
    }

    /// The integers the encoder codes for analyzed latents at this codec's quality: the
    /// latents times the quality's gains, rounded (ties to even, as burn rounds them), and the
    /// rounded side latents of the hyperprior.
    pub fn quantize(&self, a: &Analyzed) -> Result<Latents, CodecError> {
        let gains = self.gains(self.quality);
        let gained = self.gained(a, gains.as_ref().map(|(g, _)| g.as_slice()));
        self.latent_codec
            .quantize(&self.transforms, gained, a.shapes.latents)
    }

    /// The analyzed latents times the per-channel `gains`, if any.
    fn gained(&self, a: &Analyzed, gains: Option<&[f32]>) -> Vec<f32> {
        let mut gained = a.y.clone();
        if let Some(g) = gains {
            for (c, chunk) in gained
                .chunks_exact_mut(a.shapes.latents.plane())
                .enumerate()
            {
                chunk.iter_mut().for_each(|v| *v *= g[c]);
            }
        }
        gained
    }

    /// Decodes a parsed file made by this model.
    pub fn decode(&self, file: &NicFile) -> Result<RgbImage, CodecError> {
        let decoded = self.decoded(file)?;
        let quality = file.quality_milli as f64 / 1000.0;
        let inverse = self.gains(quality).map(|(_, inv)| inv);
        self.transforms.synthesize(
            &decoded.values,
            inverse.as_deref(),
            self.shapes(file.width, file.height).latents,
            file.width,
            file.height,
        )
    }

    /// The integers of a file made by this model, entropy-decoded (the first half of
    /// [`Codec::decode`]); equal to what [`Codec::quantize`] gave the encoder.
    pub fn latents(&self, file: &NicFile) -> Result<Latents, CodecError> {
        Ok(self.decoded(file)?.latents)
    }

    /// The latent values the synthesis gets for a file made by this model (before inverse
    /// gains): its integers or, from a mean-scale model, the residuals plus their means. Both
    /// come from integer arithmetic, so they are the same bits on every device and thread
    /// count.
    pub fn dequantized(&self, file: &NicFile) -> Result<Vec<f32>, CodecError> {
        Ok(self.decoded(file)?.values)
    }

    fn decoded(&self, file: &NicFile) -> Result<Decoded, CodecError> {
        self.check(file)?;
        let payloads: Vec<&[u8]> = file.latents.iter().map(|l| l.bytes.as_slice()).collect();
        let grid = self.shapes(file.width, file.height).latents;
        self.latent_codec.decode(&payloads, grid)
    }

    /// Whether `file` is one this codec can decode: made by this model, within the size
    /// limit, at a quality of the model's range, with the tensors its size implies.
    fn check(&self, file: &NicFile) -> Result<(), CodecError> {
        if file.model_id != self.model.id {
            let info = &self.model.info;
            return Err(CodecError::WrongModel {
                file: nic_model::id_hex(&file.model_id),
                model: self.id_hex(),
                dir: match info.architecture.rate_levels {
                    0 => format!("quality {}", info.quality),
                    n => format!("variable rate, qualities 1–{n}"),
                },
            });
        }
        if file.width == 0 || file.height == 0 {
            return Err(CodecError::InvalidFile("the picture has no pixels".into()));
        }
        check_size(file.width, file.height, self.max_pixels)?;
        if file.means != self.model.info.architecture.has_means() {
            return Err(CodecError::InvalidFile(format!(
                "the file says its latents are {} means, the model that made it {}",
                if file.means {
                    "coded around"
                } else {
                    "not coded around"
                },
                if file.means {
                    "predicts none"
                } else {
                    "predicts them"
                }
            )));
        }
        if file.context != self.model.info.architecture.has_context() {
            return Err(CodecError::InvalidFile(format!(
                "the file says its latents are {} a context model, the model that made it {}",
                if file.context {
                    "coded with"
                } else {
                    "not coded with"
                },
                if file.context { "has none" } else { "has one" }
            )));
        }
        if self.model.info.architecture.is_variable_rate() {
            let (lo, hi) = self.quality_range();
            let q = file.quality_milli as f64 / 1000.0;
            if !(lo..=hi).contains(&q) {
                return Err(CodecError::InvalidFile(format!(
                    "quality {q} is outside this model's range {lo}–{hi}"
                )));
            }
        }
        let expected: Vec<_> = self
            .shapes(file.width, file.height)
            .in_file_order()
            .iter()
            .map(Grid::as_u32)
            .collect();
        let got: Vec<_> = file
            .latents
            .iter()
            .map(|l| (l.channels, l.height, l.width))
            .collect();
        if got != expected {
            return Err(CodecError::InvalidFile(format!(
                "latent tensors {got:?} do not match a {}×{} image and this model ({expected:?})",
                file.width, file.height
            )));
        }
        Ok(())
    }

    /// Gains and inverse gains at `quality` (variable-rate models only).
    fn gains(&self, quality: f64) -> Option<(Vec<f32>, Vec<f32>)> {
        let g = self.model.compressor.gains.as_ref()?;
        Some(g.at_quality(quality))
    }
}

fn check_size(width: u32, height: u32, limit: u64) -> Result<(), CodecError> {
    if width as u64 * height as u64 > limit {
        return Err(CodecError::TooLarge {
            width,
            height,
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Effort;
    use nic_model::{Architecture, ModelInfo};

    fn codec_of(arch: Architecture, seed: u64) -> Codec {
        Codec::new(nic_testkit::tiny_model(arch, seed), Device::flex()).unwrap()
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
        let grid = whole.shapes(100, 70).latents;
        assert_eq!((grid.height, grid.width), (5, 7));
        let a = whole.transforms.analyze(&img, grid).unwrap();
        let b = tiled.transforms.analyze(&img, grid).unwrap();
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
        let values: Vec<f32> = (0..8 * 35).map(|i| ((i * 7 % 11) - 5) as f32).collect();
        let pa = whole
            .transforms
            .synthesize(&values, None, grid, 100, 70)
            .unwrap();
        let pb = tiled
            .transforms
            .synthesize(&values, None, grid, 100, 70)
            .unwrap();
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

    /// A mean-scale model with detail latents (see nic_model's `transforms`).
    const TINY_DETAIL: Architecture = Architecture {
        latent_channels: 12,
        detail_channels: 4,
        ..Architecture::TINY_MEAN_SCALE
    };

    #[test]
    fn hyperprior_files_decode_to_the_encoders_latents_at_every_quality() {
        for arch in [
            Architecture::TINY_HYPER,
            Architecture::TINY_MEAN_SCALE,
            Architecture::TINY_CONTEXT,
            TINY_DETAIL,
        ] {
            hyperprior_round_trip(arch);
        }
    }

    fn hyperprior_round_trip(arch: Architecture) {
        let codec = codec_of(arch, 6).with_ideal_bits(true);
        assert_eq!(codec.quality_range(), (1.0, 3.0));
        let img = textured(150, 90); // latents 6×10, side latents 2×3
        let analyzed = codec.analyze(&img).unwrap();
        let mut sizes = Vec::new();
        for q in [1.0, 2.25, 3.0] {
            let c = codec.with_quality(q).unwrap();
            let (bytes, stats) = c.encode_analyzed(&analyzed).unwrap();
            let file = NicFile::parse(&bytes).unwrap();
            assert_eq!(file.means, arch.means);
            assert_eq!(file.context, arch.has_context());
            let version = match (arch.means, arch.has_context()) {
                (_, true) => 5,
                (true, false) => 4,
                _ => 2,
            };
            assert_eq!(bytes[4], version, "format version");
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
            let ideal = stats.ideal_bits.expect("measured");
            assert!((stats.table_bits - ideal).abs() < 0.1 * ideal + 64.0);
            sizes.push(stats.payload_bytes);
        }
        assert!(sizes[0] < sizes[2], "higher quality, more bytes: {sizes:?}");
        assert!(codec.with_quality(3.5).is_err() && codec.with_quality(f64::NAN).is_err());
        assert!(tiny_codec(1).with_quality(2.0).is_err());
    }

    #[test]
    fn context_files_of_any_size_decode_to_the_encoders_latents() {
        let model = nic_testkit::tiny_model(Architecture::TINY_CONTEXT, 4);
        let codec = Codec::new(model, Device::flex())
            .unwrap()
            .with_quality(2.0)
            .unwrap();
        // One latent (an anchor alone), one row, one column, odd grids.
        for (w, h) in [(16, 16), (40, 16), (16, 40), (70, 50)] {
            let analyzed = codec.analyze(&textured(w, h)).unwrap();
            let sent = codec.quantize(&analyzed).unwrap();
            let (bytes, _) = codec.encode_analyzed(&analyzed).unwrap();
            let file = NicFile::parse(&bytes).unwrap();
            assert!(file.context);
            assert_eq!(codec.latents(&file).unwrap(), sent, "{w}×{h}");
            let out = codec.decode(&file).unwrap();
            assert_eq!((out.width(), out.height()), (w, h));
        }
    }

    #[test]
    fn a_context_grown_at_zero_codes_the_same_integers_in_checkerboard_order() {
        let plain = nic_testkit::tiny_model(Architecture::TINY_MEAN_SCALE, 8);
        let grown = plain.compressor.clone().with_context(4);
        let arch = Architecture::TINY_CONTEXT;
        let info = ModelInfo::for_compressor(
            &grown,
            arch,
            0,
            plain.info.lambda,
            plain.info.lambdas.clone(),
        )
        .unwrap();
        let img = textured(150, 90);
        let encode = |model: SavedModel| {
            let codec = Codec::new(model, Device::flex())
                .unwrap()
                .with_quality(2.0)
                .unwrap();
            let (bytes, _) = codec.encode(&img).unwrap();
            (codec, NicFile::parse(&bytes).unwrap())
        };
        let (plain_codec, plain_file) = encode(plain);
        let (codec, file) = encode(SavedModel::new(grown, info));
        assert!(file.context && !plain_file.context);
        let latents = codec.latents(&file).unwrap();
        assert_eq!(latents, plain_codec.latents(&plain_file).unwrap());
        // Other order, same tables: the payload is within a few bytes of the plain one.
        let (a, b) = (
            file.latents[1].bytes.len(),
            plain_file.latents[1].bytes.len(),
        );
        assert!(a.abs_diff(b) <= 8, "{a} vs {b} bytes");
        assert_ne!(file.latents[1].bytes, plain_file.latents[1].bytes);
        // A file whose flag disagrees with its model is refused, not misdecoded.
        let lying = NicFile {
            context: false,
            ..file.clone()
        };
        let err = codec.decode(&lying).unwrap_err();
        assert!(matches!(err, CodecError::InvalidFile(_)), "{err}");
    }

    #[test]
    fn mean_scale_files_code_residuals_around_exact_means() {
        let scale = nic_testkit::tiny_model(Architecture::TINY_HYPER, 8);
        let img = textured(150, 90);
        let encode = |model: SavedModel| {
            let codec = Codec::new(model, Device::flex()).unwrap();
            let codec = codec.with_quality(2.0).unwrap();
            let (bytes, _) = codec.encode(&img).unwrap();
            let file = NicFile::parse(&bytes).unwrap();
            (codec, file)
        };
        // Means of zero: the scale hyperprior's payloads exactly, in a version-4 file.
        let zero = scale.compressor.clone().with_zero_means();
        let info = ModelInfo::for_compressor(
            &zero,
            Architecture::TINY_MEAN_SCALE,
            0,
            scale.info.lambda,
            scale.info.lambdas.clone(),
        )
        .unwrap();
        let (_, plain) = encode(scale);
        let (zero_codec, zeroed) = encode(SavedModel::new(zero, info));
        assert!(zeroed.means && !plain.means);
        assert_eq!(zeroed.latents, plain.latents);
        // A file whose flag disagrees with its model is refused, not misdecoded.
        let lying = NicFile {
            means: false,
            ..zeroed.clone()
        };
        let err = zero_codec.decode(&lying).unwrap_err();
        assert!(matches!(err, CodecError::InvalidFile(_)), "{err}");
        // Means that are not zero move the coded residuals, and the decoder adds them back:
        // its picture is the synthesis of residual + mean.
        let (codec, file) = encode(nic_testkit::tiny_model(Architecture::TINY_MEAN_SCALE, 8));
        let decoded = codec.decoded(&file).unwrap();
        let moved = decoded
            .values
            .iter()
            .zip(&decoded.latents.y)
            .filter(|(v, q)| **v != **q as f32)
            .count();
        assert!(moved * 2 > decoded.values.len(), "{moved} latents moved");
        let grid = codec.shapes(150, 90).latents;
        let inverse = codec.gains(2.0).map(|(_, inv)| inv);
        let want = codec
            .transforms
            .synthesize(&decoded.values, inverse.as_deref(), grid, 150, 90)
            .unwrap();
        assert_eq!(codec.decode(&file).unwrap(), want);
    }

    /// λ·255²·MSE + bpp of a file, as the refinement counts it (the ideal rate).
    fn cost(codec: &Codec, img: &RgbImage, bytes: &[u8], stats: &EncodeStats) -> f64 {
        let out = codec.decode(&NicFile::parse(bytes).unwrap()).unwrap();
        let mse: f64 = img
            .as_raw()
            .iter()
            .zip(out.as_raw())
            .map(|(&a, &b)| ((a as f64 - b as f64) / 255.0).powi(2))
            .sum::<f64>()
            / img.as_raw().len() as f64;
        let pixels = (img.width() * img.height()) as f64;
        codec.lambda() * 255.0 * 255.0 * mse + stats.ideal_bits.expect("measured") / pixels
    }

    #[test]
    fn effort_zero_is_the_single_pass_and_refined_files_cost_less() {
        for (arch, q) in [
            (Architecture::TINY, 1.0),
            (Architecture::TINY_HYPER, 2.5),
            (Architecture::TINY_MEAN_SCALE, 2.5),
            (TINY_DETAIL, 2.5),
        ] {
            let codec = codec_of(arch, 7)
                .with_ideal_bits(true)
                .with_quality(q)
                .unwrap();
            // 1,700 × 90 pixels: 107 × 6 latents, three tiles of the refinement side by side.
            for img in [textured(150, 90), textured(1700, 90)] {
                let a = codec.analyze(&img).unwrap();
                let (plain, plain_stats) = codec.encode_analyzed(&a).unwrap();
                let zero = codec
                    .encode_with_effort(&img, &a, Effort::default(), None)
                    .unwrap();
                assert_eq!(zero.0, plain, "effort 0 changes nothing");
                let calls = std::sync::atomic::AtomicUsize::new(0);
                let report = |done: usize, total: usize| {
                    assert!(done <= total);
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                };
                let effort = Effort::new(Effort::MAX).unwrap();
                let (refined, stats) = codec
                    .encode_with_effort(&img, &a, effort, Some(&report))
                    .unwrap();
                let tiles = img.width().div_ceil(16 * 4 * crate::refine::TILE as u32) as usize;
                let steps = effort.schedule().unwrap().steps;
                assert_eq!(calls.into_inner(), tiles * steps);
                // A standard file: any codec of the model decodes it.
                let out = codec_of(arch, 7).decode(&NicFile::parse(&refined).unwrap());
                assert_eq!(out.unwrap().dimensions(), img.dimensions());
                let (before, after) = (
                    cost(&codec, &img, &plain, &plain_stats),
                    cost(&codec, &img, &refined, &stats),
                );
                assert!(
                    after < before * 1.002,
                    "{arch:?} {}: {before} → {after}",
                    img.width()
                );
            }
        }
    }

    #[test]
    fn a_file_from_another_model_is_refused() {
        let (a, b) = (tiny_codec(3), tiny_codec(4));
        let (bytes, _) = a.encode(&picture(16, 16)).unwrap();
        let err = b.decode(&NicFile::parse(&bytes).unwrap()).unwrap_err();
        assert!(matches!(err, CodecError::WrongModel { .. }), "{err}");
    }
}
