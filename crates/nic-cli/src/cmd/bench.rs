//! `nic bench`: nic's own speed and memory figures, so regressions show and so
//! `scripts/bench-vs-pytorch.sh` can put them beside CompressAI's.
//!
//! Each case runs in a fresh child process (this same executable with `--child`), so its peak
//! resident memory is its own and not the high-water mark of the cases before it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use nic_codec::{EncodeRequest, Encoder, Rate};
use nic_format::NicFile;
use nic_image::RgbImage;
use nic_model::burn::tensor::{Device, Distribution, Tensor};
use nic_model::{Architecture, Compressor, DeviceChoice, Targets};
use serde::{Deserialize, Serialize};

use crate::exit::Failure;

/// The cases, as `--cases` names them: training steps of the factorized-prior network at three
/// batch shapes (CIFAR-sized, mid and large crops), a training step of the default model's
/// network (scale hyperprior with gains, at the photo campaign's batch and crop), coding one
/// Kodak picture, and a 3072×2048 picture.
const CASES: [&str; 8] = [
    "train-64x32",
    "train-16x64",
    "train-8x256",
    "train-default-8x256",
    "encode",
    "decode",
    "encode-3072x2048",
    "decode-3072x2048",
];

#[derive(clap::Args)]
pub struct Args {
    /// Cases to run, comma-separated (default: all): train-64x32, train-16x64, train-8x256
    /// (the factorized network, batch × crop side), train-default-8x256 (the default model's
    /// network), encode, decode (--image), encode-3072x2048, decode-3072x2048 (a 4×4 mosaic of
    /// --image).
    #[arg(long, value_delimiter = ',', default_values_t = CASES.map(String::from))]
    cases: Vec<String>,
    /// Timed repetitions per case (the median is reported), after --warmup untimed ones.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Picture for the coding cases (default: the bundled kodim01.png sample).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Model folder for the coding cases (default: the bundled models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Quality of the model used for coding.
    #[arg(short, long, default_value_t = 2.0)]
    quality: f64,
    /// auto, cpu, gpu, gpu:N or gpu-software.
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
    /// Also write the results here, as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Run the one case given in this process and print its result as JSON (used internally).
    #[arg(long, hide = true)]
    child: bool,
}

/// What one case measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    pub case: String,
    pub device: String,
    pub threads: usize,
    /// Seconds of each timed repetition.
    pub seconds: Vec<f64>,
    pub median_seconds: f64,
    /// Training: images per second at the median.
    pub images_per_second: Option<f64>,
    /// Training on the CPU: the convolutions' floating-point operations in one step (2 per
    /// multiply-add of nic-conv's matrix products, forward and backward), in units of 10⁹.
    #[serde(default)]
    pub conv_gflop_per_step: Option<f64>,
    /// Coding: the file's bits per pixel.
    pub bpp: Option<f64>,
    /// Peak resident memory of the process running the case, in MiB.
    pub peak_rss_mib: Option<f64>,
}

pub fn run(a: Args) -> Result<()> {
    for c in &a.cases {
        if !CASES.contains(&c.as_str()) {
            bail!(Failure::Usage(format!(
                "unknown case '{c}'; known: {}",
                CASES.join(", ")
            )));
        }
    }
    if a.runs == 0 {
        bail!(Failure::Usage("--runs must be at least 1".into()));
    }
    if a.child {
        let [case] = a.cases.as_slice() else {
            bail!(Failure::Usage("--child runs exactly one case".into()));
        };
        let result = run_case(&a, case)?;
        println!("{}", serde_json::to_string(&result)?);
        return Ok(());
    }
    // Fail here, with the inputs' own errors and exit statuses, rather than in every child.
    a.device.open()?;
    if a.cases.iter().any(|c| train_shape(c).is_none()) {
        super::check_input(&image_path(a.image.as_deref())?)?;
        super::model_set(a.model.as_deref())?;
    }
    let mut results = Vec::new();
    println!(
        "{:<20} {:>10} {:>10} {:>12} {:>10} {:>10}",
        "case", "median s", "images/s", "conv GFLOP/s", "bpp", "peak MiB"
    );
    for case in &a.cases {
        let r = spawn_case(&a, case)?;
        println!(
            "{:<20} {:>10.4} {:>10} {:>12} {:>10} {:>10}",
            r.case,
            r.median_seconds,
            r.images_per_second
                .map_or("-".into(), |v| format!("{v:.1}")),
            r.conv_gflop_per_step
                .map_or("-".into(), |g| format!("{:.0}", g / r.median_seconds)),
            r.bpp.map_or("-".into(), |v| format!("{v:.4}")),
            r.peak_rss_mib.map_or("-".into(), |v| format!("{v:.0}")),
        );
        results.push(r);
    }
    if let Some(first) = results.first() {
        println!("device: {}", first.device);
    }
    if let Some(path) = &a.json {
        super::write_file(path, serde_json::to_string_pretty(&results)?.as_bytes())?;
    }
    Ok(())
}

