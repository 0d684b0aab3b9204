//! Checkpoint files: a JSON state, the model record and the optimizer record, with a CRC-32.
//!
//! Layout: `NICCKPT1`, then three length-prefixed (u64 LE) sections — state JSON, model
//! burnpack, optimizer record — then the CRC-32 (u32 LE) of everything before it.

use std::path::{Path, PathBuf};

use nic_model::Architecture;
use serde::{Deserialize, Serialize};
use thiserror::Error;

const MAGIC: &[u8; 8] = b"NICCKPT1";
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
    #[serde(skip)]
    pub model: Vec<u8>,
    #[serde(skip)]
    pub optimizer: Vec<u8>,
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
        let mut out =
            Vec::with_capacity(40 + state.len() + self.model.len() + self.optimizer.len());
        out.extend_from_slice(MAGIC);
        for section in [&state, &self.model, &self.optimizer] {
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
        if data.len() < MAGIC.len() + 4 || &data[..8] != MAGIC {
            return Err(corrupt("not a nic checkpoint"));
        }
        let (body, crc) = data.split_at(data.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().unwrap()) {
            return Err(corrupt("checksum mismatch"));
        }
        let mut pos = MAGIC.len();
        let mut sections = Vec::with_capacity(3);
        for _ in 0..3 {
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
            model: vec![1, 2, 3],
            optimizer: vec![4; 100],
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
    fn empty_folder_has_no_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Checkpoint::load_latest(dir.path()).unwrap().is_none());
    }
}
