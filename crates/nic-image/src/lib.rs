//! Pictures in and out.
//!
//! Everything nic compresses is 8-bit RGB. [`load_rgb8`] reads any format the `image` crate
//! knows, upright as its EXIF orientation says, and says what it had to change (orientation
//! applied, metadata or alpha dropped, 16-bit reduced, grayscale expanded); [`save`] writes the
//! format a file name asks for;
//! [`Planar`] is the channel-first float layout the transforms take, with the padding to the
//! network's stride and the crop back.

mod folder;
mod io;
mod planar;

pub use folder::{is_image_name, list_images};
pub use image::{self, RgbImage};
pub use io::{
    ImageError, JPEG_QUALITY, Loaded, SAVE_EXTENSIONS, decode_rgb8, encode, load_rgb8,
    load_rgb8_within, megapixels, rgb8_from_dynamic, save, save_format,
};
pub use planar::Planar;
