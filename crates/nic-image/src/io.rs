//! Decoding any supported picture to RGB8, and writing PNGs atomically.

use std::path::{Path, PathBuf};

use image::{ColorType, DynamicImage, ImageReader, RgbImage};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an image nic can read: {source}")]
    Decode {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error(
        "{path} is {width}×{height} pixels, over the limit of {limit} pixels (--max-pixels raises it)"
    )]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        limit: u64,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode PNG {path}: {source}")]
    Encode {
        path: PathBuf,
        source: image::ImageError,
    },
}

/// A decoded picture and the conversions applied to make it 8-bit RGB.
pub struct Loaded {
    pub image: RgbImage,
    /// Human-readable notes such as "alpha channel dropped"; empty for plain RGB8 input.
    pub notes: Vec<String>,
}

/// Reads `path` (format guessed from its content, not its name) as 8-bit RGB.
pub fn load_rgb8(path: &Path) -> Result<Loaded, ImageError> {
    load_rgb8_within(path, u64::MAX)
}

/// [`load_rgb8`], refusing pictures over `max_pixels` from their header, before anything the
/// size of the picture is allocated (a small file can declare a gigapixel image).
pub fn load_rgb8_within(path: &Path, max_pixels: u64) -> Result<Loaded, ImageError> {
    let open = || {
        ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|source| ImageError::Read {
                path: path.into(),
                source,
            })
    };
    let decode_error = |source| ImageError::Decode {
        path: path.into(),
        source,
    };
    let (width, height) = open()?.into_dimensions().map_err(decode_error)?;
    if width as u64 * height as u64 > max_pixels {
        return Err(ImageError::TooLarge {
            path: path.into(),
            width,
            height,
            limit: max_pixels,
        });
    }
    let decoded = open()?.decode().map_err(|source| ImageError::Decode {
        path: path.into(),
        source,
    })?;
    Ok(rgb8_from_dynamic(decoded))
}

/// Converts a decoded picture to 8-bit RGB, noting what was lost.
pub fn rgb8_from_dynamic(img: DynamicImage) -> Loaded {
    let color = img.color();
    let mut notes = Vec::new();
    if color.has_alpha() {
        notes.push("alpha channel dropped (nic codes RGB only)".to_string());
    }
    if color.bytes_per_pixel() / color.channel_count() > 1 {
        notes.push(format!("{color:?} reduced to 8 bits per channel"));
    }
    if !color.has_color() {
        notes.push("grayscale expanded to RGB".to_string());
    }
    let image = match (color, img) {
        (ColorType::Rgb8, DynamicImage::ImageRgb8(rgb)) => rgb,
        (_, other) => other.to_rgb8(),
    };
    Loaded { image, notes }
}

/// Writes `img` as PNG, atomically (see `nic_fs::write_atomic`).
pub fn save_png(img: &RgbImage, path: &Path) -> Result<(), ImageError> {
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|source| ImageError::Encode {
            path: path.into(),
            source,
        })?;
    nic_fs::write_atomic(path, png.get_ref()).map_err(|source| ImageError::Write {
        path: path.into(),
        source,
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, ImageBuffer, Luma, Rgba, RgbaImage};

    #[test]
    fn conversions_are_noted() {
        let gray = DynamicImage::ImageLuma8(GrayImage::from_pixel(2, 2, Luma([7])));
        let l = rgb8_from_dynamic(gray);
        assert_eq!(l.image.get_pixel(0, 0).0, [7, 7, 7]);
        assert!(l.notes.iter().any(|n| n.contains("grayscale")));

        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(1, 1, Rgba([1, 2, 3, 4])));
        let l = rgb8_from_dynamic(rgba);
        assert_eq!(l.image.get_pixel(0, 0).0, [1, 2, 3]);
        assert!(l.notes.iter().any(|n| n.contains("alpha")));

        let deep: ImageBuffer<image::Rgb<u16>, Vec<u16>> =
            ImageBuffer::from_pixel(1, 1, image::Rgb([65535, 0, 32896]));
        let l = rgb8_from_dynamic(DynamicImage::ImageRgb16(deep));
        assert_eq!(l.image.get_pixel(0, 0).0, [255, 0, 128]);
        assert!(l.notes.iter().any(|n| n.contains("8 bits")));
    }

    #[test]
    fn png_round_trips_through_an_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, 9]));
        save_png(&img, &path).unwrap();
        let back = load_rgb8(&path).unwrap();
        assert_eq!(back.image, img);
        assert!(back.notes.is_empty());
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }
}
