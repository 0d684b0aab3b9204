//! The training loop: [`train`] prepares the data and the starting point, then a [`Run`]
//! takes [`train_step`]s, logging, validating and checkpointing between them.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nic_data::{Sampler, center_crops};
use nic_model::burn::module::Module;
use nic_model::burn::optim::ModuleOptimizer;
use nic_model::burn::tensor::{Device, Tensor, TensorData};
use nic_model::{Architecture, Compressor, ModelInfo, SavedModel, Targets, TrainingInfo};
use thiserror::Error;

use crate::average::Average;
use crate::checkpoint::{Checkpoint, CheckpointError, RunKey};
use crate::log::{Log, Row};
use crate::start::{Start, start_or_resume};
use crate::stats::Mean;
use crate::{
    LatentWarmup, LevelBalance, OPTIONS_FILE, RdStats, TrainOptions, step_noise, train_step,
};

/// A training row is logged (and the progress bar's figures refreshed) every this many steps:
/// often enough for a learning curve, rarely enough that the log stays small.
const LOG_EVERY: u64 = 50;

/// A run stops as diverged after this many steps in a row whose gradient was not finite (each
/// one skipped: a batch can be unlucky, a run that keeps producing them is broken).
const MAX_SKIPPED_IN_A_ROW: u32 = 5;

/// Validation images per forward pass: bounds its memory at large crops (16 × 3 × 256² floats
/// in, and the activations of 16 images).
const VALIDATION_CHUNK: usize = 16;

#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub first_step: u64,
    pub steps: u64,
    pub session_seconds: f64,
    pub total_seconds: f64,
    pub images_per_second: f64,
    pub first_val: Option<RdStats>,
    pub last_val: RdStats,
    pub model_id: [u8; 4],
}

#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] nic_data::DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Model(#[from] nic_model::ModelError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "training diverged at step {step} ({what}); the last checkpoint is kept, resume with a lower --lr"
    )]
    Diverged { step: u64, what: String },
}

/// Trains (or resumes) the run described by `opts` on `device` (autodiff is added here).
pub fn train(opts: &TrainOptions, device: &Device) -> Result<TrainSummary, TrainError> {
    check(opts)?;
    std::fs::create_dir_all(&opts.out).map_err(|e| out_error(opts, e))?;
    let tile = opts.crop / opts.mosaic;
    let split = nic_data::open(&opts.data, opts.val.as_deref(), opts.val_size)?;
    let (sampler, skipped) =
        Sampler::new(&split.train, opts.crop, opts.mosaic, opts.batch, opts.seed);
    let val_images: Vec<_> = split
        .val
        .iter()
        .filter(|i| i.width() as usize >= tile && i.height() as usize >= tile)
        .cloned()
        .collect();
    let val_count = val_images.len() / (opts.mosaic * opts.mosaic);
    if sampler.is_empty() || val_count == 0 {
        return Err(TrainError::Invalid(format!(
            "not enough training or validation images of at least {tile}×{tile} pixels (--crop / --mosaic)"
        )));
    }
    opts.note(&split.description);
    if skipped > 0 {
        opts.note(&format!(
            "skipped {skipped} training images smaller than {tile}×{tile}"
        ));
    }
    let key = RunKey {
        architecture: opts.architecture,
        lambda: opts.lambda,
        lambdas: opts.lambdas.clone(),
        batch: opts.batch,
        crop: opts.crop,
        mosaic: opts.mosaic,
        seed: opts.seed,
    };
    let ad = device.clone().autodiff();
    let start = start_or_resume(opts, &key, &ad, &sampler)?;
    let mut run = Run {
        opts,
        key,
        device: device.clone(),
        ad,
        val_batch: center_crops(&val_images, opts.crop, opts.mosaic),
        val_count,
        log: Log::open(&opts.out, Some(start.step)).map_err(|e| out_error(opts, e))?,
        pb: progress_bar(opts, start.step),
        first_step: start.step,
        elapsed_before: start.elapsed,
        warmup: start.warmup,
        balance: start.balance.clone(),
        started: Instant::now(),
        last_checkpoint: Instant::now(),
        train_figures: Mean::default(),
        model_id: [0; 4],
    };
    run.go(start, &sampler)
}

