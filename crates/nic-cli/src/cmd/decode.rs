use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use nic_format::NicFile;
use nic_model::DeviceChoice;

#[derive(clap::Args)]
pub struct Args {
    /// The .nic file.
    input: PathBuf,
    /// Output PNG (default: the input with extension .png).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Model folder (default: the bundled models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Overwrite the output if it exists.
    #[arg(short, long)]
    force: bool,
    #[arg(long)]
    quiet: bool,
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
}

pub fn run(a: Args) -> Result<()> {
    let output = a.output.clone().unwrap_or_else(|| super::default_output(&a.input, "png"));
    super::check_output(&a.input, &output, a.force)?;
    let bytes = super::read_file(&a.input)?;
    if bytes.is_empty() {
        bail!("{} is empty", a.input.display());
    }
    let file = NicFile::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", a.input.display()))?;
    let set = super::model_set(a.model.as_deref())?;
    let device = super::open_device(a.device, a.quiet);
    let codec = set.load(file.quality, &device)?;
    let t = Instant::now();
    let img = codec.decode(&file)?;
    let secs = t.elapsed().as_secs_f64();
    nic_image::save_png(&img, &output)?;
    if !a.quiet {
        eprintln!("{} → {}: {}×{}, {:.2} s", a.input.display(), output.display(), img.width(), img.height(), secs);
    }
    Ok(())
}
