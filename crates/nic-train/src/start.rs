//! Where a run starts: fresh weights (or those of `--init`) at step 0, or a checkpoint's
//! weights, optimizer state and step.

use nic_model::burn::module::Module;
use nic_model::burn::optim::ModuleOptimizer;
use nic_model::burn::store::{ModuleRecord, RecordError};
use nic_model::burn::tensor::{Bytes, Device};
use nic_model::{Architecture, Compressor, Gains, SavedModel};

use nic_data::Sampler;

use crate::average::Average;
use crate::checkpoint::{CHECKPOINT_FILE, Checkpoint, PREVIOUS_FILE, RunKey};
use crate::detail::fit_detail;
use crate::{LatentWarmup, LevelBalance, TrainError, TrainOptions, optimizer};

/// Where a run starts: fresh weights at step 0, or the checkpoint's weights, optimizer state
/// and step; with `--ema`, the average the checkpoint kept (or one starting at the weights).
pub(crate) struct Start {
    pub model: Compressor,
    pub optim: ModuleOptimizer,
    pub average: Option<Average>,
    pub step: u64,
    pub elapsed: f64,
    /// The rate of the latents `--init` was widened by, phased in.
    pub warmup: Option<LatentWarmup>,
    /// The rate levels' running mean losses, with `--balance-levels`.
    pub balance: Option<LevelBalance>,
}

