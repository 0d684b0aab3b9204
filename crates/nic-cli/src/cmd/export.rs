//! `nic export`: a model's weights as NumPy arrays, for loading into another framework (the
//! PyTorch comparison loads them into CompressAI's model).

use std::path::PathBuf;

use anyhow::Result;
use nic_model::burn::tensor::Device;

use crate::exit::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Folder to write: one `.npy` file per parameter, named by its path in the model
    /// (`analysis.convs.0.weight.npy`, …), and the model's `model.json`.
    #[arg(short, long)]
    out: PathBuf,
    /// Model folder (default: the bundled models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Quality of the model to export, in a set of single-rate models.
    #[arg(short, long, default_value_t = 2.0)]
    quality: f64,
}

pub fn run(a: Args) -> Result<()> {
    let set = super::model_set(a.model.as_deref())?;
    let codec = set.load(a.quality, &Device::flex())?;
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
