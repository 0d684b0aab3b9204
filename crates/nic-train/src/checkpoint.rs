//! Checkpoint files: a JSON state, the model record, the optimizer record and the averaged
//! weights' record (`--ema`), with a CRC-32.
//!
//! Layout: `NICCKPT2`, then four length-prefixed (u64 LE) sections — state JSON, model
//! burnpack, optimizer record, averaged model burnpack (empty without an average) — then the
//! CRC-32 (u32 LE) of everything before it. `NICCKPT1` files (written before averaging
//! existed) have the first three sections and still load.

use std::path::{Path, PathBuf};

use nic_model::Architecture;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{LatentWarmup, LevelBalance};

const MAGIC: &[u8; 8] = b"NICCKPT2";
/// The layout before averaged weights: three sections.
const MAGIC_1: &[u8; 8] = b"NICCKPT1";
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";
pub const PREVIOUS_FILE: &str = "checkpoint.prev.bin";

/// What must not change between a run and its resumption.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunKey {
    pub architecture: Architecture,
    pub lambda: f64,
    /// Rate levels' λ of a variable-rate run (absent before variable rates: none).
    #[serde(default)]
    pub lambdas: Vec<f64>,
    pub batch: usize,
    pub crop: usize,
    /// Mosaic factor (absent in checkpoints made before mosaics existed: 1).
    #[serde(default = "one")]
    pub mosaic: usize,
    pub seed: u64,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    pub key: RunKey,
    /// Steps completed.
    pub step: u64,
    /// Training wall time so far, over all sessions.
    pub elapsed_seconds: f64,
    /// The rate of latents this run added to its `--init` model, phased in (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_warmup: Option<LatentWarmup>,
    /// The rate levels' running mean losses of a `--balance-levels` run (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_balance: Option<LevelBalance>,
    #[serde(skip)]
    pub model: Vec<u8>,
    #[serde(skip)]
    pub optimizer: Vec<u8>,
    /// The averaged weights' record; empty when the run keeps no average.
    #[serde(skip)]
    pub average: Vec<u8>,
}

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: corrupt checkpoint ({reason})")]
    Corrupt { path: PathBuf, reason: &'static str },
}

