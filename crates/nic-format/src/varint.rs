//! LEB128 unsigned varints: small numbers (a 32×32 image, a 40-byte payload) take one byte, which
//! matters when the whole file is 60 bytes.

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    Truncated,
    Overlong,
}

pub fn write(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads one varint; returns the value and the number of bytes it took. Rejects encodings
/// longer than 10 bytes, values over 64 bits, and non-canonical trailing zero groups, so each
/// value has exactly one encoding.
pub fn read(data: &[u8]) -> Result<(u64, usize), Error> {
    let mut v: u64 = 0;
    for (i, &byte) in data.iter().enumerate().take(10) {
        let part = (byte & 0x7f) as u64;
        if i == 9 && part > 1 {
            return Err(Error::Overlong);
        }
        v |= part << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(Error::Overlong);
            }
            return Ok((v, i + 1));
        }
    }
    if data.len() >= 10 {
        Err(Error::Overlong)
    } else {
        Err(Error::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edge_values() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            write(&mut buf, v);
            assert_eq!(read(&buf), Ok((v, buf.len())));
        }
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(read(&[0x80]), Err(Error::Truncated));
        assert_eq!(read(&[]), Err(Error::Truncated));
        assert_eq!(read(&[0x80, 0x00]), Err(Error::Overlong));
        assert_eq!(read(&[0xff; 11]), Err(Error::Overlong));
    }
}
