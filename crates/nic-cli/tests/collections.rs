//! Folders and pipes through the `nic` binary: `encode DIR -o OUT` and `decode DIR -o OUT`
//! mirror the tree, skip what is done, go on past a bad file and say so in the status, never
//! follow a link out of the tree; `-` reads standard input and writes standard output.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const USAGE: i32 = 2;
const BAD_INPUT: i32 = 3;

fn model() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    dir.to_string_lossy().into_owned()
}

/// nic with the bundled model on the CPU, `stdin` fed to it.
fn nic(args: &[&str], stdin: &[u8]) -> Output {
    let model = model();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nic"))
        .args(args)
        .args(["--model", &model, "--device", "cpu"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "nic {args:?} panicked: {err}");
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn picture(path: &Path, w: u32, h: u32, seed: u32) {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 5 + seed) as u8,
            (y * 7) as u8,
            ((x ^ y) + seed * 9) as u8,
        ])
    })
    .save(path)
    .unwrap();
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn folders_are_mirrored_resumed_and_a_bad_file_does_not_stop_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out, back) = (
        dir.path().join("in"),
        dir.path().join("out"),
        dir.path().join("back"),
    );
    std::fs::create_dir_all(input.join("sub/deeper")).unwrap();
    picture(&input.join("a.png"), 40, 24, 1);
    picture(&input.join("sub/b.png"), 33, 17, 2);
    picture(&input.join("sub/deeper/c.bmp"), 16, 48, 3);
    std::fs::write(
        input.join("notes.txt"),
        b"not a picture, and not named like one",
    )
    .unwrap();
    // A folder outside the tree, reached by a link: not followed.
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    picture(&outside.join("secret.png"), 16, 16, 4);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, input.join("link")).unwrap();

    let o = nic(&["encode", s(&input), "-o", s(&out), "--jobs", "2"], b"");
    assert!(o.status.success(), "{}", err(&o));
    for rel in ["a.nic", "sub/b.nic", "sub/deeper/c.nic"] {
        assert!(out.join(rel).is_file(), "{rel} missing");
    }
    assert!(!out.join("link").exists() && !out.join("notes.nic").exists());
    assert!(err(&o).contains("3 of 3 files coded"), "{}", err(&o));
    // The same bytes as the single-file command.
    let single = dir.path().join("single.nic");
    let o1 = nic(
        &["encode", s(&input.join("sub/b.png")), "-o", s(&single)],
        b"",
    );
    assert!(o1.status.success(), "{}", err(&o1));
    assert_eq!(
        std::fs::read(&single).unwrap(),
        std::fs::read(out.join("sub/b.nic")).unwrap()
    );

    // Again: nothing to do; with --force everything again.
    let o = nic(&["encode", s(&input), "-o", s(&out)], b"");
    assert!(
        err(&o).contains("0 of 3 files coded, 3 already done"),
        "{}",
        err(&o)
    );
    let o = nic(
        &["encode", s(&input), "-o", s(&out), "--force", "--jobs", "1"],
        b"",
    );
    assert!(err(&o).contains("3 of 3 files coded"), "{}", err(&o));

    // A corrupt picture: reported, the rest coded, the status says what failed, no output.
    std::fs::write(input.join("sub/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::remove_file(out.join("a.nic")).unwrap();
    let o = nic(&["encode", s(&input), "-o", s(&out)], b"");
    assert_eq!(o.status.code(), Some(BAD_INPUT), "{}", err(&o));
    assert!(
        err(&o).contains("broken.png") && err(&o).contains("1 failed"),
        "{}",
        err(&o)
    );
    assert!(out.join("a.nic").is_file() && !out.join("sub/broken.nic").exists());

    // And back: the tree of .nic files to PNGs of the original sizes.
    let o = nic(&["decode", s(&out), "-o", s(&back)], b"");
    assert!(o.status.success(), "{}", err(&o));
    for (rel, size) in [
        ("a.png", (40, 24)),
        ("sub/b.png", (33, 17)),
        ("sub/deeper/c.png", (16, 48)),
    ] {
        let img = image::open(back.join(rel)).unwrap();
        assert_eq!((img.width(), img.height()), size, "{rel}");
    }

    // A folder needs an output folder.
    let o = nic(&["encode", s(&input)], b"");
    assert_eq!(o.status.code(), Some(USAGE), "{}", err(&o));
    assert!(err(&o).contains("-o OUTDIR"), "{}", err(&o));
}

#[test]
fn pipes_read_standard_input_and_write_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("p.png");
    picture(&png, 48, 32, 5);
    let file = dir.path().join("p.nic");
    let o = nic(&["encode", s(&png), "-o", s(&file)], b"");
    assert!(o.status.success(), "{}", err(&o));
    let expected = std::fs::read(&file).unwrap();
    // Standard input to standard output (the default for `-`).
    let o = nic(&["encode", "-"], &std::fs::read(&png).unwrap());
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(o.stdout, expected);
    // A file to standard output, and `.nic` on standard input to PNG on standard output.
    let o = nic(&["encode", s(&png), "-o", "-", "--quiet"], b"");
    assert_eq!(o.stdout, expected);
    let o = nic(&["decode", "-"], &expected);
    assert!(o.status.success(), "{}", err(&o));
    let img = image::load_from_memory(&o.stdout).unwrap();
    assert_eq!((img.width(), img.height()), (48, 32));
    // Garbage on standard input is a clear error.
    let o = nic(&["decode", "-"], b"garbage");
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    assert!(err(&o).contains("standard input"), "{}", err(&o));
}
