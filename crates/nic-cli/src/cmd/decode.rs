use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use nic_codec::Decoder;
use nic_format::NicFile;

use super::folder::{self, FolderArgs, Job, Moved};
use crate::exit::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The .nic file, `-` for standard input, or a folder: every .nic file under it, to the
    /// same paths under `-o OUTDIR` as PNG.
    input: PathBuf,
    /// Output picture, in the format of its extension: png, webp (lossless), ppm, bmp, tif, or
    /// jpg (a second, lossy encoding at quality 95) (default: the input with extension .png;
    /// `-` for PNG on standard output, the default for standard input); with a folder as input
    /// the output folder.
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    common: super::CodecArgs,
    #[command(flatten)]
    folder: FolderArgs,
}

pub fn run(a: Args) -> Result<()> {
    let stdin = a.input == Path::new("-");
    if !stdin && a.input.is_dir() {
        return run_folder(a);
    }
    let stdout = a.output.as_deref() == Some(Path::new("-")) || (stdin && a.output.is_none());
    let output = if stdout {
        None
    } else {
        let output = a.common.output(&a.input, a.output.as_deref(), "png")?;
        nic_image::save_format(&output).map_err(|e| Failure::Output(e.to_string()))?;
        Some(output)
    };
    let (bytes, name) = if stdin {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::Input(format!("cannot read standard input: {e}")))?;
        (bytes, "standard input".to_string())
    } else {
        (super::read_file(&a.input)?, a.input.display().to_string())
    };
    let file = NicFile::parse(&bytes).with_context(|| name.clone())?;
    let decoder = decoder(&a)?;
    let t = Instant::now();
    let img = decoder.decode(&file)?;
    let secs = t.elapsed().as_secs_f64();
    let shown = match &output {
        Some(path) => {
            for note in nic_image::save(&img, path, &file.metadata)? {
                eprintln!("warning: {}: {note}", path.display());
            }
            path.display().to_string()
        }
        None => {
            let stdout = Path::new("standard output");
            let (png, notes) = nic_image::encode(
                &img,
                nic_image::image::ImageFormat::Png,
                stdout,
                &file.metadata,
            )?;
            for note in notes {
                eprintln!("warning: standard output: {note}");
            }
            std::io::stdout()
                .lock()
                .write_all(&png)
                .map_err(|e| Failure::Output(format!("cannot write standard output: {e}")))?;
            "standard output".to_string()
        }
    };
    if !a.common.quiet {
        eprintln!(
            "{name} → {shown}: {}×{}, {:.2} s",
            img.width(),
            img.height(),
            secs
        );
    }
    Ok(())
}

/// Every .nic file under the input folder, to the same paths under `-o` as PNG.
fn run_folder(a: Args) -> Result<()> {
    let out = a.output.clone().ok_or_else(|| {
        Failure::Usage(format!(
            "{} is a folder: name the output folder with -o OUTDIR",
            a.input.display()
        ))
    })?;
    let is_nic = |p: &Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("nic"));
    let jobs = folder::plan(&a.input, &out, &is_nic, "png")?;
    if jobs.is_empty() {
        return Err(Failure::Input(format!("{}: no .nic files", a.input.display())).into());
    }
    let decoder = decoder(&a)?;
    let work = |job: &Job| -> Result<Moved> {
        let bytes = super::read_file(&job.input)?;
        let file = NicFile::parse(&bytes).with_context(|| job.input.display().to_string())?;
        let img = decoder.decode(&file)?;
        let warnings = nic_image::save(&img, &job.output, &file.metadata)?;
        Ok(Moved {
            bytes_in: bytes.len() as u64,
            bytes_out: folder::size(&job.output)?,
            warnings,
        })
    };
    folder::run(jobs, a.folder, a.common.force, a.common.quiet, &work)
}

/// The decoder for the options' model set, on the device they name.
fn decoder(a: &Args) -> Result<Decoder> {
    let set = super::model_set(a.common.model.as_deref())?;
    let device = super::open_device(a.common.device, a.common.quiet)?;
    Ok(Decoder::new(set, &device).with_max_pixels(a.common.max_pixels))
}
