// Temporary diagnostic: spatial correlation of coded residuals between a non-anchor and its
// four anchor neighbours, per quality.
use nic_codec::Codec;
use nic_model::SavedModel;
use nic_model::burn::tensor::Device;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = SavedModel::load(Path::new(&args[1]), &Device::flex()).unwrap();
    let codec = Codec::new(model, Device::flex()).unwrap();
    let files: Vec<_> = std::fs::read_dir(&args[2])
        .unwrap()
        .map(|e| e.unwrap().path())
        .take(6)
        .collect();
    for q in [2.0, 5.0, 8.0] {
        let c = codec.with_quality(q).unwrap();
        let (mut sxy, mut sxx, mut syy, mut n) = (0.0f64, 0.0, 0.0, 0.0);
        let (mut mxy, mut mxx, mut myy, mut mx, mut my) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
        let mut nz = 0.0;
        for f in &files {
            let img = nic_image::load_rgb8(f).unwrap().image;
            let a = c.analyze(&img).unwrap();
            let l = c.quantize(&a).unwrap();
            let (h, w) = (
                (img.height() as usize).div_ceil(16),
                (img.width() as usize).div_ceil(16),
            );
            for ch in 0..256 {
                let raw = &l.y[ch * h * w..][..h * w];
                let mean = raw.iter().map(|&v| v as f64).sum::<f64>() / (h * w) as f64;
                let centered: Vec<f64> = raw.iter().map(|&v| v as f64 - mean).collect();
                let p = &centered;
                for r in 1..h - 1 {
                    for col in 1..w - 1 {
                        if (r + col) % 2 == 0 {
                            continue;
                        }
                        let v = p[r * w + col];
                        let nb = (p[(r - 1) * w + col]
                            + p[(r + 1) * w + col]
                            + p[r * w + col - 1]
                            + p[r * w + col + 1])
                            / 4.0;
                        let nm = (p[(r - 1) * w + col].abs()
                            + p[(r + 1) * w + col].abs()
                            + p[r * w + col - 1].abs()
                            + p[r * w + col + 1].abs())
                            / 4.0;
                        sxy += v * nb;
                        sxx += v * v;
                        syy += nb * nb;
                        n += 1.0;
                        mxy += v.abs() * nm;
                        mxx += v * v;
                        myy += nm * nm;
                        mx += v.abs();
                        my += nm;
                        if v != 0.0 {
                            nz += 1.0;
                        }
                    }
                }
            }
        }
        let corr = sxy / (sxx * syy).sqrt();
        let (ex, ey) = (mx / n, my / n);
        let cov = mxy / n - ex * ey;
        let vx = mxx / n - ex * ex;
        let vy = myy / n - ey * ey;
        println!(
            "q{q}: residual corr with neighbour mean {corr:.3}; |residual| corr {:.3}; nonzero {:.3}",
            cov / (vx * vy).sqrt(),
            nz / n
        );
    }
}
