//! Integer entropy-coding tables from the learned prior.

use burn::tensor::{Tensor, TensorData};
use nic_entropy::{ChannelTable, TableError};
use nic_hyper::ScaleIndex;
use serde::{Deserialize, Serialize};

use crate::FactorizedPrior;

/// The prior is evaluated on the integers -GRID..=GRID; mass beyond goes to the escape symbol.
const GRID: i32 = 512;
/// Probability mass left out of each side of a table (coded through the escape symbol).
/// Small enough that escapes are rare, large enough that tables don't carry thousands of
/// near-zero entries.
const TAIL: f64 = 1e-7;

/// The Gaussian tables of a hyperprior model and the fixed-point scale boundaries between
/// them, as stored in `model.json` (the decoder uses exactly these integers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleTables {
    /// [`nic_hyper::ScaleIndex`] boundaries.
    pub bounds: Vec<i32>,
    pub tables: Vec<ChannelTable>,
}

impl ScaleTables {
    pub fn index(&self) -> Result<ScaleIndex, String> {
        let index = ScaleIndex::new(self.bounds.clone()).map_err(|e| e.to_string())?;
        if index.tables() != self.tables.len() {
            return Err(format!(
                "{} scale tables for {} boundaries",
                self.tables.len(),
                self.bounds.len()
            ));
        }
        for t in &self.tables {
            t.check().map_err(|e| e.to_string())?;
        }
        Ok(index)
    }
}

/// Tables of discretized Gaussians at [`nic_entropy::scales`].
pub fn build_scale_tables() -> Result<ScaleTables, TableError> {
    let scales = nic_entropy::scales();
    let bounds = ScaleIndex::between(&scales)
        .expect("the scale set is ascending")
        .bounds()
        .to_vec();
    let tables = scales
        .iter()
        .map(|&s| nic_entropy::gaussian_table(s))
        .collect::<Result<_, _>>()?;
    Ok(ScaleTables { bounds, tables })
}

/// One table per latent channel, covering the integers where the prior has real mass.
pub fn build_tables(prior: &FactorizedPrior) -> Result<Vec<ChannelTable>, TableError> {
    let c = prior.channels();
    let device = prior_device(prior);
    let n = (2 * GRID + 1) as usize;
    let grid: Vec<f32> = (-GRID..=GRID).map(|k| k as f32).collect();
    let v = Tensor::<1>::from_data(TensorData::new(grid, [n]), &device)
        .reshape([1, 1, n])
        .repeat_dim(0, c);
    let pmf: Vec<f32> = prior
        .interval_probability(v)
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 tensor");
    let edges = Tensor::<1>::from_floats([-GRID as f32 - 0.5, GRID as f32 + 0.5], &device)
        .reshape([1, 1, 2])
        .repeat_dim(0, c);
    let cdf: Vec<f32> = burn::tensor::activation::sigmoid(prior.logits_cumulative(edges))
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 tensor");

    (0..c)
        .map(|ch| {
            let p: Vec<f64> = pmf[ch * n..(ch + 1) * n]
                .iter()
                .map(|&x| x as f64)
                .collect();
            let below = cdf[2 * ch] as f64;
            let above = 1.0 - cdf[2 * ch + 1] as f64;
            table_from_grid(&p, below, above)
        })
        .collect()
}

/// Trims the grid pmf to the smallest range with at most `TAIL` mass outside on each side.
fn table_from_grid(p: &[f64], below: f64, above: f64) -> Result<ChannelTable, TableError> {
    let mut lo = 0;
    let mut left = below;
    while lo + 1 < p.len() && left + p[lo] <= TAIL {
        left += p[lo];
        lo += 1;
    }
    let mut hi = p.len() - 1;
    let mut right = above;
    while hi > lo && right + p[hi] <= TAIL {
        right += p[hi];
        hi -= 1;
    }
    ChannelTable::from_pmf(
        lo as i32 - GRID,
        &p[lo..=hi],
        left.max(0.0) + right.max(0.0),
    )
}

fn prior_device(prior: &FactorizedPrior) -> burn::tensor::Device {
    use burn::module::Module;
    prior
        .devices()
        .into_iter()
        .next()
        .expect("prior has parameters")
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn tables_cover_the_mass_of_a_fresh_prior() {
        let device = Device::flex();
        let prior = FactorizedPrior::new(4, &device);
        let tables = build_tables(&prior).unwrap();
        assert_eq!(tables.len(), 4);
        for t in &tables {
            t.check().unwrap();
            let (lo, hi) = t.range();
            assert!(lo < 0 && hi > 0, "table {lo}..={hi} should straddle zero");
            // The escape symbol carries only the trimmed tails.
            assert!(*t.freqs.last().unwrap() < 16);
        }
    }

    #[test]
    fn trimming_keeps_the_bulk() {
        let p = [1e-9, 1e-8, 0.25, 0.5, 0.25, 1e-9];
        let t = table_from_grid(&p, 0.0, 0.0).unwrap();
        assert_eq!(t.range(), (2 - GRID, 4 - GRID));
    }
}
