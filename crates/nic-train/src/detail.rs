//! The start of new detail latents (`--detail-channels` above what `--init` has): the
//! principal components of what the trained model leaves out.
//!
//! A trained model's transforms reconstruct each picture up to a residue (their ceiling: on
//! the default, as good as the block PCA with as many latents, and no better). Detail latents
//! are linear in each 16×16 block (nic_model's `transforms`), so the best start for K of them
//! is the K principal directions of the residue's blocks: from the first step they carry the
//! most of it that K linear values per block can, and training goes on from there. A model
//! that has detail latents already leaves less: the new ones start as the principal
//! directions of what its transforms *and* its detail latents leave out, unquantized.

use nic_data::Sampler;
use nic_model::burn::tensor::{Device, Tensor, TensorData};
use nic_model::{BLOCK_VALUES, Compressor};

/// Training batches the residue is gathered from (each `batch × (crop / 16)²` blocks; the
/// photo campaign's 8 × 256² gives 32,768 blocks, 40 per value of a block).
const BATCHES: u64 = 16;

/// Rounds of the subspace iteration: the leading directions of a residue's covariance settle
/// within a few dozen; the start only has to be close.
const ROUNDS: usize = 60;

/// Where detail latents start (`Analysis::set_detail_basis` of the widened model).
#[derive(Debug, Clone)]
pub(crate) struct DetailStart {
    /// K rows of [`BLOCK_VALUES`], orthonormal: the residue's leading principal directions.
    pub(crate) basis: Vec<f32>,
    pub(crate) scale: f32,
    /// The share of the residue's energy the basis holds (on the blocks it was fitted on).
    pub(crate) share: f64,
}

/// The start of `channels` new detail latents for `model` (after those it has), fitted on
/// batches of `sampler`.
///
/// The scale sets how finely the detail latents are quantized: at the top rate level (its mean
/// gain, `top_gain`) one step is √12 times the residue's RMS error, so that quantizing a
/// latent costs about what leaving it out would (a step's error is a twelfth of its square):
/// the trained latents' own balance at that level, where training starts the trade.
pub(crate) fn fit_detail(
    model: &Compressor,
    sampler: &Sampler,
    device: &Device,
    channels: usize,
    top_gain: f32,
) -> DetailStart {
    let mut cov = vec![0.0f64; BLOCK_VALUES * BLOCK_VALUES];
    let (mut sum_sq, mut values) = (0.0f64, 0usize);
    for b in 0..BATCHES {
        let shape = [sampler.batch, 3, sampler.crop, sampler.crop];
        let x = Tensor::<4>::from_data(TensorData::new(sampler.batch_at(b), shape), device);
        let residue = x.clone() - model.synthesis.forward(model.analyze(x));
        let blocks = blocks(residue);
        let c = blocks.clone().transpose().matmul(blocks.clone());
        let c: Vec<f32> = c.into_data().try_into_vec().expect("f32 values");
        for (a, v) in cov.iter_mut().zip(c) {
            *a += v as f64;
        }
        let sq: Vec<f32> = blocks
            .square()
            .sum()
            .into_data()
            .try_into_vec()
            .expect("f32");
        sum_sq += sq[0] as f64;
        values += shape.iter().product::<usize>();
    }
    let basis = principal_directions(&cov, BLOCK_VALUES, channels, ROUNDS);
    let captured: f64 = basis
        .chunks_exact(BLOCK_VALUES)
        .map(|u| dot(u, &times(&cov, u, BLOCK_VALUES)))
        .sum();
    let trace: f64 = (0..BLOCK_VALUES).map(|i| cov[i * BLOCK_VALUES + i]).sum();
    let rms = (sum_sq / values as f64).sqrt() as f32;
    DetailStart {
        basis: basis.iter().map(|&v| v as f32).collect(),
        scale: 1.0 / (12f32.sqrt() * rms * top_gain),
        share: captured / trace.max(f64::MIN_POSITIVE),
    }
}

/// `[b, 3, h, w]` → `[b·(h/16)·(w/16), 768]`: one row per 16×16 block, channel-major.
fn blocks(x: Tensor<4>) -> Tensor<2> {
    const S: usize = nic_model::Architecture::STRIDE;
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h / S, S, w / S, S])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([b * (h / S) * (w / S), c * S * S])
}

/// The `k` leading eigenvectors (rows, orthonormal, by decreasing eigenvalue) of the symmetric
/// `n × n` matrix `a`, by subspace iteration from a fixed start and a final Rayleigh–Ritz step.
fn principal_directions(a: &[f64], n: usize, k: usize, rounds: usize) -> Vec<f64> {
    assert!(k <= n && a.len() == n * n);
    // A start with a part along every direction: rows of a fixed pseudo-random matrix.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut q: Vec<f64> = (0..k * n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect();
    orthonormalize(&mut q, n);
    for _ in 0..rounds {
        q = times(a, &q, n);
        orthonormalize(&mut q, n);
    }
    // Rayleigh–Ritz: the eigenvectors of qᵀ a q (k × k) turn q into eigenvector estimates.
    let aq = times(a, &q, n);
    let mut small = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            small[i * k + j] = dot(&q[i * n..][..n], &aq[j * n..][..n]);
        }
    }
    let (values, vectors) = jacobi(small, k);
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
    let mut out = vec![0.0; k * n];
    for (row, &e) in order.iter().enumerate() {
        for i in 0..k {
            let c = vectors[i * k + e];
            for (o, v) in out[row * n..][..n].iter_mut().zip(&q[i * n..][..n]) {
                *o += c * v;
            }
        }
    }
    out
}

