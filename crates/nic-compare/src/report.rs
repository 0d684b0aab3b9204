//! `report.html`: one self-contained page (inline SVG plots, PNG crops as data URIs, no network)
//! with the answer, the tables, the plots and side-by-side crops at about the same rate.

use std::fmt::Write as _;
use std::path::PathBuf;

use base64::Engine as _;
use nic_image::RgbImage;
use nic_image::image::{GenericImageView, ImageFormat};

use crate::measure::Measurement;
use crate::plot::{self, Chart};
use crate::subjects::Subject;
use crate::summary::Summary;
use crate::{ANCHOR, CompareError};

/// Codecs shown beside nic in the crops, in this order, when they were compared.
const CROP_PARTNERS: [&str; 2] = [ANCHOR, "webp"];
/// Largest crop side; crops are upscaled in the page, not in the file.
const CROP: u32 = 192;

/// One picture of a crop row.
pub struct Tile {
    pub label: String,
    pub png: Vec<u8>,
}

/// The same region of one image: original, nic, and the partners at the nearest rate.
pub struct CropSet {
    pub image: String,
    pub region: (u32, u32, u32, u32),
    pub tiles: Vec<Tile>,
}

/// Re-codes up to `count` images, spread over the list, for the side-by-side crops: nic at the
/// quality whose mean rate is closest to 0.5 bpp, and each partner at its quality setting whose
/// rate on that image is closest to nic's.
pub fn crops(
    images: &[PathBuf],
    subjects: &[Box<dyn Subject>],
    measurements: &[Measurement],
    count: usize,
) -> Result<Vec<CropSet>, CompareError> {
    let Some(nic) = subjects.iter().find(|s| s.name() == "nic") else {
        return Ok(Vec::new());
    };
    let Some(nic_quality) = nic.qualities().into_iter().min_by(|&a, &b| {
        let distance = |q| {
            let rows = measurements
                .iter()
                .filter(|m| m.codec == "nic" && m.quality == Some(q));
            let (sum, n) = rows.fold((0.0, 0.0), |(s, n), m| (s + m.bpp, n + 1.0));
            (sum / n - 0.5).abs()
        };
        distance(a).total_cmp(&distance(b))
    }) else {
        return Ok(Vec::new());
    };
    let count = count.min(images.len());
    let names = crate::measure::image_names(images);
    let mut sets = Vec::new();
    for i in 0..count {
        let index = i * images.len() / count;
        let path = &images[index];
        let original = nic_image::load_rgb8(path)?.image;
        let name = names[index].clone();
        let region = detailed_region(&original);
        let mut tiles = vec![tile("original".into(), &original, region)?];
        let (nic_tile, nic_bpp) = coded_tile(nic.as_ref(), &original, nic_quality, region)?;
        tiles.push(nic_tile);
        for partner in CROP_PARTNERS {
            let Some(subject) = subjects.iter().find(|s| s.name() == partner) else {
                continue;
            };
            let nearest = measurements
                .iter()
                .filter(|m| m.codec == partner && m.image == name)
                .min_by(|a, b| (a.bpp - nic_bpp).abs().total_cmp(&(b.bpp - nic_bpp).abs()))
                .and_then(|m| m.quality);
            if let Some(q) = nearest {
                tiles.push(coded_tile(subject.as_ref(), &original, q, region)?.0);
            }
        }
        sets.push(CropSet {
            image: name,
            region,
            tiles,
        });
    }
    Ok(sets)
}

/// Encodes and decodes the whole image (codecs see the full picture), then crops.
fn coded_tile(
    subject: &dyn Subject,
    original: &RgbImage,
    quality: u8,
    region: (u32, u32, u32, u32),
) -> Result<(Tile, f64), CompareError> {
    let encoded = subject.encode(original, quality)?;
    let decoded = subject.decode(&encoded.bytes)?;
    let bpp = nic_metrics::bpp(encoded.bytes.len(), original.width(), original.height());
    let psnr = nic_metrics::psnr(original.as_raw(), decoded.as_raw());
    let label = format!(
        "{} q{quality}: {bpp:.3} bpp, {psnr:.2} dB (whole image)",
        subject.name()
    );
    Ok((tile(label, &decoded, region)?, bpp))
}

