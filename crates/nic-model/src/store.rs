//! A trained model on disk: `model.json` (architecture, λ, quality, entropy tables, how it was
//! trained) beside `weights.bpk` (burn's burnpack format).

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use nic_entropy::ChannelTable;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::{
    Architecture, Compressor, EntropyModel, ScaleTables, build_scale_tables, build_tables,
};

pub const INFO_FILE: &str = "model.json";
pub const WEIGHTS_FILE: &str = "weights.bpk";
/// Newest version of the model directory layout (2: hyperprior and variable-rate fields; 3:
/// the entropy model's weights named `entropy.…`, see [`Compressor::load_any_record`]; 4: the
/// mean-scale hyperprior). A model is written with the oldest version that describes it, so
/// that older releases still load every model they can.
const MODEL_FORMAT: u32 = 4;
/// The version of a model without means.
const PLAIN_MODEL_FORMAT: u32 = 3;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid nic model description: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// How a model was trained, for its card.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainingInfo {
    pub command: String,
    pub data: String,
    pub steps: u64,
    pub batch: usize,
    pub crop: usize,
    pub wall_seconds: f64,
    pub images_per_second: f64,
}

/// Everything about a model but its weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelInfo {
    pub format: u32,
    pub architecture: Architecture,
    /// The quality `nic encode --quality` selects this model with (0 for a variable-rate
    /// model, which serves every quality).
    pub quality: u8,
    /// λ of a single-rate model; of a variable-rate one, the first level's.
    pub lambda: f64,
    /// λ of each rate level of a variable-rate model (quality l is level l − 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambdas: Vec<f64>,
    /// The factorized prior's tables, one per channel: of the latents, or with a hyperprior of
    /// the side latents.
    pub tables: Vec<ChannelTable>,
    /// The hyperprior's Gaussian tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_tables: Option<ScaleTables>,
    #[serde(default)]
    pub training: Option<TrainingInfo>,
}

impl ModelInfo {
    pub fn new(
        architecture: Architecture,
        quality: u8,
        lambda: f64,
        tables: Vec<ChannelTable>,
    ) -> Self {
        ModelInfo {
            format: if architecture.has_means() {
                MODEL_FORMAT
            } else {
                PLAIN_MODEL_FORMAT
            },
            architecture,
            quality,
            lambda,
            lambdas: Vec::new(),
            tables,
            scale_tables: None,
            training: None,
        }
    }

    /// The description of `compressor` with freshly built entropy tables: its factorized
    /// prior's (of the latents, or of the side latents) and, with a hyperprior, the Gaussian
    /// tables. `lambdas` are the rate levels' (empty for a single-rate model).
    pub fn for_compressor(
        compressor: &Compressor,
        architecture: Architecture,
        quality: u8,
        lambda: f64,
        lambdas: Vec<f64>,
    ) -> Result<Self, nic_entropy::TableError> {
        let prior = compressor.entropy.factorized_prior();
        let mut info = ModelInfo::new(architecture, quality, lambda, build_tables(prior)?);
        if let EntropyModel::ScaleHyperprior(_) = compressor.entropy {
            info.scale_tables = Some(build_scale_tables()?);
        }
        info.lambdas = lambdas;
        Ok(info)
    }

    /// Checks that the tables and rate levels fit the architecture.
    pub fn check(&self) -> Result<(), String> {
        let arch = self.architecture;
        if arch.channels == 0
            || arch.latent_channels == 0
            || arch.channels > 4096
            || arch.latent_channels > 4096
            || arch.hyper_channels > 4096
            || arch.rate_levels > 255
            || arch.detail_channels >= arch.latent_channels
        {
            return Err(format!("implausible architecture {arch:?}"));
        }
        if arch.means && !arch.has_hyperprior() {
            return Err("means without a hyperprior to predict them".into());
        }
        let (what, want) = if arch.has_hyperprior() {
            ("side latent", arch.hyper_channels)
        } else {
            ("latent", arch.latent_channels)
        };
        if self.tables.len() != want {
            return Err(format!(
                "{} entropy tables for {want} {what} channels",
                self.tables.len()
            ));
        }
        for t in &self.tables {
            t.check().map_err(|e| e.to_string())?;
        }
        match (&self.scale_tables, arch.has_hyperprior()) {
            (Some(s), true) => {
                s.index()?;
            }
            (None, false) => {}
            _ => return Err("scale tables do not match the architecture".into()),
        }
        if self.lambdas.len() != arch.rate_levels {
            return Err(format!(
                "{} λ values for {} rate levels",
                self.lambdas.len(),
                arch.rate_levels
            ));
        }
        Ok(())
    }
}

/// A model loaded for inference.
pub struct SavedModel {
    pub info: ModelInfo,
    pub compressor: Compressor,
    /// Written into every `.nic` file this model makes; a hash of weights and tables.
    pub id: [u8; 4],
}

impl SavedModel {
    /// A model in memory, with its id (as [`SavedModel::load`] would compute it).
    pub fn new(compressor: Compressor, info: ModelInfo) -> SavedModel {
        let id = model_id(&compressor, &info);
        SavedModel {
            info,
            compressor,
            id,
        }
    }

