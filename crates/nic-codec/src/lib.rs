//! The codec: a picture → analysis transform → gains → rounding → entropy coding → `.nic`
//! bytes, and back through the same tables and the synthesis transform.
//!
//! One module per stage of that flow: [`shapes`] says which integer tensors a picture's file
//! holds; the transforms run on the device in overlapping tiles ([`tiles`]), so memory stays
//! bounded; one latent codec per entropy model (a factorized prior, a scale hyperprior) turns
//! the rounded latents into payloads and back; [`Codec`] composes them with the container
//! and the model's gains. [`ModelSet`] finds the models of each quality in a model folder,
//! and [`encode_to_target`] searches the quality for a size or PSNR target; an [`Encoder`]
//! carries out an [`EncodeRequest`] (a quality or a target, and limits) picture after picture,
//! and a [`Decoder`] decodes the files of a model set, loading each model once.
//!
//! ```
//! use nic_codec::{Decoder, EncodeRequest, Encoder, ModelSet, Rate, Target};
//! use nic_format::NicFile;
//! use nic_image::RgbImage;
//! use nic_model::burn::tensor::Device;
//!
//! let device = Device::flex();
//! let models = ModelSet::open("../../models/default".as_ref())?;
//! let picture = RgbImage::from_fn(96, 64, |x, y| nic_image::image::Rgb([x as u8, y as u8, 90]));
//! let request = EncodeRequest {
//!     rate: Rate::Target(Target::Bpp(0.5)),
//!     ..EncodeRequest::default()
//! };
//! let encoded = Encoder::new(models.clone(), &device, request)?.encode(&picture)?;
//! assert!(encoded.bytes.len() * 8 <= 96 * 64 / 2 || !encoded.search.unwrap().met);
//!
//! let file = NicFile::parse(&encoded.bytes)?;
//! let decoded = Decoder::new(models, &device).decode(&file)?;
//! assert_eq!(decoded.dimensions(), (96, 64));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod decoder;
mod error;
mod latent_codec;
mod models;
pub mod refine;
mod request;
pub mod shapes;
mod target;
pub mod tiles;
mod transforms;

pub use codec::{Analyzed, Codec, EncodeStats, Latents};
pub use decoder::Decoder;
pub use error::{CodecError, ErrorKind};
pub use models::{ModelSet, default_model_dir};
pub use refine::Effort;
pub use request::{EncodeRequest, Encoded, Encoder, Rate, Search};
pub use shapes::{Grid, PictureShapes};
pub use target::{Target, Targeted, TrialEncode, encode_to_target, encode_to_target_with};

/// Default limit on the image size in pixels: 64 Mpx, so that camera photos (a 6000 × 4000
/// JPEG is 24 Mpx, a 9504 × 6336 one 60.2) are taken as they come. The transforms run in tiles
/// of bounded size, but the picture, its latents and the file are held whole (a 6000 × 4000
/// photo encodes in about 0.8 GiB peak, README "Using nic"), so sizes beyond this are refused up front rather
/// than exhausting memory on a hostile header; [`Codec::with_max_pixels`] changes it.
pub const MAX_PIXELS: u64 = 64_000_000;
