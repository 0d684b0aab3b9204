use serde::{Deserialize, Serialize};

/// Width and entropy model of the network. `channels` (N) is the width of the hidden layers,
/// `latent_channels` (M) the number of latent channels, as in Ballé et al. 2018 and CompressAI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    pub channels: usize,
    pub latent_channels: usize,
    /// Channels of the side latents z of the scale hyperprior; 0 for a factorized prior on the
    /// latents themselves (models made before the hyperprior have no such field).
    #[serde(default)]
    pub hyper_channels: usize,
    /// Whether the hyperprior also predicts each latent's mean (Minnen, Ballé and Toderici
    /// 2018's mean-scale hyperprior): latents are coded as residuals around it. Absent (false)
    /// in models of the scale hyperprior, whose description is unchanged by this field.
    #[serde(default, skip_serializing_if = "is_false")]
    pub means: bool,
    /// Rate levels of a variable-rate model (one gain vector each); 0 for a model trained for
    /// one rate.
    #[serde(default)]
    pub rate_levels: usize,
    /// How many of the `latent_channels` latents are *detail* latents: a linear function of
    /// each 16×16 block's pixels, added back as a linear function of them, beside the
    /// transforms (see [`crate::transforms`]); 0 (absent) for none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub detail_channels: usize,
    /// Hidden channels of the checkerboard context model (He et al. 2021; see
    /// [`crate::context`]): half the latents are coded first, and the other half's means and
    /// scales also depend on them. 0 (absent) for none; needs the mean-scale form.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub context_channels: usize,
}

impl Architecture {
    /// Total downsampling of the analysis transform (four stride-2 convolutions): images are
    /// padded to a multiple of this.
    pub const STRIDE: usize = 16;

    /// Further downsampling of the hyper-analysis (two stride-2 convolutions): z has one
    /// value per 4×4 latents, one per 64×64 pixels.
    pub const HYPER_STRIDE: usize = 4;

    /// The factorized-prior models of the first releases; see `models/README.md`.
    pub const FACTORIZED: Architecture = Architecture {
        channels: 96,
        latent_channels: 128,
        hyper_channels: 0,
        means: false,
        rate_levels: 0,
        detail_channels: 0,
        context_channels: 0,
    };

    /// The shipped default's size and rate levels (what `nic train` makes unless told
    /// otherwise): a scale hyperprior with one gain vector per rate level; the shipped model
    /// is its mean-scale form (`--means`). N = 128 since it was widened from 96; 128 of its
    /// 256 latents are detail latents and it has ten levels since session 18 (before, 64 of
    /// 192 and eight levels; before session 16, M = 128 with no detail latents).
    pub const DEFAULT: Architecture = Architecture {
        channels: 128,
        latent_channels: 256,
        hyper_channels: 96,
        means: false,
        rate_levels: 10,
        detail_channels: 128,
        context_channels: 0,
    };

    /// A tiny factorized network for tests.
    pub const TINY: Architecture = Architecture {
        channels: 8,
        latent_channels: 8,
        hyper_channels: 0,
        means: false,
        rate_levels: 0,
        detail_channels: 0,
        context_channels: 0,
    };

    /// A tiny variable-rate hyperprior network for tests.
    pub const TINY_HYPER: Architecture = Architecture {
        channels: 8,
        latent_channels: 8,
        hyper_channels: 8,
        means: false,
        rate_levels: 3,
        detail_channels: 0,
        context_channels: 0,
    };

    /// [`Architecture::TINY_HYPER`] with a mean-scale hyperprior, for tests.
    pub const TINY_MEAN_SCALE: Architecture = Architecture {
        means: true,
        ..Architecture::TINY_HYPER
    };

    /// [`Architecture::TINY_MEAN_SCALE`] with a checkerboard context, for tests.
    pub const TINY_CONTEXT: Architecture = Architecture {
        context_channels: 4,
        ..Architecture::TINY_MEAN_SCALE
    };

    pub fn has_hyperprior(&self) -> bool {
        self.hyper_channels > 0
    }

    /// Whether latents are coded around predicted means (a mean-scale hyperprior).
    pub fn has_means(&self) -> bool {
        self.has_hyperprior() && self.means
    }

    /// Whether the latents are coded in two halves, the second with the checkerboard context
    /// of the first.
    pub fn has_context(&self) -> bool {
        self.has_means() && self.context_channels > 0
    }

    /// Latent channels the analysis and synthesis transforms compute and read (the others are
    /// detail latents).
    pub fn transform_channels(&self) -> usize {
        self.latent_channels - self.detail_channels
    }

    pub fn is_variable_rate(&self) -> bool {
        self.rate_levels > 0
    }

    /// Latent height and width for an image of the given size (after padding).
    pub fn latent_size(width: u32, height: u32) -> (u32, u32) {
        let s = Self::STRIDE as u32;
        (width.div_ceil(s), height.div_ceil(s))
    }

    /// Side-latent height and width for latents of the given size.
    pub fn hyper_size(latent_width: u32, latent_height: u32) -> (u32, u32) {
        let s = Self::HYPER_STRIDE as u32;
        (latent_width.div_ceil(s), latent_height.div_ceil(s))
    }
}

fn is_false(b: &bool) -> bool {
    !b
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
