//! What the `nic` binary tells a user, and what it does with the names and pictures they give
//! it: output formats by extension, the default-name hint, EXIF orientation, grayscale and
//! ICC/EXIF carried through a `.nic` file, warnings that survive `--quiet`, damaged files in
//! `info`, and `compare` checking its paths first.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BAD_INPUT: i32 = 3;
const BAD_NIC_FILE: i32 = 4;
const OUTPUT: i32 = 6;
const USAGE: i32 = 2;

fn model() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    dir.to_string_lossy().into_owned()
}

/// Runs nic with the bundled model on the CPU; returns (status, stdout, stderr).
fn nic(args: &[&str]) -> (Option<i32>, String, String) {
    let model = model();
    let takes_model = matches!(args[0], "encode" | "decode" | "compare");
    let mut all: Vec<&str> = args.to_vec();
    if takes_model {
        all.extend(["--model", &model, "--device", "cpu"]);
    }
    let out: Output = Command::new(env!("CARGO_BIN_EXE_nic"))
        .args(&all)
        .output()
        .expect("nic runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "nic {all:?} panicked: {err}");
    (out.status.code(), text(&out.stdout), err)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn gradient(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
    })
}

/// A folder with `photo.png` (48 × 32) and its `photo.nic`, made with the default names.
fn encoded() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("photo.png");
    gradient(48, 32).save(&png).unwrap();
    let (status, _, err) = nic(&["encode", s(&png)]);
    assert_eq!(status, Some(0), "{err}");
    let nic_file = dir.path().join("photo.nic");
    assert!(nic_file.exists());
    (dir, png, nic_file)
}

#[test]
fn decode_writes_the_format_its_name_asks_for() {
    let (dir, _, nic_file) = encoded();
    for (name, format) in [
        ("a.webp", image::ImageFormat::WebP),
        ("a.jpg", image::ImageFormat::Jpeg),
        ("a.bmp", image::ImageFormat::Bmp),
        ("a.ppm", image::ImageFormat::Pnm),
        ("a.png", image::ImageFormat::Png),
    ] {
        let out = dir.path().join(name);
        let (status, _, err) = nic(&["decode", s(&nic_file), "-o", s(&out)]);
        assert_eq!(status, Some(0), "{name}: {err}");
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), format, "{name}");
        let back = image::load_from_memory(&bytes).unwrap();
        assert_eq!((back.width(), back.height()), (48, 32));
    }
    // Lossless formats hold the same pixels as the PNG.
    let png = image::open(dir.path().join("a.png")).unwrap().to_rgb8();
    let webp = image::open(dir.path().join("a.webp")).unwrap().to_rgb8();
    assert_eq!(png, webp);
    // A name nic cannot write is refused before decoding, and nothing is left behind.
    let odd = dir.path().join("a.heic");
    let (status, _, err) = nic(&["decode", s(&nic_file), "-o", s(&odd)]);
    assert_eq!(status, Some(OUTPUT), "{err}");
    assert!(err.contains("png, webp"), "{err}");
    assert!(!odd.exists());
}

#[test]
fn the_default_name_is_never_overwritten_without_force_and_the_hint_offers_another_name() {
    let (_dir, png, nic_file) = encoded();
    let original = std::fs::read(&png).unwrap();
    let (status, _, err) = nic(&["decode", s(&nic_file)]);
    assert_eq!(status, Some(OUTPUT), "{err}");
    assert!(err.contains("default name") && err.contains("-o"), "{err}");
    assert_eq!(std::fs::read(&png).unwrap(), original);
}

/// A JPEG with an EXIF APP1 segment holding only an Orientation tag.
fn jpeg_with_orientation(img: &image::RgbImage, orientation: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 100)
        .encode_image(img)
        .unwrap();
    // TIFF header (big-endian), one IFD entry: tag 0x0112, SHORT, count 1, the value, padding,
    // and no next IFD.
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0; 6]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied_on_encode_and_said_even_when_quiet() {
    let dir = tempfile::tempdir().unwrap();
    // Red rises from left to right in the stored picture.
    let stored = image::RgbImage::from_fn(64, 32, |x, _| image::Rgb([(x * 4) as u8, 60, 60]));
    let jpg = dir.path().join("camera.jpg");
    std::fs::write(&jpg, jpeg_with_orientation(&stored, 6)).unwrap();
    let (nic_file, png) = (dir.path().join("c.nic"), dir.path().join("c.png"));
    let (status, _, err) = nic(&["encode", s(&jpg), "-o", s(&nic_file), "--quiet"]);
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("orientation"), "{err}");
    let (status, _, err) = nic(&["decode", s(&nic_file), "-o", s(&png)]);
    assert_eq!(status, Some(0), "{err}");
    // The EXIF block comes back, its orientation reset: the pixels are upright now.
    let mut decoder = image::ImageReader::open(&png)
        .unwrap()
        .into_decoder()
        .unwrap();
    use image::ImageDecoder;
    let exif = decoder.exif_metadata().unwrap().expect("EXIF written back");
    assert_eq!(
        image::metadata::Orientation::from_exif_chunk(&exif),
        Some(image::metadata::Orientation::NoTransforms)
    );
    // Orientation 6 shows the stored picture turned 90° clockwise: upright it is 32 × 64,
    // and red rises from top to bottom.
    let back = image::open(&png).unwrap().to_rgb8();
    assert_eq!(back.dimensions(), (32, 64));
    assert!(back.get_pixel(16, 2).0[0] + 100 < back.get_pixel(16, 61).0[0]);
}