/// `sampler` gives the training pictures detail latents added to `--init` are fitted on.
pub(crate) fn start_or_resume(
    opts: &TrainOptions,
    key: &RunKey,
    ad: &Device,
    sampler: &Sampler,
) -> Result<Start, TrainError> {
    ad.seed(opts.seed);
    let arch = opts.architecture;
    let mut model = Compressor::new(&arch, ad);
    let optim = optimizer();
    // Gains start from high-rate theory around the middle λ (or the λ the transforms of
    // --init were trained for).
    let mut reference = geometric_mean(&opts.lambdas);
    // Whether the gains came with --init (a model of the same architecture), so they are kept.
    let mut gains_loaded = false;
    let mut warmup = None;
    if let Some(dir) = &opts.init {
        let saved = SavedModel::load(dir, &ad.clone().without_autodiff())?;
        let from = saved.info.architecture;
        let invalid = |e: RecordError| TrainError::Invalid(format!("--init: {e}"));
        if from == arch {
            model = model
                .load_any_record(saved.compressor.into_record())
                .map_err(invalid)?;
            gains_loaded = saved.info.lambdas == opts.lambdas;
        } else if arch.has_means()
            && from
                == (Architecture {
                    means: false,
                    ..arch
                })
        {
            // A scale hyperprior grown into the mean-scale form: everything is kept, and the
            // means start at zero, so the run starts from the model's own rates.
            opts.note(&format!(
                "--init {}: a scale hyperprior, its means starting at zero",
                dir.display()
            ));
            model = model
                .load_any_record(saved.compressor.with_zero_means().into_record())
                .map_err(invalid)?;
            gains_loaded = saved.info.lambdas == opts.lambdas;
        } else if arch.has_context()
            && from
                == (Architecture {
                    context_channels: 0,
                    ..arch
                })
        {
            // A mean-scale model given a checkerboard context: everything is kept, and the
            // context's corrections start at zero, so the run starts from the model's own rates.
            opts.note(&format!(
                "--init {}: a context of {} channels added, its corrections starting at zero",
                dir.display(),
                arch.context_channels
            ));
            model = model
                .load_any_record(
                    saved
                        .compressor
                        .with_context(arch.context_channels)
                        .into_record(),
                )
                .map_err(invalid)?;
            gains_loaded = saved.info.lambdas == opts.lambdas;
        } else if from.has_means()
            && from
                == (Architecture {
                    means: true,
                    ..arch
                })
        {
            // Fine-tuning a mean-scale model without --means would keep only its transforms
            // and start the hyperprior afresh: almost never what was meant.
            return Err(TrainError::Invalid(format!(
                "--init {}: a mean-scale hyperprior; pass --means to fine-tune it",
                dir.display()
            )));
        } else if from.is_variable_rate()
            && from.rate_levels < arch.rate_levels
            && from
                == (Architecture {
                    rate_levels: from.rate_levels,
                    ..arch
                })
        {
            // More levels below the bottom one or above the top one: everything is kept, the
            // new levels' gains extrapolated from the nearest trained level's.
            let gains = saved.compressor.gains.as_ref();
            let grown = gains.and_then(|g| g.grown(&saved.info.lambdas, &opts.lambdas));
            let Some(grown) = grown else {
                return Err(TrainError::Invalid(format!(
                    "--init {}: its levels (λ {:?}) must be a run of --lambdas, the new ones below or above them, all in increasing order",
                    dir.display(),
                    saved.info.lambdas
                )));
            };
            opts.note(&format!(
                "--init {}: {} levels, {} added",
                dir.display(),
                from.rate_levels,
                arch.rate_levels - from.rate_levels
            ));
            let mut compressor = saved.compressor;
            compressor.gains = Some(grown);
            model = model
                .load_any_record(compressor.into_record())
                .map_err(invalid)?;
            gains_loaded = true;
        } else if from.channels <= arch.channels
            && from.transform_channels() <= arch.transform_channels()
            && (from.latent_channels == arch.latent_channels || from.has_hyperprior())
            // Detail latents come after the transforms' latents: a model that has them keeps
            // its transforms' count (its trained latents must stay the first ones), and more
            // detail latents come after its own.
            && from.detail_channels <= arch.detail_channels
            && (from.detail_channels == 0
                || from.transform_channels() == arch.transform_channels())
            && from
                == (Architecture {
                    channels: from.channels,
                    latent_channels: from.latent_channels,
                    detail_channels: from.detail_channels,
                    ..arch
                })
        {
            // Wider hidden layers or more latents: the model embedded in the fresh one, so the
            // run starts from its own pictures (new latents add to them: see
            // nic_model::widen). A factorized prior has a density per latent channel and is
            // widened in N only.
            opts.note(&format!(
                "--init {}: its {} hidden and {} latent channels widened to {} and {}",
                dir.display(),
                from.channels,
                from.latent_channels,
                arch.channels,
                arch.latent_channels
            ));
            let resuming = [CHECKPOINT_FILE, PREVIOUS_FILE]
                .iter()
                .any(|f| opts.out.join(f).exists());
            let detail = (arch.detail_channels > from.detail_channels && !resuming).then(|| {
                let top = saved.compressor.gains.as_ref().map_or(1.0, |g| {
                    let (gain, _) = g.at_quality(g.levels() as f64);
                    gain.iter().sum::<f32>() / gain.len() as f32
                });
                let plain = ad.clone().without_autodiff();
                let new = arch.detail_channels - from.detail_channels;
                let start = fit_detail(&saved.compressor, sampler, &plain, new, top);
                opts.note(&format!(
                    "detail latents: {new} new, the principal directions of the residue --init leaves in 16×16 blocks ({:.1} % of its energy), scale {:.3}",
                    100.0 * start.share,
                    start.scale
                ));
                start
            });
            let trained = Compressor::new(&from, ad)
                .load_any_record(saved.compressor.into_record())
                .map_err(invalid)?;
            model = trained.widened(model);
            if let Some(d) = detail {
                let first = from.detail_channels;
                model.analysis.set_detail_basis(first, &d.basis, d.scale);
                model.synthesis.set_detail_basis(first, &d.basis, d.scale);
            }
            gains_loaded = saved.info.lambdas == opts.lambdas;
            if arch.latent_channels > from.latent_channels && opts.latent_warmup > 0 {
                warmup = Some(LatentWarmup {
                    first: from.latent_channels,
                    channels: arch.latent_channels,
                    steps: opts.latent_warmup,
                });
            }
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
    if arch.is_variable_rate() && model.gains.is_some() && !gains_loaded {
        model.gains = Some(Gains::new(
            &opts.lambdas,
            reference,
            arch.latent_channels,
            ad,
        ));
    }
    let fresh = Start {
        average: opts.ema.map(|decay| Average::new(&model, decay)),
        model,
        optim,
        step: 0,
        elapsed: 0.0,
        warmup,
        balance: opts
            .balance_levels
            .then(|| LevelBalance::new(arch.rate_levels)),
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
        .load_any_record(record)
        .map_err(|e| bad("model", e))?;
    let optim = fresh
        .optim
        .from_bytes(Bytes::from_bytes_vec(ck.optimizer))
        .map_err(|e| bad("optimizer", e))?;
    opts.note(&format!("resuming from step {}", ck.step));
    let average = match opts.ema {
        None if !ck.average.is_empty() => {
            opts.note("the checkpoint's averaged weights are dropped (no --ema)");
            None
        }
        None => None,
        Some(decay) if ck.average.is_empty() => {
            opts.note("--ema: the average starts at the checkpoint's weights");
            Some(Average::new(&model, decay))
        }
        Some(decay) => {
            let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(ck.average))
                .map_err(|e| bad("average", e))?;
            let averaged = model
                .clone()
                .load_any_record(record)
                .map_err(|e| bad("average", e))?;
            Some(Average::new(&averaged, decay))
        }
    };
    Ok(Start {
        model,
        optim,
        average,
        step: ck.step,
        elapsed: ck.elapsed_seconds,
        warmup: ck.latent_warmup,
        // The means go on where the checkpoint has them; turned on at a resume they start
        // afresh, turned off they are dropped.
        balance: match ck.level_balance {
            Some(b) if opts.balance_levels && b.fits(arch.rate_levels) => Some(b),
            _ => fresh.balance,
        },
    })
}

fn geometric_mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 1.0;
    }
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}
