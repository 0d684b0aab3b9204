//! The native part of the Python module `nic` (`nic._nic`): a codec object over nic-codec's
//! [`Encoder`] and [`Decoder`], the file-level calls the CLI makes, and exceptions that mirror
//! the CLI's exit statuses. `python/nic/__init__.py` wraps it for numpy and PIL.
//!
//! The GIL is released for all network and coding work, and a `Codec` is shared between
//! Python threads as it is (the encoder and decoder are `Sync`; burn's CPU workers are shared).

use std::path::{Path, PathBuf};

use nic_codec::{Decoder, Effort, EncodeRequest, Encoder, ErrorKind, ModelSet, Rate};
use nic_format::{Header, Metadata, NicFile};
use nic_image::RgbImage;
use nic_model::DeviceChoice;
use pyo3::buffer::PyBuffer;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict};

create_exception!(_nic, NicError, PyException, "Any error nic reports.");
create_exception!(
    _nic,
    UsageError,
    NicError,
    "Arguments that make no sense (CLI status 2)."
);
create_exception!(
    _nic,
    InputError,
    NicError,
    "A picture or file that cannot be used (status 3)."
);
create_exception!(
    _nic,
    InvalidFileError,
    NicError,
    "A malformed or mismatched .nic file (status 4)."
);
create_exception!(
    _nic,
    ModelError,
    NicError,
    "No usable model, or a file of another model (status 5)."
);
create_exception!(
    _nic,
    OutputError,
    NicError,
    "An output that cannot be written (status 6)."
);
create_exception!(
    _nic,
    TooLargeError,
    NicError,
    "A picture over the pixel limit (status 7)."
);
create_exception!(
    _nic,
    DeviceError,
    NicError,
    "The device is not there or failed (status 8)."
);

/// Any error of nic's libraries as the exception of its kind, with the whole chain as message.
fn raise(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> PyErr {
    let e: Box<dyn std::error::Error + Send + Sync> = e.into();
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        message = format!("{message}: {c}");
        cause = c.source();
    }
    match ErrorKind::of(e.as_ref()) {
        Some(ErrorKind::Usage) => UsageError::new_err(message),
        Some(ErrorKind::Input) => InputError::new_err(message),
        Some(ErrorKind::InvalidFile) => InvalidFileError::new_err(message),
        Some(ErrorKind::Model) => ModelError::new_err(message),
        Some(ErrorKind::Output) => OutputError::new_err(message),
        Some(ErrorKind::TooLarge) => TooLargeError::new_err(message),
        Some(ErrorKind::Device) => DeviceError::new_err(message),
        None => NicError::new_err(message),
    }
}

/// An encoder and a decoder for one model folder on one device.
#[pyclass(frozen, module = "nic._nic")]
struct Codec {
    encoder: Encoder,
    decoder: Decoder,
    max_pixels: u64,
}

#[pymethods]
impl Codec {
    #[new]
    #[pyo3(signature = (model=None, device="auto", quality=None, max_pixels=nic_codec::MAX_PIXELS, effort=0))]
    fn new(
        py: Python<'_>,
        model: Option<PathBuf>,
        device: &str,
        quality: Option<f64>,
        max_pixels: u64,
        effort: u8,
    ) -> PyResult<Codec> {
        let choice: DeviceChoice = device
            .parse()
            .map_err(|e| UsageError::new_err(format!("{e}")))?;
        py.detach(|| {
            let dir = match model {
                Some(d) => d,
                None => nic_bundled::default_model_dir().map_err(raise)?,
            };
            let set = ModelSet::open(&dir).map_err(raise)?;
            let device = choice.open().map_err(raise)?.device;
            let rate = Rate::from_options(quality, None, None).map_err(raise)?;
            let request = EncodeRequest {
                rate,
                effort: Effort::new(effort).map_err(raise)?,
                max_pixels,
                ideal_bits: false,
            };
            let encoder = Encoder::new(set.clone(), &device, request).map_err(raise)?;
            let decoder = Decoder::new(set, &device).with_max_pixels(max_pixels);
            Ok(Codec {
                encoder,
                decoder,
                max_pixels,
            })
        })
    }

