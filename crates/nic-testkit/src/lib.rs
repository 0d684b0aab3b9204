//! What the workspace's tests share, so that each is written once: the software GPU the
//! cross-device tests run on, turns at burn's process-wide random state, and tiny models
//! whose latents are far from zero. A dev-dependency only.

use std::sync::{Mutex, MutexGuard};

use nic_model::burn::tensor::Device;
use nic_model::{Architecture, Compressor, DeviceChoice, Gains, ModelInfo, SavedModel};

/// Mesa's software Vulkan driver (lavapipe), on which the wgpu path is tested. Where it is
/// missing the GPU cases are skipped with a note, except under `CI`, where its absence is a
/// failure: CI installs it.
pub fn software_gpu() -> Option<Device> {
    match DeviceChoice::GpuSoftware.open() {
        Ok(d) => Some(d.device),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("GPU cases skipped: {e}");
            None
        }
        Err(e) => panic!("CI must test the GPU path: {e}"),
    }
}

/// burn's random state is global to the process: a test that draws weights (or trains)
/// holds this turn meanwhile, so tests running in parallel cannot perturb each other.
pub fn rng_turn() -> MutexGuard<'static, ()> {
    static RNG: Mutex<()> = Mutex::new(());
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// λ of a tiny variable-rate model's levels: 0.002, 0.008, 0.032, ….
pub fn tiny_lambdas(levels: usize) -> Vec<f64> {
    (0..levels).map(|l| 0.002 * 4f64.powi(l as i32)).collect()
}

/// A randomly initialized model of `arch` drawn from `seed` on the CPU, described for quality
/// 1 (single-rate) or with [`tiny_lambdas`] levels. A variable-rate model's gains are set to
/// √(λ / 10⁻⁵) (14 to 57 for three levels), so that an untrained network's small latents
/// round to something.
pub fn tiny_model(arch: Architecture, seed: u64) -> SavedModel {
    let device = Device::flex();
    let mut compressor = {
        let _turn = rng_turn();
        device.seed(seed);
        Compressor::new(&arch, &device)
    };
    let lambdas = tiny_lambdas(arch.rate_levels);
    if compressor.gains.is_some() {
        compressor.gains = Some(Gains::new(&lambdas, 1e-5, arch.latent_channels, &device));
    }
    let quality = if arch.is_variable_rate() { 0 } else { 1 };
    let info = ModelInfo::for_compressor(&compressor, arch, quality, 0.002, lambdas)
        .expect("tables of a fresh model");
    SavedModel::new(compressor, info)
}
