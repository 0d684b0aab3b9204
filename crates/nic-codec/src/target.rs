//! Encoding to a target size or quality: the quality is searched per picture.
//!
//! Rate and distortion both move monotonically with the quality (in practice; the search does
//! not rely on it beyond bracketing). A variable-rate model is searched by bisection on the
//! thousandths the file stores, with the analysis transform run once; a set of single-rate
//! models is tried model by model.

use nic_format::NicFile;
use nic_image::RgbImage;

use crate::{Codec, CodecError, EncodeStats, ModelSet};

/// What `--target-bpp` / `--target-psnr` ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// The highest quality whose file is at most this many bits per pixel.
    Bpp(f64),
    /// The highest quality whose file is at most this many bytes.
    Bytes(u64),
    /// The lowest quality whose decoded picture reaches this PSNR (dB, RGB).
    Psnr(f64),
}

/// The chosen encoding.
#[derive(Debug, Clone)]
pub struct Targeted {
    pub bytes: Vec<u8>,
    pub stats: EncodeStats,
    pub quality: f64,
    pub bpp: f64,
    /// PSNR of the decoded picture (computed for PSNR targets only).
    pub psnr: Option<f64>,
    /// False if no quality meets the target: then the closest one (lowest quality for a rate
    /// target, highest for a PSNR target) is returned.
    pub met: bool,
    /// Encodings tried.
    pub tries: usize,
}

/// Stop bisecting when the bracket is this many thousandths wide.
const RESOLUTION: u32 = 5;

impl Target {
    /// Whether this is a size target (met by a quality and every one below it), not a PSNR
    /// one (met by a quality and every one above).
    pub fn is_size(&self) -> bool {
        matches!(self, Target::Bpp(_) | Target::Bytes(_))
    }

    fn meets(&self, t: &Trial) -> bool {
        match *self {
            Target::Bpp(b) => t.bpp <= b,
            Target::Bytes(n) => t.bytes.len() as u64 <= n,
            Target::Psnr(p) => t.psnr.is_some_and(|v| v >= p),
        }
    }
}

struct Trial {
    bytes: Vec<u8>,
    stats: EncodeStats,
    quality: f64,
    bpp: f64,
    psnr: Option<f64>,
}

/// Encodes `img` with the models of `set` on `codec`'s device at the quality that meets
/// `target`. `codec` is any quality of the set (its device and limits are used).
pub fn encode_to_target(
    set: &ModelSet,
    codec: &Codec,
    img: &RgbImage,
    target: Target,
) -> Result<Targeted, CodecError> {
    encode_to_target_with(set, codec, img, target, &|c, a| c.encode_analyzed(a))
}

/// The encoding of one trial: of the analyzed picture `a` with the codec `c`.
pub type TrialEncode<'a> =
    dyn Fn(&Codec, &crate::Analyzed) -> Result<(Vec<u8>, EncodeStats), CodecError> + 'a;

/// [`encode_to_target`], each quality tried encoded by `encode` (a refining encoder, say).
pub fn encode_to_target_with(
    set: &ModelSet,
    codec: &Codec,
    img: &RgbImage,
    target: Target,
    encode: &TrialEncode,
) -> Result<Targeted, CodecError> {
    let mut tries = 0;
    let mut trial = |c: &Codec, a: &crate::Analyzed| -> Result<Trial, CodecError> {
        tries += 1;
        let (bytes, stats) = encode(c, a)?;
        let psnr = match target {
            Target::Psnr(_) => {
                let out = c.decode(&NicFile::parse(&bytes)?)?;
                Some(nic_metrics::psnr(img.as_raw(), out.as_raw()))
            }
            Target::Bpp(_) | Target::Bytes(_) => None,
        };
        Ok(Trial {
            bpp: nic_metrics::bpp(bytes.len(), img.width(), img.height()),
            bytes,
            stats,
            quality: c.quality(),
            psnr,
        })
    };
    let (chosen, met) = if set.is_variable_rate() {
        let a = codec.analyze(img)?;
        let (lo, hi) = codec.quality_range();
        let at = |milli: u32| codec.with_quality(milli as f64 / 1000.0);
        let (mut lo, mut hi) = ((lo * 1000.0) as u32, (hi * 1000.0) as u32);
        let mut low = trial(&at(lo)?, &a)?;
        let mut high = trial(&at(hi)?, &a)?;
        // A rate target wants the highest quality that fits, a PSNR target the lowest that
        // reaches it; `good` is the end of the bracket that meets the target.
        let rate = target.is_size();
        match (rate, target.meets(&low), target.meets(&high)) {
            (true, _, true) => (high, true),
            (true, false, _) => (low, false),
            (false, true, _) => (low, true),
            (false, _, false) => (high, false),
            // Bracketed: the low end meets a rate target and the high end does not, or the
            // other way round for a PSNR target.
            _ => {
                while hi - lo > RESOLUTION {
                    let mid = lo + (hi - lo) / 2;
                    let t = trial(&at(mid)?, &a)?;
                    if target.meets(&t) == rate {
                        (lo, low) = (mid, t);
                    } else {
                        (hi, high) = (mid, t);
                    }
                }
                (if rate { low } else { high }, true)
            }
        }
    } else {
        // Every model, lowest quality first.
        let mut trials = set
            .qualities()
            .into_iter()
            .map(|q| {
                let c = set
                    .load(q as f64, &codec.device())?
                    .with_max_pixels(codec.max_pixels());
                trial(&c, &c.analyze(img)?)
            })
            .collect::<Result<Vec<_>, CodecError>>()?;
        // A rate target takes the highest quality that fits, else the lowest; a PSNR target
        // the lowest that reaches it, else the highest.
        if target.is_size() {
            trials.reverse();
        }
        match trials.iter().position(|t| target.meets(t)) {
            Some(i) => (trials.swap_remove(i), true),
            None => (trials.pop().expect("a model set has a model"), false),
        }
    };
    Ok(Targeted {
        bytes: chosen.bytes,
        stats: chosen.stats,
        quality: chosen.quality,
        bpp: chosen.bpp,
        psnr: chosen.psnr,
        met,
        tries,
    })
}
