//! Batches of random crops in a reproducible order.

use std::cell::RefCell;

use nic_image::RgbImage;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// The order in which epoch `epoch` visits `n` images: a permutation fixed by `seed`.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(mix(seed, epoch)));
    order
}

/// Draws training batches. Batch `step` depends only on (seed, step), never on what was drawn
/// before, so training resumed at step k gets the same batch k as an uninterrupted run.
pub struct Sampler<'a> {
    images: Vec<&'a RgbImage>,
    pub crop: usize,
    pub batch: usize,
    pub seed: u64,
    /// The order of the epoch last asked for, so it is shuffled once per epoch, not per batch.
    order: RefCell<(u64, Vec<usize>)>,
}

impl<'a> Sampler<'a> {
    /// Keeps the images at least `crop` pixels on each side; returns the sampler and how many
    /// images were too small.
    pub fn new(images: &'a [RgbImage], crop: usize, batch: usize, seed: u64) -> (Self, usize) {
        let kept: Vec<&RgbImage> = images
            .iter()
            .filter(|i| i.width() as usize >= crop && i.height() as usize >= crop)
            .collect();
        let skipped = images.len() - kept.len();
        let order = RefCell::new((0, epoch_order(kept.len(), seed, 0)));
        (
            Sampler {
                order,
                images: kept,
                crop,
                batch,
                seed,
            },
            skipped,
        )
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Batches per epoch (the last partial batch of an epoch is dropped).
    pub fn steps_per_epoch(&self) -> u64 {
        (self.images.len() / self.batch).max(1) as u64
    }

    /// Batch number `step` as `[batch][3][crop][crop]` floats in 0..=1.
    pub fn batch_at(&self, step: u64) -> Vec<f32> {
        let per_epoch = self.steps_per_epoch();
        let epoch = step / per_epoch;
        let mut cached = self.order.borrow_mut();
        if cached.0 != epoch {
            *cached = (epoch, epoch_order(self.images.len(), self.seed, epoch));
        }
        let order = &cached.1;
        let start = ((step % per_epoch) as usize) * self.batch;
        let mut rng = StdRng::seed_from_u64(mix(self.seed ^ 0x5eed, step));
        let mut out = Vec::with_capacity(self.batch * 3 * self.crop * self.crop);
        for k in 0..self.batch {
            let img = self.images[order[(start + k) % order.len()]];
            random_crop(img, self.crop, &mut rng, &mut out);
        }
        out
    }
}

/// Appends a random `crop × crop` window of `img`, flipped left-right half of the time, in
/// planar layout. Only horizontal flips: photographs are not symmetric top to bottom (sky,
/// light from above), and a codec for photographs should not learn that they are.
fn random_crop(img: &RgbImage, crop: usize, rng: &mut StdRng, out: &mut Vec<f32>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let x0 = rng.random_range(0..=w - crop);
    let y0 = rng.random_range(0..=h - crop);
    let flip = rng.random_bool(0.5);
    let raw = img.as_raw();
    for c in 0..3 {
        for y in 0..crop {
            let row = &raw[((y0 + y) * w + x0) * 3..][..crop * 3];
            for x in 0..crop {
                let sx = if flip { crop - 1 - x } else { x };
                out.push(row[sx * 3 + c] as f32 / 255.0);
            }
        }
    }
}

/// Center `crop × crop` windows of `images`, planar: the deterministic validation batch.
pub fn center_crops(images: &[RgbImage], crop: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(images.len() * 3 * crop * crop);
    for img in images {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (x0, y0) = ((w - crop) / 2, (h - crop) / 2);
        for c in 0..3 {
            for y in 0..crop {
                for x in 0..crop {
                    out.push(img.as_raw()[((y0 + y) * w + x0 + x) * 3 + c] as f32 / 255.0);
                }
            }
        }
    }
    out
}

/// SplitMix64-style mixing of two numbers into one seed.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(n: usize, side: u32) -> Vec<RgbImage> {
        (0..n)
            .map(|i| RgbImage::from_fn(side, side, |x, y| image::Rgb([i as u8, x as u8, y as u8])))
            .collect()
    }

    #[test]
    fn batches_are_reproducible_and_cover_each_epoch() {
        let imgs = images(10, 8);
        let (s, skipped) = Sampler::new(&imgs, 8, 5, 42);
        assert_eq!(skipped, 0);
        assert_eq!(s.batch_at(3), s.batch_at(3));
        assert_ne!(s.batch_at(0), s.batch_at(1));
        // One epoch (2 batches) sees every image once: channel 0 carries the image index.
        let mut seen: Vec<u8> = (0..2)
            .flat_map(|st| {
                let b = s.batch_at(st);
                (0..5)
                    .map(move |k| (b[k * 3 * 64] * 255.0).round() as u8)
                    .collect::<Vec<_>>()
            })
            .collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<u8>>());
    }

    #[test]
    fn crops_stay_inside_and_small_images_are_skipped() {
        let mut imgs = images(3, 20);
        imgs.push(RgbImage::new(4, 40));
        let (s, skipped) = Sampler::new(&imgs, 16, 2, 1);
        assert_eq!((s.len(), skipped), (3, 1));
        for step in 0..20 {
            let b = s.batch_at(step);
            assert_eq!(b.len(), 2 * 3 * 16 * 16);
            assert!(b.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        assert_eq!(center_crops(&imgs[..1], 16).len(), 3 * 256);
    }
}
