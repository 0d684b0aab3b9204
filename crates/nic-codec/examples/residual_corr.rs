//! How much a coded residual round(y − μ) has in common with its neighbours': what a
//! checkerboard context can still predict after the hyperprior (docs/architecture.md).
//!
//!   cargo run --release -p nic-codec --example residual_corr -- MODEL FOLDER [QUALITY...]
//!
//! For every picture of FOLDER (and its subfolders) and every quality (default 2, 5 and 8),
//! the residuals of each latent channel are centred on their mean over the picture; then, at
//! every position whose row + column is odd (the context's non-anchors) away from the
//! border, the residual is paired with the mean of its four neighbours (all anchors), and
//! |residual| with their mean magnitude. Printed: the correlation of each pair over all.

use std::path::Path;

use nic_codec::Codec;
use nic_model::SavedModel;
use nic_model::burn::tensor::Device;

/// Running sums of a pair of variables, for their correlation.
#[derive(Default)]
struct Pairs {
    n: f64,
    x: f64,
    y: f64,
    xx: f64,
    yy: f64,
    xy: f64,
}

impl Pairs {
    fn add(&mut self, x: f64, y: f64) {
        self.n += 1.0;
        self.x += x;
        self.y += y;
        self.xx += x * x;
        self.yy += y * y;
        self.xy += x * y;
    }

    fn correlation(&self) -> f64 {
        let (mx, my) = (self.x / self.n, self.y / self.n);
        let cov = self.xy / self.n - mx * my;
        cov / ((self.xx / self.n - mx * mx) * (self.yy / self.n - my * my)).sqrt()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: residual_corr MODEL FOLDER [QUALITY...]");
        std::process::exit(2);
    }
    let model = SavedModel::load(Path::new(&args[1]), &Device::flex()).expect("model");
    let channels = model.info.architecture.latent_channels;
    let codec = Codec::new(model, Device::flex()).expect("codec");
    let files = nic_image::list_images(Path::new(&args[2])).expect("folder");
    let qualities: Vec<f64> = match args.len() {
        3 => vec![2.0, 5.0, 8.0],
        _ => args[3..]
            .iter()
            .map(|q| q.parse().expect("quality"))
            .collect(),
    };
    for q in qualities {
        let c = codec.with_quality(q).expect("quality");
        let (mut values, mut magnitudes) = (Pairs::default(), Pairs::default());
        for f in &files {
            let img = nic_image::load_rgb8(f).expect("picture").image;
            let (h, w) = (
                (img.height() as usize).div_ceil(16),
                (img.width() as usize).div_ceil(16),
            );
            let latents = c
                .quantize(&c.analyze(&img).expect("analysis"))
                .expect("latents");
            for plane in latents.y.chunks_exact(h * w).take(channels) {
                let mean = plane.iter().map(|&v| v as f64).sum::<f64>() / plane.len() as f64;
                let r = |row: usize, col: usize| plane[row * w + col] as f64 - mean;
                for row in 1..h.saturating_sub(1) {
                    for col in 1..w.saturating_sub(1) {
                        if (row + col) % 2 == 0 {
                            continue;
                        }
                        let around = [
                            r(row - 1, col),
                            r(row + 1, col),
                            r(row, col - 1),
                            r(row, col + 1),
                        ];
                        let v = r(row, col);
                        values.add(v, around.iter().sum::<f64>() / 4.0);
                        let m = around.iter().map(|a| a.abs()).sum::<f64>() / 4.0;
                        magnitudes.add(v.abs(), m);
                    }
                }
            }
        }
        println!(
            "quality {q}: residual vs its neighbours' mean {:.3}, |residual| vs theirs {:.3} ({} pictures)",
            values.correlation(),
            magnitudes.correlation(),
            files.len()
        );
    }
}
