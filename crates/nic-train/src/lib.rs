//! Training a compressor: minimize λ·255²·MSE + bpp with Adam on random crops.
//!
//! A run lives in its output folder: `checkpoint.bin` (model, optimizer state and step,
//! written atomically every few minutes, the previous one kept as `checkpoint.prev.bin`),
//! `log.csv` (training and validation figures), and the exported model (`model.json`,
//! `weights.bpk`) that `nic encode --model` takes. `--resume` continues from the checkpoint
//! exactly: same step, optimizer moments and batch order.

mod checkpoint;
mod log;
mod trainer;

pub use checkpoint::{Checkpoint, CheckpointError, RunKey};
pub use log::LOG_FILE;
pub use trainer::{
    DEFAULT_LAMBDAS, StepStats, TrainError, TrainOptions, TrainSummary, ValStats, optimizer, train,
    train_step, uniform_noise,
};
