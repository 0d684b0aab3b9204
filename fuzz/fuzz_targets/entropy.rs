//! The range decoder with the bundled quality-1 model's tables, on arbitrary bytes and plane
//! sizes: no panic, and whatever decodes re-encodes to a stream that decodes to the same values.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nic_entropy::{ChannelTable, LatentCoder};

fn coder() -> &'static LatentCoder {
    static CODER: OnceLock<LatentCoder> = OnceLock::new();
    CODER.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/default/q1/model.json"
        );
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("bundled model")).unwrap();
        let tables: Vec<ChannelTable> = serde_json::from_value(info["tables"].clone()).unwrap();
        LatentCoder::new(&tables).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&[a, b], bytes)) = data.split_first_chunk::<2>() else {
        return;
    };
    // Up to 64 latent positions per channel (a 128×128 picture): enough to reach every state.
    let plane = (u16::from_le_bytes([a, b]) % 65) as usize;
    let coder = coder();
    if let Ok(values) = coder.decode(bytes, plane) {
        let again = coder
            .encode(&values, plane)
            .expect("decoded values re-encode");
        assert_eq!(coder.decode(&again, plane).unwrap(), values);
    }
});
