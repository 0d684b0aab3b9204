//! Condensing the measurements: means per quality point (CompressAI's convention: mean bpp and
//! mean per-image PSNR over the images), Bjøntegaard deltas against the anchor, PSNR at fixed
//! rates, the file size each baseline needs to reach nic's quality, and nic's rate breakdown.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use nic_baselines::LosslessCodec;
use nic_metrics::{Pchip, RdPoint, bd_psnr, bd_rate, quality_overlap};
use serde::Serialize;

use crate::measure::Measurement;
use crate::subjects::Subject;

/// Overlap of PSNR ranges below which BD figures are flagged.
pub const MIN_OVERLAP: f64 = 0.75;

/// Rates at which every codec's PSNR is interpolated.
pub const REFERENCE_BPPS: [f64; 3] = [0.25, 0.5, 1.0];

/// Means over the images at one quality setting of one codec.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    pub quality: u8,
    pub images: usize,
    pub bpp: f64,
    pub psnr: f64,
    pub ms_ssim: Option<f64>,
    /// −10·log10(1 − MS-SSIM), the scale RD plots use.
    pub ms_ssim_db: Option<f64>,
    /// Total raw RGB bytes over total file bytes.
    pub ratio_raw: f64,
    /// Total PNG bytes over total file bytes.
    pub ratio_png: f64,
    pub encode_seconds: f64,
    pub decode_seconds: f64,
}

