//! BD-rate between two RD curves given as `bpp:psnr` lists, with the method `nic compare`
//! uses; for comparing runs that were not measured together (for example two models).
//!
//!     cargo run --release -p nic-metrics --example bd_rate -- \
//!         0.4383:28.24,0.6345:29.50 0.2149:25.94,0.3152:27.47,0.4305:28.81

use nic_metrics::{RdPoint, bd_psnr, bd_rate, quality_overlap};

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
}
