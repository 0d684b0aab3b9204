//! Whole collections: `nic encode DIR -o OUTDIR` and `nic decode DIR -o OUTDIR`.
//!
//! The input tree is mirrored under OUTDIR. Symbolic links are not followed (a link could
//! lead out of the tree, or loop), so every output lands under OUTDIR. Files whose output
//! exists are skipped unless `--force`: outputs are written atomically, so an existing one is
//! complete, and an interrupted run resumes where it stopped. A file that fails is reported
//! and the rest go on; the exit status is that of the first failure.
//!
//! Jobs run on their own threads but share the one pool of CPU workers (`--threads`) that
//! the networks use, so N jobs never run more than that many compute threads at once: what
//! they add is overlap, one job's serial parts (reading and decoding the picture, entropy
//! coding, writing) running while another's networks use the cores.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exit::Failure;

/// Options shared by `encode DIR` and `decode DIR`.
#[derive(clap::Args, Clone, Copy)]
pub struct FolderArgs {
    /// With a folder as input: files coded at once (default: the number of CPUs, at most 4).
    #[arg(long)]
    pub jobs: Option<usize>,
}

impl FolderArgs {
    fn jobs(&self) -> usize {
        self.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4)
        })
    }
}

/// One file to code.
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
}

/// What one job moved, for the summary.
pub struct Moved {
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Warnings to print above the progress bar.
    pub warnings: Vec<String>,
}

/// The jobs for the files under `input` that `wanted` accepts: each to the same relative path
/// under `out`, with extension `ext`. `out` itself is left out if it lies inside `input`.
pub fn plan(
    input: &Path,
    out: &Path,
    wanted: &dyn Fn(&Path) -> bool,
    ext: &str,
) -> Result<Vec<Job>> {
    if out.exists() && !out.is_dir() {
        return Err(
            Failure::Output(format!("{} exists and is not a folder", out.display())).into(),
        );
    }
    let skip = out.canonicalize().ok();
    let mut jobs = Vec::new();
    let mut stack = vec![input.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if skip
            .as_deref()
            .is_some_and(|s| dir.canonicalize().is_ok_and(|d| d == s))
        {
            continue;
        }
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Failure::Input(format!("cannot read {}: {e}", dir.display())))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| Failure::Input(format!("cannot read {}: {e}", dir.display())))?;
            // The entry's own type: a symbolic link is neither a file nor a folder here.
            let kind = entry
                .file_type()
                .map_err(|e| Failure::Input(format!("cannot read {}: {e}", dir.display())))?;
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && wanted(&path) {
                let rel = path.strip_prefix(input).expect("walked from input");
                jobs.push(Job {
                    output: out.join(rel).with_extension(ext),
                    input: path,
                });
            }
        }
    }
    jobs.sort_by(|a, b| a.input.cmp(&b.input));
    Ok(jobs)
}

/// Runs `work` on every job not already done, `jobs` at a time, with one progress bar, and
/// prints the summary.
pub fn run(
    jobs: Vec<Job>,
    args: FolderArgs,
    force: bool,
    quiet: bool,
    work: &(dyn Fn(&Job) -> Result<Moved> + Sync),
) -> Result<()> {
    let total = jobs.len();
    let (todo, done): (Vec<Job>, Vec<Job>) =
        jobs.into_iter().partition(|j| force || !j.output.exists());
    let bar = ProgressBar::with_draw_target(
        Some(todo.len() as u64),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} files  {elapsed_precise} ETA {eta}  {msg}",
        )
        .expect("valid template"),
    );
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let totals = Mutex::new((0u64, 0u64, 0usize));
    let failures: Mutex<Vec<(PathBuf, anyhow::Error)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..args.jobs().clamp(1, todo.len().max(1)) {
            s.spawn(|| {
                while let Some(job) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    match prepare(job).and_then(|()| work(job)) {
                        Ok(m) => {
                            for w in &m.warnings {
                                bar.suspend(|| eprintln!("warning: {}: {w}", job.input.display()));
                            }
                            let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
                            *t = (t.0 + m.bytes_in, t.1 + m.bytes_out, t.2 + 1);
                        }
                        Err(e) => {
                            bar.suspend(|| eprintln!("error: {}: {e:#}", job.input.display()));
                            failures
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((job.input.clone(), e));
                        }
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let (bytes_in, bytes_out, coded) = totals.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    if !quiet {
        let ratio = match (bytes_in, bytes_out) {
            (0, _) | (_, 0) => String::new(),
            (i, o) if o <= i => format!(" ({:.1}× smaller)", i as f64 / o as f64),
            (i, o) => format!(" ({:.1}× larger)", o as f64 / i as f64),
        };
        eprintln!(
            "{coded} of {total} files coded, {} already done, {} failed; {bytes_in} bytes in, \
             {bytes_out} bytes out{ratio}; {:.1} s, {} job{}",
            done.len(),
            failures.len(),
            started.elapsed().as_secs_f64(),
            args.jobs(),
            if args.jobs() == 1 { "" } else { "s" }
        );
    }
    if failures.is_empty() {
        return Ok(());
    }
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    let n = failures.len();
    let (path, first) = failures.swap_remove(0);
    Err(first.context(format!(
        "{n} of {total} files failed (the first, whose status this is: {})",
        path.display()
    )))
}

/// Creates the output's folder.
fn prepare(job: &Job) -> Result<()> {
    if let Some(dir) = job.output.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::Output(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// The size of a file, for the summary.
pub fn size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| path.display().to_string())?
        .len())
}
