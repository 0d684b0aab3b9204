//! BD-rate between two RD curves given as `bpp:psnr` lists, with the method `nic compare`
//! uses; for comparing runs that were not measured together (for example two models). Then,
//! at each anchor point inside the test curve's PSNR range, the test's rate at that PSNR (the
//! same interpolation of log-rate over PSNR) and its difference: where along the curve the
//! average comes from.
//!
//!     cargo run --release -p nic-metrics --example bd_rate -- \
//!         0.4383:28.24,0.6345:29.50 0.2149:25.94,0.3152:27.47,0.4305:28.81

use nic_metrics::{Pchip, RdPoint, bd_psnr, bd_rate, quality_overlap};

fn curve(arg: &str) -> Result<Vec<RdPoint>, String> {
    arg.split(',')
        .map(|p| {
            let (r, q) = p.split_once(':').ok_or(format!("{p}: expected bpp:psnr"))?;
            let num = |s: &str| s.trim().parse::<f64>().map_err(|e| format!("{s}: {e}"));
            Ok(RdPoint {
                rate: num(r)?,
                quality: num(q)?,
            })
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [anchor, test] = args.as_slice() else {
        eprintln!("usage: bd_rate ANCHOR TEST   (each: bpp:psnr,bpp:psnr,...)");
        std::process::exit(2);
    };
    let (anchor, test) = match (curve(anchor), curve(test)) {
        (Ok(a), Ok(t)) => (a, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let show = |v: Option<f64>, unit: &str| v.map_or("–".into(), |v| format!("{v:+.2} {unit}"));
    println!("BD-rate {}", show(bd_rate(&anchor, &test), "%"));
    println!("BD-PSNR {}", show(bd_psnr(&anchor, &test), "dB"));
    println!(
        "PSNR overlap {:.0} %",
        100.0 * quality_overlap(&anchor, &test)
    );
    let log_rate: Vec<(f64, f64)> = test
        .iter()
        .filter(|p| p.rate > 0.0)
        .map(|p| (p.quality, p.rate.log10()))
        .collect();
    let Some(curve) = Pchip::new(&log_rate) else {
        return;
    };
    for p in &anchor {
        if (curve.x_min()..=curve.x_max()).contains(&p.quality) {
            let rate = 10f64.powf(curve.eval(p.quality));
            let change = 100.0 * (rate / p.rate - 1.0);
            println!(
                "at {:.2} dB: {:.4} → {rate:.4} bpp ({change:+.1} %)",
                p.quality, p.rate
            );
        }
    }
}
