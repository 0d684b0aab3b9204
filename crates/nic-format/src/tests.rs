use super::*;

fn sample() -> NicFile {
    NicFile {
        model_id: [1, 2, 3, 4],
        width: 769,
        height: 513,
        quality_milli: 3000,
        latents: vec![
            LatentPayload {
                channels: 96,
                height: 33,
                width: 49,
                bytes: (0..200u8).collect(),
            },
            LatentPayload {
                channels: 8,
                height: 1,
                width: 1,
                bytes: vec![],
            },
        ],
        metadata: Metadata::default(),
        means: false,
        context: false,
    }
}

#[test]
fn serialize_then_parse_is_identity() {
    let f = sample();
    let bytes = f.to_bytes().unwrap();
    assert_eq!(NicFile::parse(&bytes).unwrap(), f);
    let (h, start) = Header::parse(&bytes).unwrap();
    assert_eq!(h.width, 769);
    assert_eq!(h.shapes.len(), 2);
    assert_eq!(h.shapes[0].payload_len, 200);
    assert_eq!(start, h.header_len);
    assert_eq!(bytes.len(), h.header_len + 200 + 4);
}

#[test]
fn small_image_header_is_compact() {
    let f = NicFile {
        model_id: [0; 4],
        width: 32,
        height: 32,
        quality_milli: 1000,
        latents: vec![LatentPayload {
            channels: 96,
            height: 2,
            width: 2,
            bytes: vec![7; 40],
        }],
        metadata: Metadata::default(),
        means: false,
        context: false,
    };
    let bytes = f.to_bytes().unwrap();
    // magic 4 + version 1 + flags 1 + id 4 + w 1 + h 1 + q 2 + n 1 + shape 4 + crc 4
    assert_eq!(bytes.len() - 40, 23);
}

#[test]
fn version_1_files_still_parse() {
    let f = NicFile {
        model_id: [9; 4],
        width: 20,
        height: 10,
        quality_milli: 3000,
        latents: vec![LatentPayload {
            channels: 4,
            height: 1,
            width: 2,
            bytes: vec![1, 2, 3],
        }],
        metadata: Metadata::default(),
        means: false,
        context: false,
    };
    let v2 = f.to_bytes().unwrap();
    // Version 1: the quality as one byte (3) where version 2 has the varint 3000 (2 bytes).
    let mut v1 = v2[..12].to_vec();
    v1[4] = 1;
    v1.push(3);
    v1.extend_from_slice(&v2[14..v2.len() - 4]);
    let crc = crc32fast::hash(&v1);
    v1.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(NicFile::parse(&v1).unwrap(), f);
}

#[test]
fn crc_mismatch_is_detected_for_every_flipped_payload_bit() {
    let bytes = sample().to_bytes().unwrap();
    let (h, start) = Header::parse(&bytes).unwrap();
    for i in start..start + 200 {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert!(matches!(
                NicFile::parse(&b),
                Err(FormatError::CrcMismatch { .. })
            ));
        }
    }
    assert_eq!(h.quality_milli, 3000);
}

#[test]
fn empty_file_is_named_as_such() {
    assert_eq!(NicFile::parse(&[]), Err(FormatError::Empty));
}

#[test]
fn wrong_magic_is_rejected() {
    let mut b = sample().to_bytes().unwrap();
    b[1] = b'X';
    assert_eq!(NicFile::parse(&b), Err(FormatError::BadMagic));
    assert_eq!(
        NicFile::parse(b"\x89PNG\r\n\x1a\n"),
        Err(FormatError::BadMagic)
    );
}

#[test]
fn future_version_is_rejected_with_upgrade_hint() {
    let mut b = sample().to_bytes().unwrap();
    b[4] = VERSION + 1;
    let err = NicFile::parse(&b).unwrap_err();
    assert_eq!(err, FormatError::UnsupportedVersion(VERSION + 1));
    assert!(err.to_string().contains("upgrade"));
}

#[test]
fn every_truncation_is_an_error() {
    let b = sample().to_bytes().unwrap();
    for len in 0..b.len() {
        assert!(
            NicFile::parse(&b[..len]).is_err(),
            "truncated at {len} parsed"
        );
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut b = sample().to_bytes().unwrap();
    b.push(0);
    assert!(NicFile::parse(&b).is_err());
}

#[test]
fn huge_declared_payload_fails_without_allocating() {
    let mut b = Vec::new();
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&[VERSION, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[32, 32, 1, 1, 8, 2, 2]);
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]); // ~2^56 bytes
    b.extend_from_slice(&[0; 4]);
    assert_eq!(
        Header::parse(&b).unwrap_err(),
        FormatError::Truncated("payload shorter than the header declares")
    );
}

#[test]
fn zero_and_oversized_dimensions_are_rejected() {
    let mut f = sample();
    f.width = 0;
    assert!(f.to_bytes().is_err());
    f.width = MAX_SIDE + 1;
    assert!(f.to_bytes().is_err());
}

fn with_metadata() -> NicFile {
    let mut f = sample();
    f.metadata = Metadata {
        grayscale: true,
        exif: Some(b"MM\0\x2a\0\0\0\x08".to_vec()),
        icc: Some(vec![3; 300]),
    };
    f
}

