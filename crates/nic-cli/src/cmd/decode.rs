use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use nic_format::NicFile;

#[derive(clap::Args)]
pub struct Args {
    /// The .nic file.
    input: PathBuf,
    /// Output PNG (default: the input with extension .png).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    common: super::CodecArgs,
}

pub fn run(a: Args) -> Result<()> {
    let output = a
        .output
        .clone()
        .unwrap_or_else(|| super::default_output(&a.input, "png"));
    super::check_output(&a.input, &output, a.common.force)?;
    let bytes = super::read_file(&a.input)?;
    if bytes.is_empty() {
        bail!("{} is empty", a.input.display());
    }
    let file = NicFile::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", a.input.display()))?;
    let set = super::model_set(a.common.model.as_deref())?;
    let device = super::open_device(a.common.device, a.common.quiet);
    let codec = set.load(file.quality, &device)?;
    let t = Instant::now();
    let img = codec.decode(&file)?;
    let secs = t.elapsed().as_secs_f64();
    nic_image::save_png(&img, &output)?;
    if !a.common.quiet {
        eprintln!(
            "{} → {}: {}×{}, {:.2} s",
            a.input.display(),
            output.display(),
            img.width(),
            img.height(),
            secs
        );
    }
    Ok(())
}
