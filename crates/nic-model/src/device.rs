//! Run-time choice of the compute device: burn's Flex backend on the CPU, or a GPU through
//! wgpu.
//!
//! Adapters are listed here rather than left to wgpu's own choice so that `auto` can refuse
//! software rasterizers (llvmpipe, lavapipe, SwiftShader, WARP): on a machine without a GPU
//! they are far slower than the CPU backend, so picking one silently would be a trap. They are
//! still reachable, on purpose, as `gpu-software` (CI tests the wgpu path that way).

use burn::tensor::Device;
use thiserror::Error;

#[cfg(feature = "wgpu")]
use gpu::{Adapters, open_wgpu};

/// Which device to run on, as the `--device` flag names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The first hardware GPU if there is one, otherwise the CPU.
    Auto,
    /// burn's Flex CPU backend.
    Cpu,
    /// The N-th hardware GPU (`gpu` is `gpu:0`), in the order `nic` lists them.
    Gpu(usize),
    /// A software Vulkan/GL implementation through wgpu (for tests of the GPU code path).
    GpuSoftware,
}

#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("unknown device '{0}': expected auto, cpu, gpu, gpu:N or gpu-software")]
    Unknown(String),
    #[error("no hardware GPU found{}", listing(.0))]
    NoGpu(Vec<String>),
    #[error("there is no GPU {index}: this machine has {count}{}", listing(.adapters))]
    NoSuchGpu {
        index: usize,
        count: usize,
        adapters: Vec<String>,
    },
    #[error(
        "no software GPU adapter found (on Debian and Ubuntu: apt install mesa-vulkan-drivers){}",
        listing(.0)
    )]
    NoSoftwareGpu(Vec<String>),
    #[error("cannot open {adapter}: {message}")]
    Init { adapter: String, message: String },
    #[error("this build of nic has no GPU support (built without the `wgpu` feature)")]
    NotCompiled,
}

fn listing(adapters: &[String]) -> String {
    if adapters.is_empty() {
        " (wgpu sees no adapter at all)".into()
    } else {
        format!(" (wgpu sees: {})", adapters.join("; "))
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        let unknown = || DeviceError::Unknown(s.to_string());
        Ok(match s {
            "auto" => DeviceChoice::Auto,
            "cpu" => DeviceChoice::Cpu,
            "gpu" => DeviceChoice::Gpu(0),
            "gpu-software" => DeviceChoice::GpuSoftware,
            _ => match s.strip_prefix("gpu:") {
                Some(n) => DeviceChoice::Gpu(n.parse().map_err(|_| unknown())?),
                None => return Err(unknown()),
            },
        })
    }
}

/// The flag's own spelling, so that `--device` can be passed on to a child process.
impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Gpu(n) => write!(f, "gpu:{n}"),
            DeviceChoice::GpuSoftware => f.write_str("gpu-software"),
        }
    }
}

/// An opened device and what to tell the user about it.
#[derive(Debug, Clone)]
pub struct OpenedDevice {
    pub device: Device,
    /// One line, e.g. `gpu: NVIDIA H100 (Vulkan, discrete)` or `cpu (burn Flex, 2 threads)`.
    pub description: String,
}

