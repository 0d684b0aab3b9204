//! Decoding any supported picture to RGB8 (upright, as its EXIF orientation says) with the
//! metadata a `.nic` file carries, and writing pictures atomically in the format their name
//! asks for, with that metadata back.

use std::path::{Path, PathBuf};

use image::metadata::Orientation;
use image::{
    ColorType, DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageFormat,
    ImageReader, RgbImage,
};
use nic_format::Metadata;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is a file; a folder of pictures is needed here")]
    NotAFolder { path: PathBuf },
    #[error("{path} is not an image nic can read: {source}")]
    Decode {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error(
        "{path} is {width}×{height} pixels ({}), over the limit of {} (--max-pixels raises it)",
        megapixels(*width as u64 * *height as u64),
        megapixels(*limit)
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
    #[error("cannot encode {path}: {source}")]
    Encode {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error(
        "{path}: nic writes pictures as {} (chosen by the name's extension)",
        SAVE_EXTENSIONS.join(", ")
    )]
    UnknownFormat { path: PathBuf },
}

/// The extensions [`save`] understands, the lossless formats first.
pub const SAVE_EXTENSIONS: [&str; 9] = [
    "png", "webp", "ppm", "pnm", "bmp", "tif", "tiff", "jpg", "jpeg",
];

/// The JPEG quality of [`save`] for a `.jpg` name: a second, lossy encoding, kept high so
/// that it adds little to what the `.nic` file lost.
pub const JPEG_QUALITY: u8 = 95;

/// A decoded picture, the conversions applied to make it 8-bit RGB, and what a `.nic` file
/// carries of the rest.
pub struct Loaded {
    pub image: RgbImage,
    /// Human-readable notes such as "alpha channel dropped"; empty for plain RGB8 input.
    pub notes: Vec<String>,
    /// Grayscale or not, the EXIF block (orientation reset to upright, since it is applied)
    /// and the ICC profile.
    pub metadata: Metadata,
}

/// Reads `path` (format guessed from its content, not its name) as 8-bit RGB.
pub fn load_rgb8(path: &Path) -> Result<Loaded, ImageError> {
    load_rgb8_within(path, u64::MAX)
}

/// [`load_rgb8`], refusing pictures over `max_pixels` from their header, before anything the
/// size of the picture is allocated (a small file can declare a gigapixel image).
pub fn load_rgb8_within(path: &Path, max_pixels: u64) -> Result<Loaded, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Read {
        path: path.into(),
        source,
    })?;
    decode_rgb8(&bytes, path, max_pixels)
}

/// [`load_rgb8_within`] on a picture already in memory (standard input, say); `path` is what
/// messages call it.
pub fn decode_rgb8(bytes: &[u8], path: &Path, max_pixels: u64) -> Result<Loaded, ImageError> {
    let decode_error = |source| ImageError::Decode {
        path: path.into(),
        source,
    };
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| ImageError::Read {
            path: path.into(),
            source,
        })?;
    let format = reader.format();
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if width as u64 * height as u64 > max_pixels {
        return Err(ImageError::TooLarge {
            path: path.into(),
            width,
            height,
            limit: max_pixels,
        });
    }
    // Metadata is read before the pixels; a damaged metadata block is not worth refusing the
    // picture for, so read errors there count as absent.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder
        .icc_profile()
        .ok()
        .flatten()
        .filter(|b| !b.is_empty());
    let mut exif = decoder
        .exif_metadata()
        .ok()
        .flatten()
        .filter(|b| !b.is_empty());
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    let mut notes = Vec::new();
    if orientation != Orientation::NoTransforms {
        decoded.apply_orientation(orientation);
        if let Some(e) = exif.as_mut() {
            let _ = Orientation::remove_from_exif_chunk(e);
        }
        notes.push(format!(
            "EXIF orientation applied ({}); the picture is coded upright",
            describe(orientation)
        ));
    }
    if format == Some(ImageFormat::Gif) && is_animated_gif(bytes) {
        notes.push("animated GIF: only its first frame is coded".into());
    }
    let mut loaded = rgb8_from_dynamic(decoded);
    notes.append(&mut loaded.notes);
    loaded.notes = notes;
    // A block the container cannot hold is dropped, and said.
    let mut fits = |what: &str, block: Option<Vec<u8>>| match block {
        Some(b) if b.len() > nic_format::MAX_METADATA => {
            loaded.notes.push(format!("{what} over 16 MiB dropped"));
            None
        }
        b => b,
    };
    let (exif, icc) = (fits("EXIF block", exif), fits("ICC profile", icc));
    loaded.metadata.exif = exif;
    loaded.metadata.icc = icc;
    Ok(loaded)
}

