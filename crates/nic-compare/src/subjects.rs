//! The codecs under test behind one interface: nic at each of its qualities, and the lossy
//! baselines. nic also reports where its bytes go (the rate breakdown).

use std::path::Path;

use nic_baselines::{LosslessCodec, LossyCodec};
use nic_codec::{Effort, EncodeRequest, Encoder, ModelSet, Rate};
use nic_format::NicFile;
use nic_image::RgbImage;
use nic_model::burn::tensor::Device;
use serde::Serialize;

use crate::CompareError;

/// Where the bytes of one nic file go.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RateBreakdown {
    /// Header and CRC: everything but the coded latents.
    pub container_bytes: usize,
    /// Coded bytes of each latent tensor, in file order.
    pub tensor_bytes: Vec<usize>,
    /// Information content of the latents under the model's floating-point prior, in bits: what
    /// an ideal entropy coder would spend.
    pub ideal_bits: f64,
}

/// An encoded file, with nic's breakdown of it.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub breakdown: Option<RateBreakdown>,
}

/// A lossy codec swept over its quality settings.
pub trait Subject: Send + Sync {
    fn name(&self) -> &str;
    fn description(&self) -> String;
    fn qualities(&self) -> Vec<u8>;
    fn encode(&self, image: &RgbImage, quality: u8) -> Result<Encoded, CompareError>;
    fn decode(&self, data: &[u8]) -> Result<RgbImage, CompareError>;
}

/// A classical codec from `nic-baselines`.
struct Baseline(Box<dyn LossyCodec>);

impl Subject for Baseline {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn description(&self) -> String {
        self.0.description()
    }
    fn qualities(&self) -> Vec<u8> {
        self.0.qualities()
    }
    fn encode(&self, image: &RgbImage, quality: u8) -> Result<Encoded, CompareError> {
        Ok(Encoded {
            bytes: self.0.encode(image, quality)?,
            breakdown: None,
        })
    }
    fn decode(&self, data: &[u8]) -> Result<RgbImage, CompareError> {
        Ok(self.0.decode(data)?)
    }
}

/// nic with every model of a model folder loaded, one encoder per quality, at one effort:
/// named `nic` at effort 0, `nic-effort-N` above.
pub struct Nic {
    name: String,
    dir: String,
    effort: Effort,
    encoders: Vec<Encoder>,
}

/// The name of nic's subject at `effort`.
pub fn nic_name(effort: Effort) -> String {
    match effort.level() {
        0 => "nic".to_string(),
        n => format!("nic-effort-{n}"),
    }
}

impl Nic {
    pub fn open(dir: &Path, device: &Device, effort: Effort) -> Result<Nic, CompareError> {
        let set = ModelSet::open(dir)?;
        let qualities = set.qualities();
        let first = EncodeRequest {
            rate: Rate::Quality(qualities[0] as f64),
            effort,
            // The coder overhead of the results is measured against it.
            ideal_bits: true,
            ..EncodeRequest::default()
        };
        let base = Encoder::new(set, device, first)?;
        let encoders = qualities
            .into_iter()
            .map(|q| base.with_rate(Rate::Quality(q as f64)))
            .collect::<Result<_, _>>()?;
        Ok(Nic {
            name: nic_name(effort),
            dir: dir.display().to_string(),
            effort,
            encoders,
        })
    }

    fn encoder(&self, quality: u8) -> Result<&Encoder, CompareError> {
        self.encoders
            .iter()
            .find(|e| e.codec().quality() == quality as f64)
            .ok_or_else(|| CompareError::Invalid(format!("no nic model for quality {quality}")))
    }
}

