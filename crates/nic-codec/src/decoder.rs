//! Decoding many files with one model set: each model is loaded once (a variable-rate model
//! once for every quality), and one [`Decoder`] serves several threads.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use nic_format::NicFile;
use nic_image::RgbImage;
use nic_model::burn::tensor::Device;

use crate::{Codec, CodecError, MAX_PIXELS, ModelSet};

pub struct Decoder {
    set: ModelSet,
    device: Device,
    max_pixels: u64,
    /// Loaded codecs by quality in thousandths (one entry, 0, for a variable-rate model).
    loaded: Mutex<BTreeMap<u32, Arc<Codec>>>,
}

impl Decoder {
    pub fn new(set: ModelSet, device: &Device) -> Decoder {
        Decoder {
            set,
            device: device.clone(),
            max_pixels: MAX_PIXELS,
            loaded: Mutex::new(BTreeMap::new()),
        }
    }

    /// Refuse files declaring more pixels than this (see [`Codec::with_max_pixels`]).
    pub fn with_max_pixels(mut self, max_pixels: u64) -> Decoder {
        self.max_pixels = max_pixels;
        self
    }

    /// The codec for `file`: loaded on first use. Loading happens under the lock, so two
    /// threads never load the same model twice.
    pub fn codec_for(&self, file: &NicFile) -> Result<Arc<Codec>, CodecError> {
        let key = if self.set.is_variable_rate() {
            0
        } else {
            file.quality_milli
        };
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = loaded.get(&key) {
            return Ok(c.clone());
        }
        let codec = Arc::new(
            self.set
                .load_for(file, &self.device)?
                .with_max_pixels(self.max_pixels),
        );
        loaded.insert(key, codec.clone());
        Ok(codec)
    }

    pub fn decode(&self, file: &NicFile) -> Result<RgbImage, CodecError> {
        self.codec_for(file)?.decode(file)
    }
}
