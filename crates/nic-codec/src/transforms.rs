//! The networks on the device: the analysis and synthesis transforms in overlapping tiles
//! (see [`crate::tiles`]), and the hyper-analysis, between host vectors and tensors.

use std::sync::Arc;

use nic_image::{Planar, RgbImage};
use nic_model::burn::tensor::{Device, Tensor, TensorData};
use nic_model::{Architecture, Hyperprior, SavedModel};

use crate::CodecError;
use crate::shapes::Grid;
use crate::tiles::{DEFAULT_TILE, tiles};

/// Pixels per latent along each side.
const S: usize = Architecture::STRIDE;

/// A model's transforms on one device.
#[derive(Clone)]
pub(crate) struct Transforms {
    pub model: Arc<SavedModel>,
    pub device: Device,
    /// Tile side, in latents.
    pub tile: usize,
}

impl Transforms {
    pub fn new(model: Arc<SavedModel>, device: Device) -> Transforms {
        Transforms {
            model,
            device,
            tile: DEFAULT_TILE,
        }
    }

    /// A `[1, channels, height, width]` tensor of `values` on the device.
    pub fn tensor(&self, values: Vec<f32>, grid: Grid) -> Tensor<4> {
        let shape = [1, grid.channels, grid.height, grid.width];
        Tensor::<4>::from_data(TensorData::new(values, shape), &self.device)
    }

    /// The same, of integers.
    pub fn integer_tensor(&self, values: &[i32], grid: Grid) -> Tensor<4> {
        self.tensor(values.iter().map(|&v| v as f32).collect(), grid)
    }

    /// The analysis transform, tile by tile: the unrounded latents (`[channels][row][col]`)
    /// of the picture padded to `latents`.
    pub fn analyze(&self, img: &RgbImage, latents: Grid) -> Result<Vec<f32>, CodecError> {
        let (lh, lw) = (latents.height, latents.width);
        let channels = latents.channels;
        let plane = latents.plane();
        let mut out = vec![0.0f32; channels * plane];
        for t in tiles(lh, lw, self.tile) {
            let region = Planar::region(
                img,
                t.ext_cols.start * S,
                t.ext_rows.start * S,
                t.ext_cols.len() * S,
                t.ext_rows.len() * S,
            );
            let x = Tensor::<4>::from_data(
                TensorData::new(region.data, [1, 3, region.height, region.width]),
                &self.device,
            );
            let (top, left) = t.offset();
            let y = self.model.compressor.analyze(x).slice([
                0..1,
                0..channels,
                top..top + t.rows.len(),
                left..left + t.cols.len(),
            ]);
            let tile_values = read_back(y, "latents")?;
            let width = t.cols.len();
            for (i, row) in tile_values.chunks_exact(width).enumerate() {
                let (c, r) = (i / t.rows.len(), i % t.rows.len());
                let start = c * plane + (t.rows.start + r) * lw + t.cols.start;
                out[start..start + width].copy_from_slice(row);
            }
        }
        Ok(out)
    }

    /// The hyper-analysis of gained latents: the unrounded side latents.
    pub fn side_latents(
        &self,
        hyperprior: &Hyperprior,
        gained: Vec<f32>,
        latents: Grid,
    ) -> Result<Vec<f32>, CodecError> {
        read_back(
            hyperprior.side_latents(self.tensor(gained, latents)),
            "side latents",
        )
    }

    /// The synthesis transform of quantized latent `values`, tile by tile, into a
    /// `width × height` picture (the padding beyond it dropped). `inverse` are the
    /// per-channel inverse gains of a variable-rate model.
    pub fn synthesize(
        &self,
        values: &[f32],
        inverse: Option<&[f32]>,
        latents: Grid,
        width: u32,
        height: u32,
    ) -> Result<RgbImage, CodecError> {
        let (m, lw) = (latents.channels, latents.width);
        let plane = latents.plane();
        let mut out = RgbImage::new(width, height);
        for t in tiles(latents.height, lw, self.tile) {
            let (eh, ew) = (t.ext_rows.len(), t.ext_cols.len());
            let mut floats = Vec::with_capacity(m * eh * ew);
            for c in 0..m {
                let g = inverse.map_or(1.0, |inv| inv[c]);
                for r in t.ext_rows.clone() {
                    let row = &values[c * plane + r * lw..][..lw];
                    floats.extend(row[t.ext_cols.clone()].iter().map(|&v| v * g));
                }
            }
            let tile = Grid {
                channels: m,
                height: eh,
                width: ew,
            };
            let y_hat = self.tensor(floats, tile);
            let (top, left) = t.offset();
            let (h, w) = (t.rows.len() * S, t.cols.len() * S);
            let x_hat = self.model.compressor.synthesize(y_hat).slice([
                0..1,
                0..3,
                top * S..top * S + h,
                left * S..left * S + w,
            ]);
            let planar = Planar {
                width: w,
                height: h,
                data: read_back(x_hat, "pixels")?,
            };
            planar.paste_into(&mut out, t.cols.start * S, t.rows.start * S);
        }
        Ok(out)
    }
}

/// A tensor's values on the host; a failure is the device's.
pub(crate) fn read_back(t: Tensor<4>, what: &str) -> Result<Vec<f32>, CodecError> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| CodecError::Device(format!("reading {what} back from the device: {e:?}")))
}
