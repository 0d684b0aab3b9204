//! Phasing in the rate of latents added to a trained model (`--latent-warmup`).
//!
//! When `--init` gets more latent channels (nic_model's `widen`), the new latents are coded
//! from the first step, and at first they carry nothing the pictures use. Their full rate in
//! the loss would switch them off before the distortion's gradient has found a use for them
//! (it did to every one of them when the default went from M = 128 to 320 with the full
//! rate, models/default/README.md). So their rate enters the loss linearly over the first
//! steps of the run; the run's figures report the whole rate throughout. Measured on the
//! default (M 128 → 320, 1,000 steps, its card): the upper levels used the new latents while
//! their rate counted little, gained nothing from them, and switched them off again as it
//! came in, so this gives the distortion time, not a use for them.

use serde::{Deserialize, Serialize};

/// The latents a widened run added (channels `first..channels`), and over how many steps
/// from the run's start their rate enters the loss. Kept in the checkpoint, so a resumed run
/// goes on with it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LatentWarmup {
    pub first: usize,
    pub channels: usize,
    pub steps: u64,
}

impl LatentWarmup {
    /// The share of each latent channel's rate the loss counts at `step`: all of it for the
    /// trained channels, `step / steps` for the new ones; `None` once that is all of it too.
    pub fn latent_rate(&self, step: u64) -> Option<Vec<f32>> {
        if step >= self.steps {
            return None;
        }
        let share = step as f32 / self.steps as f32;
        Some(
            (0..self.channels)
                .map(|c| if c < self.first { 1.0 } else { share })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_latents_rate_rises_from_nothing_to_all_of_it() {
        let w = LatentWarmup {
            first: 2,
            channels: 4,
            steps: 100,
        };
        assert_eq!(w.latent_rate(0), Some(vec![1.0, 1.0, 0.0, 0.0]));
        assert_eq!(w.latent_rate(25), Some(vec![1.0, 1.0, 0.25, 0.25]));
        assert_eq!(w.latent_rate(99), Some(vec![1.0, 1.0, 0.99, 0.99]));
        assert_eq!(w.latent_rate(100), None);
        assert_eq!(w.latent_rate(5000), None);
    }
}
