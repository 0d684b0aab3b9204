//! Analysis and synthesis transforms: four 5×5 stride-2 convolutions with GDN between them,
//! and the mirror image with transposed convolutions and inverse GDN (Ballé et al. 2018). The
//! convolutions run through [`nic_conv`] (wide matrix products on the CPU, burn's kernels
//! elsewhere).
//!
//! Beside them, a model may have *detail* latents (`Architecture::detail_channels`): K
//! latents per 16×16 block that are a linear function of the block's *residue* — the picture
//! less the synthesis of the transforms' own (unquantized) latents, which the encoder can
//! compute from the picture alone — and that the synthesis adds back to the block linearly (a
//! 16×16 convolution of stride 16 and its transpose). The transforms' latents stop at what
//! their trained analysis keeps (on the default, the block PCA's quality for as many latents),
//! and latents added to the transforms by gradient descent found nothing to carry (the model
//! card); a linear pair started from the principal directions of the residue carries the most
//! of it that K linear values can from the first step ([`Analysis::set_detail_basis`]). They
//! read the residue, not the picture: the picture's projection on those directions is mostly
//! what the transforms reproduce already (72 times the residue's energy on the default).

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::{Device, Tensor};

use crate::widen::{self, Reading};
use crate::{Architecture, Gdn};

const KERNEL: usize = 5;

/// Pixels on a side of the blocks detail latents describe.
const BLOCK: usize = Architecture::STRIDE;

/// Values in one block: what a detail latent is a linear function of.
pub const BLOCK_VALUES: usize = 3 * BLOCK * BLOCK;

/// Image (3 channels, values in 0..=1) → latents (M channels, 1/16 of each side).
#[derive(Module, Debug)]
pub struct Analysis {
    convs: Vec<Conv2d>,
    gdns: Vec<Gdn>,
    /// The detail latents' 16×16 stride-16 convolution, without bias (none without them).
    detail: Option<Conv2d>,
}

/// Quantized latents → image.
#[derive(Module, Debug)]
pub struct Synthesis {
    deconvs: Vec<ConvTranspose2d>,
    igdns: Vec<Gdn>,
    /// Its transpose, reading the detail latents (the last ones) back into the pixels.
    detail: Option<ConvTranspose2d>,
}

/// Channel counts of the four layers, in the analysis direction.
fn widths(arch: &Architecture) -> [(usize, usize); 4] {
    let (n, m) = (arch.channels, arch.transform_channels());
    [(3, n), (n, n), (n, n), (n, m)]
}

/// Weights `[k, 3, 16, 16]` of a detail pair, from `k` rows of [`BLOCK_VALUES`] (channel,
/// row, column order) times `scale`.
fn block_weights(rows: &[f32], scale: f32, device: &Device) -> Tensor<4> {
    let k = rows.len() / BLOCK_VALUES;
    let v = rows.iter().map(|w| w * scale).collect::<Vec<_>>();
    Tensor::from_data(
        burn::tensor::TensorData::new(v, [k, 3, BLOCK, BLOCK]),
        device,
    )
}

/// `weight` (`[K, 3, 16, 16]`, a detail latent per row) with rows `first..` replaced by
/// `rows`, detached.
fn set_rows(weight: Tensor<4>, first: usize, rows: Tensor<4>) -> Tensor<4> {
    let [k, c, h, w] = rows.dims();
    assert!(
        first + k <= weight.dims()[0] && [c, h, w] == weight.dims()[1..],
        "one basis row per detail latent"
    );
    weight
        .slice_assign([first..first + k, 0..c, 0..h, 0..w], rows)
        .detach()
}

impl Analysis {
    pub fn new(arch: &Architecture, device: &Device) -> Self {
        let convs = widths(arch)
            .iter()
            .map(|&(i, o)| {
                Conv2dConfig::new([i, o], [KERNEL, KERNEL])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                    .init(device)
            })
            .collect();
        let gdns = (0..3)
            .map(|_| Gdn::new(arch.channels, false, device))
            .collect();
        let detail = (arch.detail_channels > 0).then(|| {
            Conv2dConfig::new([3, arch.detail_channels], [BLOCK, BLOCK])
                .with_stride([BLOCK, BLOCK])
                .with_bias(false)
                .init(device)
        });
        Analysis {
            convs,
            gdns,
            detail,
        }
    }

    /// Sets detail latents `first..` to `scale` times the projections of each residue block
    /// on `basis` (a row of [`BLOCK_VALUES`] for each, channel-major like a picture);
    /// [`Synthesis::set_detail_basis`] with the same rows and scale reads them back to the
    /// blocks' projection on it. The detail latents before `first` are left as they are.
    pub fn set_detail_basis(&mut self, first: usize, basis: &[f32], scale: f32) {
        let detail = self.detail.as_mut().expect("a model with detail latents");
        let w = block_weights(basis, scale, &detail.weight.device());
        detail.weight = Param::from_tensor(set_rows(detail.weight.val(), first, w));
    }

