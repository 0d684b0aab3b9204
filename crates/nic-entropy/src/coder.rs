//! Range coding of integer latents with per-channel tables and an escape code.

use constriction::stream::model::{ContiguousCategoricalEntropyModel, UniformModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use thiserror::Error;

use crate::table::{ChannelTable, PRECISION, TableError};

type Model = ContiguousCategoricalEntropyModel<u32, Vec<u32>, PRECISION>;
type Bits = UniformModel<u32, PRECISION>;

/// Raw bits of an escaped value are sent in chunks of this many bits (a uniform model can
/// represent at most 2^PRECISION outcomes).
const CHUNK: u32 = 16;
/// Distances beyond the table are at most 2^33 (the span of i32 and then some).
const MAX_DISTANCE_BITS: u32 = 34;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodingError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{got} values given for {channels} channels of {plane}")]
    Shape {
        got: usize,
        channels: usize,
        plane: usize,
    },
    #[error("table {0} does not exist")]
    NoTable(u8),
    #[error("the entropy-coded payload is corrupt")]
    Corrupt,
}

/// One channel's model, built once from its table.
struct ChannelModel {
    offset: i64,
    /// Number of ordinary symbols; symbol `len` is the escape.
    len: usize,
    model: Model,
    /// The table's frequencies, for measuring information content without the coder.
    freqs: Vec<u32>,
}

/// Encodes and decodes latent tensors laid out channel-major (`[channels][height × width]`).
pub struct LatentCoder {
    channels: Vec<ChannelModel>,
}

impl LatentCoder {
    pub fn new(tables: &[ChannelTable]) -> Result<Self, CodingError> {
        let channels = tables
            .iter()
            .map(|t| {
                t.check()?;
                let model = Model::from_nonzero_fixed_point_probabilities(&t.freqs, false)
                    .map_err(|()| TableError::BadSum)?;
                Ok(ChannelModel {
                    offset: t.offset as i64,
                    len: t.len(),
                    model,
                    freqs: t.freqs.clone(),
                })
            })
            .collect::<Result<_, CodingError>>()?;
        Ok(LatentCoder { channels })
    }

    fn check_shape(&self, got: usize, plane: usize) -> Result<(), CodingError> {
        if self.channels.len().checked_mul(plane) != Some(got) {
            return Err(CodingError::Shape {
                got,
                channels: self.channels.len(),
                plane,
            });
        }
        Ok(())
    }

    /// Encodes `values` (`channels × plane` integers, table `c` for channel `c`) into bytes.
    pub fn encode(&self, values: &[i32], plane: usize) -> Result<Vec<u8>, CodingError> {
        self.check_shape(values.len(), plane)?;
        Ok(self.encode_with(values, self.by_channel(plane)))
    }

    /// Decodes `channels × plane` integers. Corrupt input gives an error or wrong values, never
    /// a panic; the container's CRC is what tells corrupt from intact.
    pub fn decode(&self, bytes: &[u8], plane: usize) -> Result<Vec<i32>, CodingError> {
        let total = self
            .channels
            .len()
            .checked_mul(plane)
            .ok_or(CodingError::Corrupt)?;
        self.decode_with(bytes, total, self.by_channel(plane))
    }

    /// Information content in bits of `values` under these integer tables (escapes counted
    /// at their bypass length): what an ideal coder with the same tables would spend.
    pub fn information_bits(&self, values: &[i32], plane: usize) -> Result<f64, CodingError> {
        self.check_shape(values.len(), plane)?;
        Ok(self.bits_with(values, self.by_channel(plane)))
    }

    /// Encodes `values[i]` with table `tables[i]` (a hyperprior's choice per latent).
    pub fn encode_indexed(&self, values: &[i32], tables: &[u8]) -> Result<Vec<u8>, CodingError> {
        self.check_indices(values.len(), tables)?;
        Ok(self.encode_with(values, tables.iter().map(|&t| t as usize)))
    }

