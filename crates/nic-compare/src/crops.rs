//! The side-by-side crops of the report, measured before anything is rendered: the same
//! region of a few images as the original, nic and its partners decode it at about the same
//! rate. `report.rs` only renders what this gives it.

use std::path::PathBuf;

use nic_image::RgbImage;
use nic_image::image::{GenericImageView, ImageFormat};

use crate::measure::Measurement;
use crate::subjects::Subject;
use crate::{ANCHOR, CompareError};

/// Codecs shown beside nic in the crops, in this order, when they were compared.
const CROP_PARTNERS: [&str; 2] = [ANCHOR, "webp"];
/// Largest crop side; crops are upscaled in the page, not in the file.
pub(crate) const CROP: u32 = 192;

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
}
