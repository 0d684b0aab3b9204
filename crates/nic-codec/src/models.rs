//! Finding models on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nic_format::NicFile;
use nic_model::burn::tensor::Device;
use nic_model::{INFO_FILE, ModelInfo, SavedModel};

use crate::{Codec, CodecError};

/// The models of a folder: either one model (`DIR/model.json`) — a variable-rate model serves
/// every quality in its range — or a set of single-rate models in subfolders
/// (`DIR/q1/model.json`, `DIR/q2/model.json`, …), one per integer quality.
#[derive(Debug, Clone)]
pub struct ModelSet {
    pub dir: PathBuf,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Fixed(BTreeMap<u8, PathBuf>),
    Variable { dir: PathBuf, lambdas: Vec<f64> },
}

/// The λ of the quality `nic encode` picks by default in a variable-rate model: about 0.5 bpp
/// on photographs (level 5 of the default's ten).
const DEFAULT_LAMBDA: f64 = 0.0067;

impl ModelSet {
    pub fn open(dir: &Path) -> Result<ModelSet, CodecError> {
        let invalid = |p: &Path| {
            CodecError::Model(format!(
                "{}: not a valid nic model description",
                p.display()
            ))
        };
        let mut candidates = vec![dir.to_path_buf()];
        if !dir.join(INFO_FILE).is_file() {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| CodecError::Model(format!("{}: {e}", dir.display())))?;
            let mut subs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            subs.sort();
            candidates = subs;
        }
        let mut by_quality = BTreeMap::new();
        for d in candidates {
            let p = d.join(INFO_FILE);
            let Ok(text) = std::fs::read(&p) else {
                continue;
            };
            let (quality, lambdas) = read_quality(&text).ok_or_else(|| invalid(&p))?;
            if !lambdas.is_empty() {
                if d != dir {
                    return Err(CodecError::Model(format!(
                        "{}: a variable-rate model is a model folder of its own; pass --model {}",
                        dir.display(),
                        d.display()
                    )));
                }
                return Ok(ModelSet {
                    dir: dir.to_path_buf(),
                    kind: Kind::Variable { dir: d, lambdas },
                });
            }
            if let Some(prev) = by_quality.insert(quality, d.clone()) {
                return Err(CodecError::Model(format!(
                    "{} and {} both claim quality {}",
                    prev.display(),
                    d.display(),
                    quality
                )));
            }
        }
        if by_quality.is_empty() {
            return Err(CodecError::Model(format!(
                "{}: no nic model here (expected model.json, or subfolders with one)",
                dir.display()
            )));
        }
        Ok(ModelSet {
            dir: dir.to_path_buf(),
            kind: Kind::Fixed(by_quality),
        })
    }

    /// The qualities of the set: every model's, or a variable-rate model's levels (1, 2, …;
    /// it also encodes at any quality between them).
    pub fn qualities(&self) -> Vec<u8> {
        match &self.kind {
            Kind::Fixed(m) => m.keys().copied().collect(),
            Kind::Variable { lambdas, .. } => (1..=lambdas.len() as u8).collect(),
        }
    }

    /// The quality `nic encode` uses when none is given: the level of a variable-rate model
    /// whose λ is nearest [`DEFAULT_LAMBDA`] (about 0.5 bpp on photographs: 5 of the default's
    /// ten levels, whatever levels were added below them), or 2 of a set of single-rate
    /// models.
    pub fn default_quality(&self) -> f64 {
        match &self.kind {
            Kind::Variable { lambdas, .. } => default_quality(lambdas) as f64,
            Kind::Fixed(_) => 2.0,
        }
    }

    pub fn is_variable_rate(&self) -> bool {
        matches!(self.kind, Kind::Variable { .. })
    }

    /// Loads the model of `quality` onto `device`, as a codec at that quality.
    pub fn load(&self, quality: f64, device: &Device) -> Result<Codec, CodecError> {
        let dir = match &self.kind {
            Kind::Variable { dir, .. } => dir,
            Kind::Fixed(m) => {
                let q = quality as u8;
                m.get(&q)
                    .filter(|_| q as f64 == quality)
                    .ok_or_else(|| {
                        CodecError::Model(format!(
                            "no model of quality {quality} in {} (available: {:?}; a variable-rate model takes any quality in its range)",
                            self.dir.display(),
                            self.qualities()
                        ))
                    })?
            }
        };
        let model = SavedModel::load(dir, device).map_err(|e| CodecError::Model(e.to_string()))?;
        Codec::new(model, device.clone())?.with_quality(quality)
    }
}

impl ModelSet {
    /// The codec that decodes `file`: the model of the quality it was encoded at. A quality
    /// outside the models' range is the file's fault, not the caller's.
    pub fn load_for(&self, file: &NicFile, device: &Device) -> Result<Codec, CodecError> {
        self.load(file.quality_milli as f64 / 1000.0, device)
            .map_err(|e| match e {
                CodecError::Quality { .. } => CodecError::InvalidFile(format!("the file's {e}")),
                e => e,
            })
    }
}

/// The quality (level + 1) whose λ is nearest [`DEFAULT_LAMBDA`] on a log scale.
fn default_quality(lambdas: &[f64]) -> usize {
    let off = |l: &f64| (l / DEFAULT_LAMBDA).ln().abs();
    let nearest = lambdas
        .iter()
        .enumerate()
        .min_by(|a, b| off(a.1).total_cmp(&off(b.1)));
    nearest.map_or(1, |(level, _)| level + 1)
}

/// The quality of a single-rate `model.json` and the λ of a variable-rate one's levels (none
/// for a single-rate one); the rest is checked when the model is loaded.
fn read_quality(text: &[u8]) -> Option<(u8, Vec<f64>)> {
    let info: ModelInfo = serde_json::from_slice(text).ok()?;
    let variable = info.architecture.rate_levels > 0;
    (!variable || info.lambdas.len() == info.architecture.rate_levels)
        .then(|| (info.quality, if variable { info.lambdas } else { vec![] }))
}

/// Where the bundled models are: `$NIC_MODEL_DIR`, else `models/default` in the current
/// folder, else `models/default` above the executable (so `target/release/nic` finds the
/// repository's models).
pub fn default_model_dir() -> Result<PathBuf, CodecError> {
    if let Some(d) = std::env::var_os("NIC_MODEL_DIR") {
        return Ok(PathBuf::from(d));
    }
    let mut tried = vec![PathBuf::from("models/default")];
    if let Ok(exe) = std::env::current_exe() {
        tried.extend(exe.ancestors().skip(1).map(|a| a.join("models/default")));
    }
    tried.iter().find(|d| d.is_dir()).cloned().ok_or_else(|| {
        CodecError::Model(
            "no default model found: pass --model DIR or set NIC_MODEL_DIR".to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_quality_follows_lambda_not_the_level_number() {
        let eight = [0.0009, 0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932];
        assert_eq!(default_quality(&eight), 4);
        let ten: Vec<f64> = [0.00047]
            .iter()
            .chain(&eight)
            .chain(&[0.18])
            .copied()
            .collect();
        assert_eq!(default_quality(&ten), 5);
        assert_eq!(default_quality(&[0.05, 0.1, 0.2]), 1);
        assert_eq!(default_quality(&[0.0001, 0.0002, 0.01]), 3);
    }
}
