//! `nic export`: a model's weights as NumPy arrays, for loading into another framework (the
//! PyTorch comparison loads them into CompressAI's model), or the model with its weights
//! stored as 16-bit floats, half the size (how the bundled models are shipped).

use std::path::PathBuf;

use anyhow::Result;
use nic_model::burn::tensor::Device;
use nic_model::{Precision, SavedModel};

use crate::exit::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Folder to write: with `--format npy`, one `.npy` file per parameter, named by its path
    /// in the model (`analysis.convs.0.weight.npy`, …), and the model's `model.json`; with
    /// `--format f16`, a model folder (`model.json`, `weights.bpk`).
    #[arg(short, long)]
    out: PathBuf,
    /// What to write: `npy` (NumPy arrays) or `f16` (the model, each weight rounded to a
    /// 16-bit float: half the size, a new model id, pictures within about 0.01 dB; releases
    /// before model format 5 cannot load it).
    #[arg(long, value_enum, default_value_t = Format::Npy)]
    format: Format,
    /// Model folder (default: the bundled models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Quality of the model to export, in a set of single-rate models.
    #[arg(short, long, default_value_t = 2.0)]
    quality: f64,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Npy,
    F16,
}

pub fn run(a: Args) -> Result<()> {
    let set = super::model_set(a.model.as_deref())?;
    let codec = set.load(a.quality, &Device::flex())?;
    if let Format::F16 = a.format {
        let model = &codec.model;
        let id = SavedModel::save_as(&a.out, &model.compressor, &model.info, Precision::F16)
            .map_err(|e| Failure::Output(e.to_string()))?;
        eprintln!(
            "wrote {} (16-bit weights, model id {})",
            a.out.display(),
            nic_model::id_hex(&id)
        );
        return Ok(());
    }
    std::fs::create_dir_all(&a.out)
        .map_err(|e| Failure::Output(format!("cannot create {}: {e}", a.out.display())))?;
    for t in nic_model::named_parameters(&codec.model.compressor) {
        super::write_file(
            &a.out.join(format!("{}.npy", t.path)),
            &nic_model::to_npy(&t),
        )?;
    }
    super::write_file(
        &a.out.join(nic_model::INFO_FILE),
        serde_json::to_string_pretty(&codec.model.info)?.as_bytes(),
    )?;
    Ok(())
}
