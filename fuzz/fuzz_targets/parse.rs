//! The `.nic` container parser on arbitrary bytes: no panic, no allocation beyond the input's
//! size, and whatever parses re-serializes to the same bytes (the format is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nic_format::{Header, NicFile};

fuzz_target!(|data: &[u8]| {
    let header = Header::parse(data);
    if let Ok(file) = NicFile::parse(data) {
        assert!(header.is_ok(), "a file whose header does not parse");
        assert_eq!(file.to_bytes().expect("a parsed file serializes"), data);
    }
});
