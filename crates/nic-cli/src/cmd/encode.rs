use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use nic_codec::{EncodeRequest, Encoder, Rate, Target};

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
    #[command(flatten)]
    common: super::CodecArgs,
}

pub fn run(a: Args) -> Result<()> {
    let output = a.common.output(&a.input, a.output.as_deref(), "nic")?;
    super::check_input(&a.input)?;
    let loaded = nic_image::load_rgb8_within(&a.input, a.common.max_pixels)?;
    for n in &loaded.notes {
        eprintln!("warning: {}: {n}", a.input.display());
    }
    let set = super::model_set(a.common.model.as_deref())?;
    let request = EncodeRequest {
        // The flags' names, since the library's messages do not know them.
        rate: Rate::from_options(a.quality, a.target_bpp, a.target_psnr).map_err(|e| {
            let flag = if a.target_bpp.is_some() {
                "--target-bpp"
            } else {
                "--target-psnr"
            };
            anyhow::Error::new(e).context(flag)
        })?,
        max_pixels: a.common.max_pixels,
    };
    let device = super::open_device(a.common.device, a.common.quiet)?;
    let encoder = Encoder::new(set, &device, request)?;
    let t = Instant::now();
    let e = encoder.encode_with(&loaded.image, &loaded.metadata)?;
    let mut note = String::new();
    if let Some(s) = e.search {
        if !s.met {
            eprintln!(
                "warning: no quality meets {}; using the closest, {}",
                match s.target {
                    Target::Bpp(b) => format!("{b} bpp"),
                    Target::Psnr(p) => format!("{p} dB"),
                },
                e.quality
            );
        }
        note = match s.psnr {
            Some(p) => format!(", PSNR {p:.2} dB ({} tries)", s.tries),
            None => format!(" ({} tries)", s.tries),
        };
    }
    let (bytes, stats, quality) = (e.bytes, e.stats, e.quality);
    let secs = t.elapsed().as_secs_f64();
    super::write_file(&output, &bytes)?;
    if !a.common.quiet {
        let (w, h) = loaded.image.dimensions();
        eprintln!(
            "{} → {}: {}×{} quality {}, {} bytes, {:.4} bpp{note}, {}, {:.2} s",
            a.input.display(),
            output.display(),
            w,
            h,
            quality,
            stats.file_bytes,
            nic_metrics::bpp(stats.file_bytes, w, h),
            ratio((3 * w as usize * h as usize) as f64 / stats.file_bytes as f64),
            secs
        );
    }
    Ok(())
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