#[test]
fn plain_files_stay_version_2_and_metadata_makes_version_3() {
    let plain = sample().to_bytes().unwrap();
    assert_eq!(plain[4..6], [2, 0]);
    let mut gray = sample();
    gray.metadata.grayscale = true;
    let b = gray.to_bytes().unwrap();
    assert_eq!(b[4..6], [3, 1]);
    // A flag alone costs nothing else.
    assert_eq!(b.len(), plain.len());
    assert_eq!(NicFile::parse(&b).unwrap(), gray);
    let f = with_metadata();
    let b = f.to_bytes().unwrap();
    assert_eq!(b[4..6], [3, 3]);
    assert_eq!(NicFile::parse(&b).unwrap(), f);
    let (h, _) = Header::parse(&b).unwrap();
    assert_eq!(h.metadata, f.metadata);
    // count 1 + two entries of kind 1 + varint length.
    assert_eq!(
        h.header_len,
        Header::parse(&plain).unwrap().0.header_len + 1 + 10 + 303
    );
}

#[test]
fn version_2_files_may_not_use_version_3_flags() {
    let mut b = sample().to_bytes().unwrap();
    b[5] = FLAG_GRAYSCALE;
    assert_eq!(NicFile::parse(&b), Err(FormatError::UnknownFlags(1)));
    let mut b = with_metadata().to_bytes().unwrap();
    b[5] |= 4;
    assert_eq!(NicFile::parse(&b), Err(FormatError::UnknownFlags(7)));
}

#[test]
fn metadata_is_length_checked_and_every_truncation_is_an_error() {
    let b = with_metadata().to_bytes().unwrap();
    for len in 0..b.len() {
        assert!(NicFile::parse(&b[..len]).is_err(), "truncated at {len}");
    }
    let (h, _) = Header::parse(&b).unwrap();
    // The metadata block starts after the shapes: count, then kind 1 and its length.
    let start = h.header_len - (1 + 10 + 303);
    let reject = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut x = b.clone();
        edit(&mut x);
        assert!(Header::parse(&x).is_err(), "{:?}", &x[start..start + 4]);
    };
    reject(&|x| x[start] = 0); // no entries
    reject(&|x| x[start] = 3); // too many
    reject(&|x| x[start + 1] = 9); // unknown kind
    reject(&|x| x[start + 3 + 8] = 1); // EXIF twice (kind, length 8, 8 bytes, then kind)
    reject(&|x| x[start + 2] = 0); // empty entry
    reject(&|x| x[start + 2] = 100); // longer than declared: the payloads no longer fit
    let mut f = with_metadata();
    f.metadata.icc = Some(vec![]);
    assert!(f.to_bytes().is_err());
    f.metadata.icc = Some(vec![0; MAX_METADATA + 1]);
    assert!(f.to_bytes().is_err());
}

#[test]
fn mean_residuals_make_version_4_and_only_version_4_knows_them() {
    let mut f = sample();
    f.means = true;
    let b = f.to_bytes().unwrap();
    assert_eq!(b[4..6], [4, FLAG_MEANS]);
    assert_eq!(b.len(), sample().to_bytes().unwrap().len());
    assert_eq!(NicFile::parse(&b).unwrap(), f);
    assert!(Header::parse(&b).unwrap().0.means);
    // With metadata too: still version 4, both flags.
    let mut m = with_metadata();
    m.means = true;
    let b = m.to_bytes().unwrap();
    assert_eq!(b[4..6], [4, 3 | FLAG_MEANS]);
    assert_eq!(NicFile::parse(&b).unwrap(), m);
    // A version-3 file claiming the flag is refused (the CRC is not reached).
    let mut v3 = with_metadata().to_bytes().unwrap();
    v3[5] |= FLAG_MEANS;
    assert_eq!(NicFile::parse(&v3), Err(FormatError::UnknownFlags(7)));
    let mut v4 = sample().to_bytes().unwrap();
    v4[4] = 4;
    v4[5] = 8;
    assert_eq!(NicFile::parse(&v4), Err(FormatError::UnknownFlags(8)));
}

#[test]
fn checkerboard_order_makes_version_5_and_needs_the_means() {
    let mut f = sample();
    f.means = true;
    f.context = true;
    let b = f.to_bytes().unwrap();
    assert_eq!(b[4..6], [5, FLAG_MEANS | FLAG_CONTEXT]);
    assert_eq!(NicFile::parse(&b).unwrap(), f);
    assert!(Header::parse(&b).unwrap().0.context);
    // Means alone stay version 4, which older decoders read.
    f.context = false;
    assert_eq!(f.to_bytes().unwrap()[4], 4);
    // A context without means is refused on writing and on reading.
    let mut g = sample();
    g.context = true;
    assert!(g.to_bytes().is_err());
    let mut v5 = sample().to_bytes().unwrap();
    v5[4] = 5;
    v5[5] = FLAG_CONTEXT;
    assert!(matches!(NicFile::parse(&v5), Err(FormatError::Invalid(_))));
    // A version-4 file claiming the flag is refused.
    let mut v4 = b.clone();
    v4[4] = 4;
    assert_eq!(
        NicFile::parse(&v4),
        Err(FormatError::UnknownFlags(FLAG_MEANS | FLAG_CONTEXT))
    );
}
