//! One latent codec per entropy model: a picture's gained latents → the integers its file
//! codes → entropy-coded payloads, and back. Each holds its own part of the model (tensors
//! are shared, not copied) and its integer tables, so the kind of model is told apart once,
//! when the codec is built.

use std::sync::Mutex;

use nic_entropy::LatentCoder;
use nic_hyper::{Network, Planes, ScaleIndex};
use nic_model::context::{IntegerContext, is_anchor};
use nic_model::{
    EntropyModel, FactorizedPrior, Hyperprior, Prediction, SavedModel, information_bits,
};

use crate::shapes::Grid;
use crate::transforms::Transforms;
use crate::{CodecError, Latents};

// One per model, behind an `Arc`: the hyperprior's size costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum LatentCodec {
    Factorized(Factorized),
    ScaleHyperprior(ScaleHyperprior),
}

/// A factorized prior's: one table per latent channel.
pub(crate) struct Factorized {
    coder: LatentCoder,
    prior: FactorizedPrior,
}

/// A scale hyperprior's: side latents with one table per channel, latents with the Gaussian
/// table that the integer hyper-synthesis picks for each from the side latents. In the
/// mean-scale form the same integer network also gives each latent's mean, and the latents
/// are coded as residuals around it.
pub(crate) struct ScaleHyperprior {
    side: LatentCoder,
    latents: LatentCoder,
    synthesis: Network,
    /// The checkerboard context's corrections, in integers, if the model has one: the
    /// anchors are coded first, and the others with the prediction the anchors correct.
    context: Option<IntegerContext>,
    index: ScaleIndex,
    hyperprior: Hyperprior,
    side_channels: usize,
    means: bool,
    /// The prediction the mean-scale encoder made for the means, kept for the tables of the
    /// `encode` that follows, so that one picture runs the integer hyper-synthesis once (it
    /// was a quarter of an encode): what it was made for, and it.
    pending: Mutex<Option<Pending>>,
}

/// A prediction made for side latents `z` (and, with a context, the anchors of `y`) of a
/// picture of latents `grid`.
struct Pending {
    z: Vec<i32>,
    y: Vec<i32>,
    grid: Grid,
    predicted: Predicted,
}

/// What the integer hyper-synthesis gives the coder for every latent.
struct Predicted {
    tables: Vec<u8>,
    /// Mean-scale only: the means, exactly (fixed point with `ACTIVATION_BITS` fraction bits,
    /// which an `f32` holds without rounding).
    means: Option<Vec<f32>>,
}

/// A decoded picture's integers, and the latent values the synthesis takes (the integers,
/// or the residuals plus their means).
pub(crate) struct Decoded {
    pub latents: Latents,
    pub values: Vec<f32>,
}

/// One picture's payloads, in file order, with what the tables say they cost.
pub(crate) struct Coded {
    pub payloads: Vec<Vec<u8>>,
    /// Information content under the integer tables the coder uses.
    pub table_bits: f64,
    /// The side latents' payload (0 without a hyperprior).
    pub side_bytes: usize,
}

impl LatentCodec {
    pub fn new(model: &SavedModel) -> Result<LatentCodec, CodecError> {
        let info = &model.info;
        let tables = |t| LatentCoder::new(t).map_err(|e| CodecError::Model(e.to_string()));
        Ok(match &model.compressor.entropy {
            EntropyModel::Factorized(prior) => LatentCodec::Factorized(Factorized {
                coder: tables(&info.tables)?,
                prior: prior.clone(),
            }),
            EntropyModel::ScaleHyperprior(hp) => {
                let scales = info
                    .scale_tables
                    .as_ref()
                    .ok_or_else(|| CodecError::Model("hyperprior without tables".into()))?;
                let synthesis = hp
                    .integer_synthesis()
                    .map_err(|e| CodecError::Model(e.to_string()))?;
                let arch = info.architecture;
                let per_latent = if arch.has_means() { 2 } else { 1 };
                if synthesis.outputs() != per_latent * arch.latent_channels
                    || hp.predicts_means() != arch.has_means()
                {
                    return Err(CodecError::Model(format!(
                        "the hyper-synthesis predicts {} values per position for {} latent channels{}",
                        synthesis.outputs(),
                        arch.latent_channels,
                        if arch.has_means() { " with means" } else { "" }
                    )));
                }
                let context = match &hp.context {
                    Some(c) if arch.has_context() => {
                        Some(c.integer().map_err(|e| CodecError::Model(e.to_string()))?)
                    }
                    None if !arch.has_context() => None,
                    _ => {
                        return Err(CodecError::Model(
                            "the context model does not match the architecture".into(),
                        ));
                    }
                };
                LatentCodec::ScaleHyperprior(ScaleHyperprior {
                    side: tables(&info.tables)?,
                    latents: tables(&scales.tables)?,
                    synthesis,
                    context,
                    index: scales.index().map_err(CodecError::Model)?,
                    hyperprior: hp.clone(),
                    side_channels: arch.hyper_channels,
                    means: arch.has_means(),
                    pending: Mutex::new(None),
                })
            }
        })
    }

