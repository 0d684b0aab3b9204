//! The `.nic` container.
//!
//! A `.nic` file holds everything a decoder needs besides the model: which model made it (so a
//! file is never decoded with the wrong weights), the image size (so padding to the network's
//! stride can be cropped away), the quality, the shape of every latent tensor, the entropy-coded
//! payloads, and a CRC-32 over all of it. The byte layout is documented in `FORMAT.md` at the
//! root of this crate; this module is its only implementation.
//!
//! Parsing never trusts the file: every length is checked against the bytes that are actually
//! there before anything is allocated, so a short or hostile file is an error, not a panic or a
//! huge allocation.
//!
//! ```
//! use nic_format::{Header, LatentPayload, NicFile};
//!
//! let file = NicFile {
//!     model_id: [1, 2, 3, 4],
//!     width: 40,
//!     height: 20,
//!     quality_milli: 4500,
//!     latents: vec![LatentPayload { channels: 8, height: 2, width: 3, bytes: vec![7; 12] }],
//!     metadata: Default::default(),
//!     means: false,
//!     context: false,
//! };
//! let bytes = file.to_bytes()?;
//! assert_eq!(NicFile::parse(&bytes)?, file);
//! // The header alone, without reading (or trusting) the payloads.
//! let (header, _) = Header::parse(&bytes)?;
//! assert_eq!((header.width, header.shapes[0].payload_len), (40, 12));
//! # Ok::<(), nic_format::FormatError>(())
//! ```

mod varint;

use thiserror::Error;

/// First four bytes of every `.nic` file. The leading byte has its high bit set so that a
/// 7-bit-clean transfer, or a text file, is never mistaken for a `.nic` file.
pub const MAGIC: [u8; 4] = [0x8e, b'N', b'I', b'C'];

/// The newest format version this crate reads and writes (version 1 stored the quality as one
/// byte; version 2 in thousandths, for variable-rate models; version 3 adds the flags for a
/// grayscale picture and carried metadata; version 4 the flag for latents coded around a
/// mean-scale hyperprior's means; version 5 the flag for latents coded in checkerboard order
/// with a context model). A file is written with the oldest version that holds it:
/// version 2 unless it uses a later version's flag, so that older decoders still read every
/// file they could, and say "upgrade" for the others.
pub const VERSION: u8 = 5;

/// The version of a file without version-3 features.
const PLAIN_VERSION: u8 = 2;
/// The version of a file with version-3 flags only.
const METADATA_VERSION: u8 = 3;
/// The version of a file with mean residuals but no context.
const MEANS_VERSION: u8 = 4;

/// Flag bit: the picture is grayscale (coded as R = G = B; decoded back to one channel).
const FLAG_GRAYSCALE: u8 = 1;
/// Flag bit: a metadata block follows the tensor shapes.
const FLAG_METADATA: u8 = 2;
/// Flag bit (version 4): the latents are residuals around the means a mean-scale hyperprior
/// predicts, so a decoder must add them back.
const FLAG_MEANS: u8 = 4;
/// Flag bit (version 5, with [`FLAG_MEANS`]): the latents are coded in checkerboard order,
/// the anchors (row + column even) first, the others with the tables and means a context
/// model derives from the anchors.
const FLAG_CONTEXT: u8 = 8;

/// Largest metadata entry (EXIF or ICC profile) a file may carry.
pub const MAX_METADATA: usize = 16 << 20;

/// What a file carries besides the pixels, all optional (format version 3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The picture was grayscale: a decoder writes one channel.
    pub grayscale: bool,
    /// The picture's EXIF block (TIFF-structured, without JPEG's `Exif\0\0` prefix), written
    /// back on decode.
    pub exif: Option<Vec<u8>>,
    /// The picture's ICC colour profile, written back on decode.
    pub icc: Option<Vec<u8>>,
}

impl Metadata {
    fn flags(&self) -> u8 {
        let mut f = 0;
        if self.grayscale {
            f |= FLAG_GRAYSCALE;
        }
        if self.exif.is_some() || self.icc.is_some() {
            f |= FLAG_METADATA;
        }
        f
    }

