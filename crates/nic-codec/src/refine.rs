//! `--effort`: the latents of each picture refined before they are rounded
//! ([`nic_model::Compressor::refine`]), so that the file is smaller for the same quality or
//! better for the same size. The decoder does not know: the file holds other integers, coded
//! with the same tables, and decodes bit-exactly on every device as any other.
//!
//! The picture is refined in tiles of [`TILE`] × [`TILE`] blocks of 4 × 4 latents (one side
//! latent each), each with one block of context on every side whose refined values are
//! dropped, so memory stays bounded for any size (the activations of a step on a tile with
//! its margins, about 0.6 Mpx, peak near 1 GiB). Each latent is written by the one tile it
//! belongs to; the decoder's synthesis is the same as ever, so there are no seams.

use nic_image::{Planar, RgbImage};
use nic_model::burn::tensor::{Device, Tensor, TensorData};
use nic_model::{Architecture, Compressor, Schedule};

use crate::CodecError;
use crate::shapes::Grid;
use crate::tiles::{Tile, tiles_with_margin};
use crate::transforms::read_back;

/// Tile side in blocks of 4 × 4 latents (768 pixels): a Kodak picture is one tile.
pub const TILE: usize = 12;

/// How much encoder time is spent on a picture: 0 is one pass of the analysis transform
/// (the files of earlier versions, byte for byte), each level above refines the latents
/// longer. See [`Effort::schedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Effort(u8);

impl Effort {
    /// The highest level.
    pub const MAX: u8 = 3;

    pub fn new(level: u8) -> Result<Effort, CodecError> {
        if level > Effort::MAX {
            return Err(CodecError::Request(format!(
                "effort {level}: must be 0 to {}",
                Effort::MAX
            )));
        }
        Ok(Effort(level))
    }

    pub fn level(self) -> u8 {
        self.0
    }

    /// The refinement of each level (none at 0), chosen by measurement on the default model
    /// (docs/results.md): fewer steps need larger ones; beyond about 30 steps this schedule
    /// gained nothing more (80 and 100 steps, at steps of 0.005 to 0.02, ended worse).
    pub fn schedule(self) -> Option<Schedule> {
        let (steps, lr) = match self.0 {
            0 => return None,
            1 => (5, 0.04),
            2 => (10, 0.03),
            _ => (30, 0.01),
        };
        Some(Schedule { steps, lr })
    }
}

/// Progress of a long encode: `(steps done, steps in all)`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// What [`refine`] works on: a picture's gained latents and side latents (unrounded, in the
/// codec's `[channels][row][col]` order), refined in place.
pub(crate) struct Problem<'a> {
    pub img: &'a RgbImage,
    pub y: &'a mut [f32],
    pub latents: Grid,
    pub z: Option<(&'a mut [f32], Grid)>,
    /// Per-channel inverse gains (variable-rate models).
    pub inverse: Option<&'a [f32]>,
    pub lambda: f64,
}

