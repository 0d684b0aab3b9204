use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Picture to compress (any format the `image` crate reads).
    input: PathBuf,
    /// Output .nic file (default: the input with extension .nic).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Quality level (see `nic eval` for the rate of each).
    #[arg(short, long, default_value_t = 2)]
    quality: u8,
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
    let device = super::open_device(a.common.device, a.common.quiet)?;
    let codec = set
        .load(a.quality, &device)?
        .with_max_pixels(a.common.max_pixels);
    let t = Instant::now();
    let (bytes, stats) = codec.encode(&loaded.image)?;
    let secs = t.elapsed().as_secs_f64();
    super::write_file(&output, &bytes)?;
    if !a.common.quiet {
        let (w, h) = loaded.image.dimensions();
        eprintln!(
            "{} → {}: {}×{} quality {}, {} bytes, {:.4} bpp, ratio {:.1}:1, {:.2} s",
            a.input.display(),
            output.display(),
            w,
            h,
            a.quality,
            stats.file_bytes,
            nic_metrics::bpp(stats.file_bytes, w, h),
            (3 * w as usize * h as usize) as f64 / stats.file_bytes as f64,
            secs
        );
    }
    Ok(())
}
