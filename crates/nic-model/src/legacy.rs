//! Weights written before the entropy model was one enum (model format 2, and checkpoints of
//! that time) stored it as two optional fields, `prior` and `hyper`, so their tensors are
//! named `prior.…` or `hyper.…` where today's are `entropy.Factorized.…` or
//! `entropy.ScaleHyperprior.…`. They load through the old layout and move into today's.

use burn::module::Module;
use burn::store::{ModuleRecord, RecordError};

use crate::{Analysis, Compressor, EntropyModel, FactorizedPrior, Gains, Hyperprior, Synthesis};

/// The layout of a [`Compressor`] in model format 2.
#[derive(Module, Debug)]
struct Format2 {
    analysis: Analysis,
    synthesis: Synthesis,
    prior: Option<FactorizedPrior>,
    hyper: Option<Hyperprior>,
    gains: Option<Gains>,
}

impl Compressor {
    /// Loads `record` (of today's layout or model format 2's) into this freshly built model.
    pub fn load_any_record(self, record: ModuleRecord) -> Result<Compressor, RecordError> {
        let fresh = self.clone();
        match self.try_load_record(record.clone()) {
            Ok(loaded) => Ok(loaded),
            Err(current) => load_format2(fresh, record).map_err(|_| current),
        }
    }
}

fn load_format2(fresh: Compressor, record: ModuleRecord) -> Result<Compressor, RecordError> {
    let (prior, hyper) = match fresh.entropy {
        EntropyModel::Factorized(p) => (Some(p), None),
        EntropyModel::ScaleHyperprior(h) => (None, Some(h)),
    };
    let old = Format2 {
        analysis: fresh.analysis,
        synthesis: fresh.synthesis,
        prior,
        hyper,
        gains: fresh.gains,
    }
    .try_load_record(record)?;
    let entropy = match (old.prior, old.hyper) {
        (_, Some(h)) => EntropyModel::ScaleHyperprior(h),
        (Some(p), None) => EntropyModel::Factorized(p),
        (None, None) => {
            return Err(RecordError::Io(
                "format 2 weights without an entropy model".into(),
            ));
        }
    };
    Ok(Compressor {
        analysis: old.analysis,
        synthesis: old.synthesis,
        entropy,
        gains: old.gains,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Architecture;
    use burn::tensor::{Device, Tensor};

    #[test]
    fn format_2_weights_load_into_todays_layout() {
        let device = Device::flex();
        for arch in [Architecture::TINY, Architecture::TINY_HYPER] {
            let model = {
                let _turn = crate::test_rng::seeded(&device, 11);
                Compressor::new(&arch, &device)
            };
            let (prior, hyper) = match model.entropy.clone() {
                EntropyModel::Factorized(p) => (Some(p), None),
                EntropyModel::ScaleHyperprior(h) => (None, Some(h)),
            };
            let old = Format2 {
                analysis: model.analysis.clone(),
                synthesis: model.synthesis.clone(),
                prior,
                hyper,
                gains: model.gains.clone(),
            };
            let bytes = old.into_record().into_bytes().unwrap();
            let other = {
                let _turn = crate::test_rng::seeded(&device, 12);
                Compressor::new(&arch, &device)
            };
            // Today's layout alone refuses the old names …
            let record = ModuleRecord::from_bytes(bytes.clone()).unwrap();
            assert!(other.clone().try_load_record(record).is_err());
            // … and the loader takes them, giving the same parameters.
            let record = ModuleRecord::from_bytes(bytes).unwrap();
            let loaded = other.load_any_record(record).unwrap();
            assert_eq!(fingerprint(&loaded, &device), fingerprint(&model, &device));
            let today = ModuleRecord::from_bytes(model.clone().into_record().into_bytes().unwrap())
                .unwrap();
            assert!(
                Compressor::new(&arch, &device)
                    .load_any_record(today)
                    .is_ok()
            );
        }
    }

    /// Outputs of the analysis and of the entropy model's prior, which differ between seeds.
    fn fingerprint(m: &Compressor, device: &Device) -> Vec<f32> {
        let x = Tensor::<4>::ones([1, 3, 16, 16], device).mul_scalar(0.3);
        let prior = m.entropy.factorized_prior();
        let zeros = Tensor::<3>::zeros([prior.channels(), 1, 1], device);
        let mut v = m.analyze(x).into_data().try_into_vec::<f32>().unwrap();
        v.extend(
            prior
                .logits_cumulative(zeros)
                .into_data()
                .try_into_vec::<f32>()
                .unwrap(),
        );
        v
    }
}
