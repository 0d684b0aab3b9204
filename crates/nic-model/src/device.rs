//! Run-time choice of the compute device.

use burn::tensor::Device;
use thiserror::Error;

/// Which device to run on, as the `--device` flag names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The best available device; today always the CPU (the GPU backend is not compiled in).
    Auto,
    /// burn's Flex CPU backend.
    Cpu,
}

#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("unknown device '{0}': expected auto or cpu")]
    Unknown(String),
}

impl std::str::FromStr for DeviceChoice {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            other => Err(DeviceError::Unknown(other.to_string())),
        }
    }
}

impl DeviceChoice {
    /// The device and a one-line description for the user.
    pub fn open(self) -> (Device, &'static str) {
        match self {
            DeviceChoice::Auto | DeviceChoice::Cpu => (Device::flex(), "cpu (burn Flex)"),
        }
    }
}
