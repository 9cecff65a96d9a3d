//! Where plugins are found: the build's output folder (the built-in
//! plugins), the user's plugin folder and folders given on the command
//! line; where their logs go.

use std::path::{Path, PathBuf};

/// A folder to search for plugins.
#[derive(Clone, Debug)]
pub struct PluginDir {
    pub path: PathBuf,
    /// Only the libraries of [`BUILT_IN_PLUGIN_CRATES`]: the build output
    /// folder holds other libraries too, and stale plugins of crates built
    /// once on another branch; otherwise every shared library.
    pub built_in_only: bool,
}

impl PluginDir {
    pub(super) fn libraries(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_shared_library(p))
            .filter(|p| !self.built_in_only || is_built_in_library(&file_name(p)))
            .collect();
        files.sort();
        files
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The workspace's plugin crates, whose libraries the build output folder
/// holds: the built-in plugins. A new plugin crate is added here.
pub const BUILT_IN_PLUGIN_CRATES: [&str; 13] = [
    "deepreduce_plugin_budget",
    "deepreduce_plugin_cull",
    "deepreduce_plugin_delphi",
    "deepreduce_plugin_kd",
    "deepreduce_plugin_latency_cheetah",
    "deepreduce_plugin_latency_crypten",
    "deepreduce_plugin_method_deepreduce",
    "deepreduce_plugin_method_snl",
    "deepreduce_plugin_mobilenet",
    "deepreduce_plugin_reshape",
    "deepreduce_plugin_resnet",
    "deepreduce_plugin_thin",
    "deepreduce_plugin_vgg",
];

fn is_built_in_library(file_name: &str) -> bool {
    use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
    BUILT_IN_PLUGIN_CRATES
        .iter()
        .any(|krate| file_name == format!("{DLL_PREFIX}{krate}{DLL_SUFFIX}"))
}

fn is_shared_library(p: &Path) -> bool {
    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
    ext == std::env::consts::DLL_EXTENSION
}

/// The folder of the build's output, where the built-in plugins are: next
/// to the binary, or one up for test binaries (which live in `deps/`).
pub fn build_output_dir() -> Option<PathBuf> {
    let exe_dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
    match exe_dir.parent() {
        Some(parent) if exe_dir.ends_with("deps") => Some(parent.to_path_buf()),
        _ => Some(exe_dir),
    }
}

/// The built-in plugins' folder and the user plugin folder
/// (`$DEEPREDUCE_PLUGIN_DIR`, else `~/.local/share/deepreduce/plugins`).
pub fn plugin_dirs() -> Vec<PluginDir> {
    let mut dirs = Vec::new();
    if let Some(path) = build_output_dir() {
        dirs.push(PluginDir {
            path,
            built_in_only: true,
        });
    }
    dirs.push(PluginDir {
        path: user_plugin_dir(),
        built_in_only: false,
    });
    dirs
}

pub fn user_plugin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DEEPREDUCE_PLUGIN_DIR") {
        return PathBuf::from(dir);
    }
    user_data_dir().join("plugins")
}

/// The workbench's folder under an XDG base directory: `$var/deepreduce`,
/// else `~/<home_fallback>/deepreduce`.
fn xdg_dir(var: &str, home_fallback: &str) -> PathBuf {
    let base = std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(home_fallback)))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("deepreduce")
}

/// The workbench's per-user data folder: `$XDG_DATA_HOME/deepreduce`, else
/// `~/.local/share/deepreduce` (plugins, the run store).
pub fn user_data_dir() -> PathBuf {
    xdg_dir("XDG_DATA_HOME", ".local/share")
}

/// The workbench's per-user cache folder: `$XDG_CACHE_HOME/deepreduce`, else
/// `~/.cache/deepreduce` (what can be recomputed, such as the GPU kernels'
/// tuning).
pub fn user_cache_dir() -> PathBuf {
    xdg_dir("XDG_CACHE_HOME", ".cache")
}

/// The SHA-256 of a plugin file, in hex: what a user compares with the
/// vendor's published checksum before trusting a library.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Where plugin logs go: `$XDG_STATE_HOME/deepreduce/plugin-logs`, else
/// `~/.local/state/deepreduce/plugin-logs`.
pub fn plugin_log_dir() -> PathBuf {
    xdg_dir("XDG_STATE_HOME", ".local/state").join("plugin-logs")
}
