//! The `nic` binary end to end: a tiny model trained by `nic train`, then encode, info and
//! decode round trips (the errors users get for bad input are in `bad_input.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Anything `Command::args` takes: `&str`s or `String`s.
trait Arg: AsRef<std::ffi::OsStr> + std::fmt::Debug {}
impl<T: AsRef<std::ffi::OsStr> + std::fmt::Debug> Arg for T {}

fn nic(args: &[impl Arg]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nic"))
        .args(args)
        .output()
        .expect("nic runs")
}

fn ok(args: &[impl Arg]) -> Output {
    let out = nic(args);
    assert!(
        out.status.success(),
        "nic {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn picture(path: &Path, w: u32, h: u32) {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 2) as u8, ((x ^ y) & 255) as u8])
    })
    .save(path)
    .unwrap();
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// Two tiny models (different seeds) trained once for all tests.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        std::fs::create_dir(&data).unwrap();
        for i in 0..8 {
            picture(&data.join(format!("{i}.png")), 32 + i, 32);
        }
        for (name, seed) in [("model", "1"), ("other", "2")] {
            ok(&[
                "train",
                "--data",
                data.to_str().unwrap(),
                "--out",
                root.join(name).to_str().unwrap(),
                "--channels",
                "8",
                "--latent-channels",
                "8",
                "--hyper-channels",
                "8",
                "--steps",
                "3",
                "--batch",
                "2",
                "--seed",
                seed,
                "--quality",
                "2",
                "--quiet",
            ]);
        }
        Fixture { _dir: dir, root }
    })
}

fn p(f: &Fixture, name: &str) -> String {
    f.root.join(name).to_str().unwrap().to_string()
}

#[test]
fn encode_info_decode_round_trip_at_odd_sizes() {
    let f = fixture();
    for (w, h) in [(1, 1), (31, 17), (70, 33)] {
        let src = p(f, &format!("src_{w}x{h}.png"));
        picture(Path::new(&src), w, h);
        let enc = p(f, &format!("src_{w}x{h}.nic"));
        let dec = p(f, &format!("out_{w}x{h}.png"));
        ok(&[
            "encode",
            &src,
            "-o",
            &enc,
            "--model",
            &p(f, "model"),
            "--quality",
            "2",
            "--quiet",
        ]);
        let info = ok(&["info", &enc, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(w as u64), Some(h as u64))
        );
        assert_eq!(v["crc_ok"], true);
        ok(&[
            "decode",
            &enc,
            "-o",
            &dec,
            "--model",
            &p(f, "model"),
            "--quiet",
        ]);
        let out = image::open(&dec).unwrap();
        assert_eq!((out.width(), out.height()), (w, h));
    }
}