/// The options' own consistency.
fn check(opts: &TrainOptions) -> Result<(), TrainError> {
    let arch = opts.architecture;
    if arch.detail_channels >= arch.latent_channels {
        return Err(TrainError::Invalid(format!(
            "--detail-channels ({}) must be fewer than --latent-channels ({}): the transforms need latents of their own",
            arch.detail_channels, arch.latent_channels
        )));
    }
    if opts.batch == 0 || opts.crop == 0 || !opts.crop.is_multiple_of(Architecture::STRIDE) {
        return Err(TrainError::Invalid(format!(
            "--batch must be positive and --crop a positive multiple of {}",
            Architecture::STRIDE
        )));
    }
    if opts.mosaic == 0 || !opts.crop.is_multiple_of(opts.mosaic) {
        return Err(TrainError::Invalid(
            "--crop must be a multiple of --mosaic".into(),
        ));
    }
    if opts.balance_levels && !arch.is_variable_rate() {
        return Err(TrainError::Invalid(
            "--balance-levels weighs rate levels: it needs a variable-rate run (--lambdas)".into(),
        ));
    }
    if arch.means && !arch.has_hyperprior() {
        return Err(TrainError::Invalid(
            "--means needs a hyperprior (--hyper-channels above 0) to predict them".into(),
        ));
    }
    if arch.context_channels > 0 && !arch.has_means() {
        return Err(TrainError::Invalid(
            "a context model corrects a mean-scale hyperprior: it needs --means".into(),
        ));
    }
    if opts.lambdas.len() != arch.rate_levels {
        return Err(TrainError::Invalid(format!(
            "{} λ values for {} rate levels",
            opts.lambdas.len(),
            arch.rate_levels
        )));
    }
    Ok(())
}

fn out_error(opts: &TrainOptions, e: std::io::Error) -> TrainError {
    TrainError::Invalid(format!("{}: {e}", opts.out.display()))
}

/// One session of a run: what stays fixed while it takes steps.
struct Run<'a> {
    opts: &'a TrainOptions,
    key: RunKey,
    device: Device,
    /// The device with autodiff, where training runs.
    ad: Device,
    /// Centre crops of the validation images, `[n][3][crop][crop]`.
    val_batch: Vec<f32>,
    val_count: usize,
    log: Log,
    pb: ProgressBar,
    first_step: u64,
    /// Training seconds of earlier sessions.
    elapsed_before: f64,
    /// The rate of latents added to `--init`, phased in.
    warmup: Option<LatentWarmup>,
    /// The rate levels' running mean losses (`--balance-levels`), as of the last step.
    balance: Option<LevelBalance>,
    started: Instant,
    last_checkpoint: Instant,
    /// Figures of the steps since the last training row.
    train_figures: Mean,
    /// The id of the last exported model.
    model_id: [u8; 4],
}

