//! An installed `nic`: the binary alone in a folder, far from any checkout, encodes and
//! decodes with the default model built into it, giving the same bytes as the checkout's.

use std::path::Path;
use std::process::Command;

fn run(nic: &Path, cwd: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(nic)
        .args(args)
        .current_dir(cwd)
        .env_remove("NIC_MODEL_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_copy_of_the_binary_elsewhere_uses_the_built_in_model() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, home, work) = (
        dir.path().join("bin"),
        dir.path().join("home"),
        dir.path().join("work"),
    );
    for d in [&bin, &home, &work] {
        std::fs::create_dir(d).unwrap();
    }
    let nic = bin.join("nic");
    std::fs::copy(env!("CARGO_BIN_EXE_nic"), &nic).unwrap();
    image::RgbImage::from_fn(40, 24, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 9) as u8, 70])
    })
    .save(work.join("p.png"))
    .unwrap();
    let cpu = ["--device", "cpu"];
    run(
        &nic,
        &work,
        &home,
        &[&["encode", "p.png"][..], &cpu].concat(),
    );
    run(
        &nic,
        &work,
        &home,
        &[&["decode", "p.nic", "-o", "back.png"][..], &cpu].concat(),
    );
    assert!(work.join("back.png").is_file());
    // Unpacked once into the cache, and the same model as the checkout's.
    let cache = home.join(".cache/nic/models");
    let unpacked: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(unpacked.len(), 1);
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    let reference = dir.path().join("reference.nic");
    let model = checkout.to_str().unwrap();
    let args = [
        "encode",
        "p.png",
        "-o",
        reference.to_str().unwrap(),
        "--model",
        model,
    ];
    run(&nic, &work, &home, &[&args[..], &cpu].concat());
    assert_eq!(
        std::fs::read(work.join("p.nic")).unwrap(),
        std::fs::read(&reference).unwrap()
    );
}