    /// Encodes `pixels` (a C-contiguous buffer of height × width × 3 bytes) to `.nic` bytes.
    #[pyo3(signature = (pixels, quality=None, target_bpp=None, target_psnr=None, effort=None))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        pixels: &Bound<'py, PyAny>,
        quality: Option<f64>,
        target_bpp: Option<f64>,
        target_psnr: Option<f64>,
        effort: Option<u8>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let image = rgb_from_buffer(py, pixels)?;
        let bytes = py.detach(|| {
            self.with_encoder(quality, target_bpp, target_psnr, effort, |e| {
                e.encode(&image).map(|e| e.bytes).map_err(raise)
            })
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Decodes `.nic` bytes to (pixels, height, width, channels): channels is 1 for a
    /// grayscale picture, else 3.
    fn decode<'py>(
        &self,
        py: Python<'py>,
        data: &[u8],
    ) -> PyResult<(Bound<'py, PyByteArray>, u32, u32, u32)> {
        let (pixels, w, h, c) = py.detach(|| {
            let file = NicFile::parse(data).map_err(raise)?;
            let img = self.decoder.decode(&file).map_err(raise)?;
            let (w, h) = img.dimensions();
            Ok::<_, PyErr>(if file.metadata.grayscale {
                (gray(&img), w, h, 1)
            } else {
                (img.into_raw(), w, h, 3)
            })
        })?;
        Ok((PyByteArray::new(py, &pixels), h, w, c))
    }

    /// Encodes the picture at `src` to `dst` as `nic encode` does (orientation applied,
    /// grayscale, EXIF and ICC carried): the same bytes.
    #[pyo3(signature = (src, dst, quality=None, target_bpp=None, target_psnr=None, effort=None))]
    #[allow(clippy::too_many_arguments)]
    fn encode_file(
        &self,
        py: Python<'_>,
        src: PathBuf,
        dst: PathBuf,
        quality: Option<f64>,
        target_bpp: Option<f64>,
        target_psnr: Option<f64>,
        effort: Option<u8>,
    ) -> PyResult<()> {
        py.detach(|| {
            let loaded = nic_image::load_rgb8_within(&src, self.max_pixels).map_err(raise)?;
            let bytes = self.with_encoder(quality, target_bpp, target_psnr, effort, |e| {
                e.encode_with(&loaded.image, &loaded.metadata)
                    .map(|e| e.bytes)
                    .map_err(raise)
            })?;
            write(&dst, &bytes)
        })
    }

    /// Decodes the `.nic` file at `src` to the picture `dst`, in the format of its extension.
    fn decode_file(&self, py: Python<'_>, src: PathBuf, dst: PathBuf) -> PyResult<()> {
        py.detach(|| {
            nic_image::save_format(&dst).map_err(raise)?;
            let data = std::fs::read(&src)
                .map_err(|e| InputError::new_err(format!("cannot read {}: {e}", src.display())))?;
            let file = NicFile::parse(&data).map_err(raise)?;
            let img = self.decoder.decode(&file).map_err(raise)?;
            nic_image::save(&img, &dst, &file.metadata).map_err(raise)?;
            Ok(())
        })
    }
}

impl Codec {
    /// Runs `f` with the encoder for one call's rate and effort: the codec's own, or one for
    /// another quality (a variable-rate model is shared, not loaded again), target or effort.
    fn with_encoder<T>(
        &self,
        quality: Option<f64>,
        target_bpp: Option<f64>,
        target_psnr: Option<f64>,
        effort: Option<u8>,
        f: impl FnOnce(&Encoder) -> PyResult<T>,
    ) -> PyResult<T> {
        let effort = effort.map(Effort::new).transpose().map_err(raise)?;
        if quality.is_none() && target_bpp.is_none() && target_psnr.is_none() && effort.is_none() {
            return f(&self.encoder);
        }
        let mut encoder = match (quality, target_bpp, target_psnr) {
            (None, None, None) => self.encoder.with_effort(self.encoder.request().effort),
            _ => {
                let rate = Rate::from_options(quality, target_bpp, target_psnr).map_err(raise)?;
                self.encoder.with_rate(rate).map_err(raise)?
            }
        };
        if let Some(effort) = effort {
            encoder = encoder.with_effort(effort);
        }
        f(&encoder)
    }
}

/// The pixels of a height × width × 3 buffer of bytes, copied once into the picture.
fn rgb_from_buffer(py: Python<'_>, pixels: &Bound<'_, PyAny>) -> PyResult<RgbImage> {
    let buffer = PyBuffer::<u8>::get(pixels)
        .map_err(|e| UsageError::new_err(format!("pixels must be a uint8 array or buffer: {e}")))?;
    let shape = buffer.shape();
    if shape.len() != 3 || shape[2] != 3 || shape[0] == 0 || shape[1] == 0 {
        return Err(UsageError::new_err(format!(
            "pixels must have the shape (height, width, 3), not {shape:?}"
        )));
    }
    if !buffer.is_c_contiguous() {
        return Err(UsageError::new_err(
            "pixels must be C-contiguous (numpy.ascontiguousarray)",
        ));
    }
    let (h, w) = (shape[0], shape[1]);
    let (Ok(w32), Ok(h32)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(TooLargeError::new_err(format!("{w}×{h} pixels")));
    };
    RgbImage::from_raw(w32, h32, buffer.to_vec(py)?)
        .ok_or_else(|| UsageError::new_err("pixels: size does not match the shape"))
}

/// One gray channel: the rounded mean of R, G and B, as `nic decode` writes it.
fn gray(img: &RgbImage) -> Vec<u8> {
    img.pixels()
        .map(|p| {
            let [r, g, b] = p.0;
            ((r as u32 + g as u32 + b as u32 + 1) / 3) as u8
        })
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> PyResult<()> {
    nic_fs::write_atomic(path, bytes)
        .map_err(|e| OutputError::new_err(format!("cannot write {}: {e}", path.display())))
}

/// The header of `.nic` bytes as a dict (what `nic info --json` prints, but the CRC check).
#[pyfunction]
fn info<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let (h, _) = Header::parse(data).map_err(raise)?;
    let crc_ok = NicFile::parse(data).is_ok();
    let d = PyDict::new(py);
    let id: String = h.model_id.iter().map(|b| format!("{b:02x}")).collect();
    d.set_item("version", h.version)?;
    d.set_item("model_id", id)?;
    d.set_item("width", h.width)?;
    d.set_item("height", h.height)?;
    d.set_item("quality", h.quality_milli as f64 / 1000.0)?;
    d.set_item("file_bytes", data.len())?;
    d.set_item("header_bytes", h.header_len)?;
    d.set_item("bpp", nic_metrics::bpp(data.len(), h.width, h.height))?;
    d.set_item("crc_ok", crc_ok)?;
    let Metadata {
        grayscale,
        exif,
        icc,
    } = &h.metadata;
    d.set_item("grayscale", *grayscale)?;
    d.set_item("means", h.means)?;
    d.set_item("context", h.context)?;
    d.set_item("exif_bytes", exif.as_ref().map(Vec::len))?;
    d.set_item("icc_bytes", icc.as_ref().map(Vec::len))?;
    Ok(d)
}

/// Whether a file name has the extension of a picture format nic reads (any case): the
/// files `nic encode DIR` picks from a folder.
#[pyfunction]
fn is_image_name(path: PathBuf) -> bool {
    nic_image::is_image_name(&path)
}

#[pymodule]
fn _nic(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Codec>()?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(is_image_name, m)?)?;
    m.add("NicError", py.get_type::<NicError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("InvalidFileError", py.get_type::<InvalidFileError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("OutputError", py.get_type::<OutputError>())?;
    m.add("TooLargeError", py.get_type::<TooLargeError>())?;
    m.add("DeviceError", py.get_type::<DeviceError>())?;
    m.add("MAX_PIXELS", nic_codec::MAX_PIXELS)?;
    Ok(())
}
