//! The networks of nic's codec, in burn.
//!
//! Data flow, one module each: [`Analysis`] maps an image to latents `y` (16× smaller per
//! side); [`Gains`] scale them per rate level (variable-rate models); rounding quantizes them.
//! The entropy model is either a [`FactorizedPrior`] per latent channel (Ballé et al. 2018,
//! appendix 6.1), from which [`build_tables`] derives integer tables, or a scale
//! [`Hyperprior`]: side latents z with their own factorized prior, from which a hyper-synthesis
//! (run in integer arithmetic by the codec) picks one of the fixed Gaussian tables of
//! [`build_scale_tables`] for each latent and, in its mean-scale form, the mean the latent is
//! coded around. [`Synthesis`] maps quantized latents back to pixels.
//! GDN ([`Gdn`]) is the nonlinearity in both transforms.
//!
//! Nothing here assumes a backend: every constructor takes a `burn::tensor::Device`, so the
//! same code runs on the CPU (Flex) or a GPU through wgpu ([`DeviceChoice`]).

mod arch;
mod compressor;
pub mod context;
mod device;
mod export;
mod gains;
mod gdn;
mod hyper;
mod legacy;
mod prior;
pub mod probe;
mod refine;
mod store;
mod tables;
#[cfg(test)]
mod test_rng;
mod transforms;
mod widen;

pub use arch::Architecture;
pub use compressor::{
    Compressor, EntropyModel, NoiseFor, Quantized, RdOutput, Targets, information_bits,
};
pub use context::Context;
pub use device::{DeviceChoice, DeviceError, OpenedDevice};
pub use export::{NamedTensor, named_parameters, to_npy};
pub use gains::Gains;
pub use gdn::Gdn;
pub use hyper::{Hyperprior, Prediction};
pub use prior::FactorizedPrior;
pub use refine::{Refined, Schedule};
pub use store::{
    INFO_FILE, ModelError, ModelInfo, Precision, SavedModel, TrainingInfo, WEIGHTS_FILE, id_hex,
};
pub use tables::{ScaleTables, build_scale_tables, build_tables};
pub use transforms::{Analysis, BLOCK_VALUES, Synthesis};

/// Re-exported so dependents name one burn.
pub use burn;
