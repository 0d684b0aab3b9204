//! The range decoder with the bundled model's tables (the side latents' per-channel tables and
//! the latents' Gaussian tables, chosen per value), on arbitrary bytes, plane sizes and table
//! choices: no panic, and whatever decodes re-encodes to a stream that decodes to the same
//! values.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nic_entropy::{ChannelTable, LatentCoder};

/// Per-channel tables, and the Gaussian ones.
fn coders() -> &'static (LatentCoder, LatentCoder) {
    static CODERS: OnceLock<(LatentCoder, LatentCoder)> = OnceLock::new();
    CODERS.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/default/model.json");
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("bundled model")).unwrap();
        let tables = |v: &serde_json::Value| {
            let t: Vec<ChannelTable> = serde_json::from_value(v.clone()).unwrap();
            LatentCoder::new(&t).unwrap()
        };
        (
            tables(&info["tables"]),
            tables(&info["scale_tables"]["tables"]),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&[a, b], bytes)) = data.split_first_chunk::<2>() else {
        return;
    };
    // Up to 64 latent positions per channel (a 128×128 picture): enough to reach every state.
    let plane = (u16::from_le_bytes([a, b]) % 65) as usize;
    let (channels, gaussians) = coders();
    if let Ok(values) = channels.decode(bytes, plane) {
        let again = channels
            .encode(&values, plane)
            .expect("decoded values re-encode");
        assert_eq!(channels.decode(&again, plane).unwrap(), values);
    }
    // Table choices from the input itself (64 tables: the low 6 bits).
    let choices: Vec<u8> = bytes.iter().take(plane * 4).map(|b| b & 63).collect();
    if let Ok(values) = gaussians.decode_indexed(bytes, &choices) {
        let again = gaussians
            .encode_indexed(&values, &choices)
            .expect("decoded values re-encode");
        assert_eq!(gaussians.decode_indexed(&again, &choices).unwrap(), values);
    }
});