/// The rows of `q` (each of `n`) times the symmetric `a`.
fn times(a: &[f64], q: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; q.len()];
    for (o, row) in out.chunks_exact_mut(n).zip(q.chunks_exact(n)) {
        for (i, &r) in row.iter().enumerate() {
            if r != 0.0 {
                for (v, &x) in o.iter_mut().zip(&a[i * n..][..n]) {
                    *v += r * x;
                }
            }
        }
    }
    out
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Gram–Schmidt (twice, for accuracy) on the rows of `q`, each of `n`.
fn orthonormalize(q: &mut [f64], n: usize) {
    let k = q.len() / n;
    for i in 0..k {
        for _ in 0..2 {
            for j in 0..i {
                let (done, rest) = q.split_at_mut(i * n);
                let p = dot(&done[j * n..][..n], &rest[..n]);
                for (v, &u) in rest[..n].iter_mut().zip(&done[j * n..][..n]) {
                    *v -= p * u;
                }
            }
        }
        let row = &mut q[i * n..][..n];
        let norm = dot(row, row).sqrt().max(f64::MIN_POSITIVE);
        row.iter_mut().for_each(|v| *v /= norm);
    }
}

/// Eigenvalues and eigenvectors (columns of the returned `k × k`) of a symmetric matrix, by
/// cyclic Jacobi rotations.
fn jacobi(mut a: Vec<f64>, k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; k * k];
    (0..k).for_each(|i| v[i * k + i] = 1.0);
    for _ in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j] * a[i * k + j])
            .sum();
        let diag: f64 = (0..k).map(|i| a[i * k + i] * a[i * k + i]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..k {
            for r in p + 1..k {
                let apr = a[p * k + r];
                if apr == 0.0 {
                    continue;
                }
                let theta = (a[r * k + r] - a[p * k + p]) / (2.0 * apr);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for i in 0..k {
                    let (aip, air) = (a[i * k + p], a[i * k + r]);
                    a[i * k + p] = c * aip - s * air;
                    a[i * k + r] = s * aip + c * air;
                }
                for i in 0..k {
                    let (api, ari) = (a[p * k + i], a[r * k + i]);
                    a[p * k + i] = c * api - s * ari;
                    a[r * k + i] = s * api + c * ari;
                }
                for i in 0..k {
                    let (vip, vir) = (v[i * k + p], v[i * k + r]);
                    v[i * k + p] = c * vip - s * vir;
                    v[i * k + r] = s * vip + c * vir;
                }
            }
        }
    }
    ((0..k).map(|i| a[i * k + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Σ λᵢ uᵢ uᵢᵀ` for orthonormal `u` (rows of a rotation of the axes).
    fn with_spectrum(values: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut u = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                u[i * n + j] =
                    ((i * 7 + j * 3) as f64 * 0.37).sin() + if i == j { 2.0 } else { 0.0 };
            }
        }
        orthonormalize(&mut u, n);
        let mut a = vec![0.0; n * n];
        for (e, &l) in values.iter().enumerate() {
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] += l * u[e * n + i] * u[e * n + j];
                }
            }
        }
        (a, u)
    }

    #[test]
    fn finds_the_leading_eigenvectors_in_order() {
        let n = 12;
        let values: Vec<f64> = (0..n).map(|i| 100.0 * 0.5f64.powi(i as i32)).collect();
        let (a, u) = with_spectrum(&values, n);
        let got = principal_directions(&a, n, 4, 200);
        for e in 0..4 {
            let row = &got[e * n..][..n];
            assert!((dot(row, row) - 1.0).abs() < 1e-9);
            // The same direction up to sign.
            let along = dot(row, &u[e * n..][..n]).abs();
            assert!(along > 1.0 - 1e-6, "eigenvector {e}: {along}");
        }
    }

    #[test]
    fn jacobi_diagonalizes_a_symmetric_matrix() {
        let a = vec![4.0, 1.0, 2.0, 1.0, 3.0, 0.5, 2.0, 0.5, 1.0];
        let (values, v) = jacobi(a.clone(), 3);
        for e in 0..3 {
            for i in 0..3 {
                let av: f64 = (0..3).map(|j| a[i * 3 + j] * v[j * 3 + e]).sum();
                assert!((av - values[e] * v[i * 3 + e]).abs() < 1e-9);
            }
        }
    }
}
