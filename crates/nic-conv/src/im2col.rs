//! Patches in and out of images: im2col copies every kernel tap's view of a batch of images
//! into one row of a matrix, col2im adds such a matrix back onto the images.
//!
//! Both work on NCHW data directly (no channels-last copy first) and run in parallel: im2col
//! over the matrix rows (each a contiguous run of `images · patches` values), col2im over the
//! image planes (each plane receives only its own channel's rows, so the adds need no locks and
//! their order is fixed, which keeps results independent of the thread count). Both take a band
//! of patch rows, so that one large picture need not have all its patches in memory at once.

use std::ops::Range;

use rayon::prelude::*;

use crate::Geometry;

/// Writes `cols[(c·kh + i)·kw + j][b·P + (oy − band.start)·Ws + ox] = img[b][c][oy·sh + i −
/// ph][ox·sw + j − pw]` (zero outside the image) for the patch rows `oy` in `band`, for `images`
/// images of `channels` planes of `g.big`, where `P = band.len() · Ws`. `cols` holds
/// `channels · taps` rows of `images · P`.
pub fn im2col(
    img: &[f32],
    channels: usize,
    images: usize,
    g: &Geometry,
    band: Range<usize>,
    cols: &mut [f32],
) {
    assert!(band.end <= g.small[0], "band inside the patch grid");
    let plane = g.big_len();
    let patches = band.len() * g.small[1];
    let row_len = images * patches;
    assert_eq!(img.len(), images * channels * plane, "im2col input");
    assert_eq!(cols.len(), channels * g.taps() * row_len, "im2col output");
    if row_len == 0 {
        return;
    }
    let [kh, kw] = g.kernel;
    let [bw, sw, pw] = [g.big[1], g.stride[1], g.pad[1]];
    let ws = g.small[1];
    // The image lines the band reads; with a column stride above 1, each split into `sw` phase
    // lines (pixel x at phase x mod sw, position x / sw), so that every tap copies a
    // contiguous run instead of gathering every sw-th value once per tap.
    let lines = g.lines(band.clone());
    let phase_len = bw.div_ceil(sw);
    let split = (sw > 1).then(|| split_phases(img, channels * images, g, lines.clone(), sw));
    cols.par_chunks_mut(row_len)
        .enumerate()
        .for_each(|(r, row)| {
            let (c, i, j) = (r / (kh * kw), r / kw % kh, r % kw);
            let rows = g.inside(0, i);
            let across = g.inside(1, j);
            let first = across.start * sw + j - pw;
            for b in 0..images {
                let src = &img[(b * channels + c) * plane..][..plane];
                let dst = &mut row[b * patches..][..patches];
                for (oy, out) in band.clone().zip(dst.chunks_exact_mut(ws)) {
                    if !rows.contains(&oy) {
                        out.fill(0.0);
                        continue;
                    }
                    let y = oy * g.stride[0] + i - g.pad[0];
                    out[..across.start].fill(0.0);
                    out[across.end..].fill(0.0);
                    let run = match &split {
                        None => &src[y * bw + first..][..across.len()],
                        Some(split) => {
                            let line = (b * channels + c) * lines.len() + y - lines.start;
                            &split[(line * sw + first % sw) * phase_len + first / sw..]
                                [..across.len()]
                        }
                    };
                    out[across.clone()].copy_from_slice(run);
                }
            }
        });
}

/// Lines `lines` of every plane, each as `sw` phase lines of `ceil(width / sw)` values
/// (`[plane][line][phase][position]`, zero past the line's end).
fn split_phases(
    img: &[f32],
    planes: usize,
    g: &Geometry,
    lines: Range<usize>,
    sw: usize,
) -> Vec<f32> {
    let bw = g.big[1];
    let phase_len = bw.div_ceil(sw);
    let mut split = vec![0.0; planes * lines.len() * sw * phase_len];
    if split.is_empty() {
        return split;
    }
    split
        .par_chunks_mut(sw * phase_len)
        .enumerate()
        .for_each(|(index, phases)| {
            let (p, y) = (index / lines.len(), lines.start + index % lines.len());
            let line = &img[(p * g.big[0] + y) * bw..][..bw];
            for (x, v) in line.iter().enumerate() {
                phases[(x % sw) * phase_len + x / sw] = *v;
            }
        });
    split
}

