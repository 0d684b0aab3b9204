//! `nic compare`: how does the learned codec compare with JPEG and the other classical codecs,
//! in quality (PSNR, MS-SSIM) and in size (bpp, compression ratio)?
//!
//! The data flow follows the module list: every codec under test ([`subjects`]) encodes and
//! decodes every image at every quality point, timed one at a time on an otherwise idle machine
//! ([`measure`]); the measurements are averaged per quality point the way CompressAI reports
//! them and condensed into BD-rates, PSNR at fixed rates and equal-PSNR file sizes
//! ([`summary`]); and they are written out as CompressAI-style result files, a CSV and a JSON
//! summary ([`outputs`]), RD plots ([`plot`]) and one self-contained HTML page ([`report`]).

pub mod crops;
pub mod measure;
pub mod outputs;
pub mod plot;
pub mod report;
pub mod subjects;
pub mod summary;

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nic_model::burn::tensor::Device;

pub use measure::Measurement;
pub use subjects::{Selection, Subject};
pub use summary::Summary;

/// The reference all BD-rates are computed against: libjpeg-turbo, 4:2:0, optimized Huffman.
pub const ANCHOR: &str = "jpeg-turbo-420";

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Image(#[from] nic_image::ImageError),
    #[error(transparent)]
    Codec(#[from] nic_codec::CodecError),
    #[error(transparent)]
    Baseline(#[from] nic_baselines::Error),
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no images", .0.display())]
    NoImages(PathBuf),
    /// A `--codecs` list that names no codec or an unknown one.
    #[error("{0}")]
    Selection(String),
    #[error("{0}")]
    Invalid(String),
}

/// What to compare, on which images, and where to put the results.
pub struct Options {
    /// Folder of images, searched recursively.
    pub data: PathBuf,
    /// Output folder; `None` measures and summarizes without writing files.
    pub out: Option<PathBuf>,
    pub selection: Selection,
    /// Model folder for the `nic` subject (needed only when it is selected).
    pub model_dir: Option<PathBuf>,
    /// An encoder effort above 0 runs nic at it too, beside effort 0.
    pub effort: nic_codec::Effort,
    pub device: Device,
    /// Use at most this many images, evenly spread over the sorted list.
    pub limit: Option<usize>,
    /// Images shown as side-by-side crops in the report.
    pub crops: usize,
    pub progress: bool,
    /// The command line, recorded in the summary and the report.
    pub command: String,
}

/// Everything a comparison produced.
pub struct Comparison {
    pub images: Vec<PathBuf>,
    pub measurements: Vec<Measurement>,
    pub summary: Summary,
    /// Files written, in order (empty without an output folder).
    pub written: Vec<PathBuf>,
}

/// Runs the comparison: measure, summarize, and write the outputs if asked to.
pub fn run(options: &Options) -> Result<Comparison, CompareError> {
    let started = Instant::now();
    if let Some(out) = &options.out {
        outputs::prepare(out)?;
    }
    let images = select_images(&options.data, options.limit, options.out.as_deref())?;
    let subjects = options.selection.subjects(
        options.model_dir.as_deref(),
        &options.device,
        options.effort,
    )?;
    let lossless = options.selection.lossless();
    let per_image = subjects.iter().map(|s| s.qualities().len()).sum::<usize>() + lossless.len();
    let bar = progress_bar(options.progress, (images.len() * per_image) as u64);
    let measurements = measure::measure_all(&images, &subjects, &lossless, &bar)?;
    bar.finish_and_clear();
    let mut summary = summary::summarize(&measurements, &subjects, &lossless, ANCHOR);
    summary.run = summary::RunInfo::new(
        &options.data,
        images.len(),
        &options.command,
        started.elapsed().as_secs_f64(),
    );
    let mut written = Vec::new();
    if let Some(out) = &options.out {
        written = outputs::write_all(out, &measurements, &summary)?;
        let crops = crops::crops(&images, &subjects, &measurements, options.crops)?;
        let page = report::html(&summary, &crops)?;
        written.push(outputs::write(&out.join("report.html"), page.as_bytes())?);
    }
    summary.run.wall_seconds = started.elapsed().as_secs_f64();
    Ok(Comparison {
        images,
        measurements,
        summary,
        written,
    })
}

/// The sorted image list, without what lies under `exclude` (an output folder inside the data
/// folder must not feed its own plots back in on a rerun), thinned to `limit` images spread
/// evenly over it.
pub fn select_images(
    dir: &Path,
    limit: Option<usize>,
    exclude: Option<&Path>,
) -> Result<Vec<PathBuf>, CompareError> {
    let mut files = nic_image::list_images(dir)?;
    if let Some(out) = exclude.and_then(|o| o.canonicalize().ok()) {
        files.retain(|p| p.canonicalize().map_or(true, |p| !p.starts_with(&out)));
    }
    if files.is_empty() {
        return Err(CompareError::NoImages(dir.to_path_buf()));
    }
    if let Some(n) = limit.filter(|&n| n > 0 && n < files.len()) {
        let step = files.len() as f64 / n as f64;
        files = (0..n)
            .map(|i| files[(i as f64 * step) as usize].clone())
            .collect();
    }
    Ok(files)
}

fn progress_bar(visible: bool, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if visible {
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:24} {bar:30} {pos}/{len} coded  {elapsed_precise} ETA {eta}",
            )
            .expect("valid template"),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}
