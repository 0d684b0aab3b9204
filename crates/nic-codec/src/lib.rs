//! The codec: a picture → analysis transform → rounding → range coding → `.nic` bytes, and
//! back through the same tables and the synthesis transform. Large pictures go through the
//! transforms in overlapping tiles ([`tiles`]), so memory stays bounded.
//!
//! [`ModelSet`] finds the models of each quality in a model folder; [`Codec`] is one loaded
//! model with its entropy coder.

mod codec;
mod models;
mod target;
pub mod tiles;

pub use codec::{Analyzed, Codec, CodecError, EncodeStats, Latents, MAX_PIXELS};
pub use models::{ModelSet, default_model_dir};
pub use target::{Target, Targeted, encode_to_target};
