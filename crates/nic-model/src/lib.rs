//! The networks of nic's codec, in burn.
//!
//! Data flow, one module each: [`Analysis`] maps an image to latents `y` (16× smaller per
//! side); rounding quantizes them; [`FactorizedPrior`] gives each latent channel a learned
//! density (Ballé et al. 2018, appendix 6.1) from which [`build_tables`] derives the integer
//! tables the entropy coder uses; [`Synthesis`] maps quantized latents back to pixels. GDN
//! ([`Gdn`]) is the nonlinearity in both transforms.
//!
//! Nothing here assumes a backend: every constructor takes a `burn::tensor::Device`, so the
//! same code runs on the CPU (Flex) or a GPU through wgpu ([`DeviceChoice`]).

mod arch;
mod compressor;
mod device;
mod export;
mod gdn;
mod prior;
mod store;
mod tables;
mod transforms;

pub use arch::Architecture;
pub use compressor::{Compressor, RdOutput};
pub use device::{DeviceChoice, DeviceError, OpenedDevice};
pub use export::{NamedTensor, named_parameters, to_npy};
pub use gdn::Gdn;
pub use prior::FactorizedPrior;
pub use store::{INFO_FILE, ModelError, ModelInfo, SavedModel, TrainingInfo, WEIGHTS_FILE};
pub use tables::build_tables;
pub use transforms::{Analysis, Synthesis};

/// Re-exported so dependents name one burn.
pub use burn;
