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
        "image of {width}×{height} pixels ({}) is over the limit of {} (--max-pixels raises it)",
        nic_image::megapixels(*width as u64 * *height as u64),
        nic_image::megapixels(*limit)
    )]
    TooLarge { width: u32, height: u32, limit: u64 },
    /// The device failed: a tensor could not be read back.
    #[error("{0}")]
    Device(String),
}

/// What kind of problem an error is, for the command line's exit statuses and the Python
/// module's exception classes: one table, so that both say the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Arguments that make no sense (a quality out of range, a bad target).
    Usage,
    /// A picture or file given that cannot be used.
    Input,
    /// A `.nic` file that is malformed or does not fit its model.
    InvalidFile,
    /// No usable model, or a file made by another one.
    Model,
    /// An output that cannot be written.
    Output,
    /// Over a size limit.
    TooLarge,
    /// The device is not there or failed.
    Device,
}

impl CodecError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CodecError::Model(_) | CodecError::WrongModel { .. } => ErrorKind::Model,
            CodecError::TooLarge { .. } => ErrorKind::TooLarge,
            CodecError::Quality { .. } | CodecError::Request(_) => ErrorKind::Usage,
            CodecError::Format(_) | CodecError::Coding(_) | CodecError::InvalidFile(_) => {
                ErrorKind::InvalidFile
            }
            CodecError::Input(_) => ErrorKind::Input,
            CodecError::Device(_) => ErrorKind::Device,
        }
    }
}

impl ErrorKind {
    /// The kind of a picture's read or write failure.
    pub fn of_image(e: &nic_image::ImageError) -> ErrorKind {
        use nic_image::ImageError as E;
        match e {
            E::Read { .. } | E::Decode { .. } | E::NotAFolder { .. } => ErrorKind::Input,
            E::TooLarge { .. } => ErrorKind::TooLarge,
            E::Write { .. } | E::Encode { .. } | E::UnknownFormat { .. } => ErrorKind::Output,
        }
    }

    /// The kind of the first error in `e`'s chain that nic knows, if any.
    pub fn of(e: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
        std::iter::successors(Some(e), |c| c.source()).find_map(ErrorKind::of_cause)
    }

    /// The kind of `cause` itself (not of its sources), if it is one of nic's errors.
    pub fn of_cause(cause: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
        if let Some(e) = cause.downcast_ref::<CodecError>() {
            Some(e.kind())
        } else if let Some(e) = cause.downcast_ref::<nic_image::ImageError>() {
            Some(ErrorKind::of_image(e))
        } else if cause.is::<nic_format::FormatError>() || cause.is::<nic_entropy::CodingError>() {
            Some(ErrorKind::InvalidFile)
        } else if cause.is::<nic_model::DeviceError>() {
            Some(ErrorKind::Device)
        } else {
            None
        }
    }
}