fn describe(o: Orientation) -> &'static str {
    match o {
        Orientation::NoTransforms => "none",
        Orientation::Rotate90 => "rotated 90° clockwise",
        Orientation::Rotate180 => "rotated 180°",
        Orientation::Rotate270 => "rotated 90° counter-clockwise",
        Orientation::FlipHorizontal => "mirrored left to right",
        Orientation::FlipVertical => "mirrored top to bottom",
        Orientation::Rotate90FlipH => "rotated 90° clockwise and mirrored",
        Orientation::Rotate270FlipH => "rotated 90° counter-clockwise and mirrored",
    }
}

/// Whether a GIF has a second frame (read frame by frame; stops at the second).
fn is_animated_gif(bytes: &[u8]) -> bool {
    use image::AnimationDecoder;
    let Ok(decoder) = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)) else {
        return false;
    };
    decoder.into_frames().take(2).count() > 1
}

/// Converts a decoded picture to 8-bit RGB, noting what was lost. A grayscale picture becomes
/// R = G = B and is marked grayscale, so that it decodes to one channel again.
pub fn rgb8_from_dynamic(img: DynamicImage) -> Loaded {
    let color = img.color();
    let mut notes = Vec::new();
    if color.has_alpha() {
        notes.push("alpha channel dropped (nic codes RGB only)".to_string());
    }
    if color.bytes_per_pixel() / color.channel_count() > 1 {
        notes.push(format!("{color:?} reduced to 8 bits per channel"));
    }
    let metadata = Metadata {
        grayscale: !color.has_color(),
        ..Metadata::default()
    };
    let image = match (color, img) {
        (ColorType::Rgb8, DynamicImage::ImageRgb8(rgb)) => rgb,
        (_, other) => other.to_rgb8(),
    };
    Loaded {
        image,
        notes,
        metadata,
    }
}

/// The format [`save`] writes for `path`'s extension (any case), or an error that lists the
/// ones it knows; call it before the work whose result is saved.
pub fn save_format(path: &Path) -> Result<ImageFormat, ImageError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(ImageFormat::Png),
        Some("webp") => Ok(ImageFormat::WebP),
        Some("ppm" | "pnm") => Ok(ImageFormat::Pnm),
        Some("bmp") => Ok(ImageFormat::Bmp),
        Some("tif" | "tiff") => Ok(ImageFormat::Tiff),
        Some("jpg" | "jpeg") => Ok(ImageFormat::Jpeg),
        _ => Err(ImageError::UnknownFormat { path: path.into() }),
    }
}

/// Writes `img` in the format of `path`'s extension ([`save_format`]; WebP lossless, JPEG
/// at [`JPEG_QUALITY`]), atomically (see `nic_fs::write_atomic`), as one gray channel if
/// `metadata` says grayscale (the mean of R, G and B) and with its EXIF block and ICC profile
/// where the format holds them. Returns notes on what the format could not hold.
pub fn save(img: &RgbImage, path: &Path, metadata: &Metadata) -> Result<Vec<String>, ImageError> {
    let format = save_format(path)?;
    let (bytes, notes) = encode(img, format, path, metadata)?;
    nic_fs::write_atomic(path, &bytes).map_err(|source| ImageError::Write {
        path: path.into(),
        source,
    })?;
    Ok(notes)
}

