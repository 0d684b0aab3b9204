//! The bad-input matrix: every case runs the `nic` binary and must end with the documented exit
//! status and a message naming the problem, without a panic, within a minute, and without
//! leaving an output file behind. Inputs that nic accepts on purpose (odd sizes and pixel
//! formats) are checked to round-trip instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nic_format::NicFile;

const BAD_INPUT: i32 = 3;
const BAD_NIC_FILE: i32 = 4;
const MODEL: i32 = 5;
const OUTPUT: i32 = 6;
const TOO_LARGE: i32 = 7;
const USAGE: i32 = 2;
const DEVICE: i32 = 8;

fn model() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    dir.to_string_lossy().into_owned()
}

/// Runs nic, killing it after a minute (a hang is a failure).
fn nic(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nic"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("nic {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert!(!err.contains("panicked"), "nic {args:?} panicked: {err}");
    (status.code(), err)
}

/// `nic CMD INPUT -o OUT --model <default> [extra]`.
fn coded(cmd: &str, input: &Path, out: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let model = model();
    let mut args = vec![cmd, input.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend(["--model", &model]);
    args.extend_from_slice(extra);
    nic(&args)
}

/// `nic CMD INPUT -o OUT [extra]` fails with `code` and `needle`, leaving no `OUT`.
fn rejects(cmd: &str, input: &Path, out: &Path, extra: &[&str], code: i32, needle: &str) {
    let existed = out.exists();
    let args = format!("{cmd} {} -o {} {extra:?}", input.display(), out.display());
    let (status, err) = coded(cmd, input, out, extra);
    assert_eq!(status, Some(code), "nic {args}: {err}");
    assert!(
        err.contains(needle),
        "nic {args}: expected {needle:?} in {err}"
    );
    if !existed {
        assert!(!out.exists(), "nic {args} left {}", out.display());
    }
    // No temporary files either.
    let dir = out.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// `nic encode` then `nic decode` succeed and give back the picture's size.
fn round_trips(dir: &Path, input: &Path, size: (u32, u32)) -> String {
    let (nic_file, png) = (dir.join("rt.nic"), dir.join("rt.png"));
    let (status, err) = coded("encode", input, &nic_file, &["--force"]);
    assert_eq!(status, Some(0), "{err}");
    let (status, err2) = coded("decode", &nic_file, &png, &["--force"]);
    assert_eq!(status, Some(0), "{err2}");
    let back = image::open(&png).unwrap();
    assert_eq!((back.width(), back.height()), size);
    err
}

struct Setup {
    dir: tempfile::TempDir,
    good: Vec<u8>,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.png");
        image::RgbImage::from_fn(40, 24, |x, y| {
            image::Rgb([(x * 6) as u8, (y * 9) as u8, 128])
        })
        .save(&src)
        .unwrap();
        let nic_file = dir.path().join("good.nic");
        let (status, err) = coded("encode", &src, &nic_file, &[]);
        assert_eq!(status, Some(0), "{err}");
        let good = std::fs::read(nic_file).unwrap();
        Setup { dir, good }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

#[test]
fn bad_nic_files_are_refused_with_status_4_or_5_or_7() {
    let s = Setup::new();
    let out = s.path("out.png");
    let decode = |name: &str, bytes: &[u8], code: i32, needle: &str| {
        rejects("decode", &s.file(name, bytes), &out, &[], code, needle);
    };
    decode("empty.nic", &[], BAD_NIC_FILE, "empty");
    let header_len = nic_format::Header::parse(&s.good).unwrap().0.header_len;
    for cut in 1..=header_len {
        decode("cut.nic", &s.good[..cut], BAD_NIC_FILE, "truncated");
    }
    let n = s.good.len();
    let mut flipped = s.good.clone();
    flipped[n - 6] ^= 0x10;
    decode("flipped.nic", &flipped, BAD_NIC_FILE, "CRC");
    let mut magic = s.good.clone();
    magic[1] = b'X';
    decode("magic.nic", &magic, BAD_NIC_FILE, "magic");
    let mut future = s.good.clone();
    future[4] = 9;
    decode(
        "future.nic",
        &future,
        BAD_NIC_FILE,
        "newer than this nic supports",
    );

    let parsed = NicFile::parse(&s.good).unwrap();
    let other_model = NicFile {
        model_id: [1, 2, 3, 4],
        ..parsed.clone()
    };
    decode(
        "other.nic",
        &other_model.to_bytes().unwrap(),
        MODEL,
        "different model",
    );
    // The bundled model's qualities run from 1 to 10.
    let no_quality = NicFile {
        quality_milli: 11000,
        ..parsed.clone()
    };
    decode(
        "q11.nic",
        &no_quality.to_bytes().unwrap(),
        BAD_NIC_FILE,
        "quality 11 is outside this model's range 1–10",
    );

    // 65536 × 65536 declared in a 40-byte file: refused from the header, nothing allocated.
    let mut huge = parsed.clone();
    huge.width = 65536;
    huge.height = 65536;
    huge.latents[0].height = 4096;
    huge.latents[0].width = 4096;
    huge.latents[0].bytes = vec![0; 4];
    decode(
        "huge.nic",
        &huge.to_bytes().unwrap(),
        TOO_LARGE,
        "over the limit",
    );

    rejects(
        "decode",
        &s.file("text.nic", b"hello, world"),
        &out,
        &[],
        BAD_NIC_FILE,
        "magic",
    );
    let (status, err) = nic(&["info", s.file("t.nic", &s.good[..5]).to_str().unwrap()]);
    assert_eq!(status, Some(BAD_NIC_FILE), "{err}");
}

#[test]
fn bad_pictures_paths_and_devices_are_refused_with_status_2_3_6_or_8() {
    let s = Setup::new();
    let out = s.path("out.nic");
    let encode =
        |input: &Path, code: i32, needle: &str| rejects("encode", input, &out, &[], code, needle);
    encode(&s.path("missing.png"), BAD_INPUT, "cannot read");
    // (A folder as input is folder encoding: tests/collections.rs.)
    encode(&s.file("empty.png", &[]), BAD_INPUT, "not an image");
    encode(
        &s.file("text.png", b"this is not a picture"),
        BAD_INPUT,
        "not an image",
    );
    let src = s.path("src.png");
    let mut png = std::fs::read(&src).unwrap();
    let n = png.len();
    png[n / 2..].iter_mut().for_each(|b| *b = !*b);
    encode(&s.file("corrupt.png", &png), BAD_INPUT, "not an image");
    // A PNG header declaring 100000 × 100000 pixels, in 60 bytes.
    let ihdr = png_with_size(100_000, 100_000);
    encode(&s.file("bomb.png", &ihdr), TOO_LARGE, "over the limit");
    // A camera-size header (6000 × 4000, 24 Mpx) passes the size check: what fails is the
    // missing pixel data.
    let camera = png_with_size(6000, 4000);
    encode(&s.file("camera.png", &camera), BAD_INPUT, "not an image");
    rejects(
        "encode",
        &src,
        &out,
        &["--max-pixels", "100"],
        TOO_LARGE,
        "--max-pixels",
    );

    // Outputs: the input itself, a folder that does not exist, a folder, an existing file.
    rejects("encode", &src, &src, &[], OUTPUT, "is the input");
    rejects(
        "encode",
        &src,
        &s.path("no/such/dir/x.nic"),
        &[],
        OUTPUT,
        "cannot write",
    );
    rejects("encode", &src, s.dir.path(), &[], OUTPUT, "directory");
    let existing = s.file("existing.nic", b"keep me");
    rejects("encode", &src, &existing, &[], OUTPUT, "--force");
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    let good = s.file("good2.nic", &s.good);
    rejects(
        "decode",
        &good,
        &s.path("no/such/dir/x.png"),
        &[],
        OUTPUT,
        "cannot write",
    );

    // A GPU that is not there (no machine here has ten), and a device name nic does not know.
    rejects("encode", &src, &out, &["--device", "gpu:9"], DEVICE, "GPU");
    rejects(
        "decode",
        &good,
        &s.path("x.png"),
        &["--device", "gpu:9"],
        DEVICE,
        "GPU",
    );
    let (status, err) = nic(&["encode", src.to_str().unwrap(), "--device", "tpu"]);
    assert_eq!(status, Some(USAGE), "{err}");

    let (status, err) = nic(&["encode", src.to_str().unwrap(), "--no-such-flag"]);
    assert_eq!(status, Some(USAGE), "{err}");
    let (status, err) = nic(&["encode", src.to_str().unwrap(), "--quality", "x"]);
    assert_eq!(status, Some(USAGE), "{err}");

    // Training options out of range are refused before any work, leaving no run folder.
    let run = s.path("run");
    let dir = s.dir.path().to_str().unwrap();
    for (option, needle) in [
        ("--ema=1", "--ema"),
        ("--ema=-0.5", "--ema"),
        ("--lambdas=0.01,0", "λ values"),
        ("--detail-channels=256", "--detail-channels"),
    ] {
        let args = [
            "train",
            "--data",
            dir,
            "--out",
            run.to_str().unwrap(),
            option,
        ];
        let (status, err) = nic(&args);
        assert_eq!(status, Some(USAGE), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!run.exists(), "{args:?} left {}", run.display());
    }
}

/// A PNG declaring `w × h` RGB pixels (valid chunk CRCs) whose image data is an empty zlib
/// stream: 60 bytes that a naive decoder would answer with a huge allocation.
fn png_with_size(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn odd_sizes_and_pixel_formats_are_accepted() {
    let s = Setup::new();
    let dir = s.dir.path();
    for (w, h) in [(1, 1), (1, 5000), (5000, 1)] {
        let p = s.path(&format!("{w}x{h}.png"));
        image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 90]))
            .save(&p)
            .unwrap();
        round_trips(dir, &p, (w, h));
    }
    let p16 = s.path("16bit.png");
    image::ImageBuffer::<image::Rgb<u16>, _>::from_pixel(20, 10, image::Rgb([60000u16, 100, 3000]))
        .save(&p16)
        .unwrap();
    assert!(round_trips(dir, &p16, (20, 10)).contains("8 bits"));
    let gray = s.path("gray.png");
    image::GrayImage::from_pixel(17, 9, image::Luma([77]))
        .save(&gray)
        .unwrap();
    // Grayscale is carried, not warned about; it decodes to one channel.
    assert!(!round_trips(dir, &gray, (17, 9)).contains("warning"));
    let back = image::open(dir.join("rt.png")).unwrap();
    assert_eq!(back.color(), image::ColorType::L8);
    let rgba = s.path("rgba.png");
    image::RgbaImage::from_pixel(9, 17, image::Rgba([1, 2, 3, 4]))
        .save(&rgba)
        .unwrap();
    assert!(round_trips(dir, &rgba, (9, 17)).contains("alpha"));
    let palette = s.path("palette.png");
    std::fs::write(&palette, palette_png(12, 7)).unwrap();
    round_trips(dir, &palette, (12, 7));
    let cmyk = s.path("cmyk.jpg");
    std::fs::write(&cmyk, cmyk_jpeg(16, 16)).unwrap();
    // CMYK is converted to RGB by the JPEG decoder.
    round_trips(dir, &cmyk, (16, 16));
}

/// An indexed-colour PNG with a four-entry palette.
fn palette_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    let mut writer = encoder.write_header().unwrap();
    let indices: Vec<u8> = (0..w * h).map(|i| (i % 4) as u8).collect();
    writer.write_image_data(&indices).unwrap();
    writer.finish().unwrap();
    out
}

/// A 4-channel Adobe-style CMYK JPEG made by libjpeg (mozjpeg).
fn cmyk_jpeg(w: usize, h: usize) -> Vec<u8> {
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_CMYK);
    c.set_size(w, h);
    let mut started = c.start_compress(Vec::new()).unwrap();
    started.write_scanlines(&vec![90u8; w * h * 4]).unwrap();
    started.finish().unwrap()
}
