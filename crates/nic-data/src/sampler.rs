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
///
/// With `mosaic` k > 1 every sample is a k×k mosaic of different images, each a random
/// `crop / k` window. Small pictures (CIFAR-10's 32×32) then train the transforms on an extent
/// where most pixels are far from the border, as in a photograph; trained on 32×32 alone the
/// networks learn to lean on the zero padding at the edges and shift colours in the interior
/// of large images.
pub struct Sampler<'a> {
    images: Vec<&'a RgbImage>,
    pub crop: usize,
    pub mosaic: usize,
    pub batch: usize,
    pub seed: u64,
    /// The order of the epoch last asked for, so it is shuffled once per epoch, not per batch.
    order: RefCell<(u64, Vec<usize>)>,
}

impl<'a> Sampler<'a> {
    /// Keeps the images at least `crop` pixels on each side; returns the sampler and how many
    /// images were too small.
    pub fn new(
        images: &'a [RgbImage],
        crop: usize,
        mosaic: usize,
        batch: usize,
        seed: u64,
    ) -> (Self, usize) {
        assert!(
            mosaic >= 1 && crop.is_multiple_of(mosaic),
            "crop must be a multiple of mosaic"
        );
        let tile = crop / mosaic;
        let kept: Vec<&RgbImage> = images
            .iter()
            .filter(|i| i.width() as usize >= tile && i.height() as usize >= tile)
            .collect();
        let skipped = images.len() - kept.len();
        let order = RefCell::new((0, epoch_order(kept.len(), seed, 0)));
        (
            Sampler {
                order,
                images: kept,
                crop,
                mosaic,
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

    fn per_sample(&self) -> usize {
        self.mosaic * self.mosaic
    }

    /// Batches per epoch (the last partial batch of an epoch is dropped).
    pub fn steps_per_epoch(&self) -> u64 {
        (self.images.len() / (self.batch * self.per_sample())).max(1) as u64
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
        let per = self.per_sample();
        let start = ((step % per_epoch) as usize) * self.batch * per;
        // The crops' stream: the run's seed salted ("seed" in hex-speak), so that it is not
        // the epoch order's stream, which mixes the same seed.
        const CROP_SALT: u64 = 0x5eed;
        let mut rng = StdRng::seed_from_u64(mix(self.seed ^ CROP_SALT, step));
        let plane = self.crop * self.crop;
        let mut out = vec![0.0; self.batch * 3 * plane];
        let tile = self.crop / self.mosaic;
        for (b, sample) in out.chunks_exact_mut(3 * plane).enumerate() {
            for t in 0..per {
                let img = self.images[order[(start + b * per + t) % order.len()]];
                let window = random_window(img, tile, &mut rng);
                paste(
                    &window,
                    tile,
                    sample,
                    self.crop,
                    t / self.mosaic,
                    t % self.mosaic,
                );
            }
        }
        out
    }
}

/// A random `tile × tile` window of `img` as planar floats, flipped left-right half of the time.
/// Only horizontal flips: photographs are not symmetric top to bottom (sky, light from above),
/// and a codec for photographs should not learn that they are.
fn random_window(img: &RgbImage, tile: usize, rng: &mut StdRng) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let x0 = rng.random_range(0..=w - tile);
    let y0 = rng.random_range(0..=h - tile);
    window(img, x0, y0, tile, rng.random_bool(0.5))
}

fn window(img: &RgbImage, x0: usize, y0: usize, tile: usize, flip: bool) -> Vec<f32> {
    let w = img.width() as usize;
    let raw = img.as_raw();
    let mut out = Vec::with_capacity(3 * tile * tile);
    for c in 0..3 {
        for y in 0..tile {
            let row = &raw[((y0 + y) * w + x0) * 3..][..tile * 3];
            for x in 0..tile {
                let sx = if flip { tile - 1 - x } else { x };
                out.push(row[sx * 3 + c] as f32 / 255.0);
            }
        }
    }
    out
}

/// Copies a planar `tile × tile` window into cell (row, col) of a planar `side × side` sample.
fn paste(window: &[f32], tile: usize, sample: &mut [f32], side: usize, row: usize, col: usize) {
    for c in 0..3 {
        for y in 0..tile {
            let src = &window[(c * tile + y) * tile..][..tile];
            let dst = c * side * side + (row * tile + y) * side + col * tile;
            sample[dst..dst + tile].copy_from_slice(src);
        }
    }
}

/// The deterministic validation batch: consecutive groups of `mosaic²` images, each center
/// cropped to `crop / mosaic` and tiled like the training samples. Returns the samples, planar.
pub fn center_crops(images: &[RgbImage], crop: usize, mosaic: usize) -> Vec<f32> {
    let tile = crop / mosaic;
    let per = mosaic * mosaic;
    let plane = crop * crop;
    let n = images.len() / per;
    let mut out = vec![0.0; n * 3 * plane];
    for (s, sample) in out.chunks_exact_mut(3 * plane).enumerate() {
        for t in 0..per {
            let img = &images[s * per + t];
            let (w, h) = (img.width() as usize, img.height() as usize);
            let win = window(img, (w - tile) / 2, (h - tile) / 2, tile, false);
            paste(&win, tile, sample, crop, t / mosaic, t % mosaic);
        }
    }
    out
}

/// SplitMix64-style mixing of two numbers into one seed (its finalizer's constants, Stafford's
/// "Mix13"; 0x9e37… is 2⁶⁴/φ).
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
        let (s, skipped) = Sampler::new(&imgs, 8, 1, 5, 42);
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
        let (s, skipped) = Sampler::new(&imgs, 16, 1, 2, 1);
        assert_eq!((s.len(), skipped), (3, 1));
        for step in 0..20 {
            let b = s.batch_at(step);
            assert_eq!(b.len(), 2 * 3 * 16 * 16);
            assert!(b.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        assert_eq!(center_crops(&imgs[..1], 16, 1).len(), 3 * 256);
    }

    #[test]
    fn mosaics_tile_distinct_images() {
        let imgs = images(8, 4);
        let (s, _) = Sampler::new(&imgs, 8, 2, 2, 3);
        assert_eq!(s.steps_per_epoch(), 1);
        let b = s.batch_at(0);
        // Channel 0 carries the image index: the 8 tiles of the batch are 8 different images.
        let mut ids: Vec<u8> = (0..2)
            .flat_map(|k| {
                let b = &b;
                (0..4).map(move |t| {
                    (b[k * 192 + (t / 2) * 4 * 8 + (t % 2) * 4] * 255.0).round() as u8
                })
            })
            .collect();
        ids.sort();
        assert_eq!(ids, (0..8).collect::<Vec<u8>>());
        let v = center_crops(&imgs, 8, 2);
        assert_eq!(v.len(), 2 * 3 * 64);
        assert_eq!((v[0] * 255.0).round() as u8, 0);
        assert_eq!((v[4] * 255.0).round() as u8, 1);
        assert_eq!((v[32] * 255.0).round() as u8, 2);
    }
}
