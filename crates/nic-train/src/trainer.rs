//! The training loop.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nic_data::{Sampler, center_crops};
use nic_model::burn::grad_clipping::GradientClippingConfig;
use nic_model::burn::module::Module;
use nic_model::burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use nic_model::burn::store::{ModuleRecord, RecordError};
use nic_model::burn::tensor::{Bytes, Device, Tensor, TensorData};
use nic_model::{
    Architecture, Compressor, Gains, ModelInfo, Noise, RdOutput, SavedModel, Targets, TrainingInfo,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use thiserror::Error;

use crate::checkpoint::{Checkpoint, CheckpointError, RunKey};
use crate::log::{Log, Row};

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    pub val: Option<PathBuf>,
    pub out: PathBuf,
    pub architecture: Architecture,
    pub lambda: f64,
    /// λ of each rate level of a variable-rate model (as many as the architecture's
    /// `rate_levels`); each training image draws a level.
    pub lambdas: Vec<f64>,
    pub quality: u8,
    pub steps: u64,
    pub batch: usize,
    pub crop: usize,
    /// Tile this many × this many images into each sample (1: plain crops).
    pub mosaic: usize,
    /// Start from the weights of this exported model instead of a random initialization.
    pub init: Option<PathBuf>,
    pub lr: f64,
    pub seed: u64,
    pub val_size: usize,
    /// Validate every this many steps (and at the end).
    pub val_every: u64,
    pub checkpoint_seconds: f64,
    /// Stop (with a checkpoint) after this many steps in this session; `--resume` continues.
    pub session_steps: Option<u64>,
    /// Stop (with a checkpoint) after the step that ends this many seconds of this session, so
    /// a run shares a session of fixed length; `--resume` continues.
    pub session_seconds: Option<f64>,
    pub resume: bool,
    pub progress: bool,
    /// The command line, recorded in the model card.
    pub command: String,
}

impl TrainOptions {
    /// A progress message, unless the run is quiet.
    fn note(&self, msg: &str) {
        if self.progress {
            eprintln!("{msg}");
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ValStats {
    pub loss: f64,
    pub bpp: f64,
    pub side_bpp: f64,
    pub mse: f64,
    pub psnr: f64,
}

#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub first_step: u64,
    pub steps: u64,
    pub session_seconds: f64,
    pub total_seconds: f64,
    pub images_per_second: f64,
    pub first_val: Option<ValStats>,
    pub last_val: ValStats,
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
        "training diverged at step {step} (loss {loss}); the last checkpoint is kept, resume with a lower --lr"
    )]
    Diverged { step: u64, loss: f64 },
}