/// The bytes [`save`] writes, in `format` (one [`save_format`] gives); `path` names the output
/// in messages.
pub fn encode(
    img: &RgbImage,
    format: ImageFormat,
    path: &Path,
    metadata: &Metadata,
) -> Result<(Vec<u8>, Vec<String>), ImageError> {
    let encode_error = |source| ImageError::Encode {
        path: path.into(),
        source,
    };
    let gray;
    let (pixels, color) = if metadata.grayscale {
        gray = image::GrayImage::from_fn(img.width(), img.height(), |x, y| {
            let [r, g, b] = img.get_pixel(x, y).0;
            image::Luma([((r as u32 + g as u32 + b as u32 + 1) / 3) as u8])
        });
        (gray.as_raw().as_slice(), ExtendedColorType::L8)
    } else {
        (img.as_raw().as_slice(), ExtendedColorType::Rgb8)
    };
    let mut bytes = Vec::new();
    let mut cursor = std::io::Cursor::new(&mut bytes);
    let mut encoder: Box<dyn ImageEncoderBoxed + '_> = match format {
        ImageFormat::Png => Box::new(image::codecs::png::PngEncoder::new(&mut cursor)),
        ImageFormat::WebP => Box::new(image::codecs::webp::WebPEncoder::new_lossless(&mut cursor)),
        ImageFormat::Jpeg => Box::new(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut cursor,
            JPEG_QUALITY,
        )),
        ImageFormat::Tiff => Box::new(image::codecs::tiff::TiffEncoder::new(&mut cursor)),
        ImageFormat::Bmp => Box::new(image::codecs::bmp::BmpEncoder::new(&mut cursor)),
        _ => {
            // Binary PPM (P6) or PGM (P5), what `.ppm` readers expect, not the crate's PAM.
            use image::codecs::pnm::{PnmEncoder, PnmSubtype, SampleEncoding};
            let subtype = if metadata.grayscale {
                PnmSubtype::Graymap(SampleEncoding::Binary)
            } else {
                PnmSubtype::Pixmap(SampleEncoding::Binary)
            };
            Box::new(PnmEncoder::new(&mut cursor).with_subtype(subtype))
        }
    };
    let mut notes = Vec::new();
    let name = format!("{format:?}").to_uppercase();
    if let Some(icc) = &metadata.icc
        && encoder.icc(icc.clone()).is_err()
    {
        notes.push(format!(
            "{name} holds no ICC profile: the file's profile is not written"
        ));
    }
    if let Some(exif) = &metadata.exif
        && encoder.exif(exif.clone()).is_err()
    {
        notes.push(format!(
            "{name} holds no EXIF block: the file's EXIF is not written"
        ));
    }
    encoder
        .write(pixels, img.width(), img.height(), color)
        .map_err(encode_error)?;
    Ok((bytes, notes))
}

/// [`ImageEncoder`] consumes itself in `write_image`; this lets [`save`] pick one at run time.
trait ImageEncoderBoxed {
    fn icc(&mut self, icc: Vec<u8>) -> Result<(), ()>;
    fn exif(&mut self, exif: Vec<u8>) -> Result<(), ()>;
    fn write(
        self: Box<Self>,
        pixels: &[u8],
        width: u32,
        height: u32,
        color: ExtendedColorType,
    ) -> image::ImageResult<()>;
}

impl<E: ImageEncoder> ImageEncoderBoxed for E {
    fn icc(&mut self, icc: Vec<u8>) -> Result<(), ()> {
        self.set_icc_profile(icc).map_err(|_| ())
    }
    fn exif(&mut self, exif: Vec<u8>) -> Result<(), ()> {
        self.set_exif_metadata(exif).map_err(|_| ())
    }
    fn write(
        self: Box<Self>,
        pixels: &[u8],
        width: u32,
        height: u32,
        color: ExtendedColorType,
    ) -> image::ImageResult<()> {
        (*self).write_image(pixels, width, height, color)
    }
}

