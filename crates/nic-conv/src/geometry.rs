//! The index map shared by a convolution and its transpose.

use std::ops::Range;

/// How a 2-D convolution's kernel relates a *big* image to a *small* grid of patches: patch
/// `(oy, ox)` reads pixel `(oy·stride − pad + i, ox·stride − pad + j)` of the big image for
/// kernel offset `(i, j)`, and zero outside it. A convolution maps big → small; a transposed
/// convolution maps small → big over the same map, which is why one im2col and one col2im
/// serve all six passes (forward, input gradient and weight gradient of both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Kernel height and width.
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Zero rows / columns before the big image's first one.
    pub pad: [usize; 2],
    /// Height and width of the big image.
    pub big: [usize; 2],
    /// Height and width of the patch grid.
    pub small: [usize; 2],
}

impl Geometry {
    /// A convolution of a `big` image with per-side padding `(begin, end)`; `None` when the
    /// padded image is smaller than the kernel or a stride is zero.
    pub fn conv(
        big: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [(usize, usize); 2],
    ) -> Option<Self> {
        let mut small = [0; 2];
        for a in 0..2 {
            let padded = big[a] + padding[a].0 + padding[a].1;
            if stride[a] == 0 || kernel[a] == 0 || padded < kernel[a] {
                return None;
            }
            small[a] = (padded - kernel[a]) / stride[a] + 1;
        }
        Some(Geometry {
            kernel,
            stride,
            pad: [padding[0].0, padding[1].0],
            big,
            small,
        })
    }

    /// A transposed convolution of a `small` input (PyTorch's and burn's convention: output
    /// side `(small − 1)·stride − 2·pad + kernel + out_pad`); `None` if that is not positive.
    pub fn transposed(
        small: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 2],
        out_pad: [usize; 2],
    ) -> Option<Self> {
        let mut big = [0; 2];
        for a in 0..2 {
            if stride[a] == 0 || kernel[a] == 0 || small[a] == 0 {
                return None;
            }
            let full = (small[a] - 1) * stride[a] + kernel[a] + out_pad[a];
            big[a] = full.checked_sub(2 * pad[a]).filter(|&b| b > 0)?;
        }
        Some(Geometry {
            kernel,
            stride,
            pad,
            big,
            small,
        })
    }

    /// Kernel taps, kh·kw.
    pub fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Pixels of the big image.
    pub fn big_len(&self) -> usize {
        self.big[0] * self.big[1]
    }

    /// Patches of the small grid.
    pub fn small_len(&self) -> usize {
        self.small[0] * self.small[1]
    }

    /// The big image's lines that the patch rows `band` touch (read by im2col, written by
    /// col2im).
    pub fn lines(&self, band: Range<usize>) -> Range<usize> {
        let [s, p, k] = [self.stride[0], self.pad[0], self.kernel[0]];
        (band.start * s).saturating_sub(p)
            ..(band.end * s + k).saturating_sub(p + s).min(self.big[0])
    }

    /// The patch positions along `axis` (0 rows, 1 columns) whose kernel offset `tap` falls
    /// inside the big image: `o` with `0 ≤ o·stride + tap − pad < big`. Computed once per row
    /// so the copy loops have no bounds tests.
    pub fn inside(&self, axis: usize, tap: usize) -> Range<usize> {
        let (s, p, big, small) = (
            self.stride[axis],
            self.pad[axis],
            self.big[axis],
            self.small[axis],
        );
        let lo = if tap >= p { 0 } else { (p - tap).div_ceil(s) };
        let hi = if big + p > tap {
            (big + p - tap).div_ceil(s).min(small)
        } else {
            0
        };
        lo.min(hi)..hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_burn_and_pytorch() {
        let g = Geometry::conv([256, 255], [5, 5], [2, 2], [(2, 2), (2, 2)]).unwrap();
        assert_eq!(g.small, [128, 128]);
        let g = Geometry::conv([16, 16], [3, 3], [1, 1], [(1, 1), (1, 1)]).unwrap();
        assert_eq!(g.small, [16, 16]);
        let t = Geometry::transposed([16, 7], [5, 5], [2, 2], [2, 2], [1, 1]).unwrap();
        assert_eq!(t.big, [32, 14]);
        assert!(Geometry::conv([2, 2], [5, 5], [1, 1], [(0, 0), (0, 0)]).is_none());
    }

    #[test]
    fn lines_are_exactly_those_a_band_touches() {
        for (big, k, s, p) in [(9, 5, 2, 2), (16, 3, 1, 1), (8, 5, 2, 0), (3, 5, 2, 2)] {
            let g = Geometry::conv([big, 4], [k, 1], [s, 1], [(p, p), (0, 0)]).unwrap();
            for start in 0..g.small[0] {
                for end in start + 1..=g.small[0] {
                    let touched: Vec<usize> = (start..end)
                        .flat_map(|oy| (0..k).map(move |i| (oy * s + i) as isize - p as isize))
                        .filter(|&y| y >= 0 && y < big as isize)
                        .map(|y| y as usize)
                        .collect();
                    let lo = *touched.iter().min().unwrap();
                    let hi = *touched.iter().max().unwrap() + 1;
                    assert_eq!(g.lines(start..end), lo..hi, "{g:?} {start}..{end}");
                }
            }
        }
    }

    #[test]
    fn inside_is_exactly_the_in_bounds_positions() {
        for (big, k, s, p) in [
            (7, 5, 2, 2),
            (16, 3, 1, 1),
            (5, 5, 2, 0),
            (1, 5, 2, 2),
            (9, 1, 3, 0),
        ] {
            let Some(g) = Geometry::conv([big, big], [k, k], [s, s], [(p, p), (p, p)]) else {
                continue;
            };
            for tap in 0..k {
                let want: Vec<usize> = (0..g.small[1])
                    .filter(|&o| {
                        let x = (o * s + tap) as isize - p as isize;
                        x >= 0 && x < big as isize
                    })
                    .collect();
                let got: Vec<usize> = g.inside(1, tap).collect();
                assert_eq!(got, want, "big {big} k {k} s {s} p {p} tap {tap}");
            }
        }
    }
}
