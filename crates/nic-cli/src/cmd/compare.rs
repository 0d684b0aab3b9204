use std::path::PathBuf;

use anyhow::Result;
use nic_codec::Effort;
use nic_compare::{Options, Selection, Summary};
use nic_model::DeviceChoice;

#[derive(clap::Args)]
pub struct Args {
    /// Folder of images (PNG, JPEG, …; searched recursively).
    #[arg(long)]
    data: PathBuf,
    /// Output folder for results/, per_image.csv, summary.json, plots and report.html
    /// (without it, only the tables are printed).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Codecs, comma-separated: nic, jpeg-image, jpeg-turbo-420, jpeg-turbo-444, webp,
    /// avif (if built with --features avif), lossless, or all (every one compiled in).
    #[arg(long, default_value = "all")]
    codecs: String,
    /// Model folder for nic (default: the bundled models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Use at most this many images, evenly spread over the sorted list.
    #[arg(long)]
    limit: Option<usize>,
    /// Images shown as side-by-side crops in the report.
    #[arg(long, default_value_t = 3)]
    crops: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Device for nic's networks: auto, cpu, gpu, gpu:N or gpu-software.
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
    /// Also run nic at this encoder effort (1 to 3), beside effort 0, and report the gain
    /// (BD-rate against effort 0) and the encode times.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=Effort::MAX as i64))]
    effort: u8,
}

pub fn run(a: Args) -> Result<()> {
    let selection = Selection::parse(&a.codecs)?;
    // The bundled model is looked for only when nic is compared.
    let model_dir = if selection.contains("nic") {
        Some(super::model_dir(a.model.as_deref())?)
    } else {
        None
    };
    let options = Options {
        data: a.data.clone(),
        out: a.out.clone(),
        selection,
        model_dir,
        effort: Effort::new(a.effort)?,
        device: super::open_device(a.device, a.quiet)?,
        limit: a.limit,
        crops: a.crops,
        progress: !a.quiet,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let result = nic_compare::run(&options)?;
    print_tables(&result.summary);
    if let Some(out) = &a.out {
        println!(
            "\nwrote {} files to {}; open {}",
            result.written.len(),
            out.display(),
            out.join("report.html").display()
        );
    }
    Ok(())
}

/// The compact answer: per codec its BD-rate and its PSNR at three rates (and so three
/// compression ratios); nic's own points with its rate breakdown; nic's size against the
/// anchor's at equal PSNR; the lossless ratios.
fn print_tables(s: &Summary) {
    println!(
        "{} images from {} ({:.0} s, {} thread{})",
        s.run.images,
        s.run.data,
        s.run.wall_seconds,
        s.run.threads,
        if s.run.threads == 1 { "" } else { "s" }
    );
    println!(
        "\n{:<16} {:>7} {:>10}   PSNR at 0.25 bpp (96:1), 0.5 bpp (48:1), 1 bpp (24:1)",
        "codec", "points", "BD-rate"
    );
    for c in &s.codecs {
        let at = |i: usize| {
            c.psnr_at[i]
                .psnr
                .map_or("–".to_string(), |v| format!("{v:.2} dB"))
        };
        println!(
            "{:<16} {:>7} {:>10} {:>12} {:>16} {:>14}",
            c.name,
            c.points.len(),
            match (c.bd_rate, c.bd_overlap) {
                (Some(v), Some(o)) if o < nic_compare::summary::MIN_OVERLAP =>
                    format!("{v:+.1} %*"),
                (Some(v), _) => format!("{v:+.1} %"),
                _ => "–".to_string(),
            },
            at(0),
            at(1),
            at(2)
        );
    }
    println!(
        "(BD-rate against {} on the PSNR curves, * where they share under {:.0} % of the \
         shorter one's PSNR range; PSNR interpolated at fixed bpp)",
        s.anchor,
        100.0 * nic_compare::summary::MIN_OVERLAP
    );
    if let Some(nic) = s.codec("nic") {
        println!(
            "\n{:<12} {:>8} {:>9} {:>9} {:>9} {:>10} {:>15} {:>10}",
            "nic quality",
            "bpp",
            "PSNR dB",
            "MS-SSIM",
            "ratio",
            "header B",
            "coder overhead",
            "side info"
        );
        for (p, r) in nic.points.iter().zip(&s.nic_rate) {
            // With a hyperprior the first tensor is the side latents z.
            let coded: f64 = r.tensor_bytes.iter().sum();
            let side = match r.tensor_bytes.as_slice() {
                [z, _] if coded > 0.0 => format!("{:.1}%", 100.0 * z / coded),
                _ => "–".to_string(),
            };
            println!(
                "{:<12} {:>8.4} {:>9.2} {:>9} {:>7.1}:1 {:>10.0} {:>14.3}% {:>10}",
                p.quality,
                p.bpp,
                p.psnr,
                p.ms_ssim.map_or("–".into(), |v| format!("{v:.4}")),
                p.ratio_raw,
                r.container_bytes,
                r.coder_overhead_percent,
                side
            );
        }
    }
    for e in &s.equal_psnr {
        if let Some(line) = e.sentence(&s.anchor) {
            println!("{line}");
        }
    }
    if let Some(g) = &s.effort {
        println!(
            "\n{} against nic (effort 0): BD-rate {}, BD-PSNR {}; encode {:.2} s vs {:.2} s \
             per picture and quality ({:.1}×), decode {:.2} s vs {:.2} s",
            g.codec,
            g.bd_rate.map_or("–".into(), |v| format!("{v:+.2} %")),
            g.bd_psnr.map_or("–".into(), |v| format!("{v:+.3} dB")),
            g.encode_seconds,
            g.base_encode_seconds,
            g.encode_seconds / g.base_encode_seconds,
            g.decode_seconds,
            g.base_decode_seconds
        );
    }
    if !s.lossless.is_empty() {
        let list: Vec<String> = s
            .lossless
            .iter()
            .map(|l| format!("{} {:.2}:1", l.name, l.ratio_raw))
            .collect();
        println!("\nlossless (ratio to raw RGB): {}", list.join(", "));
    }
}