    /// Decodes one value per entry of `tables`, each with the table it names.
    pub fn decode_indexed(&self, bytes: &[u8], tables: &[u8]) -> Result<Vec<i32>, CodingError> {
        self.indexed_decoder(bytes)?.decode(tables)
    }

    /// A decoder of `bytes` that gives the values in parts, each part's tables named when it
    /// is decoded: for a stream whose later tables depend on its earlier values (a checkerboard
    /// context's second half on the first).
    pub fn indexed_decoder<'a>(&'a self, bytes: &[u8]) -> Result<IndexedDecoder<'a>, CodingError> {
        Ok(IndexedDecoder {
            coder: self,
            dec: DefaultRangeDecoder::from_compressed(bytes_to_words(bytes))
                .map_err(|_| CodingError::Corrupt)?,
        })
    }

    /// [`LatentCoder::information_bits`] with a table per value.
    pub fn information_bits_indexed(
        &self,
        values: &[i32],
        tables: &[u8],
    ) -> Result<f64, CodingError> {
        self.check_indices(values.len(), tables)?;
        Ok(self.bits_with(values, tables.iter().map(|&t| t as usize)))
    }

    fn check_indices(&self, got: usize, tables: &[u8]) -> Result<(), CodingError> {
        if got != tables.len() {
            return Err(CodingError::Shape {
                got,
                channels: 1,
                plane: tables.len(),
            });
        }
        match tables.iter().max() {
            Some(&t) if t as usize >= self.channels.len() => Err(CodingError::NoTable(t)),
            _ => Ok(()),
        }
    }

    /// The table of each value of a channel-major layout: `plane` values per channel.
    fn by_channel(&self, plane: usize) -> impl Iterator<Item = usize> {
        (0..self.channels.len()).flat_map(move |c| std::iter::repeat_n(c, plane))
    }

    /// `tables` yields the (checked) table of each value in turn.
    fn encode_with(&self, values: &[i32], tables: impl Iterator<Item = usize>) -> Vec<u8> {
        let mut enc = DefaultRangeEncoder::new();
        for (&v, t) in values.iter().zip(tables) {
            self.channels[t].encode(&mut enc, v);
        }
        let words = enc
            .into_compressed()
            .expect("encoding into a Vec cannot fail");
        words_to_bytes(&words)
    }

    fn decode_with(
        &self,
        bytes: &[u8],
        total: usize,
        tables: impl Iterator<Item = usize>,
    ) -> Result<Vec<i32>, CodingError> {
        let mut dec = DefaultRangeDecoder::from_compressed(bytes_to_words(bytes))
            .map_err(|_| CodingError::Corrupt)?;
        self.decode_part(&mut dec, total, tables)
    }

    fn decode_part(
        &self,
        dec: &mut DefaultRangeDecoder,
        total: usize,
        tables: impl Iterator<Item = usize>,
    ) -> Result<Vec<i32>, CodingError> {
        // The caller bounds `total` (from a checked header); garbage still must not reserve
        // more than a modest block before it has decoded anything.
        let mut out = Vec::with_capacity(total.min(1 << 20));
        for t in tables.take(total) {
            out.push(self.channels[t].decode(dec)?);
        }
        Ok(out)
    }

    fn bits_with(&self, values: &[i32], tables: impl Iterator<Item = usize>) -> f64 {
        values
            .iter()
            .zip(tables)
            .map(|(&v, t)| self.channels[t].information_bits(v))
            .sum()
    }
}

/// A stream decoded in parts (see [`LatentCoder::indexed_decoder`]); the parts together are
/// what [`LatentCoder::encode_indexed`] coded in one.
pub struct IndexedDecoder<'a> {
    coder: &'a LatentCoder,
    dec: DefaultRangeDecoder,
}

