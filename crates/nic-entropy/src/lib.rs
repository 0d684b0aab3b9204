//! Entropy coding of quantized latents.
//!
//! A learned prior gives, for each latent channel, a probability for every integer. This crate
//! turns those probabilities into integer tables ([`ChannelTable`]) that the encoder and decoder
//! share bit for bit, and codes latents with them using `constriction`'s range coder.
//!
//! Tables cover only the integers that carry real probability mass. Every other value is sent as
//! an *escape* symbol followed by its distance from the table in an Elias-gamma-like bypass code,
//! so any `i32` round-trips exactly: values are never clipped.
//!
//! ```
//! use nic_entropy::{ChannelTable, LatentCoder};
//!
//! // Two channels of two values each, both with a table for -2..=2 that favours 0.
//! let pmf = [0.05, 0.2, 0.5, 0.2, 0.05];
//! let table = ChannelTable::from_pmf(-2, &pmf, 1e-4)?;
//! let coder = LatentCoder::new(&[table.clone(), table])?;
//! let values = [0, 1, -1, 40]; // 40 is outside the table: sent through the escape
//! let bytes = coder.encode(&values, 2)?;
//! assert_eq!(coder.decode(&bytes, 2)?, values);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod coder;
mod gaussian;
mod table;

pub use coder::{CodingError, IndexedDecoder, LatentCoder};
pub use gaussian::{SCALE_COUNT, SCALE_MAX, SCALE_MIN, gaussian_table, scales};
pub use table::{ChannelTable, PRECISION, TableError};