    /// The entries in file order: (kind, bytes); kind 1 is EXIF, 2 the ICC profile.
    fn entries(&self) -> Vec<(u8, &[u8])> {
        [(1, &self.exif), (2, &self.icc)]
            .into_iter()
            .filter_map(|(k, v)| v.as_deref().map(|b| (k, b)))
            .collect()
    }
}

/// Largest quality a file may declare, in thousandths.
pub const MAX_QUALITY_MILLI: u32 = 255_000;

/// At most this many latent tensors in one file (a factorized prior uses one, a hyperprior two).
pub const MAX_TENSORS: usize = 8;

/// Largest accepted image side. Larger files are rejected before anything is allocated.
pub const MAX_SIDE: u32 = 1 << 16;

/// The shape and entropy-coded bytes of one latent tensor (channels × height × width).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatentPayload {
    pub channels: u32,
    pub height: u32,
    pub width: u32,
    pub bytes: Vec<u8>,
}

impl LatentPayload {
    /// Number of latent values, or `None` if it does not fit in `usize`.
    pub fn value_count(&self) -> Option<usize> {
        (self.channels as usize)
            .checked_mul(self.height as usize)?
            .checked_mul(self.width as usize)
    }
}

/// A parsed (or to-be-written) `.nic` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicFile {
    /// Identifies the model (weights and entropy tables) that made the file.
    pub model_id: [u8; 4],
    pub width: u32,
    pub height: u32,
    /// The quality the file was encoded at, in thousandths (quality 2.5 is 2500): which model
    /// of a set, or where on a variable-rate model's scale.
    pub quality_milli: u32,
    pub latents: Vec<LatentPayload>,
    pub metadata: Metadata,
    /// The latents are coded as residuals around predicted means (a mean-scale hyperprior's
    /// files; format version 4). The model says so too: a decoder checks that they agree.
    pub means: bool,
    /// The latents are coded in checkerboard order with a context model (format version 5;
    /// only with `means`). The model says so too.
    pub context: bool,
}

/// Everything that can be wrong with a `.nic` file, each with a message that names the problem.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("the file is empty")]
    Empty,
    #[error("not a .nic file (wrong magic bytes)")]
    BadMagic,
    #[error("file is truncated: {0}")]
    Truncated(&'static str),
    #[error("format version {0} is newer than this nic supports (version {VERSION}); upgrade nic")]
    UnsupportedVersion(u8),
    #[error("unknown flags 0x{0:02x} in the header")]
    UnknownFlags(u8),
    #[error("CRC-32 mismatch: the file is corrupt (stored {stored:08x}, computed {computed:08x})")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("invalid header field: {0}")]
    Invalid(String),
    #[error("{0} bytes of trailing garbage after the payload")]
    TrailingBytes(usize),
}

