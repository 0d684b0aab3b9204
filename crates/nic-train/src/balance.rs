//! An equal say for every rate level of a variable-rate run (`--balance-levels`).
//!
//! A variable-rate model is trained on the mean of its images' losses λ·255²·MSE + bpp, each
//! image at a level drawn at random. Those losses grow with λ: on the ten-level default
//! (λ 0.00047 … 0.18) the top level's is about 20 times the bottom one's (4.1 against 0.21 on
//! Kodak), so the shared weights move mostly for the high levels, and a low level's gain of
//! a few per cent in rate hardly shows in the objective. BD-rate, what the model is judged
//! by, counts relative changes: 1 % less rate at level 1 is worth what 1 % less is at level
//! 10. Dividing each image's loss by its level's running mean loss gives every level that
//! weight — the gradient of Σ log L_level. Within one image the ratio of distortion to rate
//! is untouched, so each level keeps its λ's trade-off; only the levels' shares change.

use serde::{Deserialize, Serialize};

/// How many images of a level the running means remember, about: at batch 8 over ten
/// levels, a few hundred steps, long enough to average out what the crops hold, short enough
/// to follow the losses as training lowers them.
const MEMORY: f64 = 200.0;

/// Each level's running mean loss. Kept in the checkpoint, so a resumed run weighs its steps
/// as an uninterrupted one would.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LevelBalance {
    /// `None` for a level no image has been trained at yet.
    means: Vec<Option<f64>>,
}

impl LevelBalance {
    pub fn new(levels: usize) -> Self {
        LevelBalance {
            means: vec![None; levels],
        }
    }

    /// The weight of each image's loss, for images at `levels`: the inverse of its level's mean
    /// loss, scaled so that the weights of the levels seen so far average 1 (a level not seen
    /// yet gets 1), which keeps the objective's size near that of the plain mean.
    pub fn weights(&self, levels: &[usize]) -> Vec<f32> {
        let inverse: Vec<f64> = self.means.iter().flatten().map(|m| 1.0 / m).collect();
        let norm = inverse.len() as f64 / inverse.iter().sum::<f64>();
        levels
            .iter()
            .map(|&l| self.means[l].map_or(1.0, |m| (norm / m) as f32))
            .collect()
    }

    /// Takes in a step's image losses (unweighted, images at `levels`). A level's first image
    /// sets its mean. Non-finite or non-positive losses are skipped.
    pub fn update(&mut self, levels: &[usize], losses: &[f32]) {
        for (&l, &loss) in levels.iter().zip(losses) {
            let loss = loss as f64;
            if !(loss.is_finite() && loss > 0.0) {
                continue;
            }
            let mean = &mut self.means[l];
            *mean = Some(mean.map_or(loss, |m| m + (loss - m) / MEMORY));
        }
    }

    /// Whether it was made for a run of `levels` rate levels.
    pub fn fits(&self, levels: usize) -> bool {
        self.means.len() == levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_inverse_level_means_averaging_one() {
        let mut b = LevelBalance::new(3);
        assert_eq!(b.weights(&[0, 1, 2]), vec![1.0; 3], "nothing seen: equal");
        b.update(&[0, 2, 2], &[0.5, 4.0, 4.0]);
        let w = b.weights(&[0, 1, 2, 0]);
        // Means 0.5 and 4: weights ∝ 2 and 0.25, scaled to average 1 → 16/9 and 2/9.
        assert!((w[0] - 16.0 / 9.0).abs() < 1e-6, "{w:?}");
        assert_eq!(w[1], 1.0, "an unseen level");
        assert!((w[2] - 2.0 / 9.0).abs() < 1e-6, "{w:?}");
        assert_eq!(w[0], w[3]);
        // Each level's weighted loss is the same: what a level's share of the objective is.
        assert!((w[0] * 0.5 - w[2] * 4.0).abs() < 1e-6);
    }

    #[test]
    fn means_follow_the_losses_slowly_and_skip_bad_ones() {
        let mut b = LevelBalance::new(2);
        b.update(&[1], &[2.0]);
        b.update(&[1, 1], &[f32::NAN, -1.0]);
        assert_eq!(b.means[1], Some(2.0));
        for _ in 0..(MEMORY as usize * 10) {
            b.update(&[1], &[1.0]);
        }
        let m = b.means[1].unwrap();
        assert!((m - 1.0).abs() < 1e-3, "{m}");
        b.update(&[1], &[101.0]);
        assert!((b.means[1].unwrap() - (m + (101.0 - m) / MEMORY)).abs() < 1e-9);
        assert!(b.fits(2) && !b.fits(3));
    }

    #[test]
    fn survives_json() {
        let mut b = LevelBalance::new(2);
        b.update(&[0], &[0.25]);
        let s = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<LevelBalance>(&s).unwrap(), b);
    }
}
