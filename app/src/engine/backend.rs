//! Which device trains: burn's wgpu backend on a real GPU, otherwise burn's
//! flex CPU backend. Mesa's software Vulkan (lavapipe) reports itself as a
//! CPU adapter: it counts as no GPU, as flex is faster on the same cores.

use burn::tensor::wgpu::wgpu;
use burn::tensor::{Device, DeviceKind};
use cubecl_runtime::config::cache::CacheConfig;
use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// wgpu on a real GPU, else flex.
    #[default]
    Auto,
    /// burn's wgpu backend (on a CPU adapter such as lavapipe if no GPU exists).
    Wgpu,
    /// burn's flex CPU backend.
    Flex,
}

/// The device chosen and how to name it to the user.
#[derive(Clone, Debug)]
pub struct Backend {
    pub device: Device,
    /// e.g. "flex (CPU, 2 threads)" or "wgpu: NVIDIA RTX A4000 (DiscreteGpu,
    /// Vulkan, driver NVIDIA 550.54)".
    pub label: String,
    pub is_wgpu: bool,
    /// wgpu on a real GPU (not a CPU adapter such as lavapipe).
    pub on_gpu: bool,
}

/// A wgpu adapter as the system reports it.
#[derive(Clone, Debug)]
pub struct Adapter {
    pub name: String,
    pub device_type: wgpu::DeviceType,
    pub api: wgpu::Backend,
    /// The driver's name and version, as the driver gives them.
    pub driver: String,
}

impl Adapter {
    pub fn is_gpu(&self) -> bool {
        matches!(
            self.device_type,
            wgpu::DeviceType::DiscreteGpu
                | wgpu::DeviceType::IntegratedGpu
                | wgpu::DeviceType::VirtualGpu
        )
    }

    fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?}, driver {})",
            self.name, self.device_type, self.api, self.driver
        )
    }
}

/// Every adapter wgpu can see (none when no driver is installed).
pub fn adapters() -> Vec<Adapter> {
    let instance = wgpu::Instance::default();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|a| {
            let info = a.get_info();
            Adapter {
                name: info.name,
                device_type: info.device_type,
                api: info.backend,
                driver: format!("{} {}", info.driver, info.driver_info)
                    .trim()
                    .to_string(),
            }
        })
        .collect()
}

pub fn select(choice: BackendChoice) -> Backend {
    let flex = || {
        deepreduce_models::cpu::keep_freed_buffers();
        Backend {
            device: Device::flex(),
            label: format!(
                "flex (CPU, {} threads)",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ),
            is_wgpu: false,
            on_gpu: false,
        }
    };
    match choice {
        BackendChoice::Flex => flex(),
        BackendChoice::Auto => match adapters().into_iter().find(Adapter::is_gpu) {
            Some(gpu) => wgpu_backend(DeviceKind::DefaultDevice, &gpu),
            None => flex(),
        },
        BackendChoice::Wgpu => {
            let all = adapters();
            match all.iter().find(|a| a.is_gpu()).or(all.first()) {
                Some(a) if a.is_gpu() => wgpu_backend(DeviceKind::DefaultDevice, a),
                Some(a) => wgpu_backend(DeviceKind::Cpu, a),
                // No adapter at all: wgpu's own fallback (GL) decides.
                None => Backend {
                    device: {
                        keep_kernel_tuning();
                        Device::wgpu(DeviceKind::DefaultDevice)
                    },
                    label: "wgpu: default adapter (none enumerated)".into(),
                    is_wgpu: true,
                    on_gpu: false,
                },
            }
        }
    }
}

fn wgpu_backend(kind: DeviceKind, adapter: &Adapter) -> Backend {
    keep_kernel_tuning();
    Backend {
        device: Device::wgpu(kind),
        label: format!("wgpu: {}", adapter.describe()),
        is_wgpu: true,
        on_gpu: adapter.is_gpu(),
    }
}

/// Where burn's wgpu backend keeps what it learned about this machine's
/// kernels (which autotuned variant is fastest for each shape): under the
/// user's cache folder, so that the first training after a restart does
/// not tune again.
pub fn kernel_tuning_dir() -> PathBuf {
    crate::engine::plugin_host::user_cache_dir().join("kernel-tuning")
}

/// Points CubeCL's persistent caches at [`kernel_tuning_dir`], before the
/// first wgpu device exists (CubeCL reads its configuration once). Its
/// `CUBECL_*` variables still apply; a `cubecl.toml` in the working folder
/// does not, as the app's working folder is not the user's choice. Without
/// this, CubeCL would keep its cache under the `target/` of any Cargo
/// project the app happens to run in. A folder that cannot be written
/// costs a re-tune, not the training: CubeCL degrades to its in-memory
/// cache.
fn keep_kernel_tuning() {
    let mut config = CubeClRuntimeConfig::default().override_from_env();
    config.environment.path = CacheConfig::Directory(kernel_tuning_dir());
    // Refused when already set: by an earlier device of this process.
    CubeClRuntimeConfig::try_set(config);
}