impl NicFile {
    /// Serializes the file, CRC included.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        let payload: usize = self.latents.iter().map(|l| l.bytes.len()).sum();
        let mut out = Vec::with_capacity(32 + 16 * self.latents.len() + payload);
        out.extend_from_slice(&MAGIC);
        let flags = self.metadata.flags()
            | if self.means { FLAG_MEANS } else { 0 }
            | if self.context { FLAG_CONTEXT } else { 0 };
        out.push(if self.context {
            VERSION
        } else if self.means {
            MEANS_VERSION
        } else if flags != 0 {
            METADATA_VERSION
        } else {
            PLAIN_VERSION
        });
        out.push(flags);
        out.extend_from_slice(&self.model_id);
        varint::write(&mut out, self.width as u64);
        varint::write(&mut out, self.height as u64);
        varint::write(&mut out, self.quality_milli as u64);
        out.push(self.latents.len() as u8);
        for l in &self.latents {
            varint::write(&mut out, l.channels as u64);
            varint::write(&mut out, l.height as u64);
            varint::write(&mut out, l.width as u64);
            varint::write(&mut out, l.bytes.len() as u64);
        }
        if flags & FLAG_METADATA != 0 {
            let entries = self.metadata.entries();
            out.push(entries.len() as u8);
            for (kind, bytes) in entries {
                out.push(kind);
                varint::write(&mut out, bytes.len() as u64);
                out.extend_from_slice(bytes);
            }
        }
        for l in &self.latents {
            out.extend_from_slice(&l.bytes);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Parses and checks a complete file.
    pub fn parse(data: &[u8]) -> Result<Self, FormatError> {
        let (header, payload_start) = Header::parse(data)?;
        // CRC before payloads: a corrupt file is reported as corrupt, whatever else it says.
        let body_len = data.len() - 4;
        let stored = u32::from_le_bytes(data[body_len..].try_into().unwrap());
        let computed = crc32fast::hash(&data[..body_len]);
        if stored != computed {
            return Err(FormatError::CrcMismatch { stored, computed });
        }
        let mut pos = payload_start;
        let mut latents = Vec::with_capacity(header.shapes.len());
        for s in header.shapes {
            let bytes = data[pos..pos + s.payload_len].to_vec();
            pos += s.payload_len;
            latents.push(LatentPayload {
                channels: s.channels,
                height: s.height,
                width: s.width,
                bytes,
            });
        }
        Ok(NicFile {
            model_id: header.model_id,
            width: header.width,
            height: header.height,
            quality_milli: header.quality_milli,
            latents,
            metadata: header.metadata,
            means: header.means,
            context: header.context,
        })
    }

    fn validate(&self) -> Result<(), FormatError> {
        check_side("width", self.width)?;
        check_side("height", self.height)?;
        if self.context && !self.means {
            return Err(FormatError::Invalid(
                "a context model's latents without means".into(),
            ));
        }
        if self.quality_milli > MAX_QUALITY_MILLI {
            return Err(FormatError::Invalid(format!(
                "quality {}",
                self.quality_milli
            )));
        }
        if self.latents.is_empty() || self.latents.len() > MAX_TENSORS {
            return Err(FormatError::Invalid(format!(
                "{} latent tensors (1..={MAX_TENSORS} allowed)",
                self.latents.len()
            )));
        }
        for l in &self.latents {
            if l.channels == 0 || l.height == 0 || l.width == 0 {
                return Err(FormatError::Invalid("empty latent tensor".into()));
            }
        }
        for (_, bytes) in self.metadata.entries() {
            if bytes.is_empty() || bytes.len() > MAX_METADATA {
                return Err(FormatError::Invalid(format!(
                    "metadata entry of {} bytes (1..={MAX_METADATA} allowed)",
                    bytes.len()
                )));
            }
        }
        Ok(())
    }
}

/// The shape and payload length of one latent tensor, as read from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorShape {
    pub channels: u32,
    pub height: u32,
    pub width: u32,
    pub payload_len: usize,
}

/// The header alone, for `nic info` and for validating a file before decoding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub model_id: [u8; 4],
    pub width: u32,
    pub height: u32,
    pub quality_milli: u32,
    pub shapes: Vec<TensorShape>,
    pub metadata: Metadata,
    /// See [`NicFile::means`].
    pub means: bool,
    /// See [`NicFile::context`].
    pub context: bool,
    /// Size of the header in bytes (everything before the first payload, metadata included).
    pub header_len: usize,
}

