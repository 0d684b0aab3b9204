//! Integer probability tables derived from floating-point probabilities.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Bits of probability precision. 24 bits (the range coder's maximum with 32-bit words) keeps
/// the mass that rounding hands to rare symbols negligible: with 16 bits a 60-entry table would
/// cost ~0.1 % of the mass of the likely symbols, several percent of the rate at low bitrates.
pub const PRECISION: usize = 24;
const TOTAL: u64 = 1 << PRECISION;

/// Largest table the coder accepts; bounds memory for tables read from untrusted model files.
pub const MAX_SYMBOLS: usize = 1 << 16;

/// The integer probability model of one latent channel.
///
/// `freqs[i]` is the probability of the integer `offset + i`, in units of 2^-[`PRECISION`];
/// the last entry is the escape symbol for every integer outside the table. All entries are at
/// least 1 and they sum to exactly 2^[`PRECISION`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelTable {
    pub offset: i32,
    pub freqs: Vec<u32>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TableError {
    #[error("probability table has {0} entries (2..={MAX_SYMBOLS} allowed)")]
    BadLength(usize),
    #[error("probability table entries must be positive and sum to 2^{PRECISION}")]
    BadSum,
    #[error("probability table range overflows i32")]
    Range,
}

impl ChannelTable {
    /// Quantizes `pmf` (probabilities of `offset`, `offset + 1`, …) plus `escape` (the mass of
    /// every other integer) to integers summing to 2^PRECISION, each at least 1.
    ///
    pub fn from_pmf(offset: i32, pmf: &[f64], escape: f64) -> Result<Self, TableError> {
        let n = pmf.len() + 1;
        if !(2..=MAX_SYMBOLS).contains(&n) {
            return Err(TableError::BadLength(n));
        }
        let probs: Vec<f64> = pmf
            .iter()
            .chain(std::iter::once(&escape))
            .map(|&p| if p.is_finite() { p.max(0.0) } else { 0.0 })
            .collect();
        let sum: f64 = probs.iter().sum();
        let probs: Vec<f64> = if sum > 0.0 {
            probs.iter().map(|p| p / sum).collect()
        } else {
            vec![1.0 / n as f64; n]
        };
        let mut freqs: Vec<u64> = probs
            .iter()
            .map(|p| ((p * TOTAL as f64).round() as u64).max(1))
            .collect();
        // Settle the rounding difference on the largest entries, where one unit changes the
        // code length least (the cost of a unit is about p / freq bits).
        let total: u64 = freqs.iter().sum();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| freqs[b].cmp(&freqs[a]));
        if total < TOTAL {
            freqs[order[0]] += TOTAL - total;
        } else {
            let mut excess = total - TOTAL;
            for &i in &order {
                let take = excess.min(freqs[i] - 1);
                freqs[i] -= take;
                excess -= take;
                if excess == 0 {
                    break;
                }
            }
        }
        let table = ChannelTable {
            offset,
            freqs: freqs.into_iter().map(|f| f as u32).collect(),
        };
        table.check()?;
        Ok(table)
    }

    /// Checks the invariants; tables read from disk go through this before use.
    pub fn check(&self) -> Result<(), TableError> {
        let n = self.freqs.len();
        if !(2..=MAX_SYMBOLS).contains(&n) {
            return Err(TableError::BadLength(n));
        }
        if self.freqs.contains(&0) || self.freqs.iter().map(|&f| f as u64).sum::<u64>() != TOTAL {
            return Err(TableError::BadSum);
        }
        self.offset.checked_add(n as i32).ok_or(TableError::Range)?;
        Ok(())
    }

    /// Number of ordinary (non-escape) symbols.
    pub fn len(&self) -> usize {
        self.freqs.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lowest and highest integer the table codes directly.
    pub fn range(&self) -> (i32, i32) {
        (self.offset, self.offset + self.len() as i32 - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_tables_sum_exactly_and_have_no_zero() {
        let cases: Vec<Vec<f64>> = vec![
            vec![1.0],
            vec![0.5, 0.5],
            vec![1e-30, 1.0, 1e-30],
            vec![0.0; 100],
            (0..1000).map(|i| (-(i as f64) / 30.0).exp()).collect(),
            vec![f64::NAN, 1.0, f64::INFINITY],
        ];
        for pmf in cases {
            let t = ChannelTable::from_pmf(-3, &pmf, 1e-9).unwrap();
            t.check().unwrap();
            assert_eq!(t.freqs.len(), pmf.len() + 1);
        }
    }

    #[test]
    fn quantization_tracks_the_model() {
        let pmf = [0.1, 0.8, 0.1 - 1e-6];
        let t = ChannelTable::from_pmf(-1, &pmf, 1e-6).unwrap();
        let p1 = t.freqs[1] as f64 / TOTAL as f64;
        assert!((p1 - 0.8).abs() < 1e-6);
    }

    #[test]
    fn bad_tables_are_rejected() {
        assert!(ChannelTable::from_pmf(0, &[], 1.0).is_err());
        let t = ChannelTable {
            offset: 0,
            freqs: vec![1, 2],
        };
        assert_eq!(t.check(), Err(TableError::BadSum));
        let t = ChannelTable {
            offset: i32::MAX,
            freqs: vec![1 << 23, 1 << 23],
        };
        assert_eq!(t.check(), Err(TableError::Range));
    }
}
