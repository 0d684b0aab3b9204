//! Training a compressor: minimize λ·255²·MSE + bpp with Adam on random crops.
//!
//! A run lives in its output folder: `checkpoint.bin` (model, optimizer state, step and, with
//! `--ema`, the weights' moving average, written atomically every few minutes, the previous one
//! kept as `checkpoint.prev.bin`), `log.csv` (training and validation figures), and the
//! exported model (`model.json`, `weights.bpk`; the average when there is one) that `nic
//! encode --model` takes, with the run's options beside it (`train-options.json`). `--resume`
//! continues from the checkpoint exactly: same step, optimizer moments and batch order.
//!
//! One module per part: [`TrainOptions`] and what follows from them alone (learning rate,
//! rate levels), where a run starts (fresh, `--init`, or a checkpoint), [`train_step`], the
//! weights' average, the rate levels' shares of the objective ([`LevelBalance`]), the rate of
//! new latents phased in ([`LatentWarmup`]), the start of detail latents (`detail`), the loop
//! around it, and [`RdStats`], the figures every part reports in.

mod average;
mod balance;
mod checkpoint;
mod detail;
mod log;
mod options;
mod start;
mod stats;
mod step;
mod trainer;
mod warmup;

pub use balance::LevelBalance;
pub use checkpoint::{Checkpoint, CheckpointError, RunKey};
pub use log::LOG_FILE;
pub use options::{DEFAULT_LAMBDAS, OPTIONS_FILE, TrainOptions};
pub use stats::RdStats;
pub use step::{Step, optimizer, step_noise, train_step, uniform_noise};
pub use trainer::{TrainError, TrainSummary, train};
pub use warmup::LatentWarmup;
