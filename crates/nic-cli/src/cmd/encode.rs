use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use nic_codec::{Effort, EncodeRequest, Encoded, Encoder, Rate, Target};

use super::folder::{self, FolderArgs, Job, Moved};
use crate::exit::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Picture to compress (any format the `image` crate reads), `-` for standard input, or a
    /// folder: every picture under it, to the same paths under `-o OUTDIR`.
    input: PathBuf,
    /// Output .nic file (default: the input with extension .nic; `-` for standard output,
    /// the default for standard input), or with a folder as input the output folder.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Quality: a real number in the variable-rate model's range (1 to 10 for the default;
    /// higher is better and larger), or the number of a single-rate model of the set
    /// (default: the level of about 0.5 bpp on photographs, the one whose λ is nearest 0.0067;
    /// 2 for a set of single-rate models).
    #[arg(short, long, group = "rate", allow_negative_numbers = true)]
    quality: Option<f64>,
    /// Search the quality for this picture: the highest whose file is at most this many
    /// bits per pixel.
    #[arg(long, group = "rate", allow_negative_numbers = true)]
    target_bpp: Option<f64>,
    /// Search the quality for this picture: the lowest whose decoded picture reaches this
    /// PSNR (dB, RGB).
    #[arg(long, group = "rate", allow_negative_numbers = true)]
    target_psnr: Option<f64>,
    /// Search the quality for this picture: the highest whose file is at most this many
    /// bytes (the metadata block, if any, not counted).
    #[arg(long, group = "rate", value_parser = clap::value_parser!(u64).range(1..))]
    target_size: Option<u64>,
    /// Print the PSNR of the decoded picture against the input (RGB, dB) on standard error.
    #[arg(long)]
    print_psnr: bool,
    /// Print the MS-SSIM of the decoded picture against the input on standard error.
    #[arg(long)]
    print_ssim: bool,
    /// Encoder effort, 0 to 3: above 0 each picture's latents are refined for its own
    /// rate–distortion cost, for smaller files at the same quality and more encoding time
    /// (the decoder is unchanged; see `nic compare --effort` for what each level gains).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=Effort::MAX as i64))]
    effort: u8,
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
        Some(a.common.output(&a.input, a.output.as_deref(), "nic")?)
    };
    let loaded = if stdin {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::Input(format!("cannot read standard input: {e}")))?;
        nic_image::decode_rgb8(&bytes, Path::new("standard input"), a.common.max_pixels)?
    } else {
        super::check_input(&a.input)?;
        nic_image::load_rgb8_within(&a.input, a.common.max_pixels)?
    };
    for n in &loaded.notes {
        eprintln!("warning: {}: {n}", a.input.display());
    }
    let encoder = encoder(&a)?;
    let t = Instant::now();
    let e = if a.effort > 0 && !a.common.quiet {
        // Refining takes seconds to minutes: a bar on standard error (hidden if it is not a
        // terminal).
        let bar = ProgressBar::no_length().with_style(
            ProgressStyle::with_template(
                "refining {bar:30} {percent:>3}% {elapsed} (about {eta} left)",
            )
            .expect("a valid template"),
        );
        let report = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        };
        let e = encoder.encode_with_progress(&loaded.image, &loaded.metadata, &report);
        bar.finish_and_clear();
        e?
    } else {
        encoder.encode_with(&loaded.image, &loaded.metadata)?
    };
    if let Some(w) = missed(&e) {
        eprintln!("warning: {w}");
    }
    let secs = t.elapsed().as_secs_f64();
    if a.print_psnr || a.print_ssim {
        print_quality(&encoder, &e, &loaded.image, a.print_psnr, a.print_ssim)?;
    }
    match &output {
        Some(path) => super::write_file(path, &e.bytes)?,
        None => std::io::stdout()
            .lock()
            .write_all(&e.bytes)
            .map_err(|e| Failure::Output(format!("cannot write standard output: {e}")))?,
    }
    if !a.common.quiet {
        let (w, h) = loaded.image.dimensions();
        let note = match e.search {
            Some(s) => match s.psnr {
                Some(p) => format!(", PSNR {p:.2} dB ({} tries)", s.tries),
                None => format!(" ({} tries)", s.tries),
            },
            None => String::new(),
        };
        eprintln!(
            "{} → {}: {}×{} quality {}{}, {} bytes, {:.4} bpp{note}, {}, {:.2} s",
            a.input.display(),
            output
                .as_deref()
                .map_or("standard output".into(), |p| p.display().to_string()),
            w,
            h,
            e.quality,
            if e.refined {
                format!(" effort {}", a.effort)
            } else {
                String::new()
            },
            e.stats.file_bytes,
            nic_metrics::bpp(e.stats.file_bytes, w, h),
            ratio((3 * w as usize * h as usize) as f64 / e.stats.file_bytes as f64),
            secs
        );
    }
    Ok(())
}

