//! `report.html`: one self-contained page (inline SVG plots, PNG crops as data URIs, no network)
//! with the answer, the tables, the plots and side-by-side crops at about the same rate,
//! rendered from the summary and the crops measured in `crops.rs`, nothing else.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::CompareError;
use crate::crops::{CROP, CropSet};
use crate::plot::{self, Chart};
use crate::summary::Summary;

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
    // Large crops start at their own size (four fit side by side), thumbnails enlarged.
    let zoom = match crops.iter().map(|c| c.region.2).max().unwrap_or(CROP) {
        s if s >= 128 => 1,
        s if s >= 64 => 2,
        _ => 4,
    };
    head(&mut h, summary, zoom);
    answer(&mut h, summary);
    summary_table(&mut h, summary);
    curves(&mut h, summary)?;
    equal_psnr(&mut h, summary);
    bytes(&mut h, summary);
    side_by_side(&mut h, crops);
    all_points(&mut h, summary);
    lossless(&mut h, summary);
    method(&mut h, summary);
    Ok(h)
}

/// The page's head and title line.
fn head(h: &mut String, summary: &Summary, zoom: u32) {
    let run = &summary.run;
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
}

/// The answer in sentences: how much smaller nic is than the anchor at equal PSNR.
fn answer(h: &mut String, summary: &Summary) {
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
}

/// BD-rates and PSNR at fixed rates, one row per codec.
fn summary_table(h: &mut String, summary: &Summary) {
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
}

/// The rate–distortion plots, inline SVG.
fn curves(h: &mut String, summary: &Summary) -> Result<(), CompareError> {
    h.push_str("<h2>Rate–distortion curves</h2><div class=\"plots\">");
    for chart in Chart::ALL {
        let svg = plot::svg(summary, chart)?;
        let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        h.push_str(body);
    }
    h.push_str("</div>");
    Ok(())
}

/// Each codec's size at the PSNR of each nic quality.
fn equal_psnr(h: &mut String, summary: &Summary) {
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
}

/// Where nic's bytes go: container, tensors, the ideal rate, the coder's overhead.
fn bytes(h: &mut String, summary: &Summary) {
    if !summary.nic_rate.is_empty() {
        h.push_str(
            "<h2>Where nic's bytes go</h2><table><tr><th>quality</th><th>file bytes</th>\
             <th>header + CRC</th><th>latent tensors</th><th>ideal (model prior)</th>\
             <th>coder overhead</th></tr>",
        );
        for r in &summary.nic_rate {
            // Means of whole bytes: a fraction of a byte says nothing.
            let tensors: Vec<String> = r.tensor_bytes.iter().map(|b| format!("{b:.0}")).collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{}</td><td>{:.0}</td><td>{:.3} %</td></tr>",
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
}

/// The side-by-side crops.
fn side_by_side(h: &mut String, crops: &[CropSet]) {
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
}

/// Every quality point of every codec.
fn all_points(h: &mut String, summary: &Summary) {
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
}

/// The lossless references.
fn lossless(h: &mut String, summary: &Summary) {
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
}

/// How the figures were measured, and the page's script.
fn method(h: &mut String, summary: &Summary) {
    let _ = writeln!(
        h,
        "<h2>Method</h2><ul><li>bpp = 8 × file bytes (headers included) / pixels; PSNR on 8-bit \
         RGB, 10·log10(255²/MSE) over all pixels and channels; means over images per quality \
         point, as CompressAI reports them.</li><li>MS-SSIM: {}.</li><li>Encode and decode \
         times are wall times of one call each, run one at a time; nic's include the network \
         and the entropy coder.</li></ul><script>{SCRIPT}</script></body></html>",
        escape(&summary.ms_ssim_method)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }
}
