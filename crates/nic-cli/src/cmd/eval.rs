use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nic_format::NicFile;
use nic_model::DeviceChoice;
use serde::Serialize;

#[derive(clap::Args)]
pub struct Args {
    /// Folder of images (searched recursively).
    #[arg(long)]
    data: PathBuf,
    /// Model folder (default: the bundled models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Qualities to evaluate, comma-separated (default: all in the model folder).
    #[arg(long, value_delimiter = ',')]
    quality: Vec<u8>,
    /// Use at most this many images, evenly spread over the sorted list.
    #[arg(long)]
    limit: Option<usize>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    #[arg(long)]
    quiet: bool,
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
}

/// Means over the images of one quality.
#[derive(Serialize, Default)]
struct QualityResult {
    quality: u8,
    images: usize,
    bpp: f64,
    psnr: f64,
    /// Coded payload bits over the ideal information content under the model's prior, minus 1.
    coder_overhead: f64,
    /// The same against the integer tables alone.
    table_overhead: f64,
    /// Mean payload bytes per image beyond the ideal information content.
    coder_overhead_bytes: f64,
    header_bytes: f64,
    encode_seconds: f64,
    decode_seconds: f64,
}

pub fn run(a: Args) -> Result<()> {
    let mut files = nic_data::list_images(&a.data)?;
    if files.is_empty() {
        bail!("{}: no images", a.data.display());
    }
    if let Some(n) = a.limit.filter(|&n| n > 0 && n < files.len()) {
        let step = files.len() as f64 / n as f64;
        files = (0..n)
            .map(|i| files[(i as f64 * step) as usize].clone())
            .collect();
    }
    let images: Vec<_> = files
        .iter()
        .map(|f| nic_image::load_rgb8(f).map(|l| l.image))
        .collect::<Result<_, _>>()?;
    let set = super::model_set(a.model.as_deref())?;
    let qualities = if a.quality.is_empty() {
        set.qualities()
    } else {
        a.quality.clone()
    };
    let device = super::open_device(a.device, a.quiet);
    let mut results = Vec::new();
    for q in qualities {
        let codec = set.load(q, &device)?;
        let pb = ProgressBar::new(images.len() as u64);
        if a.quiet {
            pb.set_draw_target(ProgressDrawTarget::hidden());
        }
        pb.set_style(ProgressStyle::with_template(&format!(
            "quality {q} {{bar:30}} {{pos}}/{{len}} ETA {{eta}}"
        ))?);
        let mut r = QualityResult {
            quality: q,
            images: images.len(),
            ..Default::default()
        };
        let (mut payload_bits, mut ideal_bits, mut table_bits) = (0.0, 0.0, 0.0);
        for img in &images {
            let t = Instant::now();
            let (bytes, stats) = codec.encode(img)?;
            r.encode_seconds += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let out = codec.decode(&NicFile::parse(&bytes)?)?;
            r.decode_seconds += t.elapsed().as_secs_f64();
            r.bpp += nic_metrics::bpp(bytes.len(), img.width(), img.height());
            r.psnr += nic_metrics::psnr(img.as_raw(), out.as_raw());
            r.header_bytes += stats.header_bytes as f64;
            payload_bits += 8.0 * stats.payload_bytes as f64;
            ideal_bits += stats.ideal_bits;
            table_bits += stats.table_bits;
            pb.inc(1);
        }
        pb.finish_and_clear();
        let n = images.len() as f64;
        for v in [
            &mut r.bpp,
            &mut r.psnr,
            &mut r.header_bytes,
            &mut r.encode_seconds,
            &mut r.decode_seconds,
        ] {
            *v /= n;
        }
        r.coder_overhead = payload_bits / ideal_bits - 1.0;
        r.coder_overhead_bytes = (payload_bits - ideal_bits) / 8.0 / n;
        r.table_overhead = payload_bits / table_bits - 1.0;
        results.push(r);
    }
    println!(
        "{} images from {}, model {}",
        images.len(),
        a.data.display(),
        set.dir.display()
    );
    println!(
        "quality     bpp   PSNR dB   ratio  coder overhead (total, B/image)  header B  encode s  decode s"
    );
    for r in &results {
        println!(
            "{:>7}  {:>6.4}  {:>7.2}  {:>6.1}  {:>13.3}%  {:>14.2}  {:>8.1}  {:>8.3}  {:>8.3}",
            r.quality,
            r.bpp,
            r.psnr,
            24.0 / r.bpp,
            100.0 * r.coder_overhead,
            r.coder_overhead_bytes,
            r.header_bytes,
            r.encode_seconds,
            r.decode_seconds
        );
    }
    if let Some(p) = &a.json {
        super::write_file(p, &serde_json::to_vec_pretty(&results)?)?;
    }
    Ok(())
}
