//! Analysis and synthesis transforms: four 5×5 stride-2 convolutions with GDN between them,
//! and the mirror image with transposed convolutions and inverse GDN (Ballé et al. 2018). The
//! convolutions run through [`nic_conv`] (wide matrix products on the CPU, burn's kernels
//! elsewhere).

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::{Device, Tensor};

use crate::widen::{self, Reading};
use crate::{Architecture, Gdn};

const KERNEL: usize = 5;

/// Image (3 channels, values in 0..=1) → latents (M channels, 1/16 of each side).
#[derive(Module, Debug)]
pub struct Analysis {
    convs: Vec<Conv2d>,
    gdns: Vec<Gdn>,
}

/// Quantized latents → image.
#[derive(Module, Debug)]
pub struct Synthesis {
    deconvs: Vec<ConvTranspose2d>,
    igdns: Vec<Gdn>,
}

/// Channel counts of the four layers, in the analysis direction.
fn widths(arch: &Architecture) -> [(usize, usize); 4] {
    let (n, m) = (arch.channels, arch.latent_channels);
    [(3, n), (n, n), (n, n), (n, m)]
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
        Analysis { convs, gdns }
    }

    /// This (trained) analysis embedded in `wider`, a fresh one with more hidden channels:
    /// the same latents for every image (see [`crate::widen`]).
    pub fn widened(self, wider: Analysis) -> Analysis {
        Analysis {
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

    /// M, the number of latent channels.
    pub fn latent_channels(&self) -> usize {
        self.convs.last().expect("four layers").weight.dims()[0]
    }

    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for (i, conv) in self.convs.iter().enumerate() {
            x = nic_conv::nn::conv2d(conv, x);
            if let Some(gdn) = self.gdns.get(i) {
                x = gdn.forward(x);
            }
        }
        x
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
        Synthesis { deconvs, igdns }
    }

    /// This (trained) synthesis embedded in `wider`, a fresh one with more hidden channels
    /// (the same picture from every latent) or more latents, which it reads with the fresh
    /// weights, so that training puts them to use (see [`crate::widen`]).
    pub fn widened(self, wider: Synthesis) -> Synthesis {
        Synthesis {
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

    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
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