/// A pixel count in megapixels, as people say picture sizes: "24.0 Mpx", "64 Mpx" for a round
/// limit.
pub fn megapixels(pixels: u64) -> String {
    if pixels.is_multiple_of(1_000_000) {
        format!("{} Mpx", pixels / 1_000_000)
    } else {
        format!("{:.1} Mpx", pixels as f64 / 1e6)
    }
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
        assert!(l.metadata.grayscale && l.notes.is_empty());

        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(1, 1, Rgba([1, 2, 3, 4])));
        let l = rgb8_from_dynamic(rgba);
        assert_eq!(l.image.get_pixel(0, 0).0, [1, 2, 3]);
        assert!(l.notes.iter().any(|n| n.contains("alpha")));
        assert!(!l.metadata.grayscale);

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
        save(&img, &path, &Metadata::default()).unwrap();
        let back = load_rgb8(&path).unwrap();
        assert_eq!(back.image, img);
        assert!(back.notes.is_empty());
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }

    #[test]
    fn save_writes_the_format_of_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_fn(9, 7, |x, y| image::Rgb([x as u8 * 20, y as u8 * 30, 99]));
        for (name, format, lossless) in [
            ("a.png", ImageFormat::Png, true),
            ("a.WEBP", ImageFormat::WebP, true),
            ("a.ppm", ImageFormat::Pnm, true),
            ("a.bmp", ImageFormat::Bmp, true),
            ("a.tif", ImageFormat::Tiff, true),
            ("a.jpg", ImageFormat::Jpeg, false),
        ] {
            let path = dir.path().join(name);
            assert!(save(&img, &path, &Metadata::default()).unwrap().is_empty());
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(image::guess_format(&bytes).unwrap(), format, "{name}");
            if name.ends_with(".ppm") {
                assert_eq!(&bytes[..2], b"P6");
            }
            let back = load_rgb8(&path).unwrap().image;
            assert_eq!(back.dimensions(), img.dimensions());
            if lossless {
                assert_eq!(back, img, "{name}");
            }
        }
        let odd = dir.path().join("a.xyz");
        let err = save(&img, &odd, &Metadata::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("png, webp"), "{err}");
        assert!(!odd.exists());
    }

    #[test]
    fn gray_and_profiles_are_written_back_where_the_format_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        // A decoded gray picture with a slight tint: written as one channel, the mean.
        let img = RgbImage::from_fn(8, 4, |x, _| image::Rgb([x as u8 * 10, x as u8 * 10 + 3, 0]));
        let icc = vec![5u8; 64];
        let metadata = Metadata {
            grayscale: true,
            exif: Some(b"MM\0\x2a\0\0\0\x08\0\0\0\0\0\0".to_vec()),
            icc: Some(icc.clone()),
        };
        let png = dir.path().join("g.png");
        assert!(save(&img, &png, &metadata).unwrap().is_empty());
        let mut decoder = ImageReader::open(&png).unwrap().into_decoder().unwrap();
        assert_eq!(decoder.color_type(), ColorType::L8);
        assert_eq!(decoder.icc_profile().unwrap(), Some(icc));
        let back = load_rgb8(&png).unwrap();
        assert!(back.metadata.grayscale);
        // (30 + 33 + 0) / 3, rounded.
        assert_eq!(back.image.get_pixel(3, 0).0, [21, 21, 21]);
        assert_eq!(back.metadata.icc, metadata.icc);
        assert_eq!(back.metadata.exif, metadata.exif);
        // BMP holds neither: written without them, and said.
        let notes = save(&img, &dir.path().join("g.bmp"), &metadata).unwrap();
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn sizes_read_in_megapixels() {
        assert_eq!(megapixels(64_000_000), "64 Mpx");
        assert_eq!(megapixels(6000 * 4000), "24 Mpx");
        assert_eq!(megapixels(768 * 512), "0.4 Mpx");
    }
}