fn tile(
    label: String,
    image: &RgbImage,
    (x, y, w, h): (u32, u32, u32, u32),
) -> Result<Tile, CompareError> {
    let crop = image.view(x, y, w, h).to_image();
    let mut png = Vec::new();
    crop.write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| CompareError::Invalid(format!("crop: {e}")))?;
    Ok(Tile { label, png })
}

/// The crop window (x, y, width, height) with the most gradient energy, where coding artefacts
/// show; searched on a 16-pixel grid with a summed-area table.
fn detailed_region(image: &RgbImage) -> (u32, u32, u32, u32) {
    let (w, h) = image.dimensions();
    let side = CROP.min(w).min(h);
    let (wu, hu) = (w as usize, h as usize);
    // Summed-area table of |∇luma|, one row and column of zeros in front.
    let luma = |x: usize, y: usize| {
        let p = image.get_pixel(x as u32, y as u32).0;
        (p[0] as i32 * 299 + p[1] as i32 * 587 + p[2] as i32 * 114) / 1000
    };
    let mut sat = vec![0i64; (wu + 1) * (hu + 1)];
    for y in 0..hu {
        let mut row = 0i64;
        for x in 0..wu {
            let gx = if x + 1 < wu {
                (luma(x + 1, y) - luma(x, y)).abs()
            } else {
                0
            };
            let gy = if y + 1 < hu {
                (luma(x, y + 1) - luma(x, y)).abs()
            } else {
                0
            };
            row += (gx + gy) as i64;
            sat[(y + 1) * (wu + 1) + x + 1] = sat[y * (wu + 1) + x + 1] + row;
        }
    }
    let energy = |x: usize, y: usize, s: usize| {
        let at = |x: usize, y: usize| sat[y * (wu + 1) + x];
        at(x + s, y + s) - at(x, y + s) - at(x + s, y) + at(x, y)
    };
    let s = side as usize;
    let mut best = (0, 0, i64::MIN);
    for y in (0..=hu - s).step_by(16) {
        for x in (0..=wu - s).step_by(16) {
            let e = energy(x, y, s);
            if e > best.2 {
                best = (x, y, e);
            }
        }
    }
    (best.0 as u32, best.1 as u32, side, side)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn signed(v: Option<f64>, digits: usize, unit: &str) -> String {
    v.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{v:+.digits$}{unit}"))
}

const STYLE: &str = r#"
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 0 20px 60px; color: #222; }
h1 { margin-top: 28px; } h2 { margin-top: 36px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 10px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f6f6; }
.answer { font-size: 17px; background: #fff6e8; border-left: 4px solid #e08a00; padding: 10px 16px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; } .plots svg { width: 560px; height: auto; border: 1px solid #eee; }
.meta { color: #666; font-size: 13px; } code { background: #f3f3f3; padding: 1px 4px; }
.crops { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 24px; }
.crops figure { margin: 0; width: min-content; } .crops figcaption { font-size: 12px; color: #444; }
.crops img { image-rendering: pixelated; width: calc(var(--zoom) * var(--side)); height: auto; border: 1px solid #ccc; cursor: zoom-in; }
.zoom button { margin-right: 4px; } .zoom button.on { font-weight: bold; }
"#;

const SCRIPT: &str = r#"
(function () {
  var root = document.documentElement;
  function setZoom(z) {
    root.style.setProperty('--zoom', z);
    document.querySelectorAll('.zoom button').forEach(function (b) {
      b.classList.toggle('on', Number(b.dataset.zoom) === z);
    });
  }
  document.querySelectorAll('.zoom button').forEach(function (b) {
    b.addEventListener('click', function () { setZoom(Number(b.dataset.zoom)); });
  });
  document.querySelectorAll('.crops img').forEach(function (img) {
    img.addEventListener('click', function () {
      var z = Number(getComputedStyle(root).getPropertyValue('--zoom')) || 1;
      setZoom(z >= 4 ? 1 : z * 2);
    });
  });
  setZoom(Number(document.body.dataset.zoom) || 1);
  document.body.dataset.ready = 'yes';
})();
"#;

/// The whole page.
pub fn html(summary: &Summary, crops: &[CropSet]) -> Result<String, CompareError> {
    let mut h = String::new();
    let run = &summary.run;
    // Large crops start at their own size (four fit side by side), thumbnails enlarged.
    let zoom = match crops.iter().map(|c| c.region.2).max().unwrap_or(CROP) {
        s if s >= 128 => 1,
        s if s >= 64 => 2,
        _ => 4,
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>nic compare: {}</title><style>{STYLE}</style></head><body data-zoom=\"{zoom}\">\
         <h1>nic against the classical codecs</h1>\
         <p class=\"meta\">{} images from <code>{}</code> · command <code>{}</code> · {} · \
         {} threads · {:.0} s · nic {}</p>",
        escape(&run.data),
        run.images,
        escape(&run.data),
        escape(&run.command),
        escape(&run.cpu),
        run.threads,
        run.wall_seconds,
        escape(&run.nic_version),
    );

    let sentences: Vec<String> = summary
        .equal_psnr
        .iter()
        .filter_map(|e| e.sentence(&summary.anchor))
        .collect();
    if !sentences.is_empty() {
        h.push_str("<h2>The answer</h2><div class=\"answer\"><ul>");
        for s in &sentences {
            let _ = write!(h, "<li>{}</li>", escape(s));
        }
        h.push_str(
            "</ul>Image by image, the libjpeg-turbo size is interpolated over its quality sweep \
             at the PSNR of the nic file; sizes are summed over the images before dividing.</div>",
        );
    }

    let _ = write!(
        h,
        "<h2>Summary</h2><p>BD-rate: average bitrate difference against <b>{}</b> at equal \
         quality (negative is better), PCHIP interpolation of log-rate over the overlapping \
         quality range. PSNR at fixed rates is interpolated over log-rate. \
         Where the anchor covers less than {:.0} % of the shorter curve's PSNR range (the overlap \
         column), the BD figures rest on a small part of the curves.</p>\
         <table><tr><th>codec</th><th>points</th><th>BD-rate (PSNR)</th><th>BD-PSNR</th>\
         <th>BD-rate (MS-SSIM)</th><th>overlap</th>",
        escape(&summary.anchor),
        100.0 * crate::summary::MIN_OVERLAP
    );
    for bpp in crate::summary::REFERENCE_BPPS {
        let _ = write!(h, "<th>PSNR at {bpp} bpp</th>");
    }
    h.push_str("</tr>");
    for c in &summary.codecs {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            escape(&c.name),
            c.points.len(),
            signed(c.bd_rate, 1, " %"),
            signed(c.bd_psnr, 2, " dB"),
            signed(c.bd_rate_ms_ssim, 1, " %"),
            c.bd_overlap
                .map_or("–".into(), |o| format!("{:.0} %", 100.0 * o)),
        );
        for p in &c.psnr_at {
            let _ = write!(h, "<td>{}</td>", num(p.psnr, 2));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");

    h.push_str("<h2>Rate–distortion curves</h2><div class=\"plots\">");
    for chart in Chart::ALL {
        let svg = plot::svg(summary, chart)?;
        let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        h.push_str(body);
    }
    h.push_str("</div>");

    if !summary.equal_psnr.is_empty() {
        h.push_str(
            "<h2>File size at equal PSNR</h2><p>Size each codec needs to reach the PSNR of each \
             nic file, relative to nic (above 1: nic is smaller).</p><table><tr>\
             <th>nic quality</th><th>PSNR</th><th>bpp</th>",
        );
        let names: Vec<&str> = summary
            .codecs
            .iter()
            .map(|c| c.name.as_str())
            .filter(|&n| n != "nic")
            .collect();
        for n in &names {
            let _ = write!(h, "<th>{}</th>", escape(n));
        }
        h.push_str("</tr>");
        for e in &summary.equal_psnr {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.2}</td><td>{:.4}</td>",
                e.nic_quality, e.psnr, e.bpp
            );
            for n in &names {
                let cell = e
                    .versus
                    .iter()
                    .find(|v| v.codec == *n)
                    .map_or("–".into(), |v| {
                        if v.images == e.images {
                            format!("{:.2}×", v.ratio)
                        } else {
                            format!("{:.2}× ({}/{})", v.ratio, v.images, e.images)
                        }
                    });
                let _ = write!(h, "<td>{cell}</td>");
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }

    if !summary.nic_rate.is_empty() {
        h.push_str(
            "<h2>Where nic's bytes go</h2><table><tr><th>quality</th><th>file bytes</th>\
             <th>header + CRC</th><th>latent tensors</th><th>ideal (model prior)</th>\
             <th>coder overhead</th></tr>",
        );
        for r in &summary.nic_rate {
            let tensors: Vec<String> = r.tensor_bytes.iter().map(|b| format!("{b:.1}")).collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{:.1}</td><td>{:.3} %</td></tr>",
                r.quality,
                r.file_bytes,
                r.container_bytes,
                tensors.join(" + "),
                r.ideal_bytes,
                r.coder_overhead_percent
            );
        }
        h.push_str("</table><p class=\"meta\">Means per image, in bytes.</p>");
    }

    if !crops.is_empty() {
        h.push_str(
            "<h2>Side by side</h2><p class=\"zoom\">Zoom: <button data-zoom=\"1\">1×</button>\
             <button data-zoom=\"2\">2×</button><button data-zoom=\"4\">4×</button> \
             (or click a picture)</p>",
        );
        for set in crops {
            let (x, y, w, hh) = set.region;
            let _ = write!(
                h,
                "<h3>{} <span class=\"meta\">crop {w}×{hh} at ({x}, {y})</span></h3>\
                 <div class=\"crops\" style=\"--side: {w}px\">",
                escape(&set.image)
            );
            for t in &set.tiles {
                let data = base64::engine::general_purpose::STANDARD.encode(&t.png);
                let _ = write!(
                    h,
                    "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{data}\">\
                     <figcaption>{0}</figcaption></figure>",
                    escape(&t.label)
                );
            }
            h.push_str("</div>");
        }
    }

    h.push_str("<h2>All quality points</h2>");
    for c in &summary.codecs {
        let _ = write!(
            h,
            "<details><summary><b>{}</b>: {}</summary><table><tr><th>quality</th><th>bpp</th>\
             <th>PSNR</th><th>MS-SSIM</th><th>ratio to raw</th><th>ratio to PNG</th>\
             <th>encode ms</th><th>decode ms</th></tr>",
            escape(&c.name),
            escape(&c.description)
        );
        for p in &c.points {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.4}</td><td>{:.2}</td><td>{}</td><td>{:.1}</td>\
                 <td>{:.2}</td><td>{:.1}</td><td>{:.1}</td></tr>",
                p.quality,
                p.bpp,
                p.psnr,
                num(p.ms_ssim, 4),
                p.ratio_raw,
                p.ratio_png,
                1000.0 * p.encode_seconds,
                1000.0 * p.decode_seconds
            );
        }
        h.push_str("</table></details>");
    }

    if !summary.lossless.is_empty() {
        h.push_str(
            "<h2>Lossless references</h2><table><tr><th>compressor</th><th>ratio to raw RGB</th>\
             <th>bpp</th><th>encode ms</th><th>decode ms</th><th>settings</th></tr>",
        );
        for l in &summary.lossless {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
                escape(&l.name),
                l.ratio_raw,
                l.bpp,
                1000.0 * l.encode_seconds,
                1000.0 * l.decode_seconds,
                escape(&l.description)
            );
        }
        h.push_str("</table>");
    }

    let _ = writeln!(
        h,
        "<h2>Method</h2><ul><li>bpp = 8 × file bytes (headers included) / pixels; PSNR on 8-bit \
         RGB, 10·log10(255²/MSE) over all pixels and channels; means over images per quality \
         point, as CompressAI reports them.</li><li>MS-SSIM: {}.</li><li>Encode and decode \
         times are wall times of one call each, run one at a time; nic's include the network \
         and the entropy coder.</li></ul><script>{SCRIPT}</script></body></html>",
        escape(&summary.ms_ssim_method)
    );
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crop_goes_where_the_detail_is() {
        // Flat image with a textured 40×40 patch at (200, 100).
        let image = RgbImage::from_fn(400, 300, |x, y| {
            let inside = (200..240).contains(&x) && (100..140).contains(&y);
            let v = if inside && (x + y) % 2 == 0 { 255 } else { 90 };
            nic_image::image::Rgb([v, v, v])
        });
        let (x, y, w, h) = detailed_region(&image);
        assert_eq!((w, h), (CROP, CROP));
        assert!(
            x <= 200 && x + w >= 240 && y <= 100 && y + h >= 140,
            "{x} {y}"
        );
        // Small images are shown whole.
        let small = RgbImage::new(32, 24);
        assert_eq!(detailed_region(&small), (0, 0, 24, 24));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }
}