impl DeviceChoice {
    /// Opens the device, or says clearly why it cannot.
    pub fn open(self) -> Result<OpenedDevice, DeviceError> {
        let cpu = || OpenedDevice {
            device: Device::flex(),
            description: format!("cpu (burn Flex, {} threads)", rayon::current_num_threads()),
        };
        match self {
            DeviceChoice::Cpu => Ok(cpu()),
            #[cfg(not(feature = "wgpu"))]
            DeviceChoice::Auto => Ok(cpu()),
            #[cfg(not(feature = "wgpu"))]
            DeviceChoice::Gpu(_) | DeviceChoice::GpuSoftware => Err(DeviceError::NotCompiled),
            #[cfg(feature = "wgpu")]
            DeviceChoice::Auto => match Adapters::list().hardware().first() {
                Some(a) => open_wgpu(a),
                None => Ok(cpu()),
            },
            #[cfg(feature = "wgpu")]
            DeviceChoice::Gpu(index) => {
                let adapters = Adapters::list();
                let hardware = adapters.hardware();
                match hardware.get(index) {
                    Some(a) => open_wgpu(a),
                    None if hardware.is_empty() => Err(DeviceError::NoGpu(adapters.describe())),
                    None => Err(DeviceError::NoSuchGpu {
                        index,
                        count: hardware.len(),
                        adapters: adapters.describe(),
                    }),
                }
            }
            #[cfg(feature = "wgpu")]
            DeviceChoice::GpuSoftware => {
                let adapters = Adapters::list();
                match adapters.software() {
                    Some(a) => open_wgpu(a),
                    None => Err(DeviceError::NoSoftwareGpu(adapters.describe())),
                }
            }
        }
    }
}

#[cfg(feature = "wgpu")]
mod gpu {
    use std::sync::Mutex;

    use burn::tensor::wgpu::{WgpuBackend, wgpu};
    use burn::tensor::{Device, DeviceKind};

    use super::{DeviceError, OpenedDevice};

    /// One wgpu adapter, and how burn addresses it.
    #[derive(Debug, Clone)]
    pub(super) struct Adapter {
        info: wgpu::AdapterInfo,
        api: wgpu::Backend,
        kind: DeviceKind,
    }

    impl Adapter {
        pub(super) fn describe(&self) -> String {
            let kind = match self.info.device_type {
                wgpu::DeviceType::DiscreteGpu => "discrete",
                wgpu::DeviceType::IntegratedGpu => "integrated",
                wgpu::DeviceType::VirtualGpu => "virtual",
                wgpu::DeviceType::Cpu => "software",
                wgpu::DeviceType::Other => "other",
            };
            format!("{} ({:?}, {kind})", self.info.name, self.api)
        }

        pub(super) fn is_software(&self) -> bool {
            let name = self.info.name.to_lowercase();
            self.info.device_type == wgpu::DeviceType::Cpu
                || ["llvmpipe", "lavapipe", "softpipe", "swiftshader", "warp"]
                    .iter()
                    .any(|s| name.contains(s))
        }
    }

    /// The graphics APIs tried, best first. OpenGL is left out: burn's kernels need compute
    /// shaders that GL drivers rarely run well, every GPU it could reach also speaks one of these,
    /// and probing it makes Mesa print EGL warnings on machines without a display.
    const APIS: [wgpu::Backend; 3] = [
        wgpu::Backend::Vulkan,
        wgpu::Backend::Metal,
        wgpu::Backend::Dx12,
    ];

    /// The adapters of each compiled-in graphics API, in wgpu's order, with burn's per-type
    /// index (burn counts discrete, integrated and virtual GPUs separately). Listed once per
    /// open: asking the drivers is the slow part.
    pub(super) struct Adapters(Vec<Vec<Adapter>>);

    impl Adapters {
        pub(super) fn list() -> Adapters {
            let enabled = wgpu::Instance::enabled_backend_features();
            Adapters(
                APIS.iter()
                    .filter(|api| enabled.contains((**api).into()))
                    .map(|&api| list_api(api))
                    .collect(),
            )
        }

        /// Hardware GPUs of the first graphics API that has any, in enumeration order.
        /// Adapters of type "other" are left out: burn cannot address them one by one.
        pub(super) fn hardware(&self) -> Vec<&Adapter> {
            self.0
                .iter()
                .map(|list| {
                    list.iter()
                        .filter(|a| {
                            !a.is_software() && a.info.device_type != wgpu::DeviceType::Other
                        })
                        .collect::<Vec<_>>()
                })
                .find(|list| !list.is_empty())
                .unwrap_or_default()
        }

        pub(super) fn software(&self) -> Option<&Adapter> {
            self.all()
                .find(|a| a.info.device_type == wgpu::DeviceType::Cpu)
        }

