//! The `.nic` container parser on arbitrary bytes: no panic, no allocation beyond the input's
//! size, and whatever parses re-serializes canonically: a file of the version the writer
//! picks for it (2 without later flags, 3 with version-3 flags only, else 4) to the same bytes,
//! any other (version 1, or a later version without its flags) to one that parses back to
//! the same contents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nic_format::{Header, NicFile};

fuzz_target!(|data: &[u8]| {
    let header = Header::parse(data);
    if let Ok(file) = NicFile::parse(data) {
        let (header, _) = header.expect("a file whose header does not parse");
        let bytes = file.to_bytes().expect("a parsed file serializes");
        if header.version == bytes[4] {
            assert_eq!(bytes, data);
        } else {
            assert_eq!(
                NicFile::parse(&bytes).expect("re-serialized file parses"),
                file
            );
        }
    }
});