    /// The integers to code for gained latents (`[channels][row][col]` of `latents`): the
    /// latents rounded (around their means, in the mean-scale form) and, with a hyperprior,
    /// the rounded side latents.
    pub fn quantize(
        &self,
        t: &Transforms,
        gained: Vec<f32>,
        latents: Grid,
    ) -> Result<Latents, CodecError> {
        let z = self.side_latents(t, &gained, latents)?;
        self.quantize_with_side(gained, z, latents)
    }

    /// [`LatentCodec::quantize`] with the unrounded side latents given (a hyperprior's; `None`
    /// for a factorized prior), as the refinement leaves them.
    pub fn quantize_with_side(
        &self,
        mut gained: Vec<f32>,
        z: Option<Vec<f32>>,
        latents: Grid,
    ) -> Result<Latents, CodecError> {
        let z = z.map_or_else(Vec::new, to_integers);
        let LatentCodec::ScaleHyperprior(h) = self else {
            return Ok(Latents {
                y: to_integers(gained),
                z,
            });
        };
        if !h.means {
            return Ok(Latents {
                y: to_integers(gained),
                z,
            });
        }
        let mut raw = h.hyper(&z, latents)?;
        if h.context.is_some() {
            // The anchors, around the hyperprior's means, correct the others' prediction.
            let means = &raw[latents.channels * latents.plane()..];
            let anchors: Vec<f32> = gained
                .iter()
                .zip(means)
                .map(|(y, &mu)| y - h.mean(mu))
                .collect();
            h.add_context(&mut raw, &to_integers(anchors), latents)?;
        }
        let predicted = h.predicted(&raw, latents);
        if let Some(means) = &predicted.means {
            gained.iter_mut().zip(means).for_each(|(y, mu)| *y -= mu);
        }
        let y = to_integers(gained);
        if let Ok(mut pending) = h.pending.lock() {
            *pending = Some(Pending {
                z: z.clone(),
                y: y.clone(),
                grid: latents,
                predicted,
            });
        }
        Ok(Latents { y, z })
    }

    /// A hyperprior's unrounded side latents of gained latents (`None` for a factorized
    /// prior).
    pub fn side_latents(
        &self,
        t: &Transforms,
        gained: &[f32],
        latents: Grid,
    ) -> Result<Option<Vec<f32>>, CodecError> {
        match self {
            LatentCodec::Factorized(_) => Ok(None),
            LatentCodec::ScaleHyperprior(h) => t
                .side_latents(&h.hyperprior, gained.to_vec(), latents)
                .map(Some),
        }
    }

    pub fn encode(&self, l: &Latents, latents: Grid) -> Result<Coded, CodecError> {
        // The tables were checked when the codec was built and the integers come from the
        // codec itself, so a failure here is the model's.
        let model = |e: nic_entropy::CodingError| CodecError::Model(format!("encoding: {e}"));
        match self {
            LatentCodec::Factorized(f) => Ok(Coded {
                table_bits: f
                    .coder
                    .information_bits(&l.y, latents.plane())
                    .map_err(model)?,
                payloads: vec![f.coder.encode(&l.y, latents.plane()).map_err(model)?],
                side_bytes: 0,
            }),
            LatentCodec::ScaleHyperprior(h) => {
                let side = latents.side_latents(h.side_channels);
                let indices = h.predict_pending(&l.z, &l.y, latents)?.tables;
                let z_bytes = h.side.encode(&l.z, side.plane()).map_err(model)?;
                let y_bytes = match h.context {
                    // The anchors first, then the others: the order the decoder needs them in.
                    Some(_) => {
                        let (first, second) = checkerboard(latents);
                        let order = || first.iter().chain(&second);
                        let values: Vec<i32> = order().map(|&i| l.y[i]).collect();
                        let tables: Vec<u8> = order().map(|&i| indices[i]).collect();
                        h.latents.encode_indexed(&values, &tables)
                    }
                    None => h.latents.encode_indexed(&l.y, &indices),
                }
                .map_err(model)?;
                Ok(Coded {
                    table_bits: h.side.information_bits(&l.z, side.plane()).map_err(model)?
                        + h.latents
                            .information_bits_indexed(&l.y, &indices)
                            .map_err(model)?,
                    side_bytes: z_bytes.len(),
                    payloads: vec![z_bytes, y_bytes],
                })
            }
        }
    }

