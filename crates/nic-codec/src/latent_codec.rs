//! One latent codec per entropy model: a picture's gained latents → the integers its file
//! codes → entropy-coded payloads, and back. Each holds its own part of the model (tensors
//! are shared, not copied) and its integer tables, so the kind of model is told apart once,
//! when the codec is built.

use nic_entropy::LatentCoder;
use nic_hyper::{Network, ScaleIndex};
use nic_model::{EntropyModel, FactorizedPrior, Hyperprior, SavedModel, information_bits};

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
/// table that the integer hyper-synthesis picks for each from the side latents.
pub(crate) struct ScaleHyperprior {
    side: LatentCoder,
    latents: LatentCoder,
    synthesis: Network,
    index: ScaleIndex,
    hyperprior: Hyperprior,
    side_channels: usize,
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
                if synthesis.outputs() != info.architecture.latent_channels {
                    return Err(CodecError::Model(format!(
                        "the hyper-synthesis predicts {} scales per position for {} latent channels",
                        synthesis.outputs(),
                        info.architecture.latent_channels
                    )));
                }
                LatentCodec::ScaleHyperprior(ScaleHyperprior {
                    side: tables(&info.tables)?,
                    latents: tables(&scales.tables)?,
                    synthesis,
                    index: scales.index().map_err(CodecError::Model)?,
                    hyperprior: hp.clone(),
                    side_channels: info.architecture.hyper_channels,
                })
            }
        })
    }

    /// The integers to code for gained latents (`[channels][row][col]` of `latents`): the
    /// latents rounded and, with a hyperprior, the rounded side latents.
    pub fn quantize(
        &self,
        t: &Transforms,
        gained: Vec<f32>,
        latents: Grid,
    ) -> Result<Latents, CodecError> {
        let z = self.side_latents(t, &gained, latents)?;
        Ok(Latents {
            y: to_integers(gained),
            z: z.map_or_else(Vec::new, to_integers),
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
                let indices = h.table_indices(&l.z, side, latents)?;
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
    /// the caller against the picture's shapes).
    pub fn decode(&self, payloads: &[&[u8]], latents: Grid) -> Result<Latents, CodecError> {
        match self {
            LatentCodec::Factorized(f) => Ok(Latents {
                y: f.coder.decode(payloads[0], latents.plane())?,
                z: Vec::new(),
            }),
            LatentCodec::ScaleHyperprior(h) => {
                let side = latents.side_latents(h.side_channels);
                let z = h.side.decode(payloads[0], side.plane())?;
                let indices = h.table_indices(&z, side, latents)?;
                let y = h.latents.decode_indexed(payloads[1], &indices)?;
                Ok(Latents { y, z })
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
                let (y, z) = h.hyperprior.likelihoods(y_hat, z_hat);
                information_bits(y) + information_bits(z)
            }
        }
    }
}

impl ScaleHyperprior {
    /// The table of every latent, from the side latents, in integer arithmetic only: the
    /// encoder and the decoder get the same indices on any machine.
    fn table_indices(&self, z: &[i32], side: Grid, latents: Grid) -> Result<Vec<u8>, CodecError> {
        let scales = self
            .synthesis
            .run(z, side.height, side.width)
            .map_err(|e| CodecError::InvalidFile(e.to_string()))?;
        let mut out = Vec::with_capacity(scales.channels * latents.plane());
        for plane in scales.data.chunks_exact(scales.height * scales.width) {
            for row in plane.chunks_exact(scales.width).take(latents.height) {
                out.extend(row[..latents.width].iter().map(|&s| self.index.index(s)));
            }
        }
        Ok(out)
    }
}

/// Rounds to integers, ties to even (as burn's `round`, which the training and the ideal
/// information content use); non-finite values become 0.
pub(crate) fn to_integers(values: Vec<f32>) -> Vec<i32> {
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
