//! Analysis and synthesis transforms: four 5×5 stride-2 convolutions with GDN between them,
//! and the mirror image with transposed convolutions and inverse GDN (Ballé et al. 2018). The
//! convolutions run through [`nic_conv`] (wide matrix products on the CPU, burn's kernels
//! elsewhere).

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::{Device, Tensor};

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