/// Trains (or resumes) the run described by `opts` on `device` (autodiff is added here).
pub fn train(opts: &TrainOptions, device: &Device) -> Result<TrainSummary, TrainError> {
    let io = |e: std::io::Error| TrainError::Invalid(format!("{}: {e}", opts.out.display()));
    std::fs::create_dir_all(&opts.out).map_err(io)?;
    if opts.batch == 0 || opts.crop == 0 || opts.crop % Architecture::STRIDE != 0 {
        return Err(TrainError::Invalid(format!(
            "--batch must be positive and --crop a positive multiple of {}",
            Architecture::STRIDE
        )));
    }
    if opts.mosaic == 0 || opts.crop % opts.mosaic != 0 {
        return Err(TrainError::Invalid(
            "--crop must be a multiple of --mosaic".into(),
        ));
    }
    if opts.lambdas.len() != opts.architecture.rate_levels {
        return Err(TrainError::Invalid(format!(
            "{} λ values for {} rate levels",
            opts.lambdas.len(),
            opts.architecture.rate_levels
        )));
    }
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
    let val_batch = center_crops(&val_images, opts.crop, opts.mosaic);
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
    let Start {
        mut model,
        mut optim,
        mut step,
        elapsed: elapsed_before,
    } = start_or_resume(opts, &key, &ad)?;
    let log = Log::open(&opts.out, Some(step)).map_err(io)?;

    let first_step = step;
    let validate = |model: &Compressor| validate(model, &val_batch, val_count, opts, device);
    let first_val = if step == 0 {
        Some(validate(&model))
    } else {
        None
    };
    if let Some(v) = first_val {
        log.append(&val_row(0, 0.0, v, 0.0, 0.0, 0.0)).map_err(io)?;
        opts.note(&format!(
            "validation at start: loss {:.4} bpp {:.4} PSNR {:.2} dB",
            v.loss, v.bpp, v.psnr
        ));
    }

    let pb = progress_bar(opts, step);
    let per_epoch = sampler.steps_per_epoch();
    let start = Instant::now();
    let mut last_checkpoint = Instant::now();
    let mut acc = Accum::default();
    let mut last_val = first_val.unwrap_or_default();
    let mut model_id = [0; 4];
    let mut stop = opts
        .session_steps
        .map_or(opts.steps, |n| opts.steps.min(step + n));
    while step < stop {
        let lr = learning_rate(opts, step);
        let x = Tensor::<4>::from_data(
            TensorData::new(
                sampler.batch_at(step),
                [opts.batch, 3, opts.crop, opts.crop],
            ),
            &ad,
        );
        let (y_shape, z_shape) = model.noise_shapes(opts.batch, opts.crop, opts.crop);
        let noise = Noise {
            y: uniform_noise(y_shape, opts.seed, step, &ad),
            z: z_shape.map(|s| uniform_noise(s, !opts.seed, step, &ad)),
        };
        let (levels, lambdas) = draw_levels(opts, step);
        let targets = Targets {
            levels: &levels,
            lambdas: &lambdas,
        };
        let (out, stats) = forward(&model, x, noise, targets);
        if !stats.loss.is_finite() {
            pb.abandon();
            return Err(TrainError::Diverged {
                step,
                loss: stats.loss,
            });
        }
        let session = start.elapsed().as_secs_f64();
        let ips = ((step - first_step) as usize * opts.batch) as f64 / session;
        // Checkpoint before the update: these weights have just given a finite loss, so a
        // run that diverges later resumes from weights known to be good (an update can
        // leave finite but ruinous weights that only the next loss shows).
        let elapsed = elapsed_before + session;
        if step > first_step && last_checkpoint.elapsed().as_secs_f64() >= opts.checkpoint_seconds {
            model_id = save(&model, &mut optim, step, elapsed, &key, opts, ips)?;
            last_checkpoint = Instant::now();
        }
        model = update(model, &mut optim, out.loss, lr);
        acc.add(stats.loss, stats.bpp, stats.side_bpp, stats.mse);
        step += 1;
        pb.inc(1);
        let epoch = step as f64 / per_epoch as f64;
        if step % 50 == 0 || step == opts.steps {
            let (l, b, z, m) = acc.take();
            pb.set_message(format!(
                "loss {l:.3} bpp {b:.3} psnr {:.2} dB {ips:.0} img/s",
                psnr(m)
            ));
            log.append(&Row {
                step,
                epoch,
                split: "train",
                loss: l,
                bpp: b,
                side_bpp: z,
                mse: m,
                psnr: psnr(m),
                lr,
                elapsed,
                images_per_s: ips,
            })
            .map_err(io)?;
        }
        let out_of_time = opts
            .session_seconds
            .is_some_and(|budget| start.elapsed().as_secs_f64() >= budget);
        if out_of_time && step < stop {
            opts.note(&format!(
                "session time budget reached at step {step}; --resume continues"
            ));
            stop = step;
        }
        if step % opts.val_every == 0 || step == stop {
            last_val = validate(&model);
            log.append(&val_row(step, epoch, last_val, lr, elapsed, ips))
                .map_err(io)?;
            pb.println(format!(
                "step {step} (epoch {epoch:.2}) validation: loss {:.4} bpp {:.4} PSNR {:.2} dB",
                last_val.loss, last_val.bpp, last_val.psnr
            ));
        }
        if step == stop {
            // The last update is checked by the validation just run.
            if !last_val.loss.is_finite() {
                pb.abandon();
                return Err(TrainError::Diverged {
                    step,
                    loss: last_val.loss,
                });
            }
            model_id = save(&model, &mut optim, step, elapsed, &key, opts, ips)?;
        }
    }
    pb.finish();
    let session_seconds = start.elapsed().as_secs_f64();
    if step == first_step {
        // Nothing to do (already at --steps): make sure the exported model exists.
        model_id = save(&model, &mut optim, step, elapsed_before, &key, opts, 0.0)?;
        last_val = validate(&model);
    }
    Ok(TrainSummary {
        first_step,
        steps: step,
        session_seconds,
        total_seconds: elapsed_before + session_seconds,
        images_per_second: ((step - first_step) as usize * opts.batch) as f64
            / session_seconds.max(1e-9),
        first_val,
        last_val,
        model_id,
    })
}

