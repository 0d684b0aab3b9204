//! `nic compare` end to end with the bundled default model on small crops of the sample
//! photographs: every output file, its schema, and the report rendered in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn nic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nic"))
        .args(args)
        .output()
        .expect("nic runs")
}

struct Run {
    _dir: tempfile::TempDir,
    out: PathBuf,
    stdout: String,
}

const IMAGES: usize = 2;
const JPEG_WEBP_POINTS: usize = 19;
/// The bundled default model's ten rate levels.
const NIC_POINTS: usize = 10;

/// One comparison on two 96×80 crops, shared by the tests.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        for (name, x, y) in [("kodim23.png", 300, 120), ("kodim07.png", 200, 200)] {
            let full = image::open(repo().join("datasets/samples/kodak").join(name)).unwrap();
            full.crop_imm(x, y, 96, 80).save(data.join(name)).unwrap();
        }
        let out = dir.path().join("out");
        let model = repo().join("models/default");
        let o = nic(&[
            "compare",
            "--model",
            model.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--crops",
            "1",
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Run {
            _dir: dir,
            out,
            stdout: String::from_utf8(o.stdout).unwrap(),
        }
    })
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn writes_every_output_in_the_documented_schemas() {
    let r = run();
    for name in [
        "nic",
        "jpeg-image",
        "jpeg-turbo-420",
        "jpeg-turbo-444",
        "webp",
    ] {
        let v = json(&r.out.join(format!("results/{name}.json")));
        assert_eq!(v["name"], name);
        let results = &v["results"];
        let points = if name == "nic" {
            NIC_POINTS
        } else {
            JPEG_WEBP_POINTS
        };
        for key in [
            "bpp",
            "psnr-rgb",
            "ms-ssim",
            "encoding_time",
            "decoding_time",
        ] {
            let column = results[key]
                .as_array()
                .unwrap_or_else(|| panic!("{name} {key}"));
            assert_eq!(column.len(), points, "{name} {key}");
            assert!(
                column.iter().all(|x| x.as_f64().is_some_and(|x| x > 0.0)),
                "{name} {key}"
            );
        }
        let psnr: Vec<f64> = results["psnr-rgb"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(
            psnr.windows(2).all(|w| w[1] > w[0] - 0.05),
            "{name}: {psnr:?}"
        );
    }
    let lossless = json(&r.out.join("results/lossless.json"));
    assert_eq!(lossless["results"].as_array().unwrap().len(), 6);

    let csv = std::fs::read_to_string(r.out.join("per_image.csv")).unwrap();
    let rows = IMAGES * (NIC_POINTS + 4 * JPEG_WEBP_POINTS + 6);
    assert_eq!(csv.lines().count(), 1 + rows);

    let summary = json(&r.out.join("summary.json"));
    assert_eq!(summary["anchor"], "jpeg-turbo-420");
    let anchor = summary["codecs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "jpeg-turbo-420")
        .unwrap();
    assert!(anchor["bd_rate"].as_f64().unwrap().abs() < 1e-9);
    assert_eq!(summary["nic_rate"].as_array().unwrap().len(), NIC_POINTS);
    assert_eq!(summary["run"]["images"], IMAGES);

    for stem in ["rd-psnr", "rd-ms-ssim"] {
        let svg = std::fs::read_to_string(r.out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("bits per pixel"));
        let png = image::open(r.out.join(format!("{stem}.png")))
            .unwrap()
            .to_rgb8();
        assert_eq!(png.dimensions(), (800, 560));
        // nic's curve is drawn in red.
        assert!(
            png.pixels().any(|p| p.0 == [214, 39, 40]),
            "{stem}.png has no nic curve"
        );
    }
    assert!(
        r.stdout.contains("BD-rate") && r.stdout.contains("nic quality"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("report.html"), "{}", r.stdout);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let model = repo().join("models/default");
    let m = model.to_str().unwrap();
    let samples = repo().join("datasets/samples/cifar10");
    let samples = samples.to_str().unwrap();
    // Exit statuses as documented in the README: 2 usage, 3 bad input, 5 model.
    for (args, code, needle) in [
        (
            vec!["compare", "--data", d, "--codecs", "nic,jpeg2000"],
            2,
            "unknown codec \"jpeg2000\"",
        ),
        (vec!["compare", "--data", d, "--model", m], 3, "no images"),
        (
            vec!["compare", "--data", "/no/such/folder", "--codecs", "webp"],
            3,
            "/no/such/folder",
        ),
        (
            vec!["compare", "--data", samples, "--model", "/no/such/model"],
            5,
            "/no/such/model",
        ),
    ] {
        let o = nic(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Chromium from `$NIC_CHROMIUM` or the usual names on `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NIC_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `page` with extra `args`, killing it after a minute. Its output
/// goes through files: Chromium logs enough to fill a pipe nobody reads while it runs.
fn headless(browser: &Path, profile: &Path, page: &Path, args: &[String]) -> (String, String) {
    std::fs::create_dir_all(profile).unwrap();
    let (out, err) = (profile.join("stdout"), profile.join("stderr"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("chromium did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    (read(&out), read(&err))
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        // CI installs Chromium and sets CI, so this check cannot be skipped there.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Chromium: apt-get install chromium (or set NIC_CHROMIUM)"
        );
        eprintln!("skipped: no Chromium (apt-get install chromium, or set NIC_CHROMIUM)");
        return;
    };
    let r = run();
    let page = r.out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("src=\"http"),
        "the report must be self-contained"
    );
    let profile = tempfile::tempdir().unwrap();

    let shot = profile.path().join("shot.png");
    let (_, log) = headless(
        &browser,
        &profile.path().join("a"),
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
        ],
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let png = image::open(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}): {log}"))
        .to_rgb8();
    assert_eq!(png.dimensions(), (1280, 2000));
    let inked = png.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(
        inked > 1280 * 2000 / 50,
        "the page looks empty: {inked} non-white pixels"
    );
    assert!(
        png.pixels().any(|p| p.0 == [214, 39, 40]),
        "the plots did not render"
    );

    let (dom, _) = headless(
        &browser,
        &profile.path().join("b"),
        &page,
        &["--dump-dom".into()],
    );
    assert!(
        dom.contains("data-ready=\"yes\""),
        "the page script did not run"
    );
    assert!(dom.contains("<img"), "no crops in the report");
}
