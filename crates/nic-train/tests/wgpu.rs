//! The wgpu path, on a software Vulkan driver (Mesa's lavapipe; CI installs
//! `mesa-vulkan-drivers`), against the CPU backend: the same model code must give the same
//! numbers and must train. Skipped where there is no software adapter, except under `CI`.

use nic_model::burn::module::Module;
use nic_model::burn::tensor::{Device, Tensor, TensorData};
use nic_model::{Architecture, Compressor, Targets, information_bits};
use nic_testkit::{rng_turn, software_gpu};

/// Smooth pictures with some detail (what a codec sees), as host data.
fn pictures(n: usize, side: usize) -> TensorData {
    let mut v = Vec::with_capacity(n * 3 * side * side);
    for i in 0..n {
        for c in 0..3 {
            for y in 0..side {
                for x in 0..side {
                    let t = (x as f32 * 0.21 + y as f32 * 0.13 * (c + 1) as f32 + i as f32).sin();
                    v.push(0.5 + 0.4 * t);
                }
            }
        }
    }
    TensorData::new(v, [n, 3, side, side])
}

fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    let a = a.into_data().try_into_vec::<f32>().unwrap();
    let b = b.into_data().try_into_vec::<f32>().unwrap();
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Forward passes agree within 1e-3 on the latents (|y| is of order 1–10) and 1e-4 on the
/// pixels: the two backends sum in different orders, nothing more.
#[test]
fn forward_on_the_gpu_matches_the_cpu() {
    let Some(gpu) = software_gpu() else { return };
    let _turn = rng_turn();
    let cpu = Device::flex();
    cpu.seed(7);
    let model = Compressor::new(&Architecture::TINY_HYPER, &cpu);
    let on_gpu = model.clone().to_device(&gpu);
    let x = pictures(2, 96);

    let y_cpu = model.analyze(Tensor::from_data(x.clone(), &cpu));
    let y_gpu = on_gpu.analyze(Tensor::from_data(x, &gpu));
    let y_gpu_host = Tensor::<4>::from_data(y_gpu.into_data(), &cpu);
    let dy = max_abs_diff(y_cpu.clone(), y_gpu_host);
    assert!(dy < 1e-3, "latents differ by {dy}");

    let hyperprior = |m: &Compressor| m.entropy.hyperprior().cloned().expect("TINY_HYPER");
    let (hp_cpu, hp_gpu) = (hyperprior(&model), hyperprior(&on_gpu));
    let z_cpu = hp_cpu.side_latents(y_cpu.clone());
    let z_gpu = hp_gpu.side_latents(Tensor::from_data(y_cpu.clone().into_data(), &gpu));
    let dz = max_abs_diff(z_cpu.clone(), Tensor::from_data(z_gpu.into_data(), &cpu));
    assert!(dz < 1e-3, "side latents differ by {dz}");

    let (y_hat, z_hat) = (y_cpu.round(), z_cpu.round());
    let bits = |hp: &nic_model::Hyperprior, y, z| {
        let (l, side) = hp.likelihoods(y, z);
        (information_bits(l), information_bits(side))
    };
    let bits_cpu = bits(&hp_cpu, y_hat.clone(), z_hat.clone());
    let bits_gpu = bits(
        &hp_gpu,
        Tensor::from_data(y_hat.clone().into_data(), &gpu),
        Tensor::from_data(z_hat.into_data(), &gpu),
    );
    for (c, g) in [(bits_cpu.0, bits_gpu.0), (bits_cpu.1, bits_gpu.1)] {
        assert!(
            c > 0.0 && (c - g).abs() < 1e-3 * c.max(1.0),
            "{bits_cpu:?} vs {bits_gpu:?}"
        );
    }

    let x_cpu = model.synthesize(y_hat.clone());
    let x_gpu = on_gpu.synthesize(Tensor::from_data(y_hat.into_data(), &gpu));
    let dx = max_abs_diff(x_cpu, Tensor::from_data(x_gpu.into_data(), &cpu));
    assert!(dx < 1e-4, "pixels differ by {dx}");
}

/// Losses of 12 optimizer steps on one fixed batch with fixed noise, from the same weights.
fn losses(device: &Device) -> Vec<f64> {
    // The same initial weights on both devices: drawn on the CPU, loaded as training loads
    // `--init` weights.
    let cpu = Device::flex();
    let turn = rng_turn();
    cpu.seed(3);
    let arch = Architecture::TINY_HYPER;
    let weights = Compressor::new(&arch, &cpu).into_record();
    let ad = device.clone().autodiff();
    let mut model = Compressor::new(&arch, &ad).load_record(weights);
    drop(turn);
    let mut optim = nic_train::optimizer();
    let x = Tensor::<4>::from_data(pictures(4, 64), &ad);
    let targets = Targets {
        levels: &[0, 1, 2, 1],
        lambdas: &[0.005, 0.01, 0.02, 0.01],
        latent_rate: None,
    };
    let mut losses = Vec::new();
    for _ in 0..12 {
        // The same noise every step, so the losses differ only by the updates.
        let n = nic_train::step_noise(5, 0, &ad);
        let step;
        (model, step) =
            nic_train::train_step(model, &mut optim, x.clone(), &n, targets, None, 1e-3);
        losses.push(step.stats.loss);
    }
    losses
}

/// A few optimizer steps on the GPU lower the rate–distortion loss, and follow the CPU's
/// steps from the same weights.
#[test]
fn training_on_the_gpu_reduces_the_loss_as_on_the_cpu() {
    let Some(gpu) = software_gpu() else { return };
    let (on_gpu, on_cpu) = (losses(&gpu), losses(&Device::flex()));
    let (first, last) = (on_gpu[0], *on_gpu.last().unwrap());
    assert!(on_gpu.iter().all(|l| l.is_finite()));
    assert!(last < 0.9 * first, "loss {first} → {last}: {on_gpu:?}");
    for (g, c) in on_gpu.iter().zip(&on_cpu) {
        assert!((g - c).abs() <= 0.01 * c, "GPU {on_gpu:?}\nCPU {on_cpu:?}");
    }
}
