//! A file decodes into exactly the integers its encoder coded, whatever device and thread
//! count either side ran on: the hyperprior's table choice, and a mean-scale hyperprior's
//! means, are integer arithmetic (nic-hyper).
//! The GPU side is Mesa's software Vulkan driver (CI installs `mesa-vulkan-drivers`); without
//! it the GPU cases are skipped, except under `CI`.

use std::path::Path;

use nic_codec::{Codec, Effort, ModelSet};
use nic_format::NicFile;
use nic_image::RgbImage;
use nic_model::burn::tensor::Device;
use nic_model::{Architecture, SavedModel};
use nic_testkit::software_gpu;

/// Crops of the bundled photographs, CIFAR-10 thumbnails and a synthetic texture.
fn pictures() -> Vec<RgbImage> {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/samples");
    let mut out = Vec::new();
    for (name, x, y) in [
        ("kodim01", 300, 200),
        ("kodim07", 0, 0),
        ("kodim23", 500, 300),
    ] {
        let img = nic_image::load_rgb8(&samples.join(format!("kodak/{name}.png")))
            .unwrap()
            .image;
        out.push(nic_image::image::imageops::crop_imm(&img, x, y, 200, 136).to_image());
    }
    for name in ["cifar-airplane-0000", "cifar-cat-0000"] {
        out.push(
            nic_image::load_rgb8(&samples.join(format!("cifar10/{name}.jpg")))
                .unwrap()
                .image,
        );
    }
    out.push(RgbImage::from_fn(97, 45, |x, y| {
        let n = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) >> 7;
        nic_image::image::Rgb([(n % 251) as u8, (x * 3 + y) as u8, ((n >> 8) % 199) as u8])
    }));
    out
}

/// The bundled default model(s), and tiny untrained variable-rate scale and mean-scale
/// hyperprior models whose gains are large enough that their latents are far from zero (and
/// whose means are far from zero too), the last with a checkerboard context.
fn model_dirs() -> (Vec<std::path::PathBuf>, tempfile::TempDir) {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = vec![bundled];
    for (name, arch) in [
        ("scale", Architecture::TINY_HYPER),
        ("mean-scale", Architecture::TINY_MEAN_SCALE),
        ("context", Architecture::TINY_CONTEXT),
    ] {
        let tiny = nic_testkit::tiny_model(arch, 21);
        let dir = tmp.path().join(name);
        SavedModel::save(&dir, &tiny.compressor, &tiny.info).unwrap();
        dirs.push(dir);
    }
    (dirs, tmp)
}

/// Qualities to try: a set's models, or a variable-rate model's ends and a point between.
fn qualities(set: &ModelSet) -> Vec<f64> {
    let q = set.qualities();
    if set.is_variable_rate() {
        let top = *q.last().unwrap() as f64;
        vec![1.0, (1.0 + top) / 2.0 + 0.137, top]
    } else {
        q.into_iter().map(f64::from).collect()
    }
}

/// Encodes with `enc` and checks that `dec` entropy-decodes the very integers `enc` coded.
fn check(enc: &Codec, dec: &Codec, img: &RgbImage, what: &str) {
    let analyzed = enc.analyze(img).unwrap();
    let sent = enc.quantize(&analyzed).unwrap();
    let (bytes, _) = enc.encode_analyzed(&analyzed).unwrap();
    let file = NicFile::parse(&bytes).unwrap();
    let got = dec.latents(&file).unwrap();
    assert!(
        got == sent,
        "{what}: decoded latents differ from the encoder's"
    );
    // The values the synthesis gets too: with means, the residuals plus the means.
    let (mine, theirs) = (
        enc.dequantized(&file).unwrap(),
        dec.dequantized(&file).unwrap(),
    );
    assert!(
        mine.iter()
            .map(|v| v.to_bits())
            .eq(theirs.iter().map(|v| v.to_bits())),
        "{what}: the latent values differ"
    );
}

#[test]
fn files_decode_bit_exactly_across_devices() {
    let Some(gpu) = software_gpu() else { return };
    let (dirs, _tmp) = model_dirs();
    let pictures = pictures();
    for dir in &dirs {
        let set = ModelSet::open(dir).unwrap();
        for q in qualities(&set) {
            let cpu = set.load(q, &Device::flex()).unwrap();
            let on_gpu = set.load(q, &gpu).unwrap();
            for (i, img) in pictures.iter().enumerate() {
                let what = format!("{} q {q} picture {i}", dir.display());
                check(&on_gpu, &cpu, img, &format!("{what}, GPU → CPU"));
                check(&cpu, &on_gpu, img, &format!("{what}, CPU → GPU"));
            }
        }
    }
}

/// A refined file (`--effort`) is refined on the device and then coded as any other: the GPU's
/// refinement decodes on the CPU to the integers it wrote, and to the picture the GPU decodes.
#[test]
fn refined_files_from_the_gpu_decode_on_the_cpu() {
    let Some(gpu) = software_gpu() else { return };
    let (dirs, _tmp) = model_dirs();
    let img = &pictures()[0];
    for dir in &dirs {
        let set = ModelSet::open(dir).unwrap();
        let q = qualities(&set)[1];
        let (cpu, on_gpu) = (
            set.load(q, &Device::flex()).unwrap(),
            set.load(q, &gpu).unwrap(),
        );
        let a = on_gpu.analyze(img).unwrap();
        let effort = Effort::new(1).unwrap();
        let (bytes, _) = on_gpu.encode_with_effort(img, &a, effort, None).unwrap();
        let file = NicFile::parse(&bytes).unwrap();
        assert_eq!(cpu.latents(&file).unwrap(), on_gpu.latents(&file).unwrap());
        let (from_cpu, from_gpu) = (cpu.decode(&file).unwrap(), on_gpu.decode(&file).unwrap());
        let worst = from_cpu
            .as_raw()
            .iter()
            .zip(from_gpu.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert!(
            worst <= Some(1),
            "{}: CPU and GPU pictures differ by {worst:?}",
            dir.display()
        );
    }
}

#[test]
fn files_decode_bit_exactly_across_thread_counts() {
    let (dirs, _tmp) = model_dirs();
    let pictures = pictures();
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let (one, two) = (pool(1), pool(2));
    for dir in &dirs {
        let set = ModelSet::open(dir).unwrap();
        for q in qualities(&set) {
            let codec = set.load(q, &Device::flex()).unwrap();
            for (i, img) in pictures.iter().enumerate() {
                let what = format!("{} q {q} picture {i}", dir.display());
                let analyzed = one.install(|| codec.analyze(img).unwrap());
                let sent = one.install(|| codec.quantize(&analyzed).unwrap());
                let (bytes, _) = one.install(|| codec.encode_analyzed(&analyzed).unwrap());
                let file = NicFile::parse(&bytes).unwrap();
                let got = two.install(|| codec.latents(&file).unwrap());
                assert!(got == sent, "{what}: 1 thread → 2 threads");
                let values = |pool: &rayon::ThreadPool| {
                    let v = pool.install(|| codec.dequantized(&file).unwrap());
                    v.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                };
                assert!(values(&one) == values(&two), "{what}: latent values");
                // And the other way round.
                let (bytes, _) = two.install(|| codec.encode(img).unwrap());
                let file = NicFile::parse(&bytes).unwrap();
                let sent = two.install(|| codec.quantize(&codec.analyze(img).unwrap()).unwrap());
                assert!(
                    one.install(|| codec.latents(&file).unwrap()) == sent,
                    "{what}: 2 → 1"
                );
            }
        }
    }
}