    /// This (trained) analysis embedded in `wider`, a fresh one with more hidden channels:
    /// the same latents for every image (see [`crate::widen`]). Detail latents are kept, the
    /// new ones (all of them where this one has none) from `wider`.
    pub fn widened(self, wider: Analysis) -> Analysis {
        Analysis {
            detail: match (self.detail, wider.detail) {
                (Some(t), Some(f)) => Some(widen::conv(t, f)),
                (t, f) => t.or(f),
            },
            convs: self
                .convs
                .into_iter()
                .zip(wider.convs)
                .map(|(t, f)| widen::conv(t, f))
                .collect(),
            gdns: self
                .gdns
                .into_iter()
                .zip(wider.gdns)
                .map(|(t, f)| t.widened(f))
                .collect(),
        }
    }

    /// M, the number of latent channels (detail latents included).
    pub fn latent_channels(&self) -> usize {
        self.convs.last().expect("four layers").weight.dims()[0] + self.detail_channels()
    }

    /// K, the number of detail latents.
    pub fn detail_channels(&self) -> usize {
        self.detail.as_ref().map_or(0, |d| d.weight.dims()[0])
    }

    /// The transforms' latents (all of them without detail latents; see
    /// `Compressor::analyze` for the whole set).
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for (i, conv) in self.convs.iter().enumerate() {
            x = nic_conv::nn::conv2d(conv, x);
            if let Some(gdn) = self.gdns.get(i) {
                x = gdn.forward(x);
            }
        }
        x
    }

    /// The detail latents of `residue` (the picture less the synthesis of the transforms'
    /// latents), if this analysis has them.
    pub fn detail(&self, residue: Tensor<4>) -> Option<Tensor<4>> {
        self.detail
            .as_ref()
            .map(|d| nic_conv::nn::conv2d(d, residue))
    }
}

impl Synthesis {
    pub fn new(arch: &Architecture, device: &Device) -> Self {
        let deconvs = widths(arch)
            .iter()
            .rev()
            .map(|&(o, i)| {
                ConvTranspose2dConfig::new([i, o], [KERNEL, KERNEL])
                    .with_stride([2, 2])
                    .with_padding([2, 2])
                    .with_padding_out([1, 1])
                    .init(device)
            })
            .collect();
        let igdns = (0..3)
            .map(|_| Gdn::new(arch.channels, true, device))
            .collect();
        let detail = (arch.detail_channels > 0).then(|| {
            ConvTranspose2dConfig::new([arch.detail_channels, 3], [BLOCK, BLOCK])
                .with_stride([BLOCK, BLOCK])
                .with_bias(false)
                .init(device)
        });
        Synthesis {
            deconvs,
            igdns,
            detail,
        }
    }

    /// Reads detail latents `first..` back as `1 / scale` times their combination of the
    /// `basis` rows (see [`Analysis::set_detail_basis`]).
    pub fn set_detail_basis(&mut self, first: usize, basis: &[f32], scale: f32) {
        let detail = self.detail.as_mut().expect("a model with detail latents");
        let w = block_weights(basis, 1.0 / scale, &detail.weight.device());
        detail.weight = Param::from_tensor(set_rows(detail.weight.val(), first, w));
    }

    /// This (trained) synthesis embedded in `wider`, a fresh one with more hidden channels
    /// (the same picture from every latent) or more latents, which it reads with the fresh
    /// weights, so that training puts them to use (see [`crate::widen`]). Detail latents are
    /// kept, the new ones read as `wider` reads them.
    pub fn widened(self, wider: Synthesis) -> Synthesis {
        Synthesis {
            detail: match (self.detail, wider.detail) {
                (Some(t), Some(f)) => Some(widen::deconv(t, f, Reading::Fresh)),
                (t, f) => t.or(f),
            },
            deconvs: self
                .deconvs
                .into_iter()
                .zip(wider.deconvs)
                .enumerate()
                .map(|(layer, (t, f))| {
                    let reading = if layer == 0 {
                        Reading::Fresh
                    } else {
                        Reading::Zero
                    };
                    widen::deconv(t, f, reading)
                })
                .collect(),
            igdns: self
                .igdns
                .into_iter()
                .zip(wider.igdns)
                .map(|(t, f)| t.widened(f))
                .collect(),
        }
    }

