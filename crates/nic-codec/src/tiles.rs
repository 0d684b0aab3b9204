//! Splitting the latent grid into tiles, so that a large picture goes through the transforms
//! in pieces and memory stays bounded whatever its size.
//!
//! Each tile is computed on a region extended by [`MARGIN`] latents on every side (where the
//! picture goes on), and only its inner part is kept. The margin covers the receptive field of
//! both transforms: a latent depends on the pixels within ±30 of its centre (four 5×5, stride-2
//! layers: 2 + 2·(2 + 2·(2 + 2·2)) = 30), and a pixel on the latents within ±30/16 < 2 of its
//! own. So a tiled result is the untiled one exactly, up to floating-point summation order,
//! and there are no seams.

use std::ops::Range;

/// Latents of context on each side of a tile (32 pixels).
pub const MARGIN: usize = 2;

/// Default tile side, in latents (1024 pixels): large enough that the margins cost little
/// (13 % more work), small enough that a tile's activations stay well under 1 GiB.
pub const DEFAULT_TILE: usize = 64;

/// One tile of the latent grid: the rows and columns it produces, and the extended rows and
/// columns it is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub rows: Range<usize>,
    pub cols: Range<usize>,
    pub ext_rows: Range<usize>,
    pub ext_cols: Range<usize>,
}

impl Tile {
    /// Where the tile's own rows and columns start inside the extended region.
    pub fn offset(&self) -> (usize, usize) {
        (
            self.rows.start - self.ext_rows.start,
            self.cols.start - self.ext_cols.start,
        )
    }
}

/// Tiles of at most `size × size` latents covering a `height × width` grid, row by row. A grid
/// that fits in one tile is one tile with no margin (the whole picture at once).
pub fn tiles(height: usize, width: usize, size: usize) -> Vec<Tile> {
    tiles_with_margin(height, width, size, MARGIN)
}

/// [`tiles`] with `margin` cells of context instead of [`MARGIN`] latents (for a grid of
/// other cells, as the refinement's blocks of 4 × 4 latents).
pub fn tiles_with_margin(height: usize, width: usize, size: usize, margin: usize) -> Vec<Tile> {
    let size = size.max(1);
    let spans = |n: usize| -> Vec<(Range<usize>, Range<usize>)> {
        (0..n.div_ceil(size))
            .map(|i| {
                let r = i * size..((i + 1) * size).min(n);
                let ext = r.start.saturating_sub(margin)..(r.end + margin).min(n);
                (r, ext)
            })
            .collect()
    };
    let (rows, cols) = (spans(height), spans(width));
    rows.iter()
        .flat_map(|(r, er)| {
            cols.iter().map(move |(c, ec)| Tile {
                rows: r.clone(),
                cols: c.clone(),
                ext_rows: er.clone(),
                ext_cols: ec.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_grid_once_with_margins_inside_it() {
        for (h, w, size) in [
            (1, 1, 64),
            (128, 192, 64),
            (7, 13, 4),
            (5, 5, 1),
            (64, 65, 64),
        ] {
            let mut seen = vec![0; h * w];
            for t in tiles(h, w, size) {
                assert!(t.rows.len() <= size && t.cols.len() <= size);
                assert!(t.ext_rows.start <= t.rows.start && t.rows.end <= t.ext_rows.end);
                assert!(t.ext_rows.end <= h && t.ext_cols.end <= w);
                let (top, left) = t.offset();
                assert!(top == MARGIN || t.ext_rows.start == 0);
                assert!(left == MARGIN || t.ext_cols.start == 0);
                assert!(t.ext_rows.end - t.rows.end == MARGIN || t.ext_rows.end == h);
                for r in t.rows.clone() {
                    for c in t.cols.clone() {
                        seen[r * w + c] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{h}x{w}/{size}");
        }
    }

    #[test]
    fn a_small_grid_is_one_tile_without_margin() {
        assert_eq!(
            tiles(32, 48, 64),
            vec![Tile {
                rows: 0..32,
                cols: 0..48,
                ext_rows: 0..32,
                ext_cols: 0..48
            }]
        );
    }
}
