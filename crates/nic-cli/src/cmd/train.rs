use std::path::PathBuf;

use anyhow::Result;
use nic_model::{Architecture, DeviceChoice};
use nic_train::TrainOptions;

#[derive(clap::Args)]
pub struct Args {
    /// Training data: a folder of images (searched recursively), a CIFAR-10 binary folder
    /// (data_batch_1.bin … test_batch.bin) or cifar-10-binary.tar.gz.
    #[arg(long)]
    data: PathBuf,
    /// Folder for the checkpoint, log.csv and the exported model.
    #[arg(long)]
    out: PathBuf,
    /// Validation images (default: the CIFAR-10 test batch, or images held out of --data).
    #[arg(long)]
    val: Option<PathBuf>,
    /// Train a single-rate model for this rate–distortion trade-off: loss = λ·255²·MSE + bpp.
    /// Larger is higher quality.
    #[arg(long, conflicts_with = "lambdas")]
    lambda: Option<f64>,
    /// Train a variable-rate model with one level per λ (quality 1 is the first); every
    /// training image draws a level. Default: the default model's ten levels, 0.00047 … 0.18.
    #[arg(long, value_delimiter = ',')]
    lambdas: Option<Vec<f64>>,
    /// Quality number recorded in a single-rate model (what `nic encode --quality` selects).
    #[arg(long, default_value_t = 1)]
    quality: u8,
    /// Total training steps (a resumed run continues up to this number).
    #[arg(long, default_value_t = 100_000)]
    steps: u64,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Side of the random square crops (a multiple of 16).
    #[arg(long, default_value_t = 32)]
    crop: usize,
    /// Train on mosaics of K×K images, each cropped to crop/K: lets small pictures such as
    /// CIFAR-10's teach the transforms what the interior of a large photograph looks like.
    #[arg(long, default_value_t = 1)]
    mosaic: usize,
    /// Initialize the weights from this exported model (fine-tuning) instead of at random.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Adam learning rate (divided by 10 for the last 10 % of the steps).
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Keep an exponential moving average of the weights with this decay per step (e.g.
    /// 0.999: about the last 1,000 steps) and export it instead of the weights: it settles
    /// where the weights wander at a high --lr. Can be switched on when a run resumes.
    #[arg(long)]
    ema: Option<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Hidden channels N of the transforms. With --init of a model with fewer (and otherwise
    /// the same architecture), its hidden layers are widened: the run starts from that model's
    /// own figures, the new channels at a fresh model's weights.
    #[arg(long, default_value_t = Architecture::DEFAULT.channels)]
    channels: usize,
    /// Latent channels M. With --init of a hyperprior model with fewer (and otherwise the same
    /// architecture, N at most this run's), it gets more latents, computed and read with fresh
    /// weights: the trained latents and side latents as before, the pictures close to before.
    #[arg(long, default_value_t = Architecture::DEFAULT.latent_channels)]
    latent_channels: usize,
    /// With --init of a model with fewer latent channels: the new latents' rate enters the
    /// loss over this many steps, so that it does not switch them off before they carry
    /// detail (0: at once; on the default it kept them on only while it lasted, see
    /// docs/training.md). A resumed run keeps the warm-up it started with.
    #[arg(long, default_value_t = 1000)]
    latent_warmup: u64,
    /// Variable-rate runs: divide each image's loss by its rate level's running mean loss, so
    /// that every level counts alike in the objective (1 % less loss is worth the same at
    /// every level, as in BD-rate) instead of the high levels', which are many times larger,
    /// steering the shared weights. Kept in the checkpoint; may be turned on or off on resume.
    #[arg(long)]
    balance_levels: bool,
    /// Of the --latent-channels, how many are detail latents: linear in each 16×16 block's
    /// pixels and added back linearly, beside the transforms. With --init of a model with
    /// fewer (and as many fewer latents), the new ones start as the principal components of
    /// what it leaves out on the training pictures (default: the default model's 128 with its
    /// 256 latents, otherwise none)
    #[arg(long)]
    detail_channels: Option<usize>,
    /// Channels of the hyperprior's side latents; 0 for a factorized prior instead.
    #[arg(long, default_value_t = Architecture::DEFAULT.hyper_channels)]
    hyper_channels: usize,
    /// A mean-scale hyperprior: the hyper-synthesis also predicts each latent's mean, and
    /// latents are coded around it. With --init of a scale hyperprior of the same size, the
    /// means start at zero from that model.
    #[arg(long)]
    means: bool,
    /// Hidden channels of a checkerboard context model (needs --means): half the latents are
    /// coded first and correct the prediction of the others (two decoding passes). With --init
    /// of the same model without one, its corrections start at zero from that model.
    #[arg(long, default_value_t = 0)]
    context_channels: usize,
    /// Validation images used (at most).
    #[arg(long, default_value_t = 1000)]
    val_size: usize,
    /// Validate every this many steps.
    #[arg(long, default_value_t = 1000)]
    val_every: u64,
    /// Minutes between checkpoints.
    #[arg(long, default_value_t = 5.0)]
    checkpoint_minutes: f64,
    /// Stop with a checkpoint after this many steps in this session (continue with --resume).
    #[arg(long)]
    session_steps: Option<u64>,
    /// Stop with a checkpoint once this many minutes of this session have passed (continue
    /// with --resume): a time budget for runs that share a session of fixed length.
    #[arg(long)]
    session_minutes: Option<f64>,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// No progress bar or messages.
    #[arg(long)]
    quiet: bool,
    /// auto (a hardware GPU if there is one, else the CPU), cpu, gpu, gpu:N or gpu-software.
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
}

pub fn run(a: Args) -> Result<()> {
    let lambdas = match (a.lambda, a.lambdas) {
        (Some(_), _) => Vec::new(),
        (None, Some(l)) => l,
        (None, None) => nic_train::DEFAULT_LAMBDAS.to_vec(),
    };
    if lambdas.iter().any(|l| !(l.is_finite() && *l > 0.0)) || a.lambda.is_some_and(|l| l <= 0.0) {
        return Err(crate::exit::Failure::Usage("λ values must be positive".into()).into());
    }
    if a.ema.is_some_and(|d| !(0.0..1.0).contains(&d)) {
        return Err(crate::exit::Failure::Usage("--ema must be in [0, 1)".into()).into());
    }
    let detail_channels = a.detail_channels.unwrap_or(
        if a.latent_channels == Architecture::DEFAULT.latent_channels {
            Architecture::DEFAULT.detail_channels
        } else {
            0
        },
    );
    if detail_channels >= a.latent_channels {
        return Err(crate::exit::Failure::Usage(
            "--detail-channels must be fewer than --latent-channels".into(),
        )
        .into());
    }
    if a.context_channels > 0 && !a.means {
        return Err(crate::exit::Failure::Usage(
            "--context-channels corrects a mean-scale hyperprior: pass --means too".into(),
        )
        .into());
    }
    let device = super::open_device(a.device, a.quiet)?;
    let opts = TrainOptions {
        data: a.data,
        val: a.val,
        out: a.out,
        architecture: Architecture {
            channels: a.channels,
            latent_channels: a.latent_channels,
            hyper_channels: a.hyper_channels,
            means: a.means,
            rate_levels: lambdas.len(),
            detail_channels,
            context_channels: a.context_channels,
        },
        lambda: a.lambda.unwrap_or(lambdas[0]),
        lambdas,
        quality: a.quality,
        steps: a.steps,
        batch: a.batch,
        crop: a.crop,
        mosaic: a.mosaic,
        init: a.init,
        lr: a.lr,
        ema: a.ema,
        latent_warmup: a.latent_warmup,
        balance_levels: a.balance_levels,
        seed: a.seed,
        val_size: a.val_size,
        val_every: a.val_every.max(1),
        checkpoint_seconds: a.checkpoint_minutes * 60.0,
        session_steps: a.session_steps,
        session_seconds: a.session_minutes.map(|m| m * 60.0),
        resume: a.resume,
        progress: !a.quiet,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let s = nic_train::train(&opts, &device)?;
    println!(
        "trained steps {}..{} in {:.0} s ({:.1} images/s); total {:.0} s",
        s.first_step, s.steps, s.session_seconds, s.images_per_second, s.total_seconds
    );
    if let Some(v) = s.first_val {
        println!(
            "validation at start: loss {:.4} bpp {:.4} PSNR {:.2} dB",
            v.loss,
            v.bpp,
            v.psnr()
        );
    }
    let v = s.last_val;
    println!(
        "validation at end:   loss {:.4} bpp {:.4} PSNR {:.2} dB",
        v.loss,
        v.bpp,
        v.psnr()
    );
    println!(
        "model {} written to {}",
        nic_model::id_hex(&s.model_id),
        opts.out.display()
    );
    Ok(())
}