    /// The picture of latents `y` (detail latents, if any, the last ones): the transforms'
    /// picture of the others, plus the detail latents' blocks.
    pub fn forward(&self, y: Tensor<4>) -> Tensor<4> {
        let Some(d) = &self.detail else {
            return self.transforms(y);
        };
        let [b, m, h, w] = y.dims();
        let first = m - d.weight.dims()[0];
        let detail = y.clone().slice([0..b, first..m, 0..h, 0..w]);
        self.transforms(y.slice([0..b, 0..first, 0..h, 0..w]))
            + nic_conv::nn::conv_transpose2d(d, detail)
    }

    /// The transforms' picture of their latents alone.
    pub fn transforms(&self, mut x: Tensor<4>) -> Tensor<4> {
        for (i, deconv) in self.deconvs.iter().enumerate() {
            x = nic_conv::nn::conv_transpose2d(deconv, x);
            if let Some(igdn) = self.igdns.get(i) {
                x = igdn.forward(x);
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Range;

    use burn::module::{ModuleMapper, Param};
    use burn::tensor::Distribution;

    /// Moves every weight by up to ±0.1 (GDN's γ off its diagonal too), as training would, so
    /// that the trained channels are more than a fresh network's symmetric start.
    struct Jitter;

    impl ModuleMapper for Jitter {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let v = p.val();
            let noise = Tensor::random(v.shape(), Distribution::Uniform(-0.1, 0.1), &v.device());
            Param::from_tensor((v + noise).detach())
        }
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn widened_transforms_make_the_same_pictures_and_their_new_channels_learn() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 21);
        let ad = device.clone().autodiff();
        let (arch, wide) = (
            Architecture::TINY,
            Architecture {
                channels: 13,
                latent_channels: 11,
                ..Architecture::TINY
            },
        );
        let analysis = Analysis::new(&arch, &ad).map(&mut Jitter);
        let synthesis = Synthesis::new(&arch, &ad).map(&mut Jitter);
        let (wa, ws) = (
            analysis.clone().widened(Analysis::new(&wide, &ad)),
            synthesis.clone().widened(Synthesis::new(&wide, &ad)),
        );
        assert_eq!(wa.convs[1].weight.dims(), [13, 13, KERNEL, KERNEL]);
        assert_eq!(ws.deconvs[3].weight.dims(), [13, 3, KERNEL, KERNEL]);
        assert_eq!(wa.latent_channels(), 11);
        let x = Tensor::<4>::random([2, 3, 48, 32], Distribution::Uniform(0.0, 1.0), &ad);
        // The same latents and pictures, up to the float sums' order.
        let close = |a: Vec<f32>, b: Vec<f32>| {
            let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = a
                .iter()
                .zip(&b)
                .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
            assert!(worst <= 1e-5 * scale, "{worst} of {scale}");
        };
        let y = analysis.forward(x.clone());
        let wy = wa.forward(x.clone());
        let [b, _, h, w] = y.dims();
        close(
            values(y.clone()),
            values(wy.clone().slice([0..b, 0..8, 0..h, 0..w])),
        );
        // The new latents are not zero; with them at zero, the picture is the trained one.
        let new = [0..b, 8..11, 0..h, 0..w];
        assert!(
            values(wy.clone().slice(new.clone()))
                .iter()
                .any(|v| v.abs() > 1e-3)
        );
        let without_new = wy.clone().slice_fill(new, 0.0);
        close(
            values(synthesis.forward(y)),
            values(ws.forward(without_new)),
        );
        // Trained with rounded latents (straight through, as in training), every new channel
        // gets a gradient from the distortion alone at once: the zero weights that read new
        // hidden channels, and the analysis rows that compute the new latents, which the
        // synthesis reads with fresh weights.
        let wy = wa.forward(x.clone());
        let rounded = wy.clone() + (wy.clone().round() - wy).detach();
        let loss = ws.forward(rounded).sub(x).square().mean();
        let grads = loss.backward();
        let new_inputs = |g: Tensor<4>, block: [Range<usize>; 4]| {
            values(g.slice(block)).iter().map(|v| v.abs()).sum::<f32>()
        };
        let k = 0..KERNEL;
        let read_by_latents = wa.convs[3].weight.val().grad(&grads).unwrap();
        assert!(new_inputs(read_by_latents.clone(), [0..8, 8..13, k.clone(), k.clone()]) > 0.0);
        assert!(new_inputs(read_by_latents, [8..11, 0..13, k.clone(), k.clone()]) > 0.0);
        let read_by_pixels = ws.deconvs[3].weight.val().grad(&grads).unwrap();
        assert!(new_inputs(read_by_pixels, [8..13, 0..3, k.clone(), k]) > 0.0);
    }

    #[test]
    fn more_detail_latents_keep_the_trained_ones_and_start_where_they_are_set() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 29);
        let arch = |k| Architecture {
            latent_channels: Architecture::TINY.latent_channels + k,
            detail_channels: k,
            ..Architecture::TINY
        };
        let (a, s) = (
            Analysis::new(&arch(3), &device),
            Synthesis::new(&arch(3), &device),
        );
        let weights = |d: Option<Tensor<4>>| values(d.expect("detail latents"));
        let trained_a = weights(a.detail.as_ref().map(|d| d.weight.val()));
        let trained_s = weights(s.detail.as_ref().map(|d| d.weight.val()));
        let mut a = a.widened(Analysis::new(&arch(5), &device));
        let mut s = s.widened(Synthesis::new(&arch(5), &device));
        assert_eq!(a.detail_channels(), 5);
        let rows = vec![1.0f32; 2 * BLOCK_VALUES];
        a.set_detail_basis(3, &rows, 2.0);
        s.set_detail_basis(3, &rows, 2.0);
        let (wa, ws) = (
            weights(a.detail.map(|d| d.weight.val())),
            weights(s.detail.map(|d| d.weight.val())),
        );
        let kept = 3 * BLOCK_VALUES;
        assert_eq!((&wa[..kept], &ws[..kept]), (&trained_a[..], &trained_s[..]));
        assert!(wa[kept..].iter().all(|&w| w == 2.0));
        assert!(ws[kept..].iter().all(|&w| w == 0.5));
    }

    #[test]
    fn detail_latents_are_projections_of_each_block_added_back() {
        let device = Device::flex();
        let _turn = crate::test_rng::seeded(&device, 23);
        let arch = Architecture {
            latent_channels: 11,
            detail_channels: 3,
            ..Architecture::TINY
        };
        let (mut analysis, mut synthesis) = (
            Analysis::new(&arch, &device),
            Synthesis::new(&arch, &device),
        );
        assert_eq!(analysis.latent_channels(), 11);
        // Three basis rows picking one value of each block: (channel, row, column).
        let picked = [(0, 0, 0), (1, 5, 9), (2, 15, 15)];
        let mut basis = vec![0.0f32; 3 * BLOCK_VALUES];
        for (k, &(c, r, col)) in picked.iter().enumerate() {
            basis[k * BLOCK_VALUES + (c * BLOCK + r) * BLOCK + col] = 1.0;
        }
        analysis.set_detail_basis(0, &basis, 4.0);
        synthesis.set_detail_basis(0, &basis, 4.0);
        // (Standing for a residue: the detail latents read whatever they are given.)
        let x = Tensor::<4>::random([2, 3, 32, 48], Distribution::Uniform(0.0, 1.0), &device);
        let detail = analysis.detail(x.clone()).unwrap();
        let y = Tensor::cat(vec![analysis.forward(x.clone()), detail], 1);
        assert_eq!(y.dims(), [2, 11, 2, 3]);
        let (xs, ys) = (values(x.clone()), values(y.clone()));
        let at = |c: usize, r: usize, col: usize, b: usize| xs[((b * 3 + c) * 32 + r) * 48 + col];
        for b in 0..2 {
            for (i, j) in [(0, 0), (1, 2)] {
                for (k, &(c, r, col)) in picked.iter().enumerate() {
                    let got = ys[((b * 11 + 8 + k) * 2 + i) * 3 + j];
                    let want = 4.0 * at(c, 16 * i + r, 16 * j + col, b);
                    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
                }
            }
        }
        // Read back: the picture moves by the blocks' projection on the basis, and nowhere
        // else.
        let without = y.clone().slice_fill([0..2, 8..11, 0..2, 0..3], 0.0);
        let added = values(synthesis.forward(y) - synthesis.forward(without));
        for b in 0..2 {
            for c in 0..3 {
                for r in 0..32 {
                    for col in 0..48 {
                        let picked = picked.contains(&(c, r % 16, col % 16));
                        let want = if picked { at(c, r, col, b) } else { 0.0 };
                        let got = added[((b * 3 + c) * 32 + r) * 48 + col];
                        assert!(
                            (got - want).abs() < 1e-5,
                            "({c}, {r}, {col}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn shapes_follow_the_stride() {
        let device = Device::flex();
        let arch = Architecture::TINY;
        let x = Tensor::<4>::zeros([2, 3, 32, 48], &device);
        let y = Analysis::new(&arch, &device).forward(x);
        assert_eq!(y.dims(), [2, arch.latent_channels, 2, 3]);
        let x_hat = Synthesis::new(&arch, &device).forward(y);
        assert_eq!(x_hat.dims(), [2, 3, 32, 48]);
    }
}