/// Figures of one training step (batch means).
#[derive(Debug, Clone, Copy)]
pub struct StepStats {
    pub loss: f64,
    pub bpp: f64,
    /// The side latents' share of `bpp`.
    pub side_bpp: f64,
    pub mse: f64,
}

/// The optimizer training uses: Adam with the gradient norm clipped to 1.
pub fn optimizer() -> ModuleOptimizer {
    AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init()
}

/// One optimization step exactly as training does it (and `nic bench` times it): forward pass
/// with noisy latents, rate–distortion loss, backward pass, Adam update. `model` and `x` live on
/// an autodiff device. A non-finite loss leaves the model as it was (the caller stops there).
pub fn train_step(
    model: Compressor,
    optim: &mut ModuleOptimizer,
    x: Tensor<4>,
    noise: Noise,
    targets: Targets,
    lr: f64,
) -> (Compressor, StepStats) {
    let (out, stats) = forward(&model, x, noise, targets);
    if !stats.loss.is_finite() {
        return (model, stats);
    }
    (update(model, optim, out.loss, lr), stats)
}

/// The forward half of a step: the noisy rate–distortion objective and its figures.
fn forward(
    model: &Compressor,
    x: Tensor<4>,
    noise: Noise,
    targets: Targets,
) -> (RdOutput, StepStats) {
    let out = model.rd_train(x, noise, targets);
    let stats = StepStats {
        loss: out.loss.clone().into_scalar::<f32>() as f64,
        bpp: out.bpp.clone().into_scalar::<f32>() as f64,
        side_bpp: out.side_bpp.clone().into_scalar::<f32>() as f64,
        mse: out.mse.clone().into_scalar::<f32>() as f64,
    };
    (out, stats)
}

/// The backward half: gradients of `loss` and one Adam update.
fn update(model: Compressor, optim: &mut ModuleOptimizer, loss: Tensor<1>, lr: f64) -> Compressor {
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optim.step(lr, model, grads)
}

/// Where a run starts: fresh weights at step 0, or the checkpoint's weights, optimizer state
/// and step.
struct Start {
    model: Compressor,
    optim: ModuleOptimizer,
    step: u64,
    elapsed: f64,
}