#[test]
fn warnings_survive_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("p.png");
    gradient(48, 32).save(&png).unwrap();
    let out = dir.path().join("p.nic");
    let (status, _, err) = nic(&[
        "encode",
        s(&png),
        "-o",
        s(&out),
        "--target-psnr",
        "99",
        "--quiet",
    ]);
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("warning: no quality meets 99 dB"), "{err}");
    // Without warnings, --quiet prints nothing.
    let (status, _, err) = nic(&["encode", s(&png), "-o", s(&out), "--force", "--quiet"]);
    assert_eq!((status, err.as_str()), (Some(0), ""));
    let rgba = dir.path().join("a.png");
    image::RgbaImage::from_pixel(32, 32, image::Rgba([9, 9, 9, 100]))
        .save(&rgba)
        .unwrap();
    let (_, _, err) = nic(&["encode", s(&rgba), "-o", s(&out), "--force", "--quiet"]);
    assert!(err.contains("alpha channel dropped"), "{err}");
    // An animated GIF: its first frame, said.
    let gif = dir.path().join("anim.gif");
    {
        let file = std::fs::File::create(&gif).unwrap();
        let mut encoder = image::codecs::gif::GifEncoder::new(file);
        let frames = [10u8, 200].map(|v| {
            image::Frame::new(image::RgbaImage::from_pixel(
                16,
                16,
                image::Rgba([v, v, v, 255]),
            ))
        });
        encoder.encode_frames(frames).unwrap();
    }
    let (status, _, err) = nic(&["encode", s(&gif), "-o", s(&out), "--force", "--quiet"]);
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("only its first frame"), "{err}");
}

#[test]
fn negative_qualities_are_out_of_range_not_flags() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("p.png");
    gradient(32, 32).save(&png).unwrap();
    let (status, _, err) = nic(&["encode", s(&png), "-q", "-1"]);
    assert_eq!(status, Some(USAGE), "{err}");
    assert!(!err.contains("-- -1") && err.contains("quality"), "{err}");
    assert!(!dir.path().join("p.nic").exists());
}

#[test]
fn info_shows_a_damaged_file_and_fails() {
    let (dir, _, nic_file) = encoded();
    let mut bytes = std::fs::read(&nic_file).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x55;
    let bad = dir.path().join("bad.nic");
    std::fs::write(&bad, &bytes).unwrap();
    let (status, stdout, err) = nic(&["info", s(&bad)]);
    assert_eq!(status, Some(BAD_NIC_FILE), "{stdout}{err}");
    assert!(
        stdout.contains("MISMATCH") && stdout.contains("48×32"),
        "{stdout}"
    );
    let (status, stdout, _) = nic(&["info", s(&nic_file)]);
    assert_eq!(status, Some(0));
    assert!(stdout.contains("crc             ok"), "{stdout}");
}

