//! A safe face for `gemm`, the matrix-product crate burn Flex itself uses: strided views, so
//! transposed operands cost nothing, and accumulation into the destination, so a weight
//! gradient sums over chunks of images without a temporary.

use std::sync::atomic::{AtomicU64, Ordering};

/// A read-only matrix over a slice: element `(r, c)` is `data[r·row_stride + c·col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows × cols` matrix at the start of `data`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// `rows × cols` at the start of `data`, rows `row_stride` apart (a band of columns of a
    /// wider row-major matrix).
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        View {
            row_stride,
            ..View::new(data, rows, cols)
        }
    }

    /// The transpose, by swapping strides (no copy).
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Panics unless every element lies inside the slice: this is what makes [`matmul`] sound.
    fn check(&self) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride;
            assert!(last < self.data.len(), "matrix view out of its slice");
        }
    }
}

/// Multiply-adds of every product run so far, for throughput figures (`nic bench`).
static MULTIPLY_ADDS: AtomicU64 = AtomicU64::new(0);

/// The multiply-adds of all matrix products this process has run through [`matmul`]: every
/// convolution pass of this crate, so the difference across a training step is the step's
/// convolution work (on the CPU; other devices run burn's kernels and count nothing here).
pub fn multiply_adds() -> u64 {
    MULTIPLY_ADDS.load(Ordering::Relaxed)
}

/// Products below this many multiply-adds run on the calling thread: splitting them costs more
/// than it saves (the same order as burn Flex's own cut-off).
const PARALLEL_MIN_MACS: usize = 1 << 21;

/// `dst = a · b`, or `dst += a · b` with `accumulate`; `dst` is `a.rows × b.cols`, row-major
/// with rows `dst_row_stride` apart (at least `b.cols`).
pub fn matmul(dst: &mut [f32], dst_row_stride: usize, a: View, b: View, accumulate: bool) {
    assert_eq!(a.cols, b.rows, "inner dimensions");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst_row_stride >= n && (m - 1) * dst_row_stride + n <= dst.len(),
        "destination out of its slice"
    );
    a.check();
    b.check();
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_row_stride..][..n].fill(0.0);
            }
        }
        return;
    }
    MULTIPLY_ADDS.fetch_add((m * n * k) as u64, Ordering::Relaxed);
    let parallelism = if m * n * k >= PARALLEL_MIN_MACS && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the views were checked to lie inside their slices, as was `dst` (m rows of n
    // values, `dst_row_stride` apart), and `dst` (a unique borrow) cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_transposes_and_accumulation() {
        let a: Vec<f32> = (0..6).map(|v| v as f32).collect(); // 2×3
        let b: Vec<f32> = (0..12).map(|v| v as f32 - 4.0).collect(); // 3×4
        let mut want = [0.0f32; 8];
        for r in 0..2 {
            for c in 0..4 {
                want[r * 4 + c] = (0..3).map(|i| a[r * 3 + i] * b[i * 4 + c]).sum();
            }
        }
        let mut dst = vec![f32::NAN; 8];
        matmul(&mut dst, 4, View::new(&a, 2, 3), View::new(&b, 3, 4), false);
        assert_eq!(dst, want);
        // (bᵀ aᵀ)ᵀ = a b, through transposed views; then accumulate a second time.
        let mut t = vec![0.0; 8];
        matmul(
            &mut t,
            2,
            View::new(&b, 3, 4).t(),
            View::new(&a, 2, 3).t(),
            false,
        );
        for r in 0..2 {
            for c in 0..4 {
                assert_eq!(t[c * 2 + r], want[r * 4 + c]);
            }
        }
        matmul(&mut dst, 4, View::new(&a, 2, 3), View::new(&b, 3, 4), true);
        assert_eq!(dst, want.map(|v| 2.0 * v));
        // Columns 1..3 of b into columns 1..3 of a wider destination, the rest untouched.
        let mut wide = [-1.0f32; 2 * 5];
        matmul(
            &mut wide[1..],
            5,
            View::new(&a, 2, 3),
            View::strided(&b[1..], 3, 2, 4),
            false,
        );
        for r in 0..2 {
            assert_eq!(&wide[r * 5 + 1..r * 5 + 3], &want[r * 4 + 1..r * 4 + 3]);
            assert_eq!([wide[r * 5], wide[r * 5 + 3], wide[r * 5 + 4]], [-1.0; 3]);
        }
    }

    #[test]
    #[should_panic(expected = "out of its slice")]
    fn a_view_past_its_slice_is_refused() {
        let a = [0.0f32; 5];
        let mut dst = [0.0f32; 4];
        matmul(&mut dst, 2, View::new(&a, 2, 3), View::new(&a, 3, 2), false);
    }
}
