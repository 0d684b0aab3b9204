//! Finding models on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nic_model::burn::tensor::Device;
use nic_model::{INFO_FILE, SavedModel};

use crate::{Codec, CodecError};

/// The models of a folder, by quality: either one model (`DIR/model.json`) or a set of them
/// in subfolders (`DIR/q1/model.json`, `DIR/q2/model.json`, …).
#[derive(Debug, Clone)]
pub struct ModelSet {
    pub dir: PathBuf,
    by_quality: BTreeMap<u8, PathBuf>,
}

impl ModelSet {
    pub fn open(dir: &Path) -> Result<ModelSet, CodecError> {
        let mut by_quality = BTreeMap::new();
        let mut candidates = vec![dir.to_path_buf()];
        if !dir.join(INFO_FILE).is_file() {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| CodecError::Model(format!("{}: {e}", dir.display())))?;
            let mut subs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            subs.sort();
            candidates = subs;
        }
        for d in candidates {
            let p = d.join(INFO_FILE);
            let Ok(text) = std::fs::read(&p) else {
                continue;
            };
            let quality = read_quality(&text).ok_or_else(|| {
                CodecError::Model(format!(
                    "{}: not a valid nic model description",
                    p.display()
                ))
            })?;
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
            by_quality,
        })
    }

    pub fn qualities(&self) -> Vec<u8> {
        self.by_quality.keys().copied().collect()
    }

    fn path(&self, quality: u8) -> Option<&Path> {
        self.by_quality.get(&quality).map(PathBuf::as_path)
    }

    /// Loads the model of `quality` onto `device`.
    pub fn load(&self, quality: u8, device: &Device) -> Result<Codec, CodecError> {
        let dir = self.path(quality).ok_or_else(|| {
            CodecError::Model(format!(
                "no model of quality {quality} in {} (available: {:?})",
                self.dir.display(),
                self.qualities()
            ))
        })?;
        let model = SavedModel::load(dir, device).map_err(|e| CodecError::Model(e.to_string()))?;
        Codec::new(model, device.clone())
    }
}

/// Reads only the quality of a `model.json`; the rest is checked when the model is loaded.
fn read_quality(text: &[u8]) -> Option<u8> {
    #[derive(serde::Deserialize)]
    struct Quality {
        quality: u8,
    }
    serde_json::from_slice::<Quality>(text)
        .ok()
        .map(|q| q.quality)
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
