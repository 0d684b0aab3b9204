use serde::{Deserialize, Serialize};

/// Width of the transforms. `channels` (N) is the width of the hidden layers, `latent_channels`
/// (M) the number of latent channels, as in Ballé et al. 2018 and CompressAI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    pub channels: usize,
    pub latent_channels: usize,
}

impl Architecture {
    /// Total downsampling of the analysis transform (four stride-2 convolutions): images are
    /// padded to a multiple of this.
    pub const STRIDE: usize = 16;

    /// The shipped default; see `models/README.md` for how it was chosen.
    pub const DEFAULT: Architecture = Architecture {
        channels: 96,
        latent_channels: 128,
    };

    /// A tiny network for tests.
    pub const TINY: Architecture = Architecture {
        channels: 8,
        latent_channels: 8,
    };

    /// Latent height and width for an image of the given size (after padding).
    pub fn latent_size(width: u32, height: u32) -> (u32, u32) {
        let s = Self::STRIDE as u32;
        (width.div_ceil(s), height.div_ceil(s))
    }
}
