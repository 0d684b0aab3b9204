//! Lossless size references: PNG at maximum compression, and the general-purpose compressors of
//! the classic toolbox applied to the raw interleaved RGB bytes, each at its strongest level.

use std::io::{Read, Write};

use bzip2::read::BzDecoder;
use bzip2::write::BzEncoder;
use flate2::read::{GzDecoder, ZlibDecoder};
use flate2::write::{GzEncoder, ZlibEncoder};
use image::codecs::png::{CompressionType, FilterType, PngDecoder, PngEncoder};
use image::{DynamicImage, ImageEncoder, RgbImage};
use lz4_flex::frame::{FrameDecoder, FrameEncoder};

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

/// A general-purpose compressor applied to the raw interleaved RGB bytes, at its strongest
/// regular level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stream {
    /// zlib (RFC 1950), level 9.
    Zlib,
    /// gzip (RFC 1952), level 9: zlib's stream with gzip's header and trailer.
    Gzip,
    /// bzip2, block size 900k (`-9`).
    Bzip2,
    /// LZ4 frame format (the `lz4` tool's); LZ4 trades ratio for speed.
    Lz4,
    /// Zstandard, level 19, the highest regular level.
    Zstd,
}

impl Stream {
    pub const ALL: [Stream; 5] = [
        Stream::Zlib,
        Stream::Gzip,
        Stream::Bzip2,
        Stream::Lz4,
        Stream::Zstd,
    ];
}

/// Feeds `data` through a streaming encoder and returns what it wrote.
fn encode_with<E: Write>(
    mut encoder: E,
    data: &[u8],
    finish: impl FnOnce(E) -> std::io::Result<Vec<u8>>,
) -> std::io::Result<Vec<u8>> {
    encoder.write_all(data)?;
    finish(encoder)
}

impl LosslessCodec for Stream {
    fn name(&self) -> &'static str {
        match self {
            Stream::Zlib => "zlib",
            Stream::Gzip => "gzip",
            Stream::Bzip2 => "bzip2",
            Stream::Lz4 => "lz4",
            Stream::Zstd => "zstd",
        }
    }

    fn description(&self) -> String {
        match self {
            Stream::Zlib => "zlib level 9 on raw RGB (flate2)",
            Stream::Gzip => "gzip -9 on raw RGB (flate2)",
            Stream::Bzip2 => "bzip2 -9 on raw RGB (bzip2 crate, libbz2-rs)",
            Stream::Lz4 => "LZ4 frame on raw RGB (lz4_flex)",
            Stream::Zstd => "zstd -19 on raw RGB (zstd crate, libzstd)",
        }
        .into()
    }

    fn compress(&self, image: &RgbImage) -> Result<Vec<u8>, Error> {
        let raw = image.as_raw().as_slice();
        let best = flate2::Compression::best();
        match self {
            Stream::Zlib => encode_with(ZlibEncoder::new(Vec::new(), best), raw, |e| e.finish()),
            Stream::Gzip => encode_with(GzEncoder::new(Vec::new(), best), raw, |e| e.finish()),
            Stream::Bzip2 => encode_with(
                BzEncoder::new(Vec::new(), bzip2::Compression::best()),
                raw,
                |e| e.finish(),
            ),
            Stream::Lz4 => encode_with(FrameEncoder::new(Vec::new()), raw, |e| {
                e.finish().map_err(std::io::Error::other)
            }),
            Stream::Zstd => zstd::stream::encode_all(raw, 19),
        }
        .map_err(|e| Error::new(self.name(), e))
    }

    fn decompress(&self, data: &[u8], width: u32, height: u32) -> Result<RgbImage, Error> {
        let reader: Box<dyn Read + '_> = match self {
            Stream::Zlib => Box::new(ZlibDecoder::new(data)),
            Stream::Gzip => Box::new(GzDecoder::new(data)),
            Stream::Bzip2 => Box::new(BzDecoder::new(data)),
            Stream::Lz4 => Box::new(FrameDecoder::new(data)),
            Stream::Zstd => {
                Box::new(zstd::stream::Decoder::new(data).map_err(|e| Error::new(self.name(), e))?)
            }
        };
        read_exact_image(self.name(), reader, width, height)
    }
}
