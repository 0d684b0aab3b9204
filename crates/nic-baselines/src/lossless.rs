//! Lossless size references: PNG at maximum compression, and the general-purpose compressors of
//! the classic toolbox applied to the raw interleaved RGB bytes, each at its strongest level.

use std::io::{Read, Write};

use image::codecs::png::{CompressionType, FilterType, PngDecoder, PngEncoder};
use image::{DynamicImage, ImageEncoder, RgbImage};

use crate::{Error, LosslessCodec, rgb_image};

/// Decompressed data larger than the image it claims to be is an error, and reading stops there.
fn read_exact_image(
    codec: &'static str,
    mut reader: impl Read,
    width: u32,
    height: u32,
) -> Result<RgbImage, Error> {
    let expected = width as u64 * height as u64 * 3;
    let mut data = Vec::new();
    reader
        .by_ref()
        .take(expected + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::new(codec, e))?;
    if data.len() as u64 != expected {
        return Err(Error::new(
            codec,
            format!("decompressed {} bytes, expected {expected}", data.len()),
        ));
    }
    rgb_image(codec, width, height, data)
}

/// PNG, the `png` crate at its best compression with adaptive filtering.
pub struct Png;

impl LosslessCodec for Png {
    fn name(&self) -> &'static str {
        "png"
    }
    fn description(&self) -> String {
        "PNG, best compression, adaptive filters (png crate)".into()
    }
    fn compress(&self, image: &RgbImage) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
            .write_image(
                image.as_raw(),
                image.width(),
                image.height(),
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| Error::new(self.name(), e))?;
        Ok(out)
    }
    fn decompress(&self, data: &[u8], width: u32, height: u32) -> Result<RgbImage, Error> {
        let decoder =
            PngDecoder::new(std::io::Cursor::new(data)).map_err(|e| Error::new(self.name(), e))?;
        let image = DynamicImage::from_decoder(decoder)
            .map_err(|e| Error::new(self.name(), e))?
            .to_rgb8();
        if image.dimensions() != (width, height) {
            return Err(Error::new(self.name(), "wrong dimensions"));
        }
        Ok(image)
    }
}

/// zlib (RFC 1950) at level 9.
pub struct Zlib;

impl LosslessCodec for Zlib {
    fn name(&self) -> &'static str {
        "zlib"
    }
    fn description(&self) -> String {
        "zlib level 9 on raw RGB (flate2)".into()
    }
    fn compress(&self, image: &RgbImage) -> Result<Vec<u8>, Error> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(image.as_raw())
            .and_then(|_| e.finish())
            .map_err(|err| Error::new(self.name(), err))
    }
    fn decompress(&self, data: &[u8], width: u32, height: u32) -> Result<RgbImage, Error> {
        read_exact_image(
            self.name(),
            flate2::read::ZlibDecoder::new(data),
            width,
            height,
        )
    }
}

/// gzip (RFC 1952) at level 9: zlib's stream with gzip's header and trailer.
pub struct Gzip;

impl LosslessCodec for Gzip {
    fn name(&self) -> &'static str {
        "gzip"
    }
    fn description(&self) -> String {
        "gzip -9 on raw RGB (flate2)".into()
    }
    fn compress(&self, image: &RgbImage) -> Result<Vec<u8>, Error> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(image.as_raw())
            .and_then(|_| e.finish())
            .map_err(|err| Error::new(self.name(), err))
    }
    fn decompress(&self, data: &[u8], width: u32, height: u32) -> Result<RgbImage, Error> {
        read_exact_image(
            self.name(),
            flate2::read::GzDecoder::new(data),
            width,
            height,
        )
    }
}

/// bzip2 at block size 900k (`-9`).
pub struct Bzip2;

impl LosslessCodec for Bzip2 {
    fn name(&self) -> &'static str {
        "bzip2"
    }
    fn description(&self) -> String {
        "bzip2 -9 on raw RGB (bzip2 crate, libbz2-rs)".into()
    }
    fn compress(&self, image: &RgbImage) -> Result<Vec<u8>, Error> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        e.write_all(image.as_raw())
            .and_then(|_| e.finish())
            .map_err(|err| Error::new(self.name(), err))
    }
    fn decompress(&self, data: &[u8], width: u32, height: u32) -> Result<RgbImage, Error> {
        read_exact_image(
            self.name(),
            bzip2::read::BzDecoder::new(data),
            width,
            height,
        )
    }
}

/// LZ4 frame format (the `lz4` tool's format); LZ4 trades ratio for speed.
pub struct Lz4;

impl LosslessCodec for Lz4 {
    fn name(&self) -> &'static str {
        "lz4"
    }
    fn description(&self) -> String {
        "LZ4 frame on raw RGB (lz4_flex)".into()
    }
    fn compress(&self, image: &RgbImage) -> Result<Vec<u8>, Error> {
        let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
        e.write_all(image.as_raw())
            .map_err(|err| Error::new(self.name(), err))?;
        e.finish().map_err(|err| Error::new(self.name(), err))
    }
    fn decompress(&self, data: &[u8], width: u32, height: u32) -> Result<RgbImage, Error> {
        read_exact_image(
            self.name(),
            lz4_flex::frame::FrameDecoder::new(data),
            width,
            height,
        )
    }
}

/// Zstandard at level 19, the highest regular level.
pub struct Zstd;

impl LosslessCodec for Zstd {
    fn name(&self) -> &'static str {
        "zstd"
    }
    fn description(&self) -> String {
        "zstd -19 on raw RGB (zstd crate, libzstd)".into()
    }
    fn compress(&self, image: &RgbImage) -> Result<Vec<u8>, Error> {
        zstd::stream::encode_all(image.as_raw().as_slice(), 19)
            .map_err(|err| Error::new(self.name(), err))
    }
    fn decompress(&self, data: &[u8], width: u32, height: u32) -> Result<RgbImage, Error> {
        let decoder =
            zstd::stream::Decoder::new(data).map_err(|err| Error::new(self.name(), err))?;
        read_exact_image(self.name(), decoder, width, height)
    }
}