        pub(super) fn all(&self) -> impl Iterator<Item = &Adapter> {
            self.0.iter().flatten()
        }

        /// One line per adapter, for error messages.
        pub(super) fn describe(&self) -> Vec<String> {
            self.all().map(Adapter::describe).collect()
        }
    }

    fn list_api(api: wgpu::Backend) -> Vec<Adapter> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: api.into(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let mut counts = [0usize; 5];
        futures_lite::future::block_on(instance.enumerate_adapters(api.into()))
            .iter()
            .map(|a| {
                let info = a.get_info();
                let (slot, make): (usize, fn(usize) -> DeviceKind) = match info.device_type {
                    wgpu::DeviceType::DiscreteGpu => (0, DeviceKind::DiscreteGpu),
                    wgpu::DeviceType::IntegratedGpu => (1, DeviceKind::IntegratedGpu),
                    wgpu::DeviceType::VirtualGpu => (2, DeviceKind::VirtualGpu),
                    wgpu::DeviceType::Cpu => (3, |_| DeviceKind::Cpu),
                    wgpu::DeviceType::Other => (4, |_| DeviceKind::DefaultDevice),
                };
                let kind = make(counts[slot]);
                counts[slot] += 1;
                Adapter { info, api, kind }
            })
            .collect()
    }

    /// wgpu runtimes can be initialized once per process; later opens reuse the device.
    static OPENED: Mutex<Vec<(String, Device)>> = Mutex::new(Vec::new());

    pub(super) fn open_wgpu(adapter: &Adapter) -> Result<OpenedDevice, DeviceError> {
        let description = format!("gpu: {}", adapter.describe());
        let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, device)) = opened.iter().find(|(d, _)| *d == description) {
            return Ok(OpenedDevice {
                device: device.clone(),
                description,
            });
        }
        let api = match adapter.api {
            wgpu::Backend::Metal => WgpuBackend::Metal,
            wgpu::Backend::Dx12 => WgpuBackend::Dx12,
            _ => WgpuBackend::Vulkan,
        };
        let device = Device::wgpu_options()
            .device_kind(adapter.kind.clone())
            .graphics_api(api)
            .init()
            .map_err(|e| DeviceError::Init {
                adapter: adapter.describe(),
                message: e.to_string(),
            })?;
        opened.push((description.clone(), device.clone()));
        Ok(OpenedDevice {
            device,
            description,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        assert_eq!("auto".parse::<DeviceChoice>().unwrap(), DeviceChoice::Auto);
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("gpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Gpu(0));
        assert_eq!(
            "gpu:2".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Gpu(2)
        );
        assert_eq!(
            "gpu-software".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::GpuSoftware
        );
        for choice in [
            DeviceChoice::Auto,
            DeviceChoice::Cpu,
            DeviceChoice::Gpu(3),
            DeviceChoice::GpuSoftware,
        ] {
            assert_eq!(choice.to_string().parse::<DeviceChoice>().unwrap(), choice);
        }
        for bad in ["", "GPU", "gpu:", "gpu:-1", "gpu:x", "cuda", "cpu:0"] {
            assert!(bad.parse::<DeviceChoice>().is_err(), "{bad}");
        }
    }

    #[cfg(feature = "wgpu")]
    #[test]
    fn auto_never_picks_a_software_adapter() {
        let opened = DeviceChoice::Auto.open().unwrap();
        let adapters = Adapters::list();
        let software = adapters
            .all()
            .filter(|a| a.is_software())
            .map(|a| format!("gpu: {}", a.describe()))
            .collect::<Vec<_>>();
        assert!(
            !software.contains(&opened.description),
            "{}",
            opened.description
        );
        if adapters.hardware().is_empty() {
            assert!(
                opened.description.starts_with("cpu"),
                "{}",
                opened.description
            );
        }
    }

    #[test]
    fn a_missing_gpu_is_an_error_not_a_panic() {
        let err = DeviceChoice::Gpu(1000).open().unwrap_err().to_string();
        assert!(err.contains("GPU"), "{err}");
    }
}