impl Header {
    /// Parses the header and checks that the declared payloads fit the file exactly. Returns
    /// the header and the offset of the first payload byte. Does not check the CRC.
    pub fn parse(data: &[u8]) -> Result<(Header, usize), FormatError> {
        if data.is_empty() {
            return Err(FormatError::Empty);
        }
        let mut r = Reader { data, pos: 0 };
        let magic = r.take(4, "magic")?;
        if magic != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version = r.byte("version")?;
        if version > VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        if version == 0 {
            return Err(FormatError::Invalid("format version 0".into()));
        }
        let flags = r.byte("flags")?;
        let known = match version {
            5.. => FLAG_GRAYSCALE | FLAG_METADATA | FLAG_MEANS | FLAG_CONTEXT,
            4 => FLAG_GRAYSCALE | FLAG_METADATA | FLAG_MEANS,
            3 => FLAG_GRAYSCALE | FLAG_METADATA,
            _ => 0,
        };
        if flags & !known != 0 {
            return Err(FormatError::UnknownFlags(flags));
        }
        if flags & FLAG_CONTEXT != 0 && flags & FLAG_MEANS == 0 {
            return Err(FormatError::Invalid(
                "the context flag without the means flag".into(),
            ));
        }
        let model_id: [u8; 4] = r.take(4, "model id")?.try_into().unwrap();
        let width = r.side("width")?;
        let height = r.side("height")?;
        let quality_milli = if version == 1 {
            r.byte("quality")? as u32 * 1000
        } else {
            let q = r.varint("quality")?;
            if q > MAX_QUALITY_MILLI as u64 {
                return Err(FormatError::Invalid(format!("quality {q}")));
            }
            q as u32
        };
        let count = r.byte("tensor count")? as usize;
        if count == 0 || count > MAX_TENSORS {
            return Err(FormatError::Invalid(format!(
                "{count} latent tensors (1..={MAX_TENSORS} allowed)"
            )));
        }
        let mut shapes = Vec::with_capacity(count);
        for _ in 0..count {
            let channels = r.dim("latent channels")?;
            let height = r.dim("latent height")?;
            let width = r.dim("latent width")?;
            let payload_len = r.varint("payload length")?;
            shapes.push(TensorShape {
                channels,
                height,
                width,
                payload_len: usize::try_from(payload_len)
                    .map_err(|_| FormatError::Invalid("payload length".into()))?,
            });
        }
        let mut metadata = Metadata {
            grayscale: flags & FLAG_GRAYSCALE != 0,
            ..Metadata::default()
        };
        if flags & FLAG_METADATA != 0 {
            let count = r.byte("metadata count")?;
            if count == 0 || count > 2 {
                return Err(FormatError::Invalid(format!(
                    "{count} metadata entries (1..=2 allowed)"
                )));
            }
            for _ in 0..count {
                let kind = r.byte("metadata kind")?;
                let len = r.varint("metadata length")?;
                if len == 0 || len > MAX_METADATA as u64 {
                    return Err(FormatError::Invalid(format!(
                        "metadata entry of {len} bytes (1..={MAX_METADATA} allowed)"
                    )));
                }
                // `take` checks the length against the bytes present before copying.
                let bytes = r.take(len as usize, "metadata")?.to_vec();
                let slot = match kind {
                    1 => &mut metadata.exif,
                    2 => &mut metadata.icc,
                    k => return Err(FormatError::Invalid(format!("metadata kind {k}"))),
                };
                if slot.replace(bytes).is_some() {
                    return Err(FormatError::Invalid(format!("metadata kind {kind} twice")));
                }
            }
        }
        let header_len = r.pos;
        // The declared payloads plus the CRC must be exactly what is left.
        let mut needed: u64 = 4;
        for s in &shapes {
            needed = needed.saturating_add(s.payload_len as u64);
        }
        let left = (data.len() - header_len) as u64;
        if left < needed {
            return Err(FormatError::Truncated(
                "payload shorter than the header declares",
            ));
        }
        if left > needed {
            return Err(FormatError::TrailingBytes((left - needed) as usize));
        }
        Ok((
            Header {
                version,
                model_id,
                width,
                height,
                quality_milli,
                shapes,
                metadata,
                means: flags & FLAG_MEANS != 0,
                context: flags & FLAG_CONTEXT != 0,
                header_len,
            },
            header_len,
        ))
    }
}

fn check_side(name: &str, v: u32) -> Result<(), FormatError> {
    if v == 0 || v > MAX_SIDE {
        return Err(FormatError::Invalid(format!(
            "image {name} {v} (1..={MAX_SIDE} allowed)"
        )));
    }
    Ok(())
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        if self.data.len() - self.pos < n {
            return Err(FormatError::Truncated(what));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, FormatError> {
        Ok(self.take(1, what)?[0])
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, FormatError> {
        let (v, n) = varint::read(&self.data[self.pos..]).map_err(|e| match e {
            varint::Error::Truncated => FormatError::Truncated(what),
            varint::Error::Overlong => FormatError::Invalid(format!("{what}: malformed varint")),
        })?;
        self.pos += n;
        Ok(v)
    }

    fn side(&mut self, what: &'static str) -> Result<u32, FormatError> {
        let v = self.varint(what)?;
        let v = u32::try_from(v).map_err(|_| FormatError::Invalid(format!("image {what} {v}")))?;
        check_side(what, v)?;
        Ok(v)
    }

    fn dim(&mut self, what: &'static str) -> Result<u32, FormatError> {
        let v = self.varint(what)?;
        if v == 0 || v > MAX_SIDE as u64 {
            return Err(FormatError::Invalid(format!("{what} {v}")));
        }
        Ok(v as u32)
    }
}

#[cfg(test)]
mod tests;
