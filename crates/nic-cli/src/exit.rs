//! Exit statuses, one per kind of failure, so scripts can tell a bad input from a bad output or
//! a missing model without parsing messages. The table is in the README ("Exit status").

use nic_codec::ErrorKind;
use nic_compare::CompareError;

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
    if let Some(e) = cause.downcast_ref::<CompareError>() {
        return Some(match e {
            CompareError::Selection(_) => USAGE,
            CompareError::NoImages(_) => BAD_INPUT,
            CompareError::Image(e) => status(ErrorKind::of_image(e)),
            CompareError::Codec(e) => status(e.kind()),
            CompareError::Write { .. } => OUTPUT,
            CompareError::Baseline(_) | CompareError::Invalid(_) => OTHER,
        });
    }
    // Only this cause: `code` walks the chain itself.
    ErrorKind::of_cause(cause).map(status)
}

/// The library's kinds of failure (shared with the Python module's exceptions) as statuses.
fn status(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Usage => USAGE,
        ErrorKind::Input => BAD_INPUT,
        ErrorKind::InvalidFile => BAD_NIC_FILE,
        ErrorKind::Model => MODEL,
        ErrorKind::Output => OUTPUT,
        ErrorKind::TooLarge => TOO_LARGE,
        ErrorKind::Device => DEVICE,
    }
}