impl Run<'_> {
    fn go(&mut self, start: Start, sampler: &Sampler) -> Result<TrainSummary, TrainError> {
        let opts = self.opts;
        let Start {
            mut model,
            mut optim,
            mut average,
            mut step,
            ..
        } = start;
        let first_val = (step == 0).then(|| self.validate(&model));
        if let Some(v) = first_val {
            self.append(Row {
                step: 0,
                epoch: 0.0,
                split: "val",
                stats: v,
                lr: 0.0,
                elapsed: 0.0,
                images_per_s: 0.0,
            })?;
            opts.note(&format!(
                "validation at start: loss {:.4} bpp {:.4} PSNR {:.2} dB",
                v.loss,
                v.bpp,
                v.psnr()
            ));
        }
        let mut last_val = first_val.unwrap_or_default();
        let mut skipped_in_a_row = 0;
        let mut stop = opts
            .session_steps
            .map_or(opts.steps, |n| opts.steps.min(step + n));
        while step < stop {
            let lr = opts.learning_rate(step);
            let x = Tensor::<4>::from_data(
                TensorData::new(
                    sampler.batch_at(step),
                    [opts.batch, 3, opts.crop, opts.crop],
                ),
                &self.ad,
            );
            let (levels, lambdas) = opts.training_levels(step);
            let latent_rate = self.warmup.and_then(|w| w.latent_rate(step));
            let targets = Targets {
                levels: &levels,
                lambdas: &lambdas,
                latent_rate: latent_rate.as_deref(),
            };
            // A checkpoint holds weights known to be good: those this step's loss comes from,
            // with the optimizer state before its update (an update can leave finite but
            // ruinous weights that only the next loss shows).
            let due = step > self.first_step
                && self.last_checkpoint.elapsed().as_secs_f64() >= opts.checkpoint_seconds;
            let snapshot = match due {
                true => Some((model.clone(), optimizer_bytes(&mut optim)?, average.clone())),
                false => None,
            };
            let shares = self.balance.as_ref().map(|b| b.weights(&levels));
            let taken;
            (model, taken) = {
                let noise = step_noise(opts.seed, step, &self.ad);
                train_step(model, &mut optim, x, &noise, targets, shares.as_deref(), lr)
            };
            let stats = taken.stats;
            skipped_in_a_row = if taken.skipped {
                skipped_in_a_row + 1
            } else {
                0
            };
            if !stats.loss.is_finite() || skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW {
                self.pb.abandon();
                let what = match stats.loss.is_finite() {
                    true => format!("{skipped_in_a_row} steps in a row with a non-finite gradient"),
                    false => format!("loss {}", stats.loss),
                };
                return Err(TrainError::Diverged { step, what });
            }
            if taken.skipped {
                self.pb.suspend(|| {
                    eprintln!("warning: step {step}: the gradient is not finite; no update made")
                });
            }
            if let Some(a) = &mut average {
                a.update(&model, step);
            }
            let ips = self.images_per_second(step);
            // Saved before this step's losses enter the balance, like the weights.
            if let Some((weights, optimizer, average)) = snapshot {
                self.save(
                    &weights,
                    optimizer,
                    average.as_ref(),
                    step,
                    self.elapsed(),
                    ips,
                )?;
                self.last_checkpoint = Instant::now();
            }
            if let Some(b) = &mut self.balance {
                b.update(&levels, &taken.image_loss);
            }
            self.train_figures.add(stats, 1.0);
            step += 1;
            self.pb.inc(1);
            let epoch = step as f64 / sampler.steps_per_epoch() as f64;
            if step.is_multiple_of(LOG_EVERY) || step == opts.steps {
                let t = self.train_figures.take();
                self.pb.set_message(format!(
                    "loss {:.3} bpp {:.3} psnr {:.2} dB {ips:.0} img/s",
                    t.loss,
                    t.bpp,
                    t.psnr()
                ));
                self.append(Row {
                    step,
                    epoch,
                    split: "train",
                    stats: t,
                    lr,
                    elapsed: self.elapsed(),
                    images_per_s: ips,
                })?;
            }
            let out_of_time = opts
                .session_seconds
                .is_some_and(|budget| self.started.elapsed().as_secs_f64() >= budget);
            if out_of_time && step < stop {
                opts.note(&format!(
                    "session time budget reached at step {step}; --resume continues"
                ));
                stop = step;
            }
            if step.is_multiple_of(opts.val_every) || step == stop {
                // With an average, `val` is the average's (the exported model) and `val-raw`
                // the weights'; the last update is checked by the weights' figures.
                let weights = self.validate(&model);
                last_val = average
                    .as_ref()
                    .map_or(weights, |a| self.validate(&a.model));
                let row = |split, stats| Row {
                    step,
                    epoch,
                    split,
                    stats,
                    lr,
                    elapsed: self.elapsed(),
                    images_per_s: ips,
                };
                self.append(row("val", last_val))?;
                if average.is_some() {
                    self.append(row("val-raw", weights))?;
                }
                self.pb.println(format!(
                    "step {step} (epoch {epoch:.2}) validation: loss {:.4} bpp {:.4} PSNR {:.2} dB",
                    last_val.loss,
                    last_val.bpp,
                    last_val.psnr()
                ));
                if step == stop && !weights.loss.is_finite() {
                    self.pb.abandon();
                    return Err(TrainError::Diverged {
                        step,
                        what: format!("loss {}", weights.loss),
                    });
                }
            }
            if step == stop {
                let optimizer = optimizer_bytes(&mut optim)?;
                self.save(
                    &model,
                    optimizer,
                    average.as_ref(),
                    step,
                    self.elapsed(),
                    ips,
                )?;
            }
        }
        self.pb.finish();
        let session_seconds = self.started.elapsed().as_secs_f64();
        if step == self.first_step {
            // Nothing to do (already at --steps): make sure the exported model exists.
            let optimizer = optimizer_bytes(&mut optim)?;
            let average = average.as_ref();
            self.save(&model, optimizer, average, step, self.elapsed_before, 0.0)?;
            last_val = self.validate(average.map_or(&model, |a| &a.model));
        }
        Ok(TrainSummary {
            first_step: self.first_step,
            steps: step,
            session_seconds,
            total_seconds: self.elapsed_before + session_seconds,
            images_per_second: self.images_per_second(step),
            first_val,
            last_val,
            model_id: self.model_id,
        })
    }

    /// Training seconds so far, over all sessions.
    fn elapsed(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    fn images_per_second(&self, step: u64) -> f64 {
        ((step - self.first_step) as usize * self.opts.batch) as f64
            / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    fn append(&self, row: Row) -> Result<(), TrainError> {
        self.log.append(&row).map_err(|e| out_error(self.opts, e))
    }

    /// Validation with real rounding on the centre crops.
    fn validate(&self, model: &Compressor) -> RdStats {
        let opts = self.opts;
        let model = model.valid().to_device(&self.device);
        let per = 3 * opts.crop * opts.crop;
        let n = self.val_count;
        let mut mean = Mean::default();
        for start in (0..n).step_by(VALIDATION_CHUNK) {
            let k = VALIDATION_CHUNK.min(n - start);
            let x = Tensor::<4>::from_data(
                TensorData::new(
                    self.val_batch[start * per..(start + k) * per].to_vec(),
                    [k, 3, opts.crop, opts.crop],
                ),
                &self.device,
            );
            let (levels, lambdas) = opts.validation_levels(start, k);
            let targets = Targets {
                levels: &levels,
                lambdas: &lambdas,
                latent_rate: None,
            };
            mean.add(RdStats::of(&model.rd_eval(x, targets)), k as f64);
        }
        mean.take()
    }

    /// Writes the checkpoint (`model` with the optimizer state `optimizer` and the weights'
    /// `average`, after `step` steps and `elapsed` training seconds) and exports the model
    /// (the average, if there is one), with fresh entropy tables and the run's options, for
    /// `nic encode`.
    fn save(
        &mut self,
        model: &Compressor,
        optimizer: Vec<u8>,
        average: Option<&Average>,
        step: u64,
        elapsed: f64,
        ips: f64,
    ) -> Result<(), TrainError> {
        let opts = self.opts;
        let ck = Checkpoint {
            key: self.key.clone(),
            step,
            elapsed_seconds: elapsed,
            latent_warmup: self.warmup,
            level_balance: self.balance.clone(),
            model: record_bytes(model)?,
            optimizer,
            average: average.map_or(Ok(Vec::new()), |a| record_bytes(&a.model))?,
        };
        ck.save(&opts.out)?;
        let valid = average.map_or_else(|| model.valid(), |a| a.model.clone());
        let quality = if opts.architecture.is_variable_rate() {
            0
        } else {
            opts.quality
        };
        let mut info = ModelInfo::for_compressor(
            &valid,
            opts.architecture,
            quality,
            opts.lambdas.first().copied().unwrap_or(opts.lambda),
            opts.lambdas.clone(),
        )
        .map_err(|e| TrainError::Invalid(e.to_string()))?;
        info.training = Some(TrainingInfo {
            command: opts.command.clone(),
            data: opts.data.display().to_string(),
            steps: step,
            batch: opts.batch,
            crop: opts.crop,
            wall_seconds: elapsed,
            images_per_second: ips,
        });
        self.model_id = SavedModel::save(&opts.out, &valid, &info)?;
        let options = serde_json::to_vec_pretty(opts).expect("options serialize");
        nic_fs::write_atomic(&opts.out.join(OPTIONS_FILE), &options)
            .map_err(|e| out_error(opts, e))?;
        Ok(())
    }
}

fn record_bytes(model: &Compressor) -> Result<Vec<u8>, TrainError> {
    Ok(model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| TrainError::Invalid(format!("saving: {e}")))?
        .to_vec())
}

fn optimizer_bytes(optim: &mut ModuleOptimizer) -> Result<Vec<u8>, TrainError> {
    Ok(optim
        .into_bytes()
        .map_err(|e| TrainError::Invalid(format!("saving: {e}")))?
        .to_vec())
}

fn progress_bar(opts: &TrainOptions, step: u64) -> ProgressBar {
    let pb = ProgressBar::new(opts.steps);
    if !opts.progress {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps  {elapsed_precise} ETA {eta_precise}  {msg}",
        )
        .expect("valid template"),
    );
    pb.set_position(step);
    pb.reset_eta();
    pb
}