impl IndexedDecoder<'_> {
    /// The next values, one per entry of `tables`, each with the table it names.
    pub fn decode(&mut self, tables: &[u8]) -> Result<Vec<i32>, CodingError> {
        self.coder.check_indices(tables.len(), tables)?;
        self.coder.decode_part(
            &mut self.dec,
            tables.len(),
            tables.iter().map(|&t| t as usize),
        )
    }
}

impl ChannelModel {
    fn symbol(&self, v: i32) -> Option<usize> {
        let i = v as i64 - self.offset;
        (0..self.len as i64).contains(&i).then_some(i as usize)
    }

    fn encode(&self, enc: &mut DefaultRangeEncoder, v: i32) {
        match self.symbol(v) {
            Some(s) => enc
                .encode_symbol(s, &self.model)
                .expect("symbol is in the table"),
            None => {
                enc.encode_symbol(self.len, &self.model)
                    .expect("escape is in the table");
                let (above, distance) = self.escape_distance(v);
                let nbits = 64 - distance.leading_zeros(); // 1..=MAX_DISTANCE_BITS
                encode_raw(enc, above as u64, 1);
                encode_raw(enc, (nbits - 1) as u64, 6);
                encode_raw(enc, distance & !(1 << (nbits - 1)), nbits - 1);
            }
        }
    }

    fn decode(&self, dec: &mut DefaultRangeDecoder) -> Result<i32, CodingError> {
        let s = dec
            .decode_symbol(&self.model)
            .map_err(|_| CodingError::Corrupt)?;
        if s < self.len {
            return Ok((self.offset + s as i64) as i32);
        }
        let above = decode_raw(dec, 1)? == 1;
        let nbits = decode_raw(dec, 6)? as u32 + 1;
        if nbits > MAX_DISTANCE_BITS {
            return Err(CodingError::Corrupt);
        }
        let distance = (1u64 << (nbits - 1)) | decode_raw(dec, nbits - 1)?;
        let v = if above {
            self.offset + self.len as i64 - 1 + distance as i64
        } else {
            self.offset - distance as i64
        };
        i32::try_from(v).map_err(|_| CodingError::Corrupt)
    }

    /// Which side of the table `v` lies on, and how far beyond its last entry (≥ 1).
    fn escape_distance(&self, v: i32) -> (bool, u64) {
        let v = v as i64;
        if v < self.offset {
            (false, (self.offset - v) as u64)
        } else {
            (true, (v - (self.offset + self.len as i64 - 1)) as u64)
        }
    }

    fn information_bits(&self, v: i32) -> f64 {
        let p = |s: usize| -(self.freqs[s] as f64 / (1u64 << PRECISION) as f64).log2();
        match self.symbol(v) {
            Some(s) => p(s),
            None => {
                let (_, distance) = self.escape_distance(v);
                let nbits = 64 - distance.leading_zeros();
                p(self.len) + 1.0 + 6.0 + (nbits - 1) as f64
            }
        }
    }
}

fn encode_raw(enc: &mut DefaultRangeEncoder, mut value: u64, mut bits: u32) {
    while bits > 0 {
        let n = bits.min(CHUNK);
        let model = Bits::new(1 << n);
        enc.encode_symbol((value & ((1 << n) - 1)) as usize, model)
            .expect("value fits");
        value >>= n;
        bits -= n;
    }
}

fn decode_raw(dec: &mut DefaultRangeDecoder, mut bits: u32) -> Result<u64, CodingError> {
    let mut value = 0u64;
    let mut shift = 0;
    while bits > 0 {
        let n = bits.min(CHUNK);
        let s = dec
            .decode_symbol(Bits::new(1 << n))
            .map_err(|_| CodingError::Corrupt)?;
        value |= (s as u64) << shift;
        shift += n;
        bits -= n;
    }
    Ok(value)
}

/// Big-endian words with trailing zero bytes dropped: the decoder reads missing words as zeros,
/// so those bytes carry no information.
fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

fn bytes_to_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_be_bytes(w)
        })
        .collect()
}

#[cfg(test)]
mod tests;
