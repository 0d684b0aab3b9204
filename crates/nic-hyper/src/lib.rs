//! The hyper-synthesis of a scale hyperprior, run in integer arithmetic.
//!
//! A hyperprior codec sends side latents ẑ, and both encoder and decoder compute from them,
//! for every latent, which probability table codes it. If the two disagree on a single index the
//! rest of the file decodes into garbage, and floating-point networks do disagree across GPUs,
//! CPUs, thread counts and compilers (CompressAI issues #279 and #309). Here the network runs in
//! fixed point with 64-bit integer accumulators (Ballé, Johnston and Minnen 2019, "Integer
//! networks for data compression with latent-variable models"): integer addition is exact and
//! associative, so the result does not depend on the order of the sums, the thread count, the
//! CPU or the compiler. The trained floating-point weights are rounded to fixed point when a
//! model is loaded (multiplying an `f32` by a power of two and rounding is exact IEEE
//! arithmetic, so that step is deterministic too).
//!
//! The sums run as `f64` matrix products wherever a layer's bound proves them exact (integers
//! below 2^53, checked per layer against the largest input), else in `i64`; the two give the
//! same bits, so this is a matter of speed only.

mod layer;
mod scales;

pub use layer::{HyperError, Kind, Layer, Network, Planes, Shape};
pub use scales::ScaleIndex;

/// Fraction bits of activations (and of the predicted scales): 1/1024.
pub const ACTIVATION_BITS: u32 = 10;
/// Fraction bits of the weights: 1/65536.
pub const WEIGHT_BITS: u32 = 16;
