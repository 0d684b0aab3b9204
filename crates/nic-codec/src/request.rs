//! The encode policy: what a caller asks for (a quality, or a size or PSNR target; limits),
//! checked once, and an [`Encoder`] that carries it out picture after picture. The command
//! line, `nic compare` and `nic bench` all encode through it, so a default or a check lives
//! here and nowhere else.

use nic_image::RgbImage;
use nic_model::burn::tensor::Device;

use nic_format::{Metadata, NicFile};

use crate::refine::Progress;
use crate::{
    Codec, CodecError, Effort, EncodeStats, MAX_PIXELS, ModelSet, Target, encode_to_target_with,
};

/// How the quality of an encoding is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// The model set's default ([`ModelSet::default_quality`]).
    Default,
    /// This quality: a real number in a variable-rate model's range, or the number of a
    /// single-rate model of the set.
    Quality(f64),
    /// The quality this picture needs to meet a target, searched per picture.
    Target(Target),
}

impl Rate {
    /// The rate of at most one of a quality, a bits-per-pixel target and a PSNR target (as
    /// `nic encode` takes them), each checked: a target must be a positive number of bits per
    /// pixel or a finite PSNR.
    pub fn from_options(
        quality: Option<f64>,
        target_bpp: Option<f64>,
        target_psnr: Option<f64>,
    ) -> Result<Rate, CodecError> {
        let request = |m: String| Err(CodecError::Request(m));
        match (quality, target_bpp, target_psnr) {
            (None, None, None) => Ok(Rate::Default),
            (Some(q), None, None) => Ok(Rate::Quality(q)),
            (None, Some(b), None) if b.is_finite() && b > 0.0 => Ok(Rate::Target(Target::Bpp(b))),
            (None, Some(b), None) => request(format!("target of {b} bpp: must be positive")),
            (None, None, Some(p)) if p.is_finite() => Ok(Rate::Target(Target::Psnr(p))),
            (None, None, Some(p)) => request(format!("target of {p} dB: must be a number")),
            _ => request("a quality, a size target or a PSNR target: one of them".into()),
        }
    }
}

/// What an encode asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncodeRequest {
    pub rate: Rate,
    /// Encoder time spent on each picture's latents (see [`crate::refine`]).
    pub effort: Effort,
    /// Pictures larger than this many pixels are refused (see [`MAX_PIXELS`]).
    pub max_pixels: u64,
    /// Also measure the information content under the floating-point entropy model
    /// ([`crate::EncodeStats::ideal_bits`]; slower).
    pub ideal_bits: bool,
}

impl Default for EncodeRequest {
    fn default() -> Self {
        EncodeRequest {
            rate: Rate::Default,
            effort: Effort::default(),
            max_pixels: MAX_PIXELS,
            ideal_bits: false,
        }
    }
}

/// One picture, encoded.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The `.nic` file.
    pub bytes: Vec<u8>,
    pub stats: EncodeStats,
    /// The quality used.
    pub quality: f64,
    /// With a target: whether the quality met it (if not, the closest was used), the decoded
    /// picture's PSNR (PSNR targets), and the encodings tried.
    pub search: Option<Search>,
    /// Whether the latents were refined (an effort above 0).
    pub refined: bool,
}

/// How a target search went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Search {
    pub target: Target,
    pub met: bool,
    pub psnr: Option<f64>,
    pub tries: usize,
}

/// A model set loaded on a device for one [`EncodeRequest`].
pub struct Encoder {
    set: ModelSet,
    codec: Codec,
    request: EncodeRequest,
}

impl Encoder {
    /// Loads the model the request needs (for a target, any model of the set to start from)
    /// and checks its quality against the set.
    pub fn new(
        set: ModelSet,
        device: &Device,
        request: EncodeRequest,
    ) -> Result<Encoder, CodecError> {
        let quality = match request.rate {
            Rate::Default => set.default_quality(),
            Rate::Quality(q) => q,
            Rate::Target(_) => set.qualities()[0] as f64,
        };
        let codec = set
            .load(quality, device)?
            .with_max_pixels(request.max_pixels)
            .with_ideal_bits(request.ideal_bits);
        Ok(Encoder {
            set,
            codec,
            request,
        })
    }

    /// The same models for another rate: a variable-rate model is shared, not loaded again.
    pub fn with_rate(&self, rate: Rate) -> Result<Encoder, CodecError> {
        let request = EncodeRequest {
            rate,
            ..self.request
        };
        let codec = match rate {
            Rate::Quality(q) if self.set.is_variable_rate() => self.codec.with_quality(q)?,
            Rate::Default | Rate::Quality(_) | Rate::Target(_) => {
                return Encoder::new(self.set.clone(), &self.codec.device(), request);
            }
        };
        Ok(Encoder {
            set: self.set.clone(),
            codec,
            request,
        })
    }