/// Refines `p` tile by tile with `model` (on `device`, an autodiff device, its parameters
/// not requiring gradients).
pub(crate) fn refine(
    model: &Compressor,
    device: &Device,
    p: Problem,
    schedule: Schedule,
    progress: Option<Progress>,
) -> Result<(), CodecError> {
    const B: usize = Architecture::HYPER_STRIDE;
    let Problem {
        img,
        y,
        latents,
        mut z,
        inverse,
        lambda,
    } = p;
    let blocks = latents.side_latents(0);
    let all = tiles_with_margin(blocks.height, blocks.width, TILE, 1);
    let total = all.len() * schedule.steps;
    let mut done = 0;
    let inverse = inverse
        .map(|g| Tensor::<4>::from_data(TensorData::new(g.to_vec(), [1, g.len(), 1, 1]), device));
    for t in &all {
        // The tile in latents: blocks × 4, cut at the grid's end.
        let lat = |r: &std::ops::Range<usize>, n: usize| r.start * B..(r.end * B).min(n);
        let (rows, cols) = (
            lat(&t.ext_rows, latents.height),
            lat(&t.ext_cols, latents.width),
        );
        let region = Planar::region(
            img,
            cols.start * 16,
            rows.start * 16,
            cols.len() * 16,
            rows.len() * 16,
        );
        let x = Tensor::<4>::from_data(
            TensorData::new(region.data, [1, 3, region.height, region.width]),
            device,
        );
        let y_tile = gather(y, latents, &rows, &cols, device);
        let z_tile = z
            .as_ref()
            .map(|(z, grid)| gather(z, *grid, &t.ext_rows, &t.ext_cols, device));
        let mut on_step = || {
            done += 1;
            if let Some(report) = progress {
                report(done, total);
            }
        };
        let r = model.refine(
            x,
            y_tile,
            z_tile,
            inverse.clone(),
            lambda,
            schedule,
            &mut on_step,
        );
        // The tile's own part, in latents and in blocks.
        let own = Tile {
            rows: lat(&t.rows, latents.height),
            cols: lat(&t.cols, latents.width),
            ext_rows: rows,
            ext_cols: cols,
        };
        scatter(&read_back(r.y, "refined latents")?, y, latents, &own);
        if let (Some((z, grid)), Some(values)) = (z.as_mut(), r.z) {
            scatter(&read_back(values, "refined side latents")?, z, *grid, t);
        }
    }
    Ok(())
}

/// The `rows × cols` window of `values` (`[channels][row][col]` of `grid`) as a tensor.
fn gather(
    values: &[f32],
    grid: Grid,
    rows: &std::ops::Range<usize>,
    cols: &std::ops::Range<usize>,
    device: &Device,
) -> Tensor<4> {
    let mut out = Vec::with_capacity(grid.channels * rows.len() * cols.len());
    for plane in values.chunks_exact(grid.plane()) {
        for r in rows.clone() {
            out.extend_from_slice(&plane[r * grid.width..][cols.clone()]);
        }
    }
    let shape = [1, grid.channels, rows.len(), cols.len()];
    Tensor::from_data(TensorData::new(out, shape), device)
}

/// Writes the tile's own rows and columns of `window` (its extended region's values) back
/// into `values`.
fn scatter(window: &[f32], values: &mut [f32], grid: Grid, t: &Tile) {
    let (eh, ew) = (t.ext_rows.len(), t.ext_cols.len());
    let (top, left) = t.offset();
    for (c, plane) in values.chunks_exact_mut(grid.plane()).enumerate() {
        for (i, r) in t.rows.clone().enumerate() {
            let src = &window[c * eh * ew + (top + i) * ew + left..][..t.cols.len()];
            plane[r * grid.width + t.cols.start..][..t.cols.len()].copy_from_slice(src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_and_scatter_move_a_window_and_its_own_part() {
        let grid = Grid {
            channels: 2,
            height: 5,
            width: 6,
        };
        let values: Vec<f32> = (0..60).map(|v| v as f32).collect();
        let device = Device::flex();
        let w = gather(&values, grid, &(1..4), &(2..5), &device);
        let w: Vec<f32> = w.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(&w[..3], &[8.0, 9.0, 10.0]);
        assert_eq!(&w[9..12], &[38.0, 39.0, 40.0]);
        let mut out = vec![-1.0; 60];
        let t = Tile {
            rows: 2..3,
            cols: 3..5,
            ext_rows: 1..4,
            ext_cols: 2..5,
        };
        scatter(&w, &mut out, grid, &t);
        let written: Vec<usize> = (0..60).filter(|&i| out[i] >= 0.0).collect();
        assert_eq!(written, vec![15, 16, 45, 46]);
        assert!(written.iter().all(|&i| out[i] == values[i]));
    }

    #[test]
    fn levels_are_checked_and_zero_refines_nothing() {
        assert!(Effort::new(0).unwrap().schedule().is_none());
        assert!(Effort::new(Effort::MAX).is_ok() && Effort::new(Effort::MAX + 1).is_err());
        let steps: Vec<usize> = (1..=Effort::MAX)
            .map(|l| Effort::new(l).unwrap().schedule().unwrap().steps)
            .collect();
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    }
}