impl Subject for Nic {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> String {
        let arch = self.encoders[0].codec().model.info.architecture;
        let effort = match self.effort.level() {
            0 => String::new(),
            n => format!(", encoder effort {n} (latents refined per picture)"),
        };
        format!(
            "nic, learned codec ({} analysis/synthesis channels, {} latent channels{}, {}{}), \
             models {} (qualities {}){effort}",
            arch.channels,
            arch.latent_channels,
            match arch.detail_channels {
                0 => String::new(),
                k => format!(" ({k} of them detail latents of 16×16 blocks)"),
            },
            if arch.has_hyperprior() {
                format!(
                    "{} hyperprior with {} side channels{}",
                    if arch.has_means() {
                        "mean-scale"
                    } else {
                        "scale"
                    },
                    arch.hyper_channels,
                    match arch.has_context() {
                        true => format!(
                            " and a checkerboard context of {} channels",
                            arch.context_channels
                        ),
                        false => String::new(),
                    }
                )
            } else {
                "factorized prior".to_string()
            },
            if arch.is_variable_rate() {
                ", one variable-rate model"
            } else {
                ""
            },
            self.dir,
            self.qualities()
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    fn qualities(&self) -> Vec<u8> {
        self.encoders
            .iter()
            .map(|e| e.codec().quality() as u8)
            .collect()
    }

    fn encode(&self, image: &RgbImage, quality: u8) -> Result<Encoded, CompareError> {
        let encoder = self.encoder(quality)?;
        let nic_codec::Encoded { bytes, stats, .. } = encoder.encode(image)?;
        let codec = encoder.codec();
        // Payload sizes in file order: side latents first, with a hyperprior.
        let mut tensor_bytes = vec![stats.payload_bytes - stats.side_bytes];
        if codec.model.info.architecture.has_hyperprior() {
            tensor_bytes.insert(0, stats.side_bytes);
        }
        let breakdown = RateBreakdown {
            container_bytes: stats.file_bytes - stats.payload_bytes,
            tensor_bytes,
            ideal_bits: stats.ideal_bits.ok_or_else(|| {
                CompareError::Invalid("the encoder did not measure the ideal bits".into())
            })?,
        };
        Ok(Encoded {
            bytes,
            breakdown: Some(breakdown),
        })
    }

    fn decode(&self, data: &[u8]) -> Result<RgbImage, CompareError> {
        let file = NicFile::parse(data).map_err(nic_codec::CodecError::from)?;
        // Compared files are made at integer qualities (a set's models, or a variable-rate
        // model's levels).
        Ok(self
            .encoder((file.quality_milli / 1000) as u8)?
            .codec()
            .decode(&file)?)
    }
}

/// Which codecs a comparison runs, from `--codecs` names.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    names: Vec<String>,
}

impl Selection {
    /// Names accepted by [`Selection::parse`], in report order.
    pub fn known() -> Vec<&'static str> {
        let mut names = vec!["nic"];
        names.extend(nic_baselines::lossy_codecs().iter().map(|c| c.name()));
        names.push("lossless");
        names
    }

    /// Every codec.
    pub fn all() -> Selection {
        Selection {
            names: Self::known().into_iter().map(String::from).collect(),
        }
    }

    /// A comma-separated list of names (`all` for every codec), checked against
    /// [`Selection::known`].
    pub fn parse(list: &str) -> Result<Selection, CompareError> {
        let mut names = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "all" {
                return Ok(Self::all());
            }
            if name == "avif" && !Self::known().contains(&name) {
                return Err(CompareError::Selection(
                    "avif is not compiled in: build with `cargo build --release -p nic-cli \
                     --features avif` (needs CMake and NASM)"
                        .into(),
                ));
            }
            if !Self::known().contains(&name) {
                return Err(CompareError::Selection(format!(
                    "unknown codec {name:?}; known: {}, all",
                    Self::known().join(", ")
                )));
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        if names.is_empty() {
            return Err(CompareError::Selection("no codecs selected".into()));
        }
        // Keep the report order whatever the order given.
        let order = Self::known();
        names.sort_by_key(|n| order.iter().position(|k| k == n));
        Ok(Selection { names })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The selected lossy codecs, nic first, its models loaded from `model_dir`: at effort
    /// 0 and, if `effort` is above, at that effort too.
    pub fn subjects(
        &self,
        model_dir: Option<&Path>,
        device: &Device,
        effort: Effort,
    ) -> Result<Vec<Box<dyn Subject>>, CompareError> {
        let mut subjects: Vec<Box<dyn Subject>> = Vec::new();
        if self.contains("nic") {
            let dir = model_dir
                .ok_or_else(|| CompareError::Invalid("nic needs a model folder".into()))?;
            subjects.push(Box::new(Nic::open(dir, device, Effort::default())?));
            if effort != Effort::default() {
                subjects.push(Box::new(Nic::open(dir, device, effort)?));
            }
        }
        for codec in nic_baselines::lossy_codecs() {
            if self.contains(codec.name()) {
                subjects.push(Box::new(Baseline(codec)));
            }
        }
        Ok(subjects)
    }

    /// The lossless references, if selected.
    pub fn lossless(&self) -> Vec<Box<dyn LosslessCodec>> {
        if self.contains("lossless") {
            nic_baselines::lossless_codecs()
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_parses_names_in_report_order() {
        let s = Selection::parse("webp, nic,jpeg-turbo-420,webp").unwrap();
        assert_eq!(s.names, ["nic", "jpeg-turbo-420", "webp"]);
        assert_eq!(Selection::parse("all").unwrap(), Selection::all());
        let e = Selection::parse("nic,jpeg2000").unwrap_err().to_string();
        assert!(
            e.contains("unknown codec \"jpeg2000\"") && e.contains("jpeg-turbo-444"),
            "{e}"
        );
        assert!(Selection::parse(" , ").is_err());
    }
}