/// The adjoint of [`im2col`] over the same `band`: adds every value of `cols` onto the image
/// pixel it was copied from (values that came from the padding are dropped).
///
/// Each plane reads its channel's rows one after the other, each as one contiguous run per
/// image. With a column stride `s` above 1, kernel tap `j` lands on every `s`-th pixel of a
/// line, so the sums are gathered in `s` phase planes (pixel `x` of a line at `x mod s`,
/// position `x / s`), where every tap adds contiguous runs, and added to the plane once at the
/// end.
pub fn col2im(
    cols: &[f32],
    channels: usize,
    images: usize,
    g: &Geometry,
    band: Range<usize>,
    img: &mut [f32],
) {
    assert!(band.end <= g.small[0], "band inside the patch grid");
    let plane = g.big_len();
    let patches = band.len() * g.small[1];
    let row_len = images * patches;
    assert_eq!(img.len(), images * channels * plane, "col2im output");
    assert_eq!(cols.len(), channels * g.taps() * row_len, "col2im input");
    if plane == 0 || row_len == 0 {
        return;
    }
    let [kh, kw] = g.kernel;
    let bw = g.big[1];
    let [sw, pw] = [g.stride[1], g.pad[1]];
    let ws = g.small[1];
    // The lines the band writes to; with sw > 1 gathered in `sw` phase planes of those lines,
    // `phase_len` values each (the plane itself when sw = 1). Only the band's lines: a large
    // picture goes through in many bands, and each would otherwise split the whole plane.
    let lines = g.lines(band.clone());
    let phase_len = bw.div_ceil(sw);
    let phase_plane = lines.len() * phase_len;
    let base = if sw > 1 { lines.start } else { 0 };
    // Per tap j: the patch columns inside the image, and where their run starts in a line of
    // its phase plane.
    let taps: Vec<(Range<usize>, usize)> = (0..kw)
        .map(|j| {
            let across = g.inside(1, j);
            let x0 = across.start * sw + j - pw;
            (across.clone(), (x0 % sw) * phase_plane + x0 / sw)
        })
        .collect();
    img.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(index, dst)| {
            let (b, c) = (index / channels, index % channels);
            let mut split = if sw > 1 {
                vec![0.0f32; sw * phase_plane]
            } else {
                Vec::new()
            };
            let sums: &mut [f32] = if sw > 1 { &mut split } else { dst };
            for i in 0..kh {
                let inside = g.inside(0, i);
                let rows = inside.start.max(band.start)..inside.end.min(band.end);
                for (j, (across, start)) in taps.iter().enumerate() {
                    if across.is_empty() {
                        continue;
                    }
                    let row = &cols[((c * kh + i) * kw + j) * row_len + b * patches..][..patches];
                    for oy in rows.clone() {
                        let y = oy * g.stride[0] + i - g.pad[0];
                        let src = &row[(oy - band.start) * ws..][across.clone()];
                        let out = &mut sums[(y - base) * phase_len + start..][..src.len()];
                        for (o, v) in out.iter_mut().zip(src) {
                            *o += *v;
                        }
                    }
                }
            }
            if sw > 1 {
                for (n, y) in lines.clone().enumerate() {
                    let line = &mut dst[y * bw..][..bw];
                    for (r, phase) in split.chunks_exact(phase_plane).enumerate() {
                        let phase = &phase[n * phase_len..][..phase_len];
                        for (v, p) in line.iter_mut().skip(r).step_by(sw).zip(phase) {
                            *v += *p;
                        }
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_im2col(img: &[f32], c: usize, n: usize, g: &Geometry, band: Range<usize>) -> Vec<f32> {
        let [kh, kw] = g.kernel;
        let (hs, ws) = (band.len(), g.small[1]);
        let mut cols = vec![0.0; c * kh * kw * n * hs * ws];
        let row_len = n * hs * ws;
        for ch in 0..c {
            for i in 0..kh {
                for j in 0..kw {
                    for b in 0..n {
                        for oy in 0..hs {
                            for ox in 0..ws {
                                let y = ((oy + band.start) * g.stride[0] + i) as isize
                                    - g.pad[0] as isize;
                                let x = (ox * g.stride[1] + j) as isize - g.pad[1] as isize;
                                if y >= 0
                                    && x >= 0
                                    && (y as usize) < g.big[0]
                                    && (x as usize) < g.big[1]
                                {
                                    cols[((ch * kh + i) * kw + j) * row_len
                                        + b * hs * ws
                                        + oy * ws
                                        + ox] = img[((b * c + ch) * g.big[0] + y as usize)
                                        * g.big[1]
                                        + x as usize];
                                }
                            }
                        }
                    }
                }
            }
        }
        cols
    }

    fn geometries() -> Vec<Geometry> {
        vec![
            Geometry::conv([9, 7], [5, 5], [2, 2], [(2, 2), (2, 2)]).unwrap(),
            Geometry::conv([6, 5], [3, 3], [1, 1], [(1, 1), (1, 1)]).unwrap(),
            Geometry::conv([5, 8], [3, 2], [2, 3], [(0, 1), (2, 0)]).unwrap(),
            Geometry::transposed([3, 4], [5, 5], [2, 2], [2, 2], [1, 1]).unwrap(),
            Geometry::conv([4, 4], [1, 1], [1, 1], [(0, 0), (0, 0)]).unwrap(),
        ]
    }

    /// The whole grid, and bands of one row and of all but the first and last rows.
    fn bands(g: &Geometry) -> Vec<Range<usize>> {
        let h = g.small[0];
        let mut b = vec![0..h, 0..1, h - 1..h];
        if h > 2 {
            b.push(1..h - 1);
        }
        b
    }

    #[test]
    fn im2col_matches_the_definition() {
        for g in geometries() {
            let (c, n) = (3, 2);
            let img: Vec<f32> = (0..n * c * g.big_len()).map(|v| v as f32 + 1.0).collect();
            for band in bands(&g) {
                let mut cols = vec![f32::NAN; c * g.taps() * n * band.len() * g.small[1]];
                im2col(&img, c, n, &g, band.clone(), &mut cols);
                assert_eq!(
                    cols,
                    naive_im2col(&img, c, n, &g, band.clone()),
                    "{g:?} {band:?}"
                );
            }
        }
    }

    /// ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩ for all x, y: col2im is the exact adjoint.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for g in geometries() {
            let (c, n) = (2, 3);
            let x: Vec<f32> = (0..n * c * g.big_len())
                .map(|v| ((v * 7 % 11) as f32) - 5.0)
                .collect();
            for band in bands(&g) {
                let y: Vec<f32> = (0..c * g.taps() * n * band.len() * g.small[1])
                    .map(|v| ((v * 5 % 13) as f32) - 6.0)
                    .collect();
                let mut cols = vec![0.0; y.len()];
                im2col(&x, c, n, &g, band.clone(), &mut cols);
                let mut back = vec![0.0; x.len()];
                col2im(&y, c, n, &g, band.clone(), &mut back);
                let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| (a * b) as f64).sum();
                let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (a * b) as f64).sum();
                assert_eq!(lhs, rhs, "{g:?} {band:?}");
            }
        }
    }
}