/// PSNR interpolated at a fixed rate (`None` outside the codec's measured range).
#[derive(Clone, Debug, Serialize)]
pub struct PsnrAt {
    pub bpp: f64,
    pub psnr: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CodecSummary {
    pub name: String,
    pub description: String,
    pub points: Vec<Point>,
    /// BD-rate in % against the anchor on the PSNR curves (negative: fewer bits).
    pub bd_rate: Option<f64>,
    /// BD-PSNR in dB against the anchor.
    pub bd_psnr: Option<f64>,
    /// BD-rate in % against the anchor on the MS-SSIM (dB) curves.
    pub bd_rate_ms_ssim: Option<f64>,
    /// Share of the shorter PSNR range (this curve's or the anchor's) that both cover (0–1);
    /// BD figures from an overlap under [`MIN_OVERLAP`] are flagged in reports.
    pub bd_overlap: Option<f64>,
    pub psnr_at: Vec<PsnrAt>,
}

/// The size another codec needs to reach the PSNR of one nic file, summed over the images
/// where its quality sweep covers that PSNR.
#[derive(Clone, Debug, Serialize)]
pub struct Versus {
    pub codec: String,
    /// Images whose sweep covers nic's PSNR (the others are left out of both sums).
    pub images: usize,
    pub nic_bytes: f64,
    pub codec_bytes: f64,
    /// `codec_bytes / nic_bytes`: above 1, nic files are that many times smaller.
    pub ratio: f64,
}

/// For one nic quality: what each baseline needs for the same PSNR, image by image.
#[derive(Clone, Debug, Serialize)]
pub struct EqualPsnr {
    pub nic_quality: u8,
    pub psnr: f64,
    pub bpp: f64,
    pub images: usize,
    pub versus: Vec<Versus>,
}

impl EqualPsnr {
    /// The answer in words, against `codec`.
    pub fn sentence(&self, codec: &str) -> Option<String> {
        let v = self.versus.iter().find(|v| v.codec == codec)?;
        // Under a factor of 2, a percentage reads better than "1.01× smaller".
        let (factor, word) = if v.ratio >= 1.0 {
            (v.ratio, "smaller")
        } else {
            (1.0 / v.ratio, "larger")
        };
        let amount = if factor >= 2.0 {
            format!("{factor:.2}×")
        } else if word == "smaller" {
            format!("{:.0} %", 100.0 * (1.0 - 1.0 / factor))
        } else {
            format!("{:.0} %", 100.0 * (factor - 1.0))
        };
        let coverage = if v.images == self.images {
            String::new()
        } else {
            format!(" ({} of {} images in range)", v.images, self.images)
        };
        Some(format!(
            "at {:.2} dB (nic quality {}), nic files are {amount} {word} than {codec}'s{coverage}",
            self.psnr, self.nic_quality
        ))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LosslessSummary {
    pub name: String,
    pub description: String,
    pub images: usize,
    pub ratio_raw: f64,
    pub bpp: f64,
    pub encode_seconds: f64,
    pub decode_seconds: f64,
}

/// Where nic's bytes go at one quality, means per image.
#[derive(Clone, Debug, Serialize)]
pub struct NicRate {
    pub quality: u8,
    pub file_bytes: f64,
    pub container_bytes: f64,
    pub tensor_bytes: Vec<f64>,
    /// What an ideal entropy coder would spend on the same latents under the model's prior.
    pub ideal_bytes: f64,
    /// Coded latent bytes over ideal bytes, minus one, in %.
    pub coder_overhead_percent: f64,
}

/// What was run, where, and how long it took.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunInfo {
    pub data: String,
    pub images: usize,
    pub command: String,
    /// Seconds from the start to the end of the measurements (in `summary.json`), or to the
    /// last file written (in the printed summary).
    pub wall_seconds: f64,
    pub threads: usize,
    pub cpu: String,
    pub nic_version: String,
}

impl RunInfo {
    pub fn new(data: &Path, images: usize, command: &str, wall_seconds: f64) -> RunInfo {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        RunInfo {
            data: data.display().to_string(),
            images,
            command: command.to_string(),
            wall_seconds,
            threads: rayon::current_num_threads(),
            cpu,
            nic_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub anchor: String,
    pub codecs: Vec<CodecSummary>,
    pub equal_psnr: Vec<EqualPsnr>,
    pub lossless: Vec<LosslessSummary>,
    pub nic_rate: Vec<NicRate>,
    /// What a higher encoder effort gained over effort 0 in this run (`--effort`).
    pub effort: Option<EffortGain>,
    /// How MS-SSIM was computed, including what happens with small images.
    pub ms_ssim_method: String,
    pub run: RunInfo,
}

/// nic at an encoder effort above 0 against effort 0, on the same pictures and qualities.
#[derive(Clone, Debug, Serialize)]
pub struct EffortGain {
    pub codec: String,
    /// BD-rate in % against effort 0 on the PSNR curves (negative: fewer bits).
    pub bd_rate: Option<f64>,
    pub bd_psnr: Option<f64>,
    /// Mean encode time per picture and quality, at effort 0 and at this effort (seconds).
    pub encode_seconds: f64,
    pub base_encode_seconds: f64,
    pub decode_seconds: f64,
    pub base_decode_seconds: f64,
}

impl Summary {
    pub fn codec(&self, name: &str) -> Option<&CodecSummary> {
        self.codecs.iter().find(|c| c.name == name)
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

fn ms_ssim_db(v: f64) -> f64 {
    -10.0 * (1.0 - v).max(1e-10).log10()
}

/// Means per quality point of one codec's measurements.
fn points(rows: &[&Measurement]) -> Vec<Point> {
    let mut by_quality: BTreeMap<u8, Vec<&Measurement>> = BTreeMap::new();
    for r in rows {
        by_quality
            .entry(r.quality.unwrap_or(0))
            .or_default()
            .push(r);
    }
    by_quality
        .into_iter()
        .map(|(quality, rs)| {
            let ms: Vec<f64> = rs.iter().filter_map(|r| r.ms_ssim).collect();
            let ms_ssim = (ms.len() == rs.len()).then(|| mean(ms.into_iter()));
            let bytes: f64 = rs.iter().map(|r| r.bytes as f64).sum();
            Point {
                quality,
                images: rs.len(),
                bpp: mean(rs.iter().map(|r| r.bpp)),
                psnr: mean(rs.iter().map(|r| r.finite_psnr().unwrap_or(f64::NAN))),
                ms_ssim,
                ms_ssim_db: ms_ssim.map(ms_ssim_db),
                ratio_raw: rs.iter().map(|r| r.ratio_raw * r.bytes as f64).sum::<f64>() / bytes,
                ratio_png: rs.iter().map(|r| r.ratio_png * r.bytes as f64).sum::<f64>() / bytes,
                encode_seconds: mean(rs.iter().map(|r| r.encode_seconds)),
                decode_seconds: mean(rs.iter().map(|r| r.decode_seconds)),
            }
        })
        .collect()
}

fn psnr_curve(points: &[Point]) -> Vec<RdPoint> {
    points
        .iter()
        .map(|p| RdPoint {
            rate: p.bpp,
            quality: p.psnr,
        })
        .collect()
}

fn ms_ssim_curve(points: &[Point]) -> Option<Vec<RdPoint>> {
    points
        .iter()
        .map(|p| {
            p.ms_ssim_db.map(|q| RdPoint {
                rate: p.bpp,
                quality: q,
            })
        })
        .collect()
}

/// PSNR at `bpp`, interpolated over log-rate like BD-PSNR; `None` outside the measured range.
fn psnr_at(points: &[Point], bpp: f64) -> Option<f64> {
    let curve: Vec<(f64, f64)> = points.iter().map(|p| (p.bpp.log10(), p.psnr)).collect();
    let f = Pchip::new(&curve)?;
    let x = bpp.log10();
    (x >= f.x_min() && x <= f.x_max()).then(|| f.eval(x))
}

/// Builds the summary; `anchor` is the codec BD-rates are measured against.
pub fn summarize(
    measurements: &[Measurement],
    subjects: &[Box<dyn Subject>],
    lossless: &[Box<dyn LosslessCodec>],
    anchor: &str,
) -> Summary {
    let rows_of = |name: &str| -> Vec<&Measurement> {
        measurements.iter().filter(|m| m.codec == name).collect()
    };
    let mut codecs: Vec<CodecSummary> = subjects
        .iter()
        .map(|s| {
            let points = points(&rows_of(s.name()));
            let psnr_at = REFERENCE_BPPS
                .iter()
                .map(|&bpp| PsnrAt {
                    bpp,
                    psnr: psnr_at(&points, bpp),
                })
                .collect();
            CodecSummary {
                name: s.name().to_string(),
                description: s.description(),
                points,
                bd_rate: None,
                bd_psnr: None,
                bd_rate_ms_ssim: None,
                bd_overlap: None,
                psnr_at,
            }
        })
        .collect();
    if let Some(anchor_points) = codecs
        .iter()
        .find(|c| c.name == anchor)
        .map(|c| c.points.clone())
    {
        let anchor_psnr = psnr_curve(&anchor_points);
        let anchor_ms = ms_ssim_curve(&anchor_points);
        for c in &mut codecs {
            let test = psnr_curve(&c.points);
            c.bd_rate = bd_rate(&anchor_psnr, &test);
            c.bd_psnr = bd_psnr(&anchor_psnr, &test);
            c.bd_overlap = Some(quality_overlap(&anchor_psnr, &test));
            c.bd_rate_ms_ssim = match (&anchor_ms, ms_ssim_curve(&c.points)) {
                (Some(a), Some(t)) => bd_rate(a, &t),
                _ => None,
            };
        }
    }
    let effort = effort_gain(&codecs);
    Summary {
        effort,
        anchor: anchor.to_string(),
        equal_psnr: equal_psnr(measurements, subjects),
        lossless: lossless
            .iter()
            .map(|l| lossless_summary(l.as_ref(), &rows_of(l.name())))
            .collect(),
        nic_rate: nic_rate(&rows_of("nic")),
        codecs,
        ms_ssim_method: "RGB MS-SSIM as pytorch_msssim computes it (11-tap Gaussian, σ 1.5, \
                         5 scales with the standard weights, mean over channels); images under \
                         161 pixels a side use the scales that fit (2 for 32×32), weights \
                         renormalized"
            .into(),
        run: RunInfo::default(),
    }
}

/// nic at a higher effort against nic at effort 0, if both ran.
fn effort_gain(codecs: &[CodecSummary]) -> Option<EffortGain> {
    let base = codecs.iter().find(|c| c.name == "nic")?;
    let refined = codecs.iter().find(|c| c.name.starts_with("nic-effort-"))?;
    let (b, r) = (psnr_curve(&base.points), psnr_curve(&refined.points));
    let seconds = |c: &CodecSummary, f: fn(&Point) -> f64| mean(c.points.iter().map(f));
    Some(EffortGain {
        codec: refined.name.clone(),
        bd_rate: bd_rate(&b, &r),
        bd_psnr: bd_psnr(&b, &r),
        encode_seconds: seconds(refined, |p| p.encode_seconds),
        base_encode_seconds: seconds(base, |p| p.encode_seconds),
        decode_seconds: seconds(refined, |p| p.decode_seconds),
        base_decode_seconds: seconds(base, |p| p.decode_seconds),
    })
}

/// Image by image: the size each baseline needs to reach the PSNR of each nic file,
/// interpolated over that image's quality sweep (log-bytes against PSNR, PCHIP).
fn equal_psnr(measurements: &[Measurement], subjects: &[Box<dyn Subject>]) -> Vec<EqualPsnr> {
    let mut sweeps: HashMap<(&str, &str), Vec<(f64, f64)>> = HashMap::new();
    for m in measurements.iter().filter(|m| m.codec != "nic") {
        if let Some(psnr) = m.finite_psnr() {
            sweeps
                .entry((m.codec.as_str(), m.image.as_str()))
                .or_default()
                .push((psnr, (m.bytes as f64).log10()));
        }
    }
    let interpolants: HashMap<(&str, &str), Pchip> = sweeps
        .into_iter()
        .filter_map(|(k, pts)| Pchip::new(&pts).map(|f| (k, f)))
        .collect();
    let nic: Vec<&Measurement> = measurements.iter().filter(|m| m.codec == "nic").collect();
    let baselines: Vec<&str> = subjects
        .iter()
        .map(|s| s.name())
        .filter(|&n| n != "nic")
        .collect();
    points(&nic)
        .into_iter()
        .map(|p| {
            let files: Vec<&&Measurement> = nic
                .iter()
                .filter(|m| m.quality == Some(p.quality))
                .collect();
            let versus = baselines
                .iter()
                .map(|&codec| {
                    let (mut images, mut nic_bytes, mut codec_bytes) = (0, 0.0, 0.0);
                    for m in &files {
                        let (Some(f), Some(psnr)) = (
                            interpolants.get(&(codec, m.image.as_str())),
                            m.finite_psnr(),
                        ) else {
                            continue;
                        };
                        if psnr >= f.x_min() && psnr <= f.x_max() {
                            images += 1;
                            nic_bytes += m.bytes as f64;
                            codec_bytes += 10f64.powf(f.eval(psnr));
                        }
                    }
                    Versus {
                        codec: codec.to_string(),
                        images,
                        nic_bytes,
                        codec_bytes,
                        ratio: codec_bytes / nic_bytes,
                    }
                })
                .filter(|v| v.images > 0)
                .collect();
            EqualPsnr {
                nic_quality: p.quality,
                psnr: p.psnr,
                bpp: p.bpp,
                images: files.len(),
                versus,
            }
        })
        .collect()
}

fn lossless_summary(codec: &dyn LosslessCodec, rows: &[&Measurement]) -> LosslessSummary {
    let bytes: f64 = rows.iter().map(|r| r.bytes as f64).sum();
    let raw: f64 = rows.iter().map(|r| r.ratio_raw * r.bytes as f64).sum();
    let pixels: f64 = rows.iter().map(|r| r.width as f64 * r.height as f64).sum();
    LosslessSummary {
        name: codec.name().to_string(),
        description: codec.description(),
        images: rows.len(),
        ratio_raw: raw / bytes,
        bpp: 8.0 * bytes / pixels,
        encode_seconds: mean(rows.iter().map(|r| r.encode_seconds)),
        decode_seconds: mean(rows.iter().map(|r| r.decode_seconds)),
    }
}

fn nic_rate(rows: &[&Measurement]) -> Vec<NicRate> {
    let mut by_quality: BTreeMap<u8, Vec<(&Measurement, &crate::subjects::RateBreakdown)>> =
        BTreeMap::new();
    for r in rows {
        if let (Some(q), Some(b)) = (r.quality, &r.breakdown) {
            by_quality.entry(q).or_default().push((r, b));
        }
    }
    by_quality
        .into_iter()
        .map(|(quality, rs)| {
            let n = rs.len() as f64;
            let tensors = rs
                .iter()
                .map(|(_, b)| b.tensor_bytes.len())
                .max()
                .unwrap_or(0);
            let tensor_bytes: Vec<f64> = (0..tensors)
                .map(|t| {
                    rs.iter()
                        .map(|(_, b)| b.tensor_bytes.get(t).copied().unwrap_or(0) as f64)
                        .sum::<f64>()
                        / n
                })
                .collect();
            let ideal_bytes = rs.iter().map(|(_, b)| b.ideal_bits / 8.0).sum::<f64>() / n;
            let coded: f64 = tensor_bytes.iter().sum();
            NicRate {
                quality,
                file_bytes: rs.iter().map(|(m, _)| m.bytes as f64).sum::<f64>() / n,
                container_bytes: rs
                    .iter()
                    .map(|(_, b)| b.container_bytes as f64)
                    .sum::<f64>()
                    / n,
                tensor_bytes,
                ideal_bytes,
                coder_overhead_percent: 100.0 * (coded / ideal_bytes - 1.0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(codec: &str, image: &str, quality: u8, bytes: usize, psnr: f64) -> Measurement {
        Measurement {
            image: image.into(),
            width: 10,
            height: 10,
            codec: codec.into(),
            quality: Some(quality),
            bytes,
            bpp: nic_metrics::bpp(bytes, 10, 10),
            ratio_raw: 300.0 / bytes as f64,
            ratio_png: 200.0 / bytes as f64,
            psnr: Some(psnr),
            ms_ssim: Some(0.9),
            ms_ssim_scales: 1,
            encode_seconds: 0.01,
            decode_seconds: 0.02,
            breakdown: None,
        }
    }

    #[test]
    fn points_average_per_quality_and_weight_ratios_by_size() {
        let rows = [row("x", "a", 1, 10, 30.0), row("x", "b", 1, 30, 32.0)];
        let refs: Vec<&Measurement> = rows.iter().collect();
        let [p] = points(&refs).try_into().unwrap();
        assert_eq!(p.images, 2);
        assert!((p.bpp - 1.6).abs() < 1e-12);
        assert!((p.psnr - 31.0).abs() < 1e-12);
        // Total raw bytes (600) over total file bytes (40).
        assert!((p.ratio_raw - 15.0).abs() < 1e-12);
        assert!((p.ratio_png - 10.0).abs() < 1e-12);
    }

    #[test]
    fn exact_copies_count_at_the_highest_finite_psnr() {
        let mut exact = row("x", "a", 1, 10, f64::INFINITY);
        exact.ms_ssim = Some(1.0);
        let rows = [exact, row("x", "b", 1, 10, 30.0)];
        let refs: Vec<&Measurement> = rows.iter().collect();
        let [p] = points(&refs).try_into().unwrap();
        // 10×10 image: 10·log10(255² · 300) = 72.902 dB.
        assert!((p.psnr - (72.9020 + 30.0) / 2.0).abs() < 1e-3, "{}", p.psnr);
    }

    #[test]
    fn psnr_at_interpolates_inside_the_range_only() {
        let pts: Vec<Point> = [(0.2, 28.0), (0.4, 30.0), (0.8, 32.0)]
            .iter()
            .enumerate()
            .map(|(i, &(bpp, psnr))| {
                let rows = [row("x", "a", i as u8, 1, psnr)];
                let refs: Vec<&Measurement> = rows.iter().collect();
                Point {
                    bpp,
                    ..points(&refs).remove(0)
                }
            })
            .collect();
        // PSNR is linear in log-rate here, so PCHIP reproduces it exactly.
        assert!((psnr_at(&pts, 0.4 * 2f64.sqrt()).unwrap() - 31.0).abs() < 1e-9);
        assert!(psnr_at(&pts, 0.1).is_none());
        assert!(psnr_at(&pts, 1.0).is_none());
    }

    #[test]
    fn equal_psnr_compares_file_sizes_image_by_image() {
        // A baseline that needs bytes = 10^(psnr/10) on both images; nic spends half of that
        // on image a and exactly that on image b, and reaches a PSNR beyond the sweep on c.
        let mut m = Vec::new();
        for image in ["a", "b", "c"] {
            for (q, psnr) in [(10u8, 20.0f64), (50, 25.0), (90, 30.0)] {
                m.push(row(
                    "jpeg-turbo-420",
                    image,
                    q,
                    10f64.powf(psnr / 10.0) as usize,
                    psnr,
                ));
            }
        }
        m.push(row("nic", "a", 1, 158, 25.0)); // baseline: 316 bytes
        m.push(row("nic", "b", 1, 316, 25.0));
        m.push(row("nic", "c", 1, 50, 40.0)); // out of the sweep's range
        struct Named(&'static str);
        impl Subject for Named {
            fn name(&self) -> &str {
                self.0
            }
            fn description(&self) -> String {
                String::new()
            }
            fn qualities(&self) -> Vec<u8> {
                Vec::new()
            }
            fn encode(
                &self,
                _: &nic_image::RgbImage,
                _: u8,
            ) -> Result<crate::subjects::Encoded, crate::CompareError> {
                unreachable!()
            }
            fn decode(&self, _: &[u8]) -> Result<nic_image::RgbImage, crate::CompareError> {
                unreachable!()
            }
        }
        let subjects: Vec<Box<dyn Subject>> =
            vec![Box::new(Named("nic")), Box::new(Named("jpeg-turbo-420"))];
        let [e] = equal_psnr(&m, &subjects).try_into().unwrap();
        let [v] = e.versus.clone().try_into().unwrap();
        assert_eq!((e.images, v.images), (3, 2));
        assert_eq!(v.nic_bytes, 158.0 + 316.0);
        assert!((v.codec_bytes - 632.0).abs() < 1.0, "{}", v.codec_bytes);
        assert!((v.ratio - 632.0 / 474.0).abs() < 0.01);
        let s = e.sentence("jpeg-turbo-420").unwrap();
        assert!(
            s.contains("25 % smaller") && s.contains("2 of 3 images"),
            "{s}"
        );
    }
}
