//! One latent codec per entropy model: a picture's gained latents → the integers its file
//! codes → entropy-coded payloads, and back. Each holds its own part of the model (tensors
//! are shared, not copied) and its integer tables, so the kind of model is told apart once,
//! when the codec is built.

use std::sync::Mutex;

use nic_entropy::LatentCoder;
use nic_hyper::{Network, ScaleIndex};
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
    index: ScaleIndex,
    hyperprior: Hyperprior,
    side_channels: usize,
    means: bool,
    /// The prediction the mean-scale encoder made for the means, kept for the tables of the
    /// `encode` that follows, so that one picture runs the integer hyper-synthesis once (it
    /// was a quarter of an encode): the side latents and shape it was made for, and it.
    pending: Mutex<Option<(Vec<i32>, Grid, Predicted)>>,
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
                LatentCodec::ScaleHyperprior(ScaleHyperprior {
                    side: tables(&info.tables)?,
                    latents: tables(&scales.tables)?,
                    synthesis,
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
        if let LatentCodec::ScaleHyperprior(h) = self
            && h.means
        {
            let predicted = h.predict(&z, latents)?;
            if let Some(means) = &predicted.means {
                gained.iter_mut().zip(means).for_each(|(y, mu)| *y -= mu);
            }
            if let Ok(mut pending) = h.pending.lock() {
                *pending = Some((z.clone(), latents, predicted));
            }
        }
        Ok(Latents {
            y: to_integers(gained),
            z,
        })
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
                let indices = h.predict_pending(&l.z, latents)?.tables;
                let z_bytes = h.side.encode(&l.z, side.plane()).map_err(model)?;
                let y_bytes = h.latents.encode_indexed(&l.y, &indices).map_err(model)?;
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
                let predicted = h.predict(&z, latents)?;
                let y = h.latents.decode_indexed(payloads[1], &predicted.tables)?;
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
                let scales = h.hyperprior.predict(z_hat, y_hat.dims()).scales;
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
    /// side latents (another picture may have come between, on another thread: then anew).
    fn predict_pending(&self, z: &[i32], latents: Grid) -> Result<Predicted, CodecError> {
        let pending = self.pending.lock().ok().and_then(|mut p| p.take());
        match pending {
            Some((pz, grid, predicted)) if grid == latents && pz == z => Ok(predicted),
            _ => self.predict(z, latents),
        }
    }

    /// The table (and, in the mean-scale form, the mean) of every latent of `latents`, from
    /// the side latents, in integer arithmetic only: the encoder and the decoder get the same
    /// on any machine.
    fn predict(&self, z: &[i32], latents: Grid) -> Result<Predicted, CodecError> {
        let side = latents.side_latents(self.side_channels);
        let out = self
            .synthesis
            .run(z, side.height, side.width)
            .map_err(|e| CodecError::InvalidFile(e.to_string()))?;
        // Cropped to the latents, channel by channel: the scales, then any means.
        let mut cropped = out.data.chunks_exact(out.height * out.width).map(|plane| {
            plane
                .chunks_exact(out.width)
                .take(latents.height)
                .flat_map(|row| &row[..latents.width])
        });
        let m = latents.channels;
        let tables = cropped
            .by_ref()
            .take(m)
            .flatten()
            .map(|&s| self.index.index(s))
            .collect();
        let one = (1u32 << nic_hyper::ACTIVATION_BITS) as f32;
        let means = self
            .means
            .then(|| cropped.flatten().map(|&mu| mu as f32 / one).collect());
        Ok(Predicted { tables, means })
    }
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
