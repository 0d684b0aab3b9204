//! The integer tensors a picture's file holds: a function of the architecture and the
//! picture's size alone, so the codec and the decoder's fuzz target cannot disagree on it.

use nic_model::Architecture;

/// Channels, rows and columns of one coded tensor (`[channels][row][col]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl Grid {
    /// Values per channel.
    pub fn plane(&self) -> usize {
        self.height * self.width
    }

    /// The side latents of these latents: one per 4 × 4 of them
    /// ([`Architecture::HYPER_STRIDE`]), with `channels` channels.
    pub fn side_latents(&self, channels: usize) -> Grid {
        let (w, h) = Architecture::hyper_size(self.width as u32, self.height as u32);
        Grid {
            channels,
            height: h as usize,
            width: w as usize,
        }
    }

    /// `(channels, height, width)` as the container stores them.
    pub fn as_u32(&self) -> (u32, u32, u32) {
        (self.channels as u32, self.height as u32, self.width as u32)
    }
}

/// The tensors of one picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureShapes {
    /// The latents: one per 16 × 16 pixels (the picture padded to a multiple of 16).
    pub latents: Grid,
    /// A hyperprior's side latents: one per 4 × 4 latents.
    pub side: Option<Grid>,
}

impl PictureShapes {
    pub fn new(arch: &Architecture, width: u32, height: u32) -> PictureShapes {
        let (lw, lh) = Architecture::latent_size(width, height);
        let latents = Grid {
            channels: arch.latent_channels,
            height: lh as usize,
            width: lw as usize,
        };
        PictureShapes {
            latents,
            side: arch
                .has_hyperprior()
                .then(|| latents.side_latents(arch.hyper_channels)),
        }
    }

    /// In the order the file stores them: side latents first (the decoder needs them to
    /// read the latents).
    pub fn in_file_order(&self) -> Vec<Grid> {
        self.side.into_iter().chain([self.latents]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latents_cover_the_padded_picture_and_side_latents_the_padded_latents() {
        let s = PictureShapes::new(&Architecture::DEFAULT, 769, 512);
        assert_eq!((s.latents.height, s.latents.width), (32, 49));
        let side = s.side.unwrap();
        assert_eq!((side.channels, side.height, side.width), (96, 8, 13));
        assert_eq!(s.in_file_order(), vec![side, s.latents]);
        let f = PictureShapes::new(&Architecture::FACTORIZED, 1, 1);
        assert_eq!(f.in_file_order(), vec![f.latents]);
        assert_eq!(f.latents.plane(), 1);
    }
}
