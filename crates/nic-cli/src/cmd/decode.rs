use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use nic_format::NicFile;

use crate::exit::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The .nic file.
    input: PathBuf,
    /// Output picture, in the format of its extension: png, webp (lossless), ppm, bmp, tif, or
    /// jpg (a second, lossy encoding at quality 95) (default: the input with extension .png).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    common: super::CodecArgs,
}

pub fn run(a: Args) -> Result<()> {
    let output = a.common.output(&a.input, a.output.as_deref(), "png")?;
    nic_image::save_format(&output).map_err(|e| Failure::Output(e.to_string()))?;
    let bytes = super::read_file(&a.input)?;
    let file = NicFile::parse(&bytes).with_context(|| a.input.display().to_string())?;
    let set = super::model_set(a.common.model.as_deref())?;
    let device = super::open_device(a.common.device, a.common.quiet)?;
    let codec = set
        .load_for(&file, &device)?
        .with_max_pixels(a.common.max_pixels);
    let t = Instant::now();
    let img = codec.decode(&file)?;
    let secs = t.elapsed().as_secs_f64();
    for note in nic_image::save(&img, &output, &file.metadata)? {
        eprintln!("warning: {}: {note}", output.display());
    }
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