#[test]
fn a_file_decodes_only_with_the_model_that_made_it() {
    let f = fixture();
    let src = p(f, "w.png");
    picture(Path::new(&src), 20, 12);
    let enc = p(f, "w.nic");
    ok(&["encode", &src, "-o", &enc, "--model", &p(f, "model")]);
    let out = p(f, "w-other.png");
    let o = nic(&["decode", &enc, "-o", &out, "--model", &p(f, "other")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("different model"), "{err}");
    assert!(!Path::new(&out).exists());
}

#[test]
fn eval_is_compare_and_prints_the_nic_table_without_writing_files() {
    let f = fixture();
    let out = ok(&[
        "eval",
        "--data",
        &p(f, "data"),
        "--model",
        &p(f, "model"),
        "--codecs",
        "nic",
        "--quiet",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("8 images"), "{text}");
    assert!(
        text.contains("nic quality") && text.contains("coder overhead"),
        "{text}"
    );
    assert!(!text.contains("wrote"), "{text}");
}

#[test]
fn bundled_default_model_round_trips_a_sample_at_every_quality() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models = repo.join("models/default");
    let sample = repo.join("datasets/samples/cifar10/cifar-cat-0000.jpg");
    let dir = tempfile::tempdir().unwrap();
    let mut sizes = Vec::new();
    for q in ["1", "2", "3", "4"] {
        let enc = dir.path().join(format!("cat-{q}.nic"));
        let dec = dir.path().join(format!("cat-{q}.png"));
        ok(&[
            "encode",
            sample.to_str().unwrap(),
            "-o",
            enc.to_str().unwrap(),
            "-q",
            q,
            "--model",
            models.to_str().unwrap(),
            "--quiet",
        ]);
        ok(&[
            "decode",
            enc.to_str().unwrap(),
            "-o",
            dec.to_str().unwrap(),
            "--model",
            models.to_str().unwrap(),
            "--quiet",
        ]);
        sizes.push(std::fs::metadata(&enc).unwrap().len());
        let a = image::open(&sample).unwrap().to_rgb8();
        let b = image::open(&dec).unwrap().to_rgb8();
        let psnr = 10.0 * (255.0f64.powi(2) / mse(a.as_raw(), b.as_raw())).log10();
        assert!(psnr > 18.0, "quality {q}: PSNR {psnr:.2} dB");
    }
    assert!(
        sizes.windows(2).all(|w| w[0] <= w[1]),
        "higher quality should not give smaller files: {sizes:?}"
    );
}

/// `--target-bpp` gives a file within the budget and `--target-psnr` a picture at least that
/// good, with the quality searched for the picture; an unreachable target is met as closely as
/// possible, with a warning.
#[test]
fn encoding_to_a_target_rate_or_psnr() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models = repo.join("models/default");
    let sample = repo.join("datasets/samples/kodak/kodim23.png");
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let encode = |target: &[&str], name: &str| {
        let mut args = vec!["encode", sample.to_str().unwrap(), "-o"];
        let out = path(name);
        args.push(&out);
        args.extend(target);
        args.extend(["--model", models.to_str().unwrap()]);
        let r = ok(&args);
        let info = ok(&["info", &path(name), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        (
            v["bpp"].as_f64().unwrap(),
            v["quality"].as_f64().unwrap(),
            String::from_utf8_lossy(&r.stderr).to_string(),
        )
    };
    let (bpp, q, _) = encode(&["--target-bpp", "0.5"], "rate.nic");
    assert!(bpp <= 0.5, "{bpp} bpp at quality {q}");
    let (top, _, _) = encode(&["-q", &format!("{}", q + 0.01)], "above.nic");
    assert!(top > 0.5, "quality {q} was not the highest within 0.5 bpp");

    let (_, q, _) = encode(&["--target-psnr", "30"], "psnr.nic");
    ok(&[
        "decode",
        &path("psnr.nic"),
        "-o",
        &path("psnr.png"),
        "--model",
        models.to_str().unwrap(),
        "--quiet",
    ]);
    let a = image::open(&sample).unwrap().to_rgb8();
    let b = image::open(path("psnr.png")).unwrap().to_rgb8();
    let psnr = 10.0 * (255.0f64.powi(2) / mse(a.as_raw(), b.as_raw())).log10();
    assert!(psnr >= 30.0, "{psnr:.2} dB at quality {q}");

    let (_, q, err) = encode(&["--target-bpp", "0.001"], "tiny.nic");
    assert!(err.contains("warning: no quality meets"), "{err}");
    assert_eq!(q, 1.0);
}

fn mse(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64
}

/// Files encoded on the GPU path (wgpu on Mesa's software Vulkan driver) decode on the CPU and
/// the other way round, with the bundled model: the entropy-coded latents are integers, so
/// they are exact, and the pictures differ only by the backends' float rounding. Skipped
/// without a software adapter, except under CI.
#[test]
fn files_move_between_gpu_and_cpu() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models = repo.join("models/default");
    let sample = repo.join("datasets/samples/cifar10/cifar-cat-0000.jpg");
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--model", models.to_str().unwrap()]);
        nic(&all)
    };
    let probe = run(&[
        "encode",
        sample.to_str().unwrap(),
        "-o",
        &path("gpu.nic"),
        "--device",
        "gpu-software",
    ]);
    if probe.status.code() == Some(8) && std::env::var_os("CI").is_none() {
        eprintln!("skipped: {}", String::from_utf8_lossy(&probe.stderr));
        return;
    }
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    assert!(String::from_utf8_lossy(&probe.stderr).contains("device: gpu: "));
    let ok_run = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok_run(&[
        "encode",
        sample.to_str().unwrap(),
        "-o",
        &path("cpu.nic"),
        "--device",
        "cpu",
        "--quiet",
    ]);
    for (file, device) in [
        ("gpu", "cpu"),
        ("gpu", "gpu-software"),
        ("cpu", "gpu-software"),
        ("cpu", "cpu"),
    ] {
        let out = path(&format!("{file}-on-{device}.png"));
        ok_run(&[
            "decode",
            &path(&format!("{file}.nic")),
            "-o",
            &out,
            "--device",
            device,
            "--quiet",
        ]);
    }
    let read = |n: &str| image::open(path(n)).unwrap().to_rgb8().into_raw();
    let original = image::open(&sample).unwrap().to_rgb8().into_raw();
    for file in ["gpu", "cpu"] {
        let (a, b) = (
            read(&format!("{file}-on-cpu.png")),
            read(&format!("{file}-on-gpu-software.png")),
        );
        let worst = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
        assert!(
            worst <= 1,
            "{file}.nic decodes {worst} levels apart on CPU and GPU"
        );
        let psnr = 10.0 * (255.0f64.powi(2) / mse(&original, &a)).log10();
        assert!(psnr > 20.0, "{file}.nic: PSNR {psnr:.2} dB");
    }
    // Both encoders round the same latents but for the rare value on a rounding boundary.
    let (g, c) = (
        std::fs::metadata(path("gpu.nic")).unwrap().len() as f64,
        std::fs::metadata(path("cpu.nic")).unwrap().len() as f64,
    );
    assert!((g - c).abs() <= 0.02 * c, "GPU file {g} B, CPU file {c} B");
}

