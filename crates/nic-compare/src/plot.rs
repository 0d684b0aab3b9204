//! Rate-distortion plots (PSNR and MS-SSIM against bpp) as SVG, for the report and for papers,
//! and as PNG for everything else. PNG text uses an embedded subset of DejaVu Sans, so plots
//! render the same on machines without fonts.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::CompareError;
use crate::summary::{Point, Summary};

/// Printable ASCII and a few symbols of DejaVu Sans (see `assets/FONT-LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (800, 560);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Chart {
    Psnr,
    MsSsim,
}

impl Chart {
    pub const ALL: [Chart; 2] = [Chart::Psnr, Chart::MsSsim];

    pub fn file_stem(self) -> &'static str {
        match self {
            Chart::Psnr => "rd-psnr",
            Chart::MsSsim => "rd-ms-ssim",
        }
    }

    fn y_label(self) -> &'static str {
        match self {
            Chart::Psnr => "PSNR (dB, RGB)",
            Chart::MsSsim => "MS-SSIM (dB) = -10 log10(1 - MS-SSIM)",
        }
    }

    fn y(self, p: &Point) -> Option<f64> {
        match self {
            Chart::Psnr => Some(p.psnr).filter(|v| v.is_finite()),
            Chart::MsSsim => p.ms_ssim_db,
        }
    }
}

/// Registers the embedded font: plotters measures text with it for SVG too.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("embedded font is valid"));
    });
}

/// The chart as an SVG document.
pub fn svg(summary: &Summary, chart: Chart) -> Result<String, CompareError> {
    register_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw(&root, summary, chart).map_err(|e| CompareError::Invalid(format!("plot: {e}")))?;
    }
    Ok(out)
}

/// The chart as a PNG file.
pub fn png(summary: &Summary, chart: Chart) -> Result<Vec<u8>, CompareError> {
    register_font();
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        draw(&root, summary, chart).map_err(|e| CompareError::Invalid(format!("plot: {e}")))?;
    }
    let image = nic_image::RgbImage::from_raw(SIZE.0, SIZE.1, pixels).expect("buffer size");
    let mut png = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut png),
            nic_image::image::ImageFormat::Png,
        )
        .map_err(|e| CompareError::Invalid(format!("plot: {e}")))?;
    Ok(png)
}

/// Line colour of a codec: nic stands out, the JPEGs are blues and greys.
fn color(name: &str) -> RGBColor {
    match name {
        "nic" => RGBColor(214, 39, 40),
        "jpeg-turbo-420" => RGBColor(31, 119, 180),
        "jpeg-turbo-444" => RGBColor(120, 170, 220),
        "jpeg-image" => RGBColor(127, 127, 127),
        "webp" => RGBColor(44, 160, 44),
        _ => RGBColor(148, 103, 189),
    }
}

/// The plotted rate range: nic's curve with room around it, at least 0 to 1 bpp, and far enough
/// to show where the anchor's curve starts (on thumbnails JPEG never gets below a few bpp).
fn x_max(summary: &Summary) -> f64 {
    let lowest = |name: &str| {
        summary
            .codec(name)
            .and_then(|c| c.points.iter().map(|p| p.bpp).reduce(f64::min))
    };
    let nic_top = summary
        .codec("nic")
        .and_then(|c| c.points.iter().map(|p| p.bpp).reduce(f64::max))
        .map_or(2.0, |b| (b * 1.5).max(1.0));
    let top = lowest(&summary.anchor).map_or(nic_top, |b| nic_top.max(b * 1.25));
    (top * 4.0).ceil() / 4.0
}

/// A codec's (bpp, y) points in quality order, cut where the curve leaves `[0, x_max]`.
fn clipped(points: &[Point], chart: Chart, x_max: f64) -> Vec<(f64, f64)> {
    let all: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| chart.y(p).map(|y| (p.bpp, y)))
        .collect();
    let cut = |(x0, y0): (f64, f64), (x1, y1): (f64, f64)| {
        (x_max, y0 + (y1 - y0) * (x_max - x0) / (x1 - x0))
    };
    let mut out = Vec::new();
    for (i, &p) in all.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| all[j]);
        match prev {
            Some(q) if (q.0 <= x_max) != (p.0 <= x_max) => out.push(cut(q, p)),
            _ => {}
        }
        if p.0 <= x_max {
            out.push(p);
        }
    }
    out
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    summary: &Summary,
    chart: Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let x_max = x_max(summary);
    let curves: Vec<(&str, Vec<(f64, f64)>)> = summary
        .codecs
        .iter()
        .map(|c| (c.name.as_str(), clipped(&c.points, chart, x_max)))
        .filter(|(_, pts)| !pts.is_empty())
        .collect();
    let ys = curves.iter().flat_map(|(_, pts)| pts.iter().map(|p| p.1));
    let (y_min, y_max) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    let (y_min, y_max) = if y_min.is_finite() {
        let pad = ((y_max - y_min) * 0.05).max(0.5);
        ((y_min - pad).floor(), (y_max + pad).ceil())
    } else {
        (0.0, 1.0)
    };
    let title = format!("{} images from {}", summary.run.images, summary.run.data);
    let mut ctx = ChartBuilder::on(root)
        .caption(title, (FAMILY, 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, y_min..y_max)?;
    ctx.configure_mesh()
        .x_desc("bits per pixel")
        .y_desc(chart.y_label())
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (name, pts) in curves {
        let c = color(name);
        let width = if name == "nic" { 3 } else { 2 };
        ctx.draw_series(LineSeries::new(pts.clone(), c.stroke_width(width)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(width))
            });
        ctx.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(bpp: f64, psnr: f64) -> Point {
        Point {
            quality: 1,
            images: 1,
            bpp,
            psnr,
            ms_ssim: None,
            ms_ssim_db: None,
            ratio_raw: 1.0,
            ratio_png: 1.0,
            encode_seconds: 0.0,
            decode_seconds: 0.0,
        }
    }

    #[test]
    fn curves_are_cut_at_the_edge_of_the_plot() {
        let pts = [point(0.5, 30.0), point(1.0, 32.0), point(2.0, 36.0)];
        assert_eq!(
            clipped(&pts, Chart::Psnr, 1.5),
            vec![(0.5, 30.0), (1.0, 32.0), (1.5, 34.0)]
        );
        assert_eq!(clipped(&pts, Chart::Psnr, 3.0).len(), 3);
        assert!(clipped(&pts, Chart::MsSsim, 3.0).is_empty());
        // Quality order is kept even where the rate is not monotonic (JPEG headers on tiny images).
        let zigzag = [point(1.0, 30.0), point(0.8, 31.0), point(1.2, 32.0)];
        assert_eq!(
            clipped(&zigzag, Chart::Psnr, 3.0),
            vec![(1.0, 30.0), (0.8, 31.0), (1.2, 32.0)]
        );
    }
}
