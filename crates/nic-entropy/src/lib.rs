//! Entropy coding of quantized latents.
//!
//! A learned prior gives, for each latent channel, a probability for every integer. This crate
//! turns those probabilities into integer tables ([`ChannelTable`]) that the encoder and decoder
//! share bit for bit, and codes latents with them using `constriction`'s range coder.
//!
//! Tables cover only the integers that carry real probability mass. Every other value is sent as
//! an *escape* symbol followed by its distance from the table in an Elias-gamma-like bypass code,
//! so any `i32` round-trips exactly: values are never clipped.

mod coder;
mod gaussian;
mod table;

pub use coder::{CodingError, LatentCoder};
pub use gaussian::{SCALE_COUNT, SCALE_MAX, SCALE_MIN, gaussian_table, scales};
pub use table::{ChannelTable, PRECISION, TableError};