fn start_or_resume(opts: &TrainOptions, key: &RunKey, ad: &Device) -> Result<Start, TrainError> {
    ad.seed(opts.seed);
    let arch = opts.architecture;
    let mut model = Compressor::new(&arch, ad);
    let optim = optimizer();
    // Gains start from high-rate theory around the middle λ (or the λ the transforms of
    // --init were trained for).
    let mut reference = geometric_mean(&opts.lambdas);
    if let Some(dir) = &opts.init {
        let saved = SavedModel::load(dir, &ad.clone().without_autodiff())?;
        let from = saved.info.architecture;
        let invalid = |e: RecordError| TrainError::Invalid(format!("--init: {e}"));
        if from == arch {
            model = model
                .try_load_record(saved.compressor.into_record())
                .map_err(invalid)?;
        } else if (from.channels, from.latent_channels) == (arch.channels, arch.latent_channels) {
            // Another entropy model or rate scheme: start from its transforms only.
            opts.note(&format!(
                "--init {}: taking the analysis and synthesis transforms (trained at λ {})",
                dir.display(),
                saved.info.lambda
            ));
            reference = saved.info.lambda;
            model.analysis = model
                .analysis
                .try_load_record(saved.compressor.analysis.into_record())
                .map_err(invalid)?;
            model.synthesis = model
                .synthesis
                .try_load_record(saved.compressor.synthesis.into_record())
                .map_err(invalid)?;
        } else {
            return Err(TrainError::Invalid(format!(
                "--init {}: architecture {from:?} differs from {arch:?}",
                dir.display()
            )));
        }
    }
    if arch.is_variable_rate() && model.gains.is_some() {
        model.gains = Some(Gains::new(
            &opts.lambdas,
            reference,
            arch.latent_channels,
            ad,
        ));
    }
    let fresh = Start {
        model,
        optim,
        step: 0,
        elapsed: 0.0,
    };
    let Some((ck, warnings)) = Checkpoint::load_latest(&opts.out)? else {
        if opts.resume {
            opts.note("no checkpoint to resume from; starting a new run");
        }
        return Ok(fresh);
    };
    if !opts.resume {
        return Err(TrainError::Invalid(format!(
            "{} already holds a training run; pass --resume to continue it or choose another --out",
            opts.out.display()
        )));
    }
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if ck.key != *key {
        return Err(TrainError::Invalid(format!(
            "the checkpoint in {} was made with different settings ({:?}); resume with the same --lambda, --batch, --crop, --seed and architecture",
            opts.out.display(),
            ck.key
        )));
    }
    let bad = |what: &str, e: RecordError| TrainError::Invalid(format!("checkpoint {what}: {e}"));
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(ck.model)).map_err(|e| bad("model", e))?;
    let model = fresh
        .model
        .try_load_record(record)
        .map_err(|e| bad("model", e))?;
    let optim = fresh
        .optim
        .from_bytes(Bytes::from_bytes_vec(ck.optimizer))
        .map_err(|e| bad("optimizer", e))?;
    opts.note(&format!("resuming from step {}", ck.step));
    Ok(Start {
        model,
        optim,
        step: ck.step,
        elapsed: ck.elapsed_seconds,
    })
}

/// Adam at `--lr`, divided by 10 for the last 10 % of the steps (CompressAI's recipe lowers the
/// rate once the loss plateaus; a fixed point is reproducible across resumes).
fn learning_rate(opts: &TrainOptions, step: u64) -> f64 {
    if step >= opts.steps - opts.steps / 10 {
        opts.lr / 10.0
    } else {
        opts.lr
    }
}

/// The rate level and λ of every image of step `step`: drawn uniformly from the levels with a
/// seed fixed by (seed, step), so a resumed run draws the same.
fn draw_levels(opts: &TrainOptions, step: u64) -> (Vec<usize>, Vec<f64>) {
    if opts.lambdas.is_empty() {
        return (Vec::new(), vec![opts.lambda; opts.batch]);
    }
    let mut rng = StdRng::seed_from_u64(opts.seed ^ step.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let levels: Vec<usize> = (0..opts.batch)
        .map(|_| rng.random_range(0..opts.lambdas.len()))
        .collect();
    let lambdas = levels.iter().map(|&l| opts.lambdas[l]).collect();
    (levels, lambdas)
}

/// Validation cycles through the levels image by image, so one figure follows them all.
fn validation_levels(opts: &TrainOptions, start: usize, n: usize) -> (Vec<usize>, Vec<f64>) {
    if opts.lambdas.is_empty() {
        return (Vec::new(), vec![opts.lambda; n]);
    }
    let levels: Vec<usize> = (start..start + n).map(|i| i % opts.lambdas.len()).collect();
    let lambdas = levels.iter().map(|&l| opts.lambdas[l]).collect();
    (levels, lambdas)
}

/// The rate levels of the default variable-rate model: CompressAI's eight λ (0.0018 … 0.18)
/// shifted down one octave, since nic's smaller, shorter-trained models spend more bits at a
/// given λ; they span about 0.1 to 2 bpp on Kodak.
pub const DEFAULT_LAMBDAS: [f64; 8] =
    [0.0009, 0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932];

fn geometric_mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 1.0;
    }
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