    /// The same models and rate at another effort.
    pub fn with_effort(&self, effort: Effort) -> Encoder {
        Encoder {
            set: self.set.clone(),
            codec: self.codec.clone(),
            request: EncodeRequest {
                effort,
                ..self.request
            },
        }
    }

    /// The models it encodes with.
    pub fn model_set(&self) -> &ModelSet {
        &self.set
    }

    /// What this encoder was made for.
    pub fn request(&self) -> &EncodeRequest {
        &self.request
    }

    /// The codec at the request's quality (the search's starting point for a target).
    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    pub fn encode(&self, img: &RgbImage) -> Result<Encoded, CodecError> {
        self.encode_with(img, &Metadata::default())
    }

    /// [`Encoder::encode`], the file carrying `metadata` (a grayscale flag, EXIF, an ICC
    /// profile). The metadata does not change the coded pixels; a size target counts the
    /// pixels' bytes only.
    pub fn encode_with(&self, img: &RgbImage, metadata: &Metadata) -> Result<Encoded, CodecError> {
        self.encode_inner(img, metadata, None)
    }

    fn encode_inner(
        &self,
        img: &RgbImage,
        metadata: &Metadata,
        progress: Option<Progress>,
    ) -> Result<Encoded, CodecError> {
        let mut encoded = self.encode_pixels(img, progress)?;
        if *metadata != Metadata::default() {
            let mut file = NicFile::parse(&encoded.bytes)?;
            file.metadata = metadata.clone();
            let bytes = file.to_bytes()?;
            let added = bytes.len() - encoded.bytes.len();
            encoded.stats.file_bytes += added;
            encoded.stats.header_bytes += added;
            encoded.bytes = bytes;
        }
        Ok(encoded)
    }

    /// [`Encoder::encode_with`], reporting the refinement's progress (an effort above 0).
    pub fn encode_with_progress(
        &self,
        img: &RgbImage,
        metadata: &Metadata,
        progress: Progress,
    ) -> Result<Encoded, CodecError> {
        self.encode_inner(img, metadata, Some(progress))
    }

    fn encode_pixels(
        &self,
        img: &RgbImage,
        progress: Option<Progress>,
    ) -> Result<Encoded, CodecError> {
        let effort = self.request.effort;
        match self.request.rate {
            Rate::Default | Rate::Quality(_) => {
                let a = self.codec.analyze(img)?;
                let (bytes, stats) = self.codec.encode_with_effort(img, &a, effort, progress)?;
                Ok(Encoded {
                    bytes,
                    stats,
                    quality: self.codec.quality(),
                    search: None,
                    refined: effort.schedule().is_some(),
                })
            }
            Rate::Target(target) => {
                // Every quality the search tries is encoded at the request's effort (refining
                // inside the search): measured against searching at effort 0 and refining the
                // chosen quality, it gave 0.07–0.18 dB more at the same size target (6 Kodak
                // pictures at 0.5 bpp, effort 1; docs/results.md), for about 9× the time.
                // `progress` reports each try's refinement in turn.
                let encode =
                    |c: &Codec, a: &crate::Analyzed| c.encode_with_effort(img, a, effort, progress);
                let r = encode_to_target_with(&self.set, &self.codec, img, target, &encode)?;
                Ok(Encoded {
                    bytes: r.bytes,
                    stats: r.stats,
                    quality: r.quality,
                    search: Some(Search {
                        target,
                        met: r.met,
                        psnr: r.psnr,
                        tries: r.tries,
                    }),
                    refined: effort.schedule().is_some(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_checked_once_here() {
        assert_eq!(Rate::from_options(None, None, None).unwrap(), Rate::Default);
        assert_eq!(
            Rate::from_options(Some(4.5), None, None).unwrap(),
            Rate::Quality(4.5)
        );
        assert_eq!(
            Rate::from_options(None, Some(0.4), None).unwrap(),
            Rate::Target(Target::Bpp(0.4))
        );
        assert_eq!(
            Rate::from_options(None, None, Some(32.0)).unwrap(),
            Rate::Target(Target::Psnr(32.0))
        );
        for bad in [
            Rate::from_options(None, Some(0.0), None),
            Rate::from_options(None, Some(f64::NAN), None),
            Rate::from_options(None, None, Some(f64::INFINITY)),
            Rate::from_options(Some(2.0), Some(0.4), None),
        ] {
            assert!(matches!(bad, Err(CodecError::Request(_))), "{bad:?}");
        }
    }
}
