//! Exit statuses, one per kind of failure, so scripts can tell a bad input from a bad output or
//! a missing model without parsing messages. The table is in the README ("Exit status").

use nic_codec::CodecError;
use nic_compare::CompareError;
use nic_format::FormatError;
use nic_image::ImageError;

/// Failures the command itself detects (the libraries' errors carry their own types).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// An input file that cannot be used: missing, a directory, unreadable.
    #[error("{0}")]
    Input(String),
    /// An output that must not or cannot be written.
    #[error("{0}")]
    Output(String),
    /// Arguments that parse but do not make sense together.
    #[error("{0}")]
    Usage(String),
}

pub const OTHER: i32 = 1;
/// Bad command line (clap's own status for usage errors).
pub const USAGE: i32 = 2;
pub const BAD_INPUT: i32 = 3;
pub const BAD_NIC_FILE: i32 = 4;
pub const MODEL: i32 = 5;
pub const OUTPUT: i32 = 6;
pub const TOO_LARGE: i32 = 7;
/// The device asked for with `--device` is not there or cannot be opened.
pub const DEVICE: i32 = 8;

/// The status for an error: that of the first cause in its chain nic knows.
pub fn code(error: &anyhow::Error) -> i32 {
    error.chain().find_map(classify).unwrap_or(OTHER)
}

fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<i32> {
    if let Some(f) = cause.downcast_ref::<Failure>() {
        return Some(match f {
            Failure::Input(_) => BAD_INPUT,
            Failure::Output(_) => OUTPUT,
            Failure::Usage(_) => USAGE,
        });
    }
    if cause.is::<nic_model::DeviceError>() {
        return Some(DEVICE);
    }
    if let Some(e) = cause.downcast_ref::<ImageError>() {
        return Some(image(e));
    }
    if cause.is::<FormatError>() || cause.is::<nic_entropy::CodingError>() {
        return Some(BAD_NIC_FILE);
    }
    if let Some(e) = cause.downcast_ref::<CodecError>() {
        return Some(codec(e));
    }
    if let Some(e) = cause.downcast_ref::<CompareError>() {
        return Some(match e {
            CompareError::Selection(_) => USAGE,
            CompareError::NoImages(_) => BAD_INPUT,
            CompareError::Image(e) => image(e),
            CompareError::Codec(e) => codec(e),
            CompareError::Write { .. } => OUTPUT,
            CompareError::Baseline(_) | CompareError::Invalid(_) => OTHER,
        });
    }
    None
}

fn image(e: &ImageError) -> i32 {
    match e {
        ImageError::Read { .. } | ImageError::Decode { .. } | ImageError::NotAFolder { .. } => {
            BAD_INPUT
        }
        ImageError::TooLarge { .. } => TOO_LARGE,
        ImageError::Write { .. } | ImageError::Encode { .. } | ImageError::UnknownFormat { .. } => {
            OUTPUT
        }
    }
}

fn codec(e: &CodecError) -> i32 {
    match e {
        CodecError::Model(_) | CodecError::WrongModel { .. } => MODEL,
        CodecError::TooLarge { .. } => TOO_LARGE,
        CodecError::Quality { .. } | CodecError::Request(_) => USAGE,
        CodecError::Format(_) | CodecError::Coding(_) | CodecError::InvalidFile(_) => BAD_NIC_FILE,
        CodecError::Input(_) => BAD_INPUT,
        CodecError::Device(_) => DEVICE,
    }
}
