//! What can go wrong in the codec, by what failed (not by who asked), so that a caller maps
//! each case to one answer: the command line to its exit statuses, a library user to a retry,
//! a different model or a message.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CodecError {
    /// The model cannot be used: a missing or malformed model folder, bad tables, weights
    /// whose shapes do not fit.
    #[error("{0}")]
    Model(String),
    /// A file made with another model than the one given.
    #[error(
        "this file was made with a different model (id {file}) than the one given (id {model}, {dir}); decode it with the model that encoded it"
    )]
    WrongModel {
        file: String,
        model: String,
        dir: String,
    },
    /// A request that makes no sense (a target that is not a positive size, two rates).
    #[error("{0}")]
    Request(String),
    /// A quality asked for (not read from a file) that the model does not have.
    #[error("quality {quality} is outside this model's range {lo}–{hi}")]
    Quality { quality: f64, lo: f64, hi: f64 },
    /// The `.nic` container is malformed.
    #[error(transparent)]
    Format(#[from] nic_format::FormatError),
    /// A payload of a `.nic` file does not decode.
    #[error(transparent)]
    Coding(#[from] nic_entropy::CodingError),
    /// A well-formed `.nic` file whose content does not fit the model: tensor shapes, a
    /// quality outside the model's range, an empty picture.
    #[error("{0}")]
    InvalidFile(String),
    /// A picture given to encode that cannot be encoded.
    #[error("{0}")]
    Input(String),
    /// A picture, given or in a file's header, over the size limit.
    #[error(
        "image of {width}×{height} pixels is over the limit of {limit} pixels (--max-pixels raises it)"
    )]
    TooLarge { width: u32, height: u32, limit: u64 },
    /// The device failed: a tensor could not be read back.
    #[error("{0}")]
    Device(String),
}
