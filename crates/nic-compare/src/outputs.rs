//! Result files: one CompressAI-style JSON per codec, every measurement as CSV, the summary as
//! JSON, and the RD plots. Every file is written atomically (temporary file, then rename).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::measure::Measurement;
use crate::summary::{CodecSummary, Summary};
use crate::{CompareError, plot};

/// Writes `bytes` to `path` atomically, creating its folder.
pub fn write(path: &Path, bytes: &[u8]) -> Result<PathBuf, CompareError> {
    let fail = |source| CompareError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    nic_fs::write_atomic(path, bytes).map_err(fail)?;
    Ok(path.to_path_buf())
}

/// Makes sure `out` is a folder nic can write in (creating it), so that a bad `--out` fails
/// before the measurements, not after them.
pub fn prepare(out: &Path) -> Result<(), CompareError> {
    let fail = |source| CompareError::Write {
        path: out.to_path_buf(),
        source,
    };
    if out.exists() && !out.is_dir() {
        return Err(fail(std::io::Error::other("exists and is not a folder")));
    }
    std::fs::create_dir_all(out).map_err(fail)?;
    let probe = out.join(".nic-compare-write-test");
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Writes everything but the HTML report under `out`, returning the paths written.
pub fn write_all(
    out: &Path,
    measurements: &[Measurement],
    summary: &Summary,
) -> Result<Vec<PathBuf>, CompareError> {
    let mut written = Vec::new();
    for codec in &summary.codecs {
        let path = out.join("results").join(format!("{}.json", codec.name));
        written.push(write(&path, &to_json(&compressai_results(codec)))?);
    }
    if !summary.lossless.is_empty() {
        let lossless = json!({
            "name": "lossless",
            "description": "lossless references: compression ratio against raw 24-bit RGB",
            "results": summary.lossless,
        });
        written.push(write(
            &out.join("results/lossless.json"),
            &to_json(&lossless),
        )?);
    }
    written.push(write(
        &out.join("per_image.csv"),
        per_image_csv(measurements).as_bytes(),
    )?);
    written.push(write(&out.join("summary.json"), &to_json(summary))?);
    for chart in plot::Chart::ALL {
        let svg = plot::svg(summary, chart)?;
        written.push(write(
            &out.join(format!("{}.svg", chart.file_stem())),
            svg.as_bytes(),
        )?);
        let png = plot::png(summary, chart)?;
        written.push(write(
            &out.join(format!("{}.png", chart.file_stem())),
            &png,
        )?);
    }
    Ok(written)
}

fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("summary types serialize");
    bytes.push(b'\n');
    bytes
}

/// CompressAI's results schema (`compressai/utils/plot` reads it), with the quality settings
/// added. `ms-ssim-rgb` repeats `ms-ssim` under the key CompressAI's own result files use.
pub fn compressai_results(codec: &CodecSummary) -> serde_json::Value {
    let column = |f: &dyn Fn(&crate::summary::Point) -> serde_json::Value| -> Vec<_> {
        codec.points.iter().map(f).collect()
    };
    json!({
        "name": codec.name,
        "description": codec.description,
        "results": {
            "quality": column(&|p| json!(p.quality)),
            "bpp": column(&|p| json!(p.bpp)),
            "psnr-rgb": column(&|p| json!(p.psnr)),
            "ms-ssim": column(&|p| json!(p.ms_ssim)),
            "ms-ssim-rgb": column(&|p| json!(p.ms_ssim)),
            "encoding_time": column(&|p| json!(p.encode_seconds)),
            "decoding_time": column(&|p| json!(p.decode_seconds)),
        }
    })
}

/// Every measurement, one row each; empty cells for what does not apply.
pub fn per_image_csv(measurements: &[Measurement]) -> String {
    let mut s = String::from(
        "image,width,height,codec,quality,bytes,bpp,ratio_raw,ratio_png,psnr,ms_ssim,\
         ms_ssim_scales,encode_ms,decode_ms,container_bytes,tensor_bytes,ideal_bytes\n",
    );
    let opt = |v: Option<f64>, digits: usize| v.map_or(String::new(), |v| format!("{v:.digits$}"));
    for m in measurements {
        let b = m.breakdown.as_ref();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{:.6},{:.4},{:.4},{},{},{},{:.3},{:.3},{},{},{}",
            csv_field(&m.image),
            m.width,
            m.height,
            m.codec,
            m.quality.map_or(String::new(), |q| q.to_string()),
            m.bytes,
            m.bpp,
            m.ratio_raw,
            m.ratio_png,
            opt(m.psnr, 4),
            opt(m.ms_ssim, 6),
            m.ms_ssim_scales,
            1000.0 * m.encode_seconds,
            1000.0 * m.decode_seconds,
            b.map_or(String::new(), |b| b.container_bytes.to_string()),
            b.map_or(String::new(), |b| b
                .tensor_bytes
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" ")),
            opt(b.map(|b| b.ideal_bits / 8.0), 1),
        );
    }
    s
}

/// Quotes a field that holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("kodim01.png"), "kodim01.png");
        assert_eq!(csv_field("a,b \"c\".png"), "\"a,b \"\"c\"\".png\"");
    }
}