/// Uniform noise in ±½ for step `step`, drawn on the host from a seed fixed by (seed, step):
/// the same on every backend and after a resume.
pub fn uniform_noise(shape: [usize; 4], seed: u64, step: u64, device: &Device) -> Tensor<4> {
    let mut rng =
        StdRng::seed_from_u64(seed ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x6e6f_6973_65);
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random::<f32>() - 0.5).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn psnr(mse: f64) -> f64 {
    nic_metrics::psnr_from_mse(mse * 255.0 * 255.0)
}

fn val_row(step: u64, epoch: f64, v: ValStats, lr: f64, elapsed: f64, ips: f64) -> Row {
    Row {
        step,
        epoch,
        split: "val",
        loss: v.loss,
        bpp: v.bpp,
        side_bpp: v.side_bpp,
        mse: v.mse,
        psnr: v.psnr,
        lr,
        elapsed,
        images_per_s: ips,
    }
}

/// Validation with real rounding on center crops. PSNR is that of the mean MSE.
fn validate(
    model: &Compressor,
    batch: &[f32],
    n: usize,
    opts: &TrainOptions,
    device: &Device,
) -> ValStats {
    let model = model.valid().to_device(device);
    let per = 3 * opts.crop * opts.crop;
    let chunk = 16;
    let (mut loss, mut bpp, mut side_bpp, mut mse) = (0.0, 0.0, 0.0, 0.0);
    for start in (0..n).step_by(chunk) {
        let k = chunk.min(n - start);
        let x = Tensor::<4>::from_data(
            TensorData::new(
                batch[start * per..(start + k) * per].to_vec(),
                [k, 3, opts.crop, opts.crop],
            ),
            device,
        );
        let (levels, lambdas) = validation_levels(opts, start, k);
        let targets = Targets {
            levels: &levels,
            lambdas: &lambdas,
        };
        let out = model.rd_eval(x, targets);
        let w = k as f64 / n as f64;
        loss += w * out.loss.into_scalar::<f32>() as f64;
        bpp += w * out.bpp.into_scalar::<f32>() as f64;
        side_bpp += w * out.side_bpp.into_scalar::<f32>() as f64;
        mse += w * out.mse.into_scalar::<f32>() as f64;
    }
    ValStats {
        loss,
        bpp,
        side_bpp,
        mse,
        psnr: psnr(mse),
    }
}

/// Writes the checkpoint and exports the model (with fresh entropy tables) for `nic encode`.
fn save(
    model: &Compressor,
    optim: &mut ModuleOptimizer,
    step: u64,
    elapsed: f64,
    key: &RunKey,
    opts: &TrainOptions,
    ips: f64,
) -> Result<[u8; 4], TrainError> {
    let invalid =
        |e: nic_model::burn::store::RecordError| TrainError::Invalid(format!("saving: {e}"));
    let ck = Checkpoint {
        key: key.clone(),
        step,
        elapsed_seconds: elapsed,
        model: model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(invalid)?
            .to_vec(),
        optimizer: optim.into_bytes().map_err(invalid)?.to_vec(),
    };
    ck.save(&opts.out)?;
    let valid = model.valid();
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
    Ok(SavedModel::save(&opts.out, &valid, &info)?)
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

#[derive(Default)]
struct Accum {
    n: usize,
    loss: f64,
    bpp: f64,
    side_bpp: f64,
    mse: f64,
}

impl Accum {
    fn add(&mut self, loss: f64, bpp: f64, side_bpp: f64, mse: f64) {
        self.n += 1;
        self.loss += loss;
        self.bpp += bpp;
        self.side_bpp += side_bpp;
        self.mse += mse;
    }

    fn take(&mut self) -> (f64, f64, f64, f64) {
        let n = self.n.max(1) as f64;
        let r = (self.loss / n, self.bpp / n, self.side_bpp / n, self.mse / n);
        *self = Accum::default();
        r
    }
}