impl Checkpoint {
    pub fn to_bytes(&self) -> Vec<u8> {
        let state = serde_json::to_vec(self).expect("checkpoint state serializes");
        let mut out = Vec::with_capacity(
            48 + state.len() + self.model.len() + self.optimizer.len() + self.average.len(),
        );
        out.extend_from_slice(MAGIC);
        for section in [&state, &self.model, &self.optimizer, &self.average] {
            out.extend_from_slice(&(section.len() as u64).to_le_bytes());
            out.extend_from_slice(section);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn from_bytes(data: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let corrupt = |reason| CheckpointError::Corrupt {
            path: path.into(),
            reason,
        };
        let count = match data.get(..8) {
            Some(m) if m == MAGIC && data.len() >= 12 => 4,
            Some(m) if m == MAGIC_1 && data.len() >= 12 => 3,
            _ => return Err(corrupt("not a nic checkpoint")),
        };
        let (body, crc) = data.split_at(data.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().unwrap()) {
            return Err(corrupt("checksum mismatch"));
        }
        let mut pos = MAGIC.len();
        let mut sections = Vec::with_capacity(4);
        for _ in 0..count {
            let len = body.get(pos..pos + 8).ok_or(corrupt("truncated"))?;
            let len = u64::from_le_bytes(len.try_into().unwrap()) as usize;
            pos += 8;
            let s = body
                .get(pos..pos.checked_add(len).ok_or(corrupt("bad length"))?)
                .ok_or(corrupt("truncated"))?;
            sections.push(s.to_vec());
            pos += len;
        }
        let mut ck: Checkpoint =
            serde_json::from_slice(&sections[0]).map_err(|_| corrupt("bad state"))?;
        if count == 4 {
            ck.average = sections.pop().unwrap();
        }
        ck.optimizer = sections.pop().unwrap();
        ck.model = sections.pop().unwrap();
        Ok(ck)
    }

    /// Writes `dir/checkpoint.bin` atomically, keeping the one it replaces as
    /// `checkpoint.prev.bin` in case the newest is ever unreadable.
    pub fn save(&self, dir: &Path) -> Result<(), CheckpointError> {
        let cur = dir.join(CHECKPOINT_FILE);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CheckpointError::Io { path, source }
        };
        let bytes = self.to_bytes();
        let tmp = dir.join(".checkpoint.next");
        nic_fs::write_atomic(&tmp, &bytes).map_err(io(&tmp))?;
        if cur.exists() {
            std::fs::rename(&cur, dir.join(PREVIOUS_FILE)).map_err(io(&cur))?;
        }
        std::fs::rename(&tmp, &cur).map_err(io(&cur))?;
        Ok(())
    }

    /// The newest readable checkpoint in `dir`: `checkpoint.bin`, or `checkpoint.prev.bin` if
    /// that is missing or corrupt. Returns the checkpoint and warnings about files skipped.
    pub fn load_latest(dir: &Path) -> Result<Option<(Checkpoint, Vec<String>)>, CheckpointError> {
        let mut warnings = Vec::new();
        for name in [CHECKPOINT_FILE, PREVIOUS_FILE] {
            let path = dir.join(name);
            let data = match std::fs::read(&path) {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(CheckpointError::Io { path, source }),
            };
            match Checkpoint::from_bytes(&data, &path) {
                Ok(ck) => return Ok(Some((ck, warnings))),
                Err(e) => warnings.push(format!("{e}; trying the previous checkpoint")),
            }
        }
        if warnings.is_empty() {
            Ok(None)
        } else {
            Err(CheckpointError::Corrupt {
                path: dir.join(CHECKPOINT_FILE),
                reason: "no readable checkpoint left",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(step: u64) -> Checkpoint {
        Checkpoint {
            key: RunKey {
                architecture: Architecture::TINY,
                lambda: 0.01,
                lambdas: vec![],
                batch: 4,
                crop: 32,
                mosaic: 1,
                seed: 1,
            },
            step,
            elapsed_seconds: 1.5,
            latent_warmup: Some(LatentWarmup {
                first: 2,
                channels: 4,
                steps: 10,
            }),
            level_balance: Some({
                let mut b = LevelBalance::new(2);
                b.update(&[1], &[0.5]);
                b
            }),
            model: vec![1, 2, 3],
            optimizer: vec![4; 100],
            average: vec![5; 7],
        }
    }

    #[test]
    fn round_trip_and_corruption_fallback() {
        let dir = tempfile::tempdir().unwrap();
        sample(10).save(dir.path()).unwrap();
        sample(20).save(dir.path()).unwrap();
        let (ck, w) = Checkpoint::load_latest(dir.path()).unwrap().unwrap();
        assert_eq!(ck, sample(20));
        assert!(w.is_empty());
        // Corrupt the newest: the previous one is used, with a warning.
        let p = dir.path().join(CHECKPOINT_FILE);
        let mut b = std::fs::read(&p).unwrap();
        let n = b.len();
        b[n / 2] ^= 0x40;
        std::fs::write(&p, b).unwrap();
        let (ck, w) = Checkpoint::load_latest(dir.path()).unwrap().unwrap();
        assert_eq!(ck.step, 10);
        assert!(w[0].contains("checksum"));
    }

    #[test]
    fn checkpoints_from_before_averaging_still_load() {
        // A NICCKPT1 file: the first three sections only.
        let ck = sample(3);
        let state = serde_json::to_vec(&ck).unwrap();
        let mut old = MAGIC_1.to_vec();
        for section in [&state, &ck.model, &ck.optimizer] {
            old.extend_from_slice(&(section.len() as u64).to_le_bytes());
            old.extend_from_slice(section);
        }
        old.extend_from_slice(&crc32fast::hash(&old).to_le_bytes());
        let path = Path::new("old.bin");
        let loaded = Checkpoint::from_bytes(&old, path).unwrap();
        assert_eq!(loaded.model, ck.model);
        assert_eq!(loaded.optimizer, ck.optimizer);
        assert!(loaded.average.is_empty());
        // The current layout keeps the average; a cut file is refused.
        assert_eq!(Checkpoint::from_bytes(&ck.to_bytes(), path).unwrap(), ck);
        let cut = &ck.to_bytes()[..30];
        assert!(Checkpoint::from_bytes(cut, path).is_err());
    }

    #[test]
    fn empty_folder_has_no_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Checkpoint::load_latest(dir.path()).unwrap().is_none());
    }
}
