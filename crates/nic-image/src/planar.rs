//! Channel-first float images, taken from and put back into 8-bit pictures a region at a time,
//! so that large pictures go through the network in tiles without a float copy of the whole.

use image::RgbImage;

/// A 3-channel image as `[channel][row][column]` floats in 0..=1.
#[derive(Debug, Clone, PartialEq)]
pub struct Planar {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Planar {
    /// The `width × height` region of `img` whose top-left corner is (`x`, `y`). Where it
    /// reaches past the right or bottom edge, the edge pixels are repeated: that is how images
    /// are padded to a multiple of the network's stride, and repeating (rather than zeros)
    /// keeps the padded area flat, so it costs few bits and does not ring into the picture.
    pub fn region(img: &RgbImage, x: usize, y: usize, width: usize, height: usize) -> Planar {
        let (iw, ih) = (img.width() as usize, img.height() as usize);
        assert!(iw > 0 && ih > 0, "empty image");
        let raw = img.as_raw();
        let plane = width * height;
        let mut data = vec![0.0; 3 * plane];
        for row in 0..height {
            let sy = (y + row).min(ih - 1);
            for col in 0..width {
                let sx = (x + col).min(iw - 1);
                let px = &raw[3 * (sy * iw + sx)..][..3];
                for c in 0..3 {
                    data[c * plane + row * width + col] = px[c] as f32 / 255.0;
                }
            }
        }
        Planar {
            width,
            height,
            data,
        }
    }

    /// Writes the `width × height` top-left part of this image into `img` at (`x`, `y`),
    /// clamped to 0..=1, scaled and rounded to nearest; what falls outside `img` is dropped
    /// (the padding).
    pub fn paste_into(&self, img: &mut RgbImage, x: usize, y: usize) {
        let (iw, ih) = (img.width() as usize, img.height() as usize);
        let plane = self.width * self.height;
        let w = self.width.min(iw.saturating_sub(x));
        let h = self.height.min(ih.saturating_sub(y));
        let raw: &mut [u8] = img;
        for row in 0..h {
            for col in 0..w {
                let out = &mut raw[3 * ((y + row) * iw + x + col)..][..3];
                for (c, o) in out.iter_mut().enumerate() {
                    let v = self.data[c * plane + row * self.width + col];
                    *o = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
    }

    /// Back to an 8-bit picture of the same size.
    pub fn to_rgb8(&self) -> RgbImage {
        let mut img = RgbImage::new(self.width as u32, self.height as u32);
        self.paste_into(&mut img, 0, 0);
        img
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 3) as u8, ((x + y) * 5) as u8])
        })
    }

    #[test]
    fn padded_region_then_paste_restores_every_size() {
        for (w, h) in [(1, 1), (31, 17), (769, 513), (16, 16), (1, 40)] {
            let img = gradient(w, h);
            let (pw, ph) = (
                (w as usize).div_ceil(16) * 16,
                (h as usize).div_ceil(16) * 16,
            );
            let padded = Planar::region(&img, 0, 0, pw, ph);
            let mut back = RgbImage::new(w, h);
            padded.paste_into(&mut back, 0, 0);
            assert_eq!(back, img, "{w}x{h}");
        }
    }

    #[test]
    fn padding_repeats_the_edges() {
        let img = gradient(3, 2);
        let padded = Planar::region(&img, 0, 0, 4, 4).to_rgb8();
        assert_eq!(padded.get_pixel(3, 0), img.get_pixel(2, 0));
        assert_eq!(padded.get_pixel(3, 3), img.get_pixel(2, 1));
        assert_eq!(padded.get_pixel(0, 3), img.get_pixel(0, 1));
    }

    #[test]
    fn regions_pasted_side_by_side_rebuild_the_picture() {
        let img = gradient(37, 23);
        let mut back = RgbImage::new(37, 23);
        for y in (0..23).step_by(8) {
            for x in (0..37).step_by(16) {
                Planar::region(&img, x, y, 16, 8).paste_into(&mut back, x, y);
            }
        }
        assert_eq!(back, img);
    }
}