    /// The integers of `payloads` (in file order, as many as the model's kind has; checked by
    /// the caller against the picture's shapes), and the latent values they stand for.
    pub fn decode(&self, payloads: &[&[u8]], latents: Grid) -> Result<Decoded, CodecError> {
        let values = |y: &[i32]| y.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        match self {
            LatentCodec::Factorized(f) => {
                let y = f.coder.decode(payloads[0], latents.plane())?;
                Ok(Decoded {
                    values: values(&y),
                    latents: Latents { y, z: Vec::new() },
                })
            }
            LatentCodec::ScaleHyperprior(h) => {
                let side = latents.side_latents(h.side_channels);
                let z = h.side.decode(payloads[0], side.plane())?;
                let (y, predicted) = match h.context {
                    Some(_) => h.decode_checkerboard(&z, payloads[1], latents)?,
                    None => {
                        let predicted = h.predict(&z, &[], latents)?;
                        (
                            h.latents.decode_indexed(payloads[1], &predicted.tables)?,
                            predicted,
                        )
                    }
                };
                let mut values = values(&y);
                if let Some(means) = predicted.means {
                    values.iter_mut().zip(&means).for_each(|(v, mu)| *v += mu);
                }
                Ok(Decoded {
                    values,
                    latents: Latents { y, z },
                })
            }
        }
    }

    /// Information content of `l` under the model's floating-point entropy model: the size
    /// an ideal entropy coder would reach.
    pub fn ideal_bits(&self, t: &Transforms, l: &Latents, latents: Grid) -> f64 {
        let y_hat = t.integer_tensor(&l.y, latents);
        match self {
            LatentCodec::Factorized(f) => information_bits(f.prior.likelihood(y_hat)),
            LatentCodec::ScaleHyperprior(h) => {
                let z_hat = t.integer_tensor(&l.z, latents.side_latents(h.side_channels));
                let side = h.hyperprior.prior.likelihood(z_hat.clone());
                // The coded integers are the residuals around the means: their likelihood is
                // a zero-mean Gaussian's of the predicted scale.
                let scales = h.hyperprior.predict_coded(z_hat, y_hat.clone()).scales;
                let y = Prediction {
                    scales,
                    means: None,
                }
                .likelihood(y_hat);
                information_bits(y) + information_bits(side)
            }
        }
    }
}

impl ScaleHyperprior {
    /// [`ScaleHyperprior::predict`], taking the pending prediction if it was made for these
    /// latents (another picture may have come between, on another thread: then anew).
    fn predict_pending(
        &self,
        z: &[i32],
        y: &[i32],
        latents: Grid,
    ) -> Result<Predicted, CodecError> {
        let pending = self.pending.lock().ok().and_then(|mut p| p.take());
        match pending {
            Some(p) if p.grid == latents && p.z == z && (self.context.is_none() || p.y == y) => {
                Ok(p.predicted)
            }
            _ => self.predict(z, y, latents),
        }
    }

    /// The table (and, in the mean-scale form, the mean) of every latent of `latents`, from
    /// the side latents and, with a context, the anchors of the coded integers `y`, in integer
    /// arithmetic only: the encoder and the decoder get the same on any machine.
    fn predict(&self, z: &[i32], y: &[i32], latents: Grid) -> Result<Predicted, CodecError> {
        let mut raw = self.hyper(z, latents)?;
        if self.context.is_some() {
            self.add_context(&mut raw, y, latents)?;
        }
        Ok(self.predicted(&raw, latents))
    }

    /// The integer hyper-synthesis of side latents `z`, cropped to `latents`: M scales (before
    /// ReLU with a context), then any M means, each `[row][col]`, with `ACTIVATION_BITS`
    /// fraction bits.
    fn hyper(&self, z: &[i32], latents: Grid) -> Result<Vec<i32>, CodecError> {
        let side = latents.side_latents(self.side_channels);
        let out = self
            .synthesis
            .run(z, side.height, side.width)
            .map_err(|e| CodecError::InvalidFile(e.to_string()))?;
        Ok(out
            .data
            .chunks_exact(out.height * out.width)
            .flat_map(|plane| {
                plane
                    .chunks_exact(out.width)
                    .take(latents.height)
                    .flat_map(|row| &row[..latents.width])
            })
            .copied()
            .collect())
    }

