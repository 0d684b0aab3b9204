//! From a predicted scale to the index of its probability table.

use crate::{ACTIVATION_BITS, HyperError};

/// Table boundaries in fixed point (`ACTIVATION_BITS` fraction bits), ascending: a scale `s`
/// gets table `i` where `i` is the number of boundaries `≤ s`. The boundaries are integers
/// stored in the model, so the choice involves no floating point at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleIndex {
    bounds: Vec<i32>,
}

impl ScaleIndex {
    pub fn new(bounds: Vec<i32>) -> Result<ScaleIndex, HyperError> {
        if bounds.is_empty() || bounds.len() >= 256 || !bounds.windows(2).all(|w| w[0] < w[1]) {
            return Err(HyperError::Invalid(
                "scale boundaries must be 1..=255 strictly ascending values".into(),
            ));
        }
        Ok(ScaleIndex { bounds })
    }

    /// Boundaries between the tables of `scales` (real numbers, ascending): the geometric
    /// midpoints, in fixed point. For building a model; loading one takes the stored integers.
    pub fn between(scales: &[f64]) -> Result<ScaleIndex, HyperError> {
        let one = (1u32 << ACTIVATION_BITS) as f64;
        let bounds = scales
            .windows(2)
            .map(|w| ((w[0] * w[1]).sqrt() * one).round() as i32)
            .collect();
        ScaleIndex::new(bounds)
    }

    pub fn bounds(&self) -> &[i32] {
        &self.bounds
    }

    /// Number of tables (one more than boundaries).
    pub fn tables(&self) -> usize {
        self.bounds.len() + 1
    }

    pub fn index(&self, scale: i32) -> u8 {
        self.bounds.partition_point(|&b| b <= scale) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_go_to_the_nearest_table_in_log_terms() {
        let idx = ScaleIndex::between(&[0.5, 2.0, 8.0]).unwrap();
        assert_eq!(idx.bounds(), &[1024, 4096]);
        assert_eq!(idx.index(0), 0);
        assert_eq!(idx.index(1023), 0);
        assert_eq!(idx.index(1024), 1);
        assert_eq!(idx.index(i32::MAX), 2);
        assert!(ScaleIndex::new(vec![3, 3]).is_err());
        assert!(ScaleIndex::new(vec![]).is_err());
    }
}