/// `nic bench` on one small case: a JSON result with the figures, a clear error for an unknown
/// case or a missing GPU, and weights exported as `.npy` files for the PyTorch comparison.
#[test]
fn bench_measures_a_case_and_exports_weights() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models = repo.join("models/default");
    let models = models.to_str().unwrap();
    let image = repo.join("datasets/samples/kodak/kodim23.png");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = ok(&[
        "bench",
        "--model",
        models,
        "--image",
        image.to_str().unwrap(),
        "--cases",
        "decode",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--device",
        "cpu",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("decode"));
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let r = &results[0];
    assert_eq!(r["case"], "decode");
    assert_eq!(r["seconds"].as_array().unwrap().len(), 2);
    assert!(r["median_seconds"].as_f64().unwrap() > 0.0);
    // kodim23 at quality 2: 0.107 bpp with the default of session 18, 0.099 with session 20's.
    assert!(r["bpp"].as_f64().unwrap() > 0.03);
    assert!(r["peak_rss_mib"].as_f64().unwrap() > 1.0);

    assert_eq!(nic(&["bench", "--cases", "fly"]).status.code(), Some(2));
    let missing = nic(&["bench", "--cases", "encode", "--device", "gpu:7"]);
    assert_eq!(missing.status.code(), Some(8));
    let no_image = nic(&["bench", "--cases", "encode", "--image", "/no/such.png"]);
    assert_eq!(no_image.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("GPU"));

    // The factorized model scripts/bench-vs-pytorch.sh loads into CompressAI, and the default.
    let count = |model: &Path, name: &str| {
        let weights = dir.path().join(name);
        ok(&[
            "export",
            "--model",
            model.to_str().unwrap(),
            "--out",
            weights.to_str().unwrap(),
        ]);
        assert!(weights.join("model.json").is_file());
        std::fs::read_dir(&weights)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("npy".as_ref()))
            .count()
    };
    // 4 + 4 convolutions (weight, bias), 3 + 3 GDNs (beta, gamma), 4 + 4 + 3 prior tensors.
    assert_eq!(
        count(&repo.join("models/factorized"), "factorized"),
        16 + 12 + 11
    );
    // The same transforms and the detail latents' pair; a hyperprior of 3 + 2 + 1
    // convolutions and a prior of z; gains; a context of 3 convolutions and one filter bank.
    assert_eq!(
        count(Path::new(models), "default"),
        16 + 2 + 12 + 12 + 11 + 2 + 7
    );

    // A model with 16-bit weights: half the weights file, and a picture's PSNR within 0.05 dB
    // of the full model's at the same quality (the factorized model: the default ships in
    // 16 bits already).
    let full_model = repo.join("models/factorized");
    let half = dir.path().join("half");
    ok(&[
        "export",
        "--model",
        full_model.to_str().unwrap(),
        "--format",
        "f16",
        "--out",
        half.to_str().unwrap(),
    ]);
    let size = |d: &Path| std::fs::metadata(d.join("weights.bpk")).unwrap().len() as f64;
    let ratio = size(&half) / size(&full_model.join("q2"));
    assert!((0.45..0.55).contains(&ratio), "{ratio}");
    let psnr = |model: &Path, name: &str| -> f64 {
        let out = ok(&[
            "encode",
            image.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--quality",
            "2",
            "--print-psnr",
            "--device",
            "cpu",
            "-o",
            dir.path().join(name).to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        let at = err.find("PSNR ").expect("a PSNR line");
        err[at + 5..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (full, rounded) = (psnr(&full_model, "full.nic"), psnr(&half, "half.nic"));
    assert!((full - rounded).abs() < 0.05, "{full} vs {rounded} dB");
}
