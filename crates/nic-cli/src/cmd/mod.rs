//! One module per subcommand, plus what they share.

pub mod bench;
pub mod compare;
pub mod decode;
pub mod encode;
pub mod export;
pub mod folder;
pub mod info;
pub mod probe;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::Result;
use nic_codec::ModelSet;
use nic_model::DeviceChoice;
use nic_model::burn::tensor::Device;

use crate::exit::Failure;

/// Options shared by `encode` and `decode`.
#[derive(clap::Args)]
pub struct CodecArgs {
    /// Model folder (default: the bundled models/default).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Overwrite the output if it exists.
    #[arg(short, long)]
    pub force: bool,
    /// No messages but warnings and errors (a warning is never hidden: it says the result
    /// is not what was asked for).
    #[arg(long)]
    pub quiet: bool,
    /// auto (a hardware GPU if there is one, else the CPU), cpu, gpu, gpu:N, or gpu-software
    /// (a software Vulkan driver, for tests).
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Refuse pictures larger than this many pixels (the networks run in tiles, but the
    /// picture and its latents are held whole); checked from the header, before decoding
    /// anything.
    #[arg(long, default_value_t = nic_codec::MAX_PIXELS)]
    pub max_pixels: u64,
}

/// `--model DIR`, or the default: a folder on disk (`$NIC_MODEL_DIR`, a checkout's
/// `models/default`), else the copy built into the binary.
pub fn model_dir(dir: Option<&Path>) -> Result<PathBuf> {
    Ok(match dir {
        Some(d) => d.to_path_buf(),
        None => nic_bundled::default_model_dir()?,
    })
}

/// The models of `--model DIR`, or of the bundled default.
pub fn model_set(dir: Option<&Path>) -> Result<ModelSet> {
    Ok(ModelSet::open(&model_dir(dir)?)?)
}

/// Opens `--device` and says which device that is, once.
pub fn open_device(choice: DeviceChoice, quiet: bool) -> Result<Device> {
    let opened = choice.open()?;
    if !quiet {
        eprintln!("device: {}", opened.description);
    }
    Ok(opened.device)
}

impl CodecArgs {
    /// The output path (`given`, or the input with extension `ext`), refusing to overwrite the
    /// input, a directory, or an existing file without `--force`.
    pub fn output(&self, input: &Path, given: Option<&Path>, ext: &str) -> Result<PathBuf> {
        let output = given.map_or_else(|| input.with_extension(ext), Path::to_path_buf);
        if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize())
            && a == b
        {
            return Err(
                Failure::Output(format!("output {} is the input file", output.display())).into(),
            );
        }
        if output.is_dir() {
            return Err(
                Failure::Output(format!("output {} is a directory", output.display())).into(),
            );
        }
        if output.exists() && !self.force {
            // The default name may be the original picture (photo.png → photo.nic → photo.png):
            // the first way out offered is another name.
            let named = if given.is_some() {
                ""
            } else {
                " (the default name)"
            };
            return Err(Failure::Output(format!(
                "{} exists{named}; choose another output with -o, or pass --force to overwrite it",
                output.display()
            ))
            .into());
        }
        Ok(output)
    }
}

/// A clear error for an input that is missing or a directory, before any decoder sees it.
pub fn check_input(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))?;
    if meta.is_dir() {
        return Err(
            Failure::Input(format!("{} is a directory, not a file", path.display())).into(),
        );
    }
    Ok(())
}

pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    check_input(path)?;
    std::fs::read(path)
        .map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())).into())
}

pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    nic_fs::write_atomic(path, bytes)
        .map_err(|e| Failure::Output(format!("cannot write {}: {e}", path.display())).into())
}