#[test]
fn compare_checks_its_paths_before_it_measures() {
    let (dir, png, _) = encoded();
    let data = dir.path().to_str().unwrap();
    // --out is a file: refused before any picture is coded, and the file is kept.
    let file = dir.path().join("taken");
    std::fs::write(&file, b"keep").unwrap();
    let (status, _, err) = nic(&["compare", "--data", data, "--out", s(&file), "--quiet"]);
    assert_eq!(status, Some(OUTPUT), "{err}");
    assert!(err.contains("not a folder"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    // --data is a picture, not a folder.
    let (status, _, err) = nic(&["compare", "--data", s(&png), "--quiet"]);
    assert_eq!(status, Some(BAD_INPUT), "{err}");
    assert!(
        err.contains("is a file") && !err.contains("os error"),
        "{err}"
    );
}

#[test]
fn grayscale_pictures_come_back_gray_and_profiles_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("g.png");
    // A gray PNG with an ICC profile (any bytes: nic carries it, it does not read it).
    let gray = image::GrayImage::from_fn(40, 24, |x, y| image::Luma([(x * 5 + y * 3) as u8]));
    let icc = vec![7u8; 100];
    let mut bytes = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut bytes);
    use image::ImageEncoder;
    encoder.set_icc_profile(icc.clone()).unwrap();
    encoder
        .write_image(gray.as_raw(), 40, 24, image::ExtendedColorType::L8)
        .unwrap();
    std::fs::write(&src, &bytes).unwrap();
    let (nic_file, back) = (dir.path().join("g.nic"), dir.path().join("back.png"));
    let (status, _, err) = nic(&["encode", s(&src), "-o", s(&nic_file)]);
    assert_eq!(status, Some(0), "{err}");
    assert!(!err.contains("warning"), "{err}");
    let (_, info, _) = nic(&["info", s(&nic_file)]);
    assert!(info.contains("grayscale, ICC profile 100 bytes"), "{info}");
    let (status, _, err) = nic(&["decode", s(&nic_file), "-o", s(&back)]);
    assert_eq!(status, Some(0), "{err}");
    use image::ImageDecoder;
    let mut decoder = image::ImageReader::open(&back)
        .unwrap()
        .into_decoder()
        .unwrap();
    assert_eq!(decoder.color_type(), image::ColorType::L8);
    assert_eq!(decoder.icc_profile().unwrap(), Some(icc));
    // BMP holds no profile: decoded anyway, with a warning.
    let bmp = dir.path().join("back.bmp");
    let (status, _, err) = nic(&["decode", s(&nic_file), "-o", s(&bmp)]);
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("holds no ICC profile"), "{err}");
}

#[test]
fn a_size_target_in_bytes_and_printed_quality() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("p.png");
    gradient(96, 64).save(&png).unwrap();
    let out = dir.path().join("p.nic");
    // Encodes to at most 300 bytes with `extra` options: the output and its size.
    let encode = |extra: &[&str]| {
        let mut args = vec![
            "encode",
            s(&png),
            "-o",
            s(&out),
            "--target-size",
            "300",
            "-f",
        ];
        args.extend_from_slice(extra);
        let (status, _, err) = nic(&args);
        assert_eq!(status, Some(0), "{err}");
        let bytes = std::fs::metadata(&out).unwrap().len();
        assert!(
            bytes <= 300 || err.contains("no quality meets 300 bytes"),
            "{bytes} bytes: {err}"
        );
        err
    };
    let err = encode(&["--print-psnr", "--print-ssim"]);
    let psnr: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("PSNR ")?.strip_suffix(" dB")?.parse().ok())
        .unwrap_or_else(|| panic!("no PSNR line: {err}"));
    assert!(psnr > 15.0 && psnr < 60.0, "{psnr}");
    assert!(err.lines().any(|l| l.starts_with("MS-SSIM 0.")), "{err}");
    // Refined inside the search, and still within the target.
    encode(&["--effort", "1"]);
    // Zero bytes is no target; a size and a quality together are refused.
    let (status, _, _) = nic(&["encode", s(&png), "-o", s(&out), "--target-size", "0", "-f"]);
    assert_eq!(status, Some(USAGE));
    let (status, _, _) = nic(&[
        "encode",
        s(&png),
        "-o",
        s(&out),
        "--target-size",
        "900",
        "-q",
        "2",
        "-f",
    ]);
    assert_eq!(status, Some(USAGE));
}

#[test]
fn effort_refines_into_a_standard_file() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("p.png");
    gradient(64, 48).save(&png).unwrap();
    let (plain, refined) = (dir.path().join("a.nic"), dir.path().join("b.nic"));
    let (status, _, err) = nic(&["encode", s(&png), "-o", s(&plain), "-q", "3"]);
    assert_eq!(status, Some(0), "{err}");
    let (status, _, err) = nic(&[
        "encode",
        s(&png),
        "-o",
        s(&refined),
        "-q",
        "3",
        "--effort",
        "1",
    ]);
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("quality 3 effort 1,"), "{err}");
    let back = dir.path().join("b.png");
    let (status, _, err) = nic(&["decode", s(&refined), "-o", s(&back)]);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(image::open(&back).unwrap().to_rgb8().dimensions(), (64, 48));
    let (status, _, err) = nic(&["encode", s(&png), "-o", s(&plain), "--effort", "4", "-f"]);
    assert_eq!(status, Some(USAGE), "{err}");
}
