//! A trained model on disk: `model.json` (architecture, λ, quality, entropy tables, how it was
//! trained) beside `weights.bpk` (burn's burnpack format).

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, DType, Device, Tensor};
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
/// mean-scale hyperprior; 5: weights stored as 16-bit floats, which older releases would load
/// as they are rather than as `f32`; 6: the checkerboard context, which older releases would
/// leave out). A model is written with the oldest version that describes it, so that older
/// releases still load every model they can.
const MODEL_FORMAT: u32 = CONTEXT_MODEL_FORMAT;
/// The version of a model with a checkerboard context.
const CONTEXT_MODEL_FORMAT: u32 = 6;
/// The version of a model with 16-bit weights ([`Precision::F16`]).
const HALF_MODEL_FORMAT: u32 = 5;
/// The version of a model with means.
const MEANS_MODEL_FORMAT: u32 = 4;
/// The version of a model without means.
const PLAIN_MODEL_FORMAT: u32 = 3;

/// How `weights.bpk` stores the parameters. Training writes `F32`; `F16` halves the file
/// (each weight rounded to the nearest half-precision value: the model, and its id, are then
/// those rounded weights, loaded as `f32`), for shipping models in a small repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    F32,
    F16,
}

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
            format: if architecture.has_context() {
                CONTEXT_MODEL_FORMAT
            } else if architecture.has_means() {
                MEANS_MODEL_FORMAT
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
        if arch.context_channels > 0 && !arch.has_means() {
            return Err("a context model without the mean-scale hyperprior it corrects".into());
        }
        if arch.context_channels > 4096 {
            return Err(format!("implausible architecture {arch:?}"));
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
        Self::save_as(dir, compressor, info, Precision::F32)
    }

    /// [`SavedModel::save`] with the weights stored at `precision` (with `F16`, `info`'s format
    /// is raised to the version that reads them).
    pub fn save_as(
        dir: &Path,
        compressor: &Compressor,
        info: &ModelInfo,
        precision: Precision,
    ) -> Result<[u8; 4], ModelError> {
        let io = |path: PathBuf| move |source| ModelError::Io { path, source };
        std::fs::create_dir_all(dir).map_err(io(dir.into()))?;
        let (stored, model, info) = match precision {
            Precision::F32 => (compressor.valid(), compressor.clone(), info.clone()),
            Precision::F16 => {
                let half = compressor.valid().map(&mut Cast(DType::F16));
                let model = half.clone().map(&mut Cast(DType::F32));
                let format = info.format.max(HALF_MODEL_FORMAT);
                (
                    half,
                    model,
                    ModelInfo {
                        format,
                        ..info.clone()
                    },
                )
            }
        };
        let weights = stored
            .into_record()
            .into_bytes()
            .map_err(|e| ModelError::Invalid {
                path: dir.into(),
                message: e.to_string(),
            })?;
        let json = serde_json::to_vec_pretty(&info).expect("model info serializes");
        let wpath = dir.join(WEIGHTS_FILE);
        nic_fs::write_atomic(&wpath, &weights).map_err(io(wpath.clone()))?;
        let ipath = dir.join(INFO_FILE);
        nic_fs::write_atomic(&ipath, &json).map_err(io(ipath.clone()))?;
        Ok(model_id(&model, &info))
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
        // 16-bit weights (format 5) become the model's `f32` parameters.
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights))
            .map_err(|e| ModelError::Invalid {
                path: wpath.clone(),
                message: e.to_string(),
            })?
            .cast_to_module_dtype();
        let compressor = Compressor::new(&arch, device)
            .load_any_record(record)
            .map_err(|e| ModelError::Invalid {
                path: wpath.clone(),
                message: e.to_string(),
            })?;
        Ok(SavedModel::new(compressor.valid(), info))
    }
}

/// A model id as written in messages and `nic info`: lowercase hex (`fef344b5`).
pub fn id_hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Casts every parameter to one dtype.
struct Cast(DType);

impl ModuleMapper for Cast {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.0;
        p.map(|t| t.cast(dtype))
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
    fn half_precision_weights_halve_the_file_and_load_as_the_rounded_model() {
        let device = Device::flex();
        let arch = Architecture::TINY_MEAN_SCALE;
        let model = Compressor::new(&arch, &device);
        let info =
            ModelInfo::for_compressor(&model, arch, 0, 0.005, vec![0.005, 0.01, 0.02]).unwrap();
        let (full, half) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let full_id = SavedModel::save(full.path(), &model, &info).unwrap();
        let id = SavedModel::save_as(half.path(), &model, &info, Precision::F16).unwrap();
        let size = |d: &Path| std::fs::metadata(d.join(WEIGHTS_FILE)).unwrap().len() as f64;
        let ratio = size(half.path()) / size(full.path());
        assert!((0.45..0.6).contains(&ratio), "{ratio}");
        let loaded = SavedModel::load(half.path(), &device).unwrap();
        assert_eq!(loaded.id, id);
        assert_ne!(id, full_id);
        assert_eq!(loaded.info.format, HALF_MODEL_FORMAT);
        assert_eq!(
            ModelInfo {
                format: info.format,
                ..loaded.info.clone()
            },
            info
        );
        // Every weight is the f32 one rounded to the nearest f16 value, held as f32.
        let flat = |m: &Compressor| -> Vec<f32> {
            crate::named_parameters(m)
                .into_iter()
                .flat_map(|t| t.values)
                .collect()
        };
        let (want, got) = (flat(&model), flat(&loaded.compressor));
        assert_eq!(want.len(), got.len());
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(*g, burn::tensor::f16::from_f32(*w).to_f32(), "{w}");
        }
        // Saved again at f32, the rounded model keeps its id.
        let again = tempfile::tempdir().unwrap();
        let info5 = loaded.info.clone();
        let kept = SavedModel::save(again.path(), &loaded.compressor, &info5).unwrap();
        assert_eq!(kept, id);
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
