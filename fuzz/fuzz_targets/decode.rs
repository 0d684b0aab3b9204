//! The codec's decode path behind the container (shape checks, entropy decoding, the integer
//! hyper-synthesis, synthesis) on files built from arbitrary bytes: model kind, dimensions,
//! quality, latent shapes and payloads come from the input, the model id is the model's, so
//! every input gets past the id check. Tiny randomly initialized models (a factorized one, a
//! variable-rate scale hyperprior, a mean-scale one and one with a checkerboard context) keep
//! executions fast; the code paths are the bundled models'.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nic_codec::{Codec, Grid};
use nic_format::{LatentPayload, NicFile};
use nic_model::burn::tensor::Device;
use nic_model::{Architecture, Compressor, ModelInfo, SavedModel};

fn codecs() -> &'static [Codec; 4] {
    static CODECS: OnceLock<[Codec; 4]> = OnceLock::new();
    CODECS.get_or_init(|| {
        let device = Device::flex();
        [
            Architecture::TINY,
            Architecture::TINY_HYPER,
            Architecture::TINY_MEAN_SCALE,
            Architecture::TINY_CONTEXT,
        ]
        .map(|arch| {
            let compressor = Compressor::new(&arch, &device);
            let lambdas = vec![0.01; arch.rate_levels];
            let info = ModelInfo::for_compressor(&compressor, arch, 1, 0.01, lambdas).unwrap();
            let model = SavedModel {
                info,
                compressor,
                id: [1, 2, 3, 4],
            };
            Codec::new(model, device.clone())
                .unwrap()
                .with_max_pixels(128 * 128)
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&[kind, w, h, c, lh, lw, quality, cut], payload)) = data.split_first_chunk::<8>()
    else {
        return;
    };
    let codec = &codecs()[usize::from(kind % 4)];
    let (width, height) = (u32::from(w) % 130 + 1, u32::from(h) % 130 + 1);
    // Mostly the right latent shapes (to reach the decoder), sometimes wrong ones.
    let mut shapes: Vec<_> = codec
        .shapes(width, height)
        .in_file_order()
        .iter()
        .map(Grid::as_u32)
        .collect();
    if c >= 200 {
        shapes[0] = (
            u32::from(c % 16) + 1,
            u32::from(lh % 16) + 1,
            u32::from(lw % 16) + 1,
        );
    }
    let cut = usize::from(cut).min(payload.len());
    let mut parts = vec![payload];
    if shapes.len() == 2 {
        parts = vec![&payload[..cut], &payload[cut..]];
    }
    let file = NicFile {
        model_id: codec.model.id,
        width,
        height,
        // Mostly within a variable-rate model's range (1–3), sometimes beyond it.
        quality_milli: if quality < 250 {
            1000 + u32::from(quality) * 8
        } else {
            u32::from(quality) * 1000
        },
        latents: shapes
            .into_iter()
            .zip(parts)
            .map(|((channels, height, width), bytes)| LatentPayload {
                channels,
                height,
                width,
                bytes: bytes.to_vec(),
            })
            .collect(),
        metadata: Default::default(),
        // Mostly the model's own, sometimes the other.
        means: codec.model.info.architecture.has_means() != (kind & 0x80 != 0),
        context: codec.model.info.architecture.has_context() != (kind & 0x40 != 0),
    };
    if let Ok(image) = codec.decode(&file) {
        assert_eq!(image.dimensions(), (width, height));
    }
});
