//! What a training run is asked to do, and the choices that follow from the options alone:
//! the learning rate of each step and the rate level and λ of each image.

use std::path::PathBuf;

use nic_model::Architecture;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

/// The rate levels of the default variable-rate model: CompressAI's eight λ (0.0018 … 0.18)
/// shifted down one octave, since nic's smaller, shorter-trained models spend more bits at a
/// given λ. After the CIFAR-10 stage they spanned 0.21–1.21 bpp on Kodak; the photo stage
/// brought the default to 0.17–0.96, and the default of session 18 has one level more at each
/// end (one octave apart, like the others), which spans 0.11–1.88 bpp on Kodak (see
/// `--lambdas` with `--init` in docs/training.md).
pub const DEFAULT_LAMBDAS: [f64; 10] = [
    0.00047, 0.0009, 0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932, 0.18,
];

/// The options' file beside an exported model.
pub const OPTIONS_FILE: &str = "train-options.json";

/// Everything a run is made of. Written beside the exported model as `train-options.json`,
/// so the run a model card describes can be repeated from its files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// Keep an exponential moving average of the weights with this decay per step and export
    /// it (and validate it as the run's `val` figures) instead of the weights themselves.
    #[serde(default)]
    pub ema: Option<f64>,
    /// When `init` gets more latent channels, their rate enters the loss over this many steps
    /// (see [`crate::LatentWarmup`]); 0: at once.
    #[serde(default)]
    pub latent_warmup: u64,
    /// Weigh each image's loss by the inverse of its rate level's running mean loss, so that
    /// every level counts alike in the objective (see [`crate::LevelBalance`]).
    #[serde(default)]
    pub balance_levels: bool,
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
    pub(crate) fn note(&self, msg: &str) {
        if self.progress {
            eprintln!("{msg}");
        }
    }
}

impl TrainOptions {
    /// Adam at `--lr`, divided by 10 for the last 10 % of the steps (CompressAI's recipe
    /// lowers the rate once the loss plateaus; a fixed point is reproducible across resumes).
    pub(crate) fn learning_rate(&self, step: u64) -> f64 {
        if step >= self.steps - self.steps / 10 {
            self.lr / 10.0
        } else {
            self.lr
        }
    }

    /// The rate level and λ of every image of step `step`: drawn uniformly from the levels
    /// with a seed fixed by (seed, step), so a resumed run draws the same.
    pub(crate) fn training_levels(&self, step: u64) -> (Vec<usize>, Vec<f64>) {
        // Another odd 64-bit multiplier than the noise's, so the two streams differ.
        const SPREAD: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rng = StdRng::seed_from_u64(self.seed ^ step.wrapping_mul(SPREAD));
        let count = self.lambdas.len();
        let levels = (0..self.batch)
            .map(|_| rng.random_range(0..count.max(1)))
            .collect();
        self.with_lambdas(levels, self.batch)
    }

    /// Validation cycles through the levels image by image (images `start..start + n`), so
    /// one figure follows them all.
    pub(crate) fn validation_levels(&self, start: usize, n: usize) -> (Vec<usize>, Vec<f64>) {
        let count = self.lambdas.len().max(1);
        self.with_lambdas((start..start + n).map(|i| i % count).collect(), n)
    }

    /// The levels with their λ, for `n` images: a single-rate run has no levels, one λ.
    fn with_lambdas(&self, levels: Vec<usize>, n: usize) -> (Vec<usize>, Vec<f64>) {
        if self.lambdas.is_empty() {
            return (Vec::new(), vec![self.lambda; n]);
        }
        let lambdas = levels.iter().map(|&l| self.lambdas[l]).collect();
        (levels, lambdas)
    }
}