    /// Writes `dir/weights.bpk` and `dir/model.json` (each atomically). Returns the model id.
    pub fn save(
        dir: &Path,
        compressor: &Compressor,
        info: &ModelInfo,
    ) -> Result<[u8; 4], ModelError> {
        let io = |path: PathBuf| move |source| ModelError::Io { path, source };
        std::fs::create_dir_all(dir).map_err(io(dir.into()))?;
        let weights =
            compressor
                .valid()
                .into_record()
                .into_bytes()
                .map_err(|e| ModelError::Invalid {
                    path: dir.into(),
                    message: e.to_string(),
                })?;
        let json = serde_json::to_vec_pretty(info).expect("model info serializes");
        let wpath = dir.join(WEIGHTS_FILE);
        nic_fs::write_atomic(&wpath, &weights).map_err(io(wpath.clone()))?;
        let ipath = dir.join(INFO_FILE);
        nic_fs::write_atomic(&ipath, &json).map_err(io(ipath.clone()))?;
        Ok(model_id(compressor, info))
    }

    /// Loads a model directory onto `device`, checking the tables and the weights' shapes.
    pub fn load(dir: &Path, device: &Device) -> Result<SavedModel, ModelError> {
        let ipath = dir.join(INFO_FILE);
        let json = std::fs::read(&ipath).map_err(|source| ModelError::Io {
            path: ipath.clone(),
            source,
        })?;
        let info: ModelInfo = serde_json::from_slice(&json).map_err(|source| ModelError::Json {
            path: ipath.clone(),
            source,
        })?;
        let invalid = |message: String| ModelError::Invalid {
            path: ipath.clone(),
            message,
        };
        if info.format > MODEL_FORMAT {
            return Err(invalid(format!(
                "model format {} is newer than this nic supports",
                info.format
            )));
        }
        let arch = info.architecture;
        info.check().map_err(invalid)?;
        let wpath = dir.join(WEIGHTS_FILE);
        let weights = std::fs::read(&wpath).map_err(|source| ModelError::Io {
            path: wpath.clone(),
            source,
        })?;
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights)).map_err(|e| {
            ModelError::Invalid {
                path: wpath.clone(),
                message: e.to_string(),
            }
        })?;
        let compressor = Compressor::new(&arch, device)
            .load_any_record(record)
            .map_err(|e| ModelError::Invalid {
                path: wpath.clone(),
                message: e.to_string(),
            })?;
        Ok(SavedModel::new(compressor.valid(), info))
    }
}

/// First four bytes of SHA-256 over the parameter values (in module order) and all tables:
/// enough to tell models apart (two models collide with probability 2^-32), short enough for
/// 32×32 images. Hashing values rather than the weights file makes the id independent of how
/// the file was written (burnpack also stores per-run parameter ids).
fn model_id(compressor: &Compressor, info: &ModelInfo) -> [u8; 4] {
    struct Hasher(Sha256);
    impl ModuleVisitor for Hasher {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let data = param.val().into_data();
            for d in data.shape().as_slice() {
                self.0.update((*d as u64).to_le_bytes());
            }
            self.0.update(data.as_bytes());
        }
    }
    let mut h = Hasher(Sha256::new());
    compressor.visit(&mut h);
    h.0.update(serde_json::to_vec(&info.tables).expect("tables serialize"));
    if let Some(s) = &info.scale_tables {
        h.0.update(serde_json::to_vec(s).expect("tables serialize"));
    }
    h.0.finalize()[..4].try_into().expect("4 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_gives_the_same_model_and_id() {
        let device = Device::flex();
        let arch = Architecture::TINY;
        let model = Compressor::new(&arch, &device);
        let info = ModelInfo::for_compressor(&model, arch, 2, 0.01, vec![]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let id = SavedModel::save(dir.path(), &model, &info).unwrap();
        let loaded = SavedModel::load(dir.path(), &device).unwrap();
        assert_eq!(loaded.id, id);
        assert_eq!(loaded.info, info);
        let x = burn::tensor::Tensor::<4>::ones([1, 3, 16, 16], &device).mul_scalar(0.3);
        let a: Vec<f32> = model
            .analyze(x.clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let b: Vec<f32> = loaded
            .compressor
            .analyze(x)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn detail_latents_need_latents_of_the_transforms_beside_them() {
        let arch = Architecture {
            detail_channels: Architecture::TINY.latent_channels,
            ..Architecture::TINY
        };
        let err = ModelInfo::new(arch, 1, 0.01, vec![]).check().unwrap_err();
        assert!(err.contains("implausible"), "{err}");
    }

    #[test]
    fn inconsistent_model_files_are_errors() {
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            SavedModel::load(dir.path(), &device),
            Err(ModelError::Io { .. })
        ));
        std::fs::write(dir.path().join(INFO_FILE), "{not json").unwrap();
        assert!(matches!(
            SavedModel::load(dir.path(), &device),
            Err(ModelError::Json { .. })
        ));
        let arch = Architecture::TINY;
        let info = ModelInfo::new(arch, 1, 0.01, vec![]);
        std::fs::write(
            dir.path().join(INFO_FILE),
            serde_json::to_vec(&info).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            SavedModel::load(dir.path(), &device),
            Err(ModelError::Invalid { .. })
        ));
    }
}
