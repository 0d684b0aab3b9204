//! Crash-safe training through the binary: a run killed with SIGKILL and resumed ends with
//! exactly the model an uninterrupted run makes (so the step count and the optimizer state came
//! back from the checkpoint); a corrupted newest checkpoint falls back to the previous one; a
//! diverging run stops with a clear message and keeps its last good checkpoint.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const STEPS: u64 = 800;

fn nic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nic"))
}

fn data(root: &Path) -> PathBuf {
    let dir = root.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..6u32 {
        image::RgbImage::from_fn(32, 32, |x, y| {
            image::Rgb([(x * 7 + i * 30) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8])
        })
        .save(dir.join(format!("{i}.png")))
        .unwrap();
    }
    dir
}

/// `nic train` on the tiny architecture for `steps` steps, checkpointing every ~0.1 s.
fn train(data: &Path, out: &Path, steps: u64, extra: &[&str]) -> Command {
    let mut c = nic();
    c.args(["--threads", "1", "train", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args([
            "--channels",
            "8",
            "--latent-channels",
            "8",
            "--hyper-channels",
            "8",
            "--batch",
            "2",
            "--steps",
            &steps.to_string(),
            "--val-every",
            "500",
            "--val-size",
            "2",
            "--checkpoint-minutes",
            "0.002",
            "--quiet",
        ])
        .args(extra);
    c
}

fn ok(mut c: Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The exact bytes this model makes of a fixed picture: equal iff the weights are equal.
fn fingerprint(root: &Path, model: &Path) -> Vec<u8> {
    let pic = root.join("probe.png");
    image::RgbImage::from_fn(48, 32, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 7) as u8, 99])
    })
    .save(&pic)
    .unwrap();
    let file = root.join("probe.nic");
    let mut c = nic();
    c.arg("encode")
        .arg(&pic)
        .arg("-o")
        .arg(&file)
        .arg("--model")
        .arg(model);
    c.args(["-q", "1", "--force", "--quiet"]);
    ok(c);
    std::fs::read(file).unwrap()
}

/// Steps recorded in a run's log.
fn logged_steps(out: &Path) -> Vec<u64> {
    std::fs::read_to_string(out.join("log.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| l.contains(",train,"))
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

/// Starts a run and SIGKILLs it once its log shows `at_step` and a checkpoint exists, failing
/// if the run ends on its own first.
fn kill_at(mut c: Command, out: &Path, at_step: u64) {
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        let reached = out.join("log.csv").exists() && logged_steps(out).last() >= Some(&at_step);
        if reached && out.join("checkpoint.bin").exists() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

#[test]
fn killed_and_resumed_training_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data = data(root);

    let reference = root.join("reference");
    ok(train(&data, &reference, STEPS, &[]));
    let expected = fingerprint(root, &reference);

    let run = root.join("killed");
    kill_at(train(&data, &run, STEPS, &[]), &run, 200);
    ok(train(&data, &run, STEPS, &["--resume"]));
    let steps = logged_steps(&run);
    assert!(
        steps.windows(2).all(|w| w[1] > w[0]),
        "log steps repeat: {steps:?}"
    );
    assert_eq!(steps.last(), Some(&STEPS));
    let log = std::fs::read_to_string(run.join("log.csv")).unwrap();
    assert!(!log.contains("NaN") && !log.contains("inf"), "{log}");
    assert_eq!(fingerprint(root, &run), expected, "resumed weights differ");

    // Kill again, corrupt the newest checkpoint: the previous one is used, and the end result
    // is still the same model.
    let run = root.join("corrupted");
    kill_at(train(&data, &run, STEPS, &[]), &run, 400);
    let ckpt = run.join("checkpoint.bin");
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&ckpt, bytes).unwrap();
    let resumed = ok(train(&data, &run, STEPS, &["--resume"]));
    let err = String::from_utf8_lossy(&resumed.stderr);
    assert!(err.contains("previous checkpoint"), "{err}");
    assert_eq!(
        fingerprint(root, &run),
        expected,
        "weights differ after the fallback"
    );
}

#[test]
fn divergence_stops_with_a_message_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data = data(root);
    let run = root.join("run");
    ok(train(&data, &run, 20, &[]));
    let out = train(&data, &run, 400, &["--resume", "--lr", "1e30"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("diverged") && err.contains("--lr"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Checkpoints written before the loss went bad are still readable; the run resumes.
    assert!(run.join("checkpoint.bin").exists());
    ok(train(&data, &run, 40, &["--resume"]));
}