/// Runs `case` in a child process and reads its JSON line.
fn spawn_case(a: &Args, case: &str) -> Result<CaseResult> {
    let exe = std::env::current_exe().context("locating the nic executable")?;
    let mut cmd = Command::new(exe);
    cmd.env(
        "RAYON_NUM_THREADS",
        rayon::current_num_threads().to_string(),
    )
    .args(["bench", "--child", "--cases", case])
    .args(["--runs", &a.runs.to_string()])
    .args(["--warmup", &a.warmup.to_string()])
    .args(["--quality", &a.quality.to_string()])
    .args(["--device", &a.device.to_string()]);
    if let Some(p) = &a.image {
        cmd.arg("--image").arg(p);
    }
    if let Some(p) = &a.model {
        cmd.arg("--model").arg(p);
    }
    let out = cmd.output().context("running a benchmark case")?;
    if !out.status.success() {
        bail!(
            "benchmark case {case} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).context("reading a benchmark case's result")
}

fn run_case(a: &Args, case: &str) -> Result<CaseResult> {
    let opened = a.device.open()?;
    let device = opened.device;
    let mut result = CaseResult {
        case: case.to_string(),
        device: opened.description,
        threads: rayon::current_num_threads(),
        seconds: Vec::new(),
        median_seconds: 0.0,
        images_per_second: None,
        conv_gflop_per_step: None,
        bpp: None,
        peak_rss_mib: None,
    };
    if let Some((arch, batch, crop)) = train_shape(case) {
        let (seconds, multiply_adds) = time_training(&device, &arch, batch, crop, a.warmup, a.runs);
        result.seconds = seconds;
        result.median_seconds = median(&result.seconds);
        result.images_per_second = Some(batch as f64 / result.median_seconds);
        result.conv_gflop_per_step = (multiply_adds > 0).then(|| 2.0 * multiply_adds as f64 / 1e9);
    } else {
        let request = EncodeRequest {
            rate: Rate::Quality(a.quality),
            ..EncodeRequest::default()
        };
        let encoder = Encoder::new(super::model_set(a.model.as_deref())?, &device, request)?;
        let mut img = nic_image::load_rgb8(&image_path(a.image.as_deref())?)?.image;
        if case.ends_with("3072x2048") {
            img = mosaic(&img, 3072, 2048);
        }
        let bytes = encoder.encode(&img)?.bytes;
        result.bpp = Some(nic_metrics::bpp(bytes.len(), img.width(), img.height()));
        result.seconds = if case.starts_with("encode") {
            time(a.warmup, a.runs, || encoder.encode(&img).map(drop))?
        } else {
            let file = NicFile::parse(&bytes)?;
            time(a.warmup, a.runs, || encoder.codec().decode(&file).map(drop))?
        };
        result.median_seconds = median(&result.seconds);
    }
    result.peak_rss_mib = peak_rss_mib();
    Ok(result)
}

/// `train-BxC` → the factorized architecture, B, C; `train-default-BxC` → the default's.
fn train_shape(case: &str) -> Option<(Architecture, usize, usize)> {
    let rest = case.strip_prefix("train-")?;
    let (arch, rest) = match rest.strip_prefix("default-") {
        Some(rest) => (Architecture::DEFAULT, rest),
        None => (Architecture::FACTORIZED, rest),
    };
    let (b, c) = rest.split_once('x')?;
    Some((arch, b.parse().ok()?, c.parse().ok()?))
}

/// Seconds per training step on random pictures (the speed does not depend on the content),
/// exactly as `nic train` steps: for the factorized architecture (the network CompressAI's
/// `FactorizedPrior` has, for `scripts/bench-vs-pytorch.sh`) at one λ, for a variable-rate one
/// with every image at its own level, as `nic train --lambdas` draws them. Also returns the
/// multiply-adds of the last step's convolutions (nic-conv's count; 0 where burn's run).
fn time_training(
    device: &Device,
    arch: &Architecture,
    batch: usize,
    crop: usize,
    warmup: usize,
    runs: usize,
) -> (Vec<f64>, u64) {
    let ad = device.clone().autodiff();
    ad.seed(1);
    let mut model = Compressor::new(arch, &ad);
    let mut optim = nic_train::optimizer();
    let x = Tensor::<4>::random([batch, 3, crop, crop], Distribution::Uniform(0.0, 1.0), &ad);
    let (levels, lambdas): (Vec<usize>, Vec<f64>) = if arch.is_variable_rate() {
        let lambdas = &nic_train::DEFAULT_LAMBDAS[..arch.rate_levels];
        (0..batch)
            .map(|i| (i % lambdas.len(), lambdas[i % lambdas.len()]))
            .unzip()
    } else {
        (Vec::new(), vec![0.0067; batch])
    };
    let (mut seconds, mut multiply_adds) = (Vec::new(), 0);
    for i in 0..warmup + runs {
        let noise = nic_train::step_noise(1, i as u64, &ad);
        let targets = Targets {
            levels: &levels,
            lambdas: &lambdas,
            latent_rate: None,
        };
        let (t, before) = (Instant::now(), nic_conv::multiply_adds());
        (model, _) =
            nic_train::train_step(model, &mut optim, x.clone(), &noise, targets, None, 1e-4);
        if i >= warmup {
            seconds.push(t.elapsed().as_secs_f64());
        }
        multiply_adds = nic_conv::multiply_adds() - before;
    }
    (seconds, multiply_adds)
}

fn time<E>(warmup: usize, runs: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<Vec<f64>>
where
    anyhow::Error: From<E>,
{
    let mut seconds = Vec::new();
    for i in 0..warmup + runs {
        let t = Instant::now();
        f()?;
        if i >= warmup {
            seconds.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(seconds)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// `img` repeated to fill `width × height`, every other copy mirrored so that the copies meet
/// without a hard edge (a large photograph-like picture from a small sample).
fn mosaic(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    RgbImage::from_fn(width, height, |x, y| {
        let (tx, ty) = (x / w, y / h);
        let sx = if tx % 2 == 0 { x % w } else { w - 1 - x % w };
        let sy = if ty % 2 == 0 { y % h } else { h - 1 - y % h };
        *img.get_pixel(sx, sy)
    })
}

/// `--image`, or kodim01.png from the bundled samples (found like the default model).
fn image_path(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    // Outside a checkout there is no sample (the binary carries only the model): say so,
    // rather than that no model was found.
    let sample = nic_codec::default_model_dir()
        .ok()
        .and_then(|models| models.ancestors().nth(2).map(Path::to_path_buf))
        .map(|root| root.join("datasets/samples/kodak/kodim01.png"))
        .filter(|p| p.is_file());
    sample.ok_or_else(|| {
        Failure::Input("no bundled kodim01.png sample found; pass --image".into()).into()
    })
}

/// Peak resident memory of this process so far (Linux reports KiB, macOS bytes).
fn peak_rss_mib() -> Option<f64> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage only writes into the struct we pass.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return None;
        }
        let kib = if cfg!(target_os = "macos") {
            usage.ru_maxrss as f64 / 1024.0
        } else {
            usage.ru_maxrss as f64
        };
        Some(kib / 1024.0)
    }
    #[cfg(not(unix))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_parse() {
        assert_eq!(
            train_shape("train-64x32"),
            Some((Architecture::FACTORIZED, 64, 32))
        );
        assert_eq!(
            train_shape("train-default-8x256"),
            Some((Architecture::DEFAULT, 8, 256))
        );
        assert_eq!(train_shape("encode"), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn the_mosaic_mirrors_its_copies() {
        let img = RgbImage::from_fn(3, 2, |x, y| nic_image::image::Rgb([x as u8, y as u8, 0]));
        let m = mosaic(&img, 7, 5);
        assert_eq!(m.get_pixel(2, 0), m.get_pixel(3, 0)); // mirrored at the seam
        assert_eq!(m.get_pixel(6, 4).0, [0, 0, 0]);
    }
}