/// Every picture under the input folder, to the same paths under `-o` with `.nic`.
fn run_folder(a: Args) -> Result<()> {
    let out = a.output.clone().ok_or_else(|| {
        Failure::Usage(format!(
            "{} is a folder: name the output folder with -o OUTDIR",
            a.input.display()
        ))
    })?;
    let jobs = folder::plan(&a.input, &out, &nic_image::is_image_name, "nic")?;
    if jobs.is_empty() {
        return Err(Failure::Input(format!("{}: no pictures", a.input.display())).into());
    }
    let encoder = encoder(&a)?;
    let max_pixels = a.common.max_pixels;
    let work = |job: &Job| -> Result<Moved> {
        let loaded = nic_image::load_rgb8_within(&job.input, max_pixels)?;
        let e = encoder.encode_with(&loaded.image, &loaded.metadata)?;
        super::write_file(&job.output, &e.bytes)?;
        let mut warnings = loaded.notes;
        warnings.extend(missed(&e));
        Ok(Moved {
            bytes_in: folder::size(&job.input)?,
            bytes_out: e.bytes.len() as u64,
            warnings,
        })
    };
    folder::run(jobs, a.folder, a.common.force, a.common.quiet, &work)
}

/// The encoder the options ask for, on the device they name.
fn encoder(a: &Args) -> Result<Encoder> {
    let set = super::model_set(a.common.model.as_deref())?;
    let request = EncodeRequest {
        // The flags' names, since the library's messages do not know them.
        rate: match a.target_size {
            Some(n) => Rate::Target(Target::Bytes(n)),
            None => Rate::from_options(a.quality, a.target_bpp, a.target_psnr).map_err(|e| {
                let flag = if a.target_bpp.is_some() {
                    "--target-bpp"
                } else {
                    "--target-psnr"
                };
                anyhow::Error::new(e).context(flag)
            })?,
        },
        effort: Effort::new(a.effort)?,
        max_pixels: a.common.max_pixels,
        ideal_bits: false,
    };
    let device = super::open_device(a.common.device, a.common.quiet)?;
    Ok(Encoder::new(set, &device, request)?)
}

/// `--print-psnr` / `--print-ssim`: the encoded picture decoded and measured against the
/// input, as `cwebp -print_psnr` does.
fn print_quality(
    encoder: &Encoder,
    e: &Encoded,
    img: &nic_image::RgbImage,
    psnr: bool,
    ssim: bool,
) -> Result<()> {
    let file = nic_format::NicFile::parse(&e.bytes).map_err(nic_codec::CodecError::from)?;
    let decoded = nic_codec::Decoder::new(encoder.model_set().clone(), &encoder.codec().device())
        .decode(&file)?;
    let (w, h) = img.dimensions();
    if psnr {
        eprintln!(
            "PSNR {:.2} dB",
            nic_metrics::psnr(img.as_raw(), decoded.as_raw())
        );
    }
    if ssim {
        match nic_metrics::ms_ssim(img.as_raw(), decoded.as_raw(), w as usize, h as usize) {
            Some(m) => eprintln!("MS-SSIM {:.4}", m.value),
            None => eprintln!("MS-SSIM –: the picture is too small to measure"),
        }
    }
    Ok(())
}

/// The warning for a target no quality met.
fn missed(e: &Encoded) -> Option<String> {
    let s = e.search.filter(|s| !s.met)?;
    Some(format!(
        "no quality meets {}; using the closest, {}",
        match s.target {
            Target::Bpp(b) => format!("{b} bpp"),
            Target::Bytes(n) => format!("{n} bytes"),
            Target::Psnr(p) => format!("{p} dB"),
        },
        e.quality
    ))
}

/// "ratio 48:1" (of raw RGB to the file), with the digits that matter when the file is
/// nearly as large as the picture, or larger.
fn ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("ratio {r:.0}:1")
    } else if r >= 1.0 {
        format!("ratio {r:.1}:1")
    } else {
        format!("ratio 1:{:.1} (larger than raw RGB)", 1.0 / r)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ratios_read_naturally() {
        assert_eq!(super::ratio(48.4), "ratio 48:1");
        assert_eq!(super::ratio(2.345), "ratio 2.3:1");
        assert_eq!(super::ratio(0.5), "ratio 1:2.0 (larger than raw RGB)");
    }
}