    /// A fixed-point mean as a latent value (exact in `f32`).
    fn mean(&self, mu: i32) -> f32 {
        mu as f32 / (1u32 << nic_hyper::ACTIVATION_BITS) as f32
    }

    /// Adds the context's corrections to the non-anchors of `raw` (see
    /// [`ScaleHyperprior::hyper`]), from the anchors of the coded integers `y` (residuals
    /// around the means): what the decoder has decoded by then.
    fn add_context(&self, raw: &mut [i32], y: &[i32], latents: Grid) -> Result<(), CodecError> {
        let context = self.context.as_ref().expect("a context model");
        let (m, plane, width) = (latents.channels, latents.plane(), latents.width);
        let n = m * plane;
        let (_, others): (Vec<usize>, Vec<usize>) =
            (0..plane).partition(|&p| is_anchor(p / width, p % width));
        if others.is_empty() {
            return Ok(()); // a single latent per channel: an anchor
        }
        // The anchors' residuals in fixed point. Integers a hostile file holds are clamped as
        // side latents are; a real encoder's are far inside.
        let limit = 1 << 13;
        let anchors = Planes {
            channels: m,
            height: latents.height,
            width,
            data: y[..n]
                .iter()
                .map(|&q| q.clamp(-limit, limit) << nic_hyper::ACTIVATION_BITS)
                .collect(),
        };
        let at_others = Planes {
            channels: 2 * m,
            height: 1,
            width: others.len(),
            data: raw
                .chunks_exact(plane)
                .flat_map(|c| others.iter().map(|&p| c[p]))
                .collect(),
        };
        let corrections = context
            .corrections(&anchors, &others, at_others)
            .map_err(|e| CodecError::InvalidFile(e.to_string()))?;
        let bound = 1 << 24;
        for (c, fix) in raw
            .chunks_exact_mut(plane)
            .zip(corrections.data.chunks_exact(others.len()))
        {
            for (&p, &d) in others.iter().zip(fix) {
                c[p] = (c[p] + d).clamp(-bound, bound);
            }
        }
        Ok(())
    }

    /// Tables and means from the hyper-synthesis output (corrected, with a context).
    fn predicted(&self, raw: &[i32], latents: Grid) -> Predicted {
        let n = latents.channels * latents.plane();
        Predicted {
            tables: raw[..n]
                .iter()
                .map(|&s| self.index.index(s.max(0)))
                .collect(),
            means: self
                .means
                .then(|| raw[n..].iter().map(|&mu| self.mean(mu)).collect()),
        }
    }

    /// Decodes a checkerboard payload: the anchors with the hyperprior's tables, then the
    /// others with the tables their context gives.
    fn decode_checkerboard(
        &self,
        z: &[i32],
        payload: &[u8],
        latents: Grid,
    ) -> Result<(Vec<i32>, Predicted), CodecError> {
        let mut raw = self.hyper(z, latents)?;
        let first_tables = self.predicted(&raw, latents).tables;
        let (first, second) = checkerboard(latents);
        let mut dec = self.latents.indexed_decoder(payload)?;
        let mut y = vec![0; latents.channels * latents.plane()];
        let tables: Vec<u8> = first.iter().map(|&i| first_tables[i]).collect();
        for (&i, v) in first.iter().zip(dec.decode(&tables)?) {
            y[i] = v;
        }
        self.add_context(&mut raw, &y, latents)?;
        let predicted = self.predicted(&raw, latents);
        let tables: Vec<u8> = second.iter().map(|&i| predicted.tables[i]).collect();
        for (&i, v) in second.iter().zip(dec.decode(&tables)?) {
            y[i] = v;
        }
        Ok((y, predicted))
    }
}

/// Positions of `[channels][row][col]` latents in coding order: the anchors, then the others.
fn checkerboard(latents: Grid) -> (Vec<usize>, Vec<usize>) {
    let plane = latents.plane();
    (0..latents.channels * plane).partition(|&i| {
        let p = i % plane;
        is_anchor(p / latents.width, p % latents.width)
    })
}

/// Rounds to integers, ties to even (as burn's `round`, which the training and the ideal
/// information content use); non-finite values become 0.
fn to_integers(values: Vec<f32>) -> Vec<i32> {
    values
        .into_iter()
        .map(|v| {
            if v.is_finite() {
                v.round_ties_even() as i32
            } else {
                0
            }
        })
        .collect()
}
