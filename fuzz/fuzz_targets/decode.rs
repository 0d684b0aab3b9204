//! The codec's decode path behind the container (shape checks, entropy decoding, synthesis) on
//! files built from arbitrary bytes: dimensions, latent shape and payload come from the input,
//! the model id is the model's, so every input gets past the id check. A tiny randomly
//! initialized model keeps executions fast; the code path is the same as the default model's.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nic_codec::Codec;
use nic_format::{LatentPayload, NicFile};
use nic_model::burn::tensor::Device;
use nic_model::{Architecture, Compressor, ModelInfo, SavedModel, build_tables};

fn codec() -> &'static Codec {
    static CODEC: OnceLock<Codec> = OnceLock::new();
    CODEC.get_or_init(|| {
        let device = Device::flex();
        let arch = Architecture::TINY;
        let compressor = Compressor::new(&arch, &device);
        let tables = build_tables(&compressor.prior).unwrap();
        let info = ModelInfo::new(arch, 1, 0.01, tables);
        let model = SavedModel {
            info,
            compressor,
            id: [1, 2, 3, 4],
        };
        Codec::new(model, device)
            .unwrap()
            .with_max_pixels(128 * 128)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&[w, h, c, lh, lw, quality], payload)) = data.split_first_chunk::<6>() else {
        return;
    };
    let codec = codec();
    let (width, height) = (u32::from(w) % 130 + 1, u32::from(h) % 130 + 1);
    let (exact_w, exact_h) = Architecture::latent_size(width, height);
    // Mostly the right latent shape (to reach the decoder), sometimes a wrong one.
    let (channels, lat_h, lat_w) = if c < 200 {
        (8, exact_h, exact_w)
    } else {
        (
            u32::from(c % 16) + 1,
            u32::from(lh % 16) + 1,
            u32::from(lw % 16) + 1,
        )
    };
    let file = NicFile {
        model_id: codec.model.id,
        width,
        height,
        quality: if quality < 250 { 1 } else { quality },
        latents: vec![LatentPayload {
            channels,
            height: lat_h,
            width: lat_w,
            bytes: payload.to_vec(),
        }],
    };
    if let Ok(image) = codec.decode(&file) {
        assert_eq!(image.dimensions(), (width, height));
    }
});
