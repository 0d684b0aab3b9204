use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use nic_codec::Target;

use crate::exit::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Picture to compress (any format the `image` crate reads).
    input: PathBuf,
    /// Output .nic file (default: the input with extension .nic).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Quality: a real number in the variable-rate model's range (1 to 8 for the default;
    /// higher is better and larger), or the number of a single-rate model of the set
    /// (default: 4, or 2 for a set of single-rate models).
    #[arg(short, long, group = "rate")]
    quality: Option<f64>,
    /// Search the quality for this picture: the highest whose file is at most this many
    /// bits per pixel.
    #[arg(long, group = "rate")]
    target_bpp: Option<f64>,
    /// Search the quality for this picture: the lowest whose decoded picture reaches this
    /// PSNR (dB, RGB).
    #[arg(long, group = "rate")]
    target_psnr: Option<f64>,
    #[command(flatten)]
    common: super::CodecArgs,
}

pub fn run(a: Args) -> Result<()> {
    let output = a.common.output(&a.input, a.output.as_deref(), "nic")?;
    super::check_input(&a.input)?;
    let loaded = nic_image::load_rgb8_within(&a.input, a.common.max_pixels)?;
    if !a.common.quiet {
        for n in &loaded.notes {
            eprintln!("warning: {}: {n}", a.input.display());
        }
    }
    let set = super::model_set(a.common.model.as_deref())?;
    let target = match (a.target_bpp, a.target_psnr) {
        (Some(b), _) if !(b.is_finite() && b > 0.0) => {
            return Err(Failure::Usage(format!("--target-bpp {b}: must be positive")).into());
        }
        (_, Some(p)) if !p.is_finite() => {
            return Err(Failure::Usage(format!("--target-psnr {p}: must be a number")).into());
        }
        (Some(b), _) => Some(Target::Bpp(b)),
        (_, Some(p)) => Some(Target::Psnr(p)),
        _ => None,
    };
    let default = if set.is_variable_rate() { 4.0 } else { 2.0 };
    let quality = a.quality.unwrap_or(default);
    let device = super::open_device(a.common.device, a.common.quiet)?;
    let load = |q: f64| set.load(q, &device);
    let codec = match load(quality) {
        // A target search only needs some model of the set to start from.
        Err(_) if target.is_some() => load(set.qualities()[0] as f64)?,
        c => c?,
    }
    .with_max_pixels(a.common.max_pixels);
    let t = Instant::now();
    let (bytes, stats, quality, note) = match target {
        None => {
            let (bytes, stats) = codec.encode(&loaded.image)?;
            (bytes, stats, codec.quality(), String::new())
        }
        Some(target) => {
            let r = nic_codec::encode_to_target(&set, &codec, &loaded.image, target)?;
            if !r.met && !a.common.quiet {
                eprintln!(
                    "warning: no quality meets {}; using the closest, {}",
                    match target {
                        Target::Bpp(b) => format!("{b} bpp"),
                        Target::Psnr(p) => format!("{p} dB"),
                    },
                    r.quality
                );
            }
            let note = match r.psnr {
                Some(p) => format!(", PSNR {p:.2} dB ({} tries)", r.tries),
                None => format!(" ({} tries)", r.tries),
            };
            (r.bytes, r.stats, r.quality, note)
        }
    };
    let secs = t.elapsed().as_secs_f64();
    super::write_file(&output, &bytes)?;
    if !a.common.quiet {
        let (w, h) = loaded.image.dimensions();
        eprintln!(
            "{} → {}: {}×{} quality {}, {} bytes, {:.4} bpp{note}, ratio {:.1}:1, {:.2} s",
            a.input.display(),
            output.display(),
            w,
            h,
            quality,
            stats.file_bytes,
            nic_metrics::bpp(stats.file_bytes, w, h),
            (3 * w as usize * h as usize) as f64 / stats.file_bytes as f64,
            secs
        );
    }
    Ok(())
}
