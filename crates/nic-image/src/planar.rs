//! Channel-first float images, and the padding that makes any size fit the network.

use image::RgbImage;

/// A 3-channel image as `[channel][row][column]` floats in 0..=1.
#[derive(Debug, Clone, PartialEq)]
pub struct Planar {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Planar {
    pub fn from_rgb8(img: &RgbImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut data = vec![0.0; 3 * w * h];
        for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
            for c in 0..3 {
                data[c * w * h + i] = px[c] as f32 / 255.0;
            }
        }
        Planar {
            width: w,
            height: h,
            data,
        }
    }

    /// Back to 8-bit RGB: clamped to 0..=1, scaled and rounded to nearest.
    pub fn to_rgb8(&self) -> RgbImage {
        let plane = self.width * self.height;
        let mut raw = vec![0u8; 3 * plane];
        for i in 0..plane {
            for c in 0..3 {
                raw[3 * i + c] = (self.data[c * plane + i].clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
        RgbImage::from_raw(self.width as u32, self.height as u32, raw).expect("buffer size matches")
    }

    /// Pads right and bottom to the next multiple of `multiple` by repeating the edge pixels.
    /// Repeating (rather than zeros) keeps the padded area flat, so it costs few bits and does
    /// not ring into the picture.
    pub fn pad_to_multiple(&self, multiple: usize) -> Planar {
        let w = self.width.div_ceil(multiple) * multiple;
        let h = self.height.div_ceil(multiple) * multiple;
        if (w, h) == (self.width, self.height) {
            return self.clone();
        }
        let mut data = vec![0.0; 3 * w * h];
        for c in 0..3 {
            let src = &self.data[c * self.width * self.height..][..self.width * self.height];
            let dst = &mut data[c * w * h..][..w * h];
            for y in 0..h {
                let row = &src[y.min(self.height - 1) * self.width..][..self.width];
                let out = &mut dst[y * w..][..w];
                out[..self.width].copy_from_slice(row);
                out[self.width..].fill(row[self.width - 1]);
            }
        }
        Planar {
            width: w,
            height: h,
            data,
        }
    }

    /// The top-left `width × height` region.
    pub fn crop(&self, width: usize, height: usize) -> Planar {
        assert!(
            width <= self.width && height <= self.height,
            "crop larger than the image"
        );
        let mut data = Vec::with_capacity(3 * width * height);
        for c in 0..3 {
            let plane = &self.data[c * self.width * self.height..];
            for y in 0..height {
                data.extend_from_slice(&plane[y * self.width..][..width]);
            }
        }
        Planar {
            width,
            height,
            data,
        }
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
    fn pad_then_crop_restores_every_size() {
        for (w, h) in [(1, 1), (31, 17), (769, 513), (16, 16), (1, 40)] {
            let img = gradient(w, h);
            let p = Planar::from_rgb8(&img);
            let padded = p.pad_to_multiple(16);
            assert_eq!(padded.width % 16, 0);
            assert_eq!(padded.height % 16, 0);
            assert!(padded.width >= w as usize && padded.width < w as usize + 16);
            assert!(padded.height >= h as usize && padded.height < h as usize + 16);
            let back = padded.crop(w as usize, h as usize).to_rgb8();
            assert_eq!(back, img, "{w}x{h}");
        }
    }

    #[test]
    fn padding_repeats_the_edges() {
        let img = gradient(3, 2);
        let padded = Planar::from_rgb8(&img).pad_to_multiple(4).to_rgb8();
        assert_eq!(padded.get_pixel(3, 0), img.get_pixel(2, 0));
        assert_eq!(padded.get_pixel(3, 3), img.get_pixel(2, 1));
        assert_eq!(padded.get_pixel(0, 3), img.get_pixel(0, 1));
    }
}
