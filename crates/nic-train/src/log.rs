//! `log.csv`: one row per logging interval (split `train`) and per validation (split `val`, the
//! exported model's figures; with `--ema` also `val-raw`, those of the weights being trained).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::RdStats;

pub const LOG_FILE: &str = "log.csv";
const HEADER: &str = "step,epoch,split,loss,bpp,mse,psnr,lr,elapsed_s,images_per_s,side_bpp";

pub(crate) struct Row {
    pub step: u64,
    pub epoch: f64,
    pub split: &'static str,
    pub stats: RdStats,
    pub lr: f64,
    pub elapsed: f64,
    pub images_per_s: f64,
}

pub(crate) struct Log {
    path: PathBuf,
}

impl Log {
    /// Opens the log in `dir`. On resume, rows newer than the checkpoint's step are dropped,
    /// so the log reads as one uninterrupted run.
    pub fn open(dir: &Path, resume_step: Option<u64>) -> std::io::Result<Log> {
        let path = dir.join(LOG_FILE);
        let mut text = String::from(HEADER);
        text.push('\n');
        if let (Some(step), Ok(old)) = (resume_step, std::fs::read_to_string(&path)) {
            for line in old.lines().skip(1) {
                let row_step = line.split(',').next().and_then(|s| s.parse::<u64>().ok());
                if row_step.is_some_and(|s| s <= step) {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        nic_fs::write_atomic(&path, text.as_bytes())?;
        Ok(Log { path })
    }

    pub fn append(&self, r: &Row) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        writeln!(
            f,
            "{},{:.4},{},{:.6},{:.6},{:.8},{:.4},{:.3e},{:.1},{:.2},{:.6}",
            r.step,
            r.epoch,
            r.split,
            r.stats.loss,
            r.stats.bpp,
            r.stats.mse,
            r.stats.psnr(),
            r.lr,
            r.elapsed,
            r.images_per_s,
            r.stats.side_bpp
        )
    }
}
