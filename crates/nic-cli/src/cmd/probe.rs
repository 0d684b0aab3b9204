//! `nic probe`: a model's own ceilings on a folder of pictures (see `nic_model::probe`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use nic_image::Planar;
use nic_model::burn::tensor::{Tensor, TensorData};
use nic_model::probe::{FINER, Point, Probe};
use nic_model::{Architecture, DeviceChoice, SavedModel};

use crate::exit::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// Pictures to measure on (a folder, searched recursively). Not the pictures you report
    /// results on, if you are choosing what to train from these figures.
    #[arg(long)]
    data: PathBuf,
    /// Model folder (default: the bundled models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Measure at most this many pictures (the first, in name order).
    #[arg(long, default_value_t = 24)]
    limit: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
}

pub fn run(a: Args) -> Result<()> {
    let device = super::open_device(a.device, a.json)?;
    let dir = super::model_dir(a.model.as_deref())?;
    let model = SavedModel::load(&dir, &device)?;
    let mut files = nic_image::list_images(&a.data)?;
    files.truncate(a.limit);
    if files.is_empty() {
        return Err(Failure::Input(format!("no pictures in {}", a.data.display())).into());
    }
    let mut probes = Vec::new();
    for file in &files {
        let img = nic_image::load_rgb8(file)
            .with_context(|| file.display().to_string())?
            .image;
        // The top-left part whose sides are multiples of the stride: the probe measures the
        // networks, not the codec's padding.
        let s = Architecture::STRIDE;
        let (w, h) = (img.width() as usize / s * s, img.height() as usize / s * s);
        if w == 0 || h == 0 {
            continue;
        }
        let planar = Planar::region(&img, 0, 0, w, h);
        let x = Tensor::<4>::from_data(TensorData::new(planar.data, [1, 3, h, w]), &device);
        probes.push(model.compressor.probe(x));
    }
    if probes.is_empty() {
        return Err(Failure::Input("every picture is smaller than 16 × 16".into()).into());
    }
    let mean = |f: &dyn Fn(&Probe) -> f64| probes.iter().map(f).sum::<f64>() / probes.len() as f64;
    // The probe's MSE is on the 0..=1 scale, PSNR on 0..=255.
    let psnr = |mse: f64| nic_metrics::psnr_from_mse(mse * 255.0 * 255.0);
    // Each quantizer's figures over the pictures: means, and the largest symbol anywhere.
    let rows = |pick: &dyn Fn(&Probe) -> &[Point]| -> Vec<Row> {
        (0..pick(&probes[0]).len())
            .map(|i| {
                let m = |f: &dyn Fn(&Point) -> f64| mean(&|p| f(&pick(p)[i]));
                Row {
                    psnr: m(&|q| psnr(q.mse)),
                    rounding_psnr: m(&|q| psnr(q.rounding_mse)),
                    bpp: m(&|q| q.bpp),
                    side_bpp: m(&|q| q.side_bpp),
                    detail_bpp: m(&|q| q.detail_bpp),
                    at_min_scale: m(&|q| q.at_min_scale),
                    channels_99: m(&|q| q.channels_99 as f64),
                    max_symbol: probes
                        .iter()
                        .map(|p| pick(p)[i].max_symbol)
                        .fold(0.0, f64::max),
                }
            })
            .collect()
    };
    let levels = rows(&|p| &p.levels);
    let finer = rows(&|p| &p.finer);
    let gains: Vec<f64> = probes[0].gains.clone();
    let products: Vec<f64> = probes[0].gain_products.clone();
    let unquantized = mean(&|p| psnr(p.unquantized_mse));
    if a.json {
        let v = serde_json::json!({
            "model": dir.display().to_string(), "pictures": probes.len(),
            "unquantized_psnr": unquantized, "levels": levels, "gains": gains,
            "gain_products": products, "finer": finer, "finer_factors": FINER,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{} pictures of {}, model {}",
        probes.len(),
        a.data.display(),
        dir.display()
    );
    println!("synthesis of the unquantized latents: {unquantized:.2} dB (the transforms' ceiling)");
    println!(
        "quantizer         gain   g·g⁻¹   PSNR dB  vs ceiling    bpp  side %  detail %  σ≤min %  max |ŷ|  ch. 99 %"
    );
    let line = |name: String, gain: f64, product: Option<f64>, r: &Row| {
        println!(
            "{name:<14} {gain:>7.3} {:>7} {:>9.2} {:>11.2} {:>6.3} {:>7.1} {:>9.1} {:>8.1} {:>8.0} {:>9.1}",
            product.map_or("".into(), |p| format!("{p:.3}")),
            r.psnr,
            r.rounding_psnr,
            r.bpp,
            100.0 * r.side_bpp / r.bpp,
            100.0 * r.detail_bpp / r.bpp,
            100.0 * r.at_min_scale,
            r.max_symbol,
            r.channels_99,
        );
    };
    for (i, r) in levels.iter().enumerate() {
        line(format!("level {}", i + 1), gains[i], Some(products[i]), r);
    }
    let top = *gains.last().unwrap_or(&1.0);
    for (factor, r) in FINER.iter().zip(&finer) {
        line(format!("top × {factor}"), top * factor, None, r);
    }
    Ok(())
}

/// One quantizer's figures over the pictures (PSNR in dB; `rounding_psnr` against the
/// synthesis of the unquantized latents; the rest as in [`nic_model::probe::Point`]).
#[derive(serde::Serialize)]
struct Row {
    psnr: f64,
    rounding_psnr: f64,
    bpp: f64,
    side_bpp: f64,
    detail_bpp: f64,
    at_min_scale: f64,
    max_symbol: f64,
    /// Latent channels that carry 99 % of the latents' bits, mean over the pictures.
    channels_99: f64,
}
