//! Finds, loads and validates plugins, and calls them safely. Libraries are
//! never unloaded (dlclose is unreliable): a loaded plugin lives as long as
//! the process. A broken plugin gives a [`HostError`] naming its file and the
//! cause; the host and every other plugin stay usable.
//!
//! What no in-process host can contain: a plugin that crashes outright
//! (segfault, abort) takes the process with it. Rust plugins are protected
//! against panics by the export macro; C plugins must not crash.

use deepreduce_plugin_api::abi::{
    ABI_MAJOR, ABI_MINOR, ENTRY_SYMBOL, EntryFn, PluginEntryV1, status,
};
use deepreduce_plugin_api::reduction::{MethodInfo, StepInput, StepOutput};
use deepreduce_plugin_api::{
    ArchParams, ArchitectureInfo, Candidate, Candidates, Descriptor, ErrorPayload, LatencyEstimate,
    Network, OptimizationRequest, PluginKind, TrainingObjective, analyze, method,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};

/// Why a plugin could not be loaded or a call failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("plugin {}: {cause}", file.display())]
pub struct HostError {
    pub file: PathBuf,
    pub cause: Cause,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum Cause {
    #[error("cannot open the library: {0}")]
    Open(String),
    #[error("not a DeepReDuce plugin: it does not export `{ENTRY_SYMBOL}`")]
    MissingEntry,
    #[error("its entry point returned a null pointer")]
    NullEntry,
    #[error(
        "incompatible plugin ABI {plugin_major}.{plugin_minor}; this workbench speaks ABI {ABI_MAJOR}.{ABI_MINOR}"
    )]
    AbiMismatch {
        plugin_major: u16,
        plugin_minor: u16,
    },
    #[error(
        "its entry struct is {got} bytes, smaller than the {needed} bytes of ABI {ABI_MAJOR}.0"
    )]
    EntryTooSmall { got: u32, needed: usize },
    #[error("its entry struct has no `{0}` function")]
    MissingFunction(&'static str),
    #[error("malformed descriptor: {0}")]
    BadDescriptor(String),
    #[error("its id '{0}' is not a reverse-DNS id like org.example.my-plugin")]
    BadId(String),
    #[error("its id '{id}' is already taken by {}", other.display())]
    DuplicateId { id: String, other: PathBuf },
    #[error("it is a {0} plugin, asked for something it does not offer")]
    WrongKind(&'static str),
    #[error("{method} failed ({}): {message}", status_name(*code))]
    Call {
        method: String,
        code: i32,
        message: String,
    },
    #[error("{method} returned malformed JSON: {error}")]
    MalformedOutput { method: String, error: String },
    #[error("{method} returned an invalid network: {error}")]
    InvalidNetwork { method: String, error: String },
    /// Refused before the call: the network uses IR a plugin built against
    /// an older ABI minor cannot read (ABI 1.0 knows no masks).
    #[error(
        "{id} speaks IR {ABI_MAJOR}.{plugin_minor} and cannot read masked or polynomial layers \
         (this network needs IR {ABI_MAJOR}.{needed}); {}",
        older_plugin_advice(*kind)
    )]
    OlderIr {
        id: String,
        kind: PluginKind,
        plugin_minor: u16,
        needed: u16,
    },
}

/// What a user can do about a plugin too old for a network.
fn older_plugin_advice(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Optimization => "apply it before the budget, or update it",
        PluginKind::Architecture | PluginKind::Latency | PluginKind::Method => "update it",
    }
}

fn status_name(code: i32) -> &'static str {
    match code {
        status::ERROR => "refused",
        status::PANIC => "the plugin panicked",
        status::UNSUPPORTED => "unsupported",
        status::BAD_INPUT => "bad input",
        _ => "unknown status",
    }
}

/// A plugin library that loaded and passed validation. Cloning is cheap and
/// safe: the library stays loaded for the life of the process.
#[derive(Clone)]
pub struct LoadedPlugin {
    pub descriptor: Descriptor,
    pub path: PathBuf,
    /// The ABI minor the plugin was built against: it is sent no network
    /// that needs a later one.
    pub abi_minor: u16,
    entry: &'static PluginEntryV1,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LoadedPlugin({} at {})",
            self.descriptor.id,
            self.path.display()
        )
    }
}

impl LoadedPlugin {
    fn error(&self, cause: Cause) -> HostError {
        HostError {
            file: self.path.clone(),
            cause,
        }
    }

    /// Calls `method` with a JSON input and returns the plugin's JSON output.
    pub fn call_json(&self, method: &str, input: &str) -> Result<String, HostError> {
        self.call_c(method, c_string(input))
    }

    fn call_c(&self, method: &str, input_c: CString) -> Result<String, HostError> {
        let call = self.entry.call.expect("validated at load");
        let free = self.entry.free_string.expect("validated at load");
        let method_c = c_string(method);
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: both strings are NUL-terminated and outlive the call; `out`
        // is a valid pointer slot; the plugin promised the ABI's contract.
        let code = unsafe { call(method_c.as_ptr(), input_c.as_ptr(), &mut out) };
        let text = (!out.is_null()).then(|| {
            // SAFETY: a non-null output is a NUL-terminated string the plugin
            // allocated; we copy it and hand it back to its own allocator.
            let s = unsafe { CStr::from_ptr(out) }
                .to_string_lossy()
                .into_owned();
            unsafe { free(out) };
            s
        });
        let method = method.to_string();
        if code == status::OK {
            return text.ok_or_else(|| {
                self.error(Cause::MalformedOutput {
                    method,
                    error: "no output".into(),
                })
            });
        }
        let message = match text {
            Some(t) => serde_json::from_str::<ErrorPayload>(&t)
                .map(|e| e.error)
                .unwrap_or(t),
            None => "no error message".into(),
        };
        Err(self.error(Cause::Call {
            method,
            code,
            message,
        }))
    }

    fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        method: &str,
        input: &I,
    ) -> Result<O, HostError> {
        // Straight into the C string: a masked network is ~100 KB of JSON,
        // and JSON never holds a NUL byte (serde_json escapes it).
        let input = serde_json::to_vec(input).expect("host payloads serialise");
        let input = CString::new(input).expect("JSON has no NUL byte");
        let output = self.call_c(method, input)?;
        serde_json::from_str(&output).map_err(|e| {
            self.error(Cause::MalformedOutput {
                method: method.into(),
                error: e.to_string(),
            })
        })
    }

    fn expect_capability(&self, capability: &str) -> Result<(), HostError> {
        if self.descriptor.has_capability(capability) {
            Ok(())
        } else {
            Err(self.error(Cause::WrongKind(self.descriptor.kind.as_str())))
        }
    }

    /// Refuses to send `network` to a plugin built against an ABI minor
    /// that cannot read it. Refusing rather than routing around it: the
    /// plugin's answer is what the user asked for, and nothing it could
    /// return for a network it cannot read would be that answer.
    fn check_readable(&self, network: &Network) -> Result<(), HostError> {
        let needed = network.abi_minor_needed();
        if needed <= self.abi_minor {
            return Ok(());
        }
        Err(self.error(Cause::OlderIr {
            id: self.descriptor.id.clone(),
            kind: self.descriptor.kind,
            plugin_minor: self.abi_minor,
            needed,
        }))
    }

    fn validated(&self, method: &str, network: Network) -> Result<Network, HostError> {
        match analyze(&network) {
            Ok(_) => Ok(network),
            Err(e) => Err(self.error(Cause::InvalidNetwork {
                method: method.into(),
                error: e.to_string(),
            })),
        }
    }

    pub fn describe_architecture(&self) -> Result<ArchitectureInfo, HostError> {
        self.expect_capability(deepreduce_plugin_api::ARCHITECTURE)?;
        self.call(method::ARCHITECTURE_DESCRIBE, &serde_json::Value::Null)
    }

    /// Builds a network; it is returned only if shape inference passes.
    pub fn build(&self, params: &ArchParams) -> Result<Network, HostError> {
        self.expect_capability(deepreduce_plugin_api::ARCHITECTURE)?;
        let net = self.call(method::ARCHITECTURE_BUILD, params)?;
        self.validated(method::ARCHITECTURE_BUILD, net)
    }

    /// Applies an optimization; every candidate must pass shape inference.
    pub fn apply(&self, request: &OptimizationRequest) -> Result<Vec<Candidate>, HostError> {
        self.expect_capability(deepreduce_plugin_api::OPTIMIZATION)?;
        self.check_readable(&request.network)?;
        let out: Candidates = self.call(method::OPTIMIZATION_APPLY, request)?;
        out.candidates
            .into_iter()
            .map(|c| {
                let network = self.validated(method::OPTIMIZATION_APPLY, c.network)?;
                Ok(Candidate {
                    description: c.description,
                    network,
                })
            })
            .collect()
    }

    pub fn recipe(&self, params: &serde_json::Value) -> Result<TrainingObjective, HostError> {
        self.expect_capability(deepreduce_plugin_api::OBJECTIVE)?;
        self.call(method::OBJECTIVE_RECIPE, params)
    }

    pub fn estimate(&self, network: &Network) -> Result<LatencyEstimate, HostError> {
        self.expect_capability(deepreduce_plugin_api::LATENCY)?;
        self.check_readable(network)?;
        self.call(method::LATENCY_ESTIMATE, network)
    }

    pub fn describe_method(&self) -> Result<MethodInfo, HostError> {
        self.expect_capability(deepreduce_plugin_api::METHOD)?;
        self.call(method::METHOD_DESCRIBE, &serde_json::Value::Null)
    }

    /// The method's next step. Its answer is checked against the history
    /// by the caller ([`deepreduce_plugin_api::reduction::check_step`]).
    pub fn step(&self, input: &StepInput) -> Result<StepOutput, HostError> {
        self.expect_capability(deepreduce_plugin_api::METHOD)?;
        self.check_readable(&input.baseline)?;
        for exchange in &input.history {
            self.check_readable(&exchange.request.network)?;
            self.check_readable(&exchange.result.network)?;
        }
        self.call(method::METHOD_STEP, input)
    }
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("NUL bytes removed")
}

/// A library that was found but refused.
#[derive(Clone, Debug)]
pub struct LoadFailure {
    pub error: HostError,
}

/// Every plugin found: those loaded and those refused. A clone is a snapshot
/// that a worker thread can own while the GUI goes on loading plugins.
#[derive(Clone, Debug, Default)]
pub struct PluginHost {
    plugins: Vec<LoadedPlugin>,
    failures: Vec<LoadFailure>,
}

impl PluginHost {
    /// Loads every plugin library in `dirs` (see [`plugin_dirs`]).
    pub fn discover(dirs: &[PluginDir]) -> Self {
        let mut host = PluginHost::default();
        for dir in dirs {
            for file in dir.libraries() {
                // Failures are recorded inside `load`.
                let _ = host.load(&file);
            }
        }
        host
    }

    pub fn plugins(&self) -> &[LoadedPlugin] {
        &self.plugins
    }

    pub fn failures(&self) -> &[LoadFailure] {
        &self.failures
    }

    pub fn get(&self, id: &str) -> Option<&LoadedPlugin> {
        self.plugins.iter().find(|p| p.descriptor.id == id)
    }

    pub fn of_kind(&self, kind: PluginKind) -> impl Iterator<Item = &LoadedPlugin> {
        self.plugins
            .iter()
            .filter(move |p| p.descriptor.kind == kind)
    }

    /// Loads one library at run time. On failure the error is also kept in
    /// [`failures`](Self::failures) so that listings show it.
    pub fn load(&mut self, file: &Path) -> Result<&LoadedPlugin, &HostError> {
        match self.try_load(file) {
            Ok(plugin) => {
                self.plugins.push(plugin);
                Ok(self.plugins.last().expect("just pushed"))
            }
            Err(error) => {
                self.failures.push(LoadFailure { error });
                Err(&self.failures.last().expect("just pushed").error)
            }
        }
    }

    fn try_load(&self, file: &Path) -> Result<LoadedPlugin, HostError> {
        let fail = |cause| HostError {
            file: file.to_path_buf(),
            cause,
        };
        // SAFETY: loading a library runs its initialisers; that is the
        // trust a user gives a plugin by installing it.
        let library = unsafe { libloading::Library::new(file) }
            .map_err(|e| fail(Cause::Open(e.to_string())))?;
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is fixed by the ABI.
        let entry_fn = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL.as_bytes()) }
            .map_err(|_| fail(Cause::MissingEntry))?;
        // SAFETY: calling the plugin's entry point as the ABI defines it.
        let entry = unsafe { entry_fn() };
        if entry.is_null() {
            return Err(fail(Cause::NullEntry));
        }
        // Read the ABI header only (struct_size, major, minor: 8 bytes, the
        // same in every version) before trusting anything else.
        // SAFETY: every ABI version starts with these fields.
        let (size, major, minor) = unsafe {
            let header = entry as *const u32;
            let version = header.add(1) as *const u16;
            (*header, *version, *version.add(1))
        };
        if major != ABI_MAJOR {
            return Err(fail(Cause::AbiMismatch {
                plugin_major: major,
                plugin_minor: minor,
            }));
        }
        let needed = std::mem::size_of::<PluginEntryV1>();
        if (size as usize) < needed {
            return Err(fail(Cause::EntryTooSmall { got: size, needed }));
        }
        // SAFETY: the struct is at least as large as the v1 layout.
        let entry: &'static PluginEntryV1 = unsafe { &*entry };
        let descriptor_fn = entry
            .descriptor
            .ok_or_else(|| fail(Cause::MissingFunction("descriptor")))?;
        entry
            .call
            .ok_or_else(|| fail(Cause::MissingFunction("call")))?;
        entry
            .free_string
            .ok_or_else(|| fail(Cause::MissingFunction("free_string")))?;
        // SAFETY: the function returns a NUL-terminated string owned by the plugin.
        let raw = unsafe { descriptor_fn() };
        if raw.is_null() {
            return Err(fail(Cause::BadDescriptor(
                "descriptor() returned null".into(),
            )));
        }
        let text = unsafe { CStr::from_ptr(raw) }.to_string_lossy();
        let descriptor: Descriptor =
            serde_json::from_str(&text).map_err(|e| fail(Cause::BadDescriptor(e.to_string())))?;
        if !is_reverse_dns(&descriptor.id) {
            return Err(fail(Cause::BadId(descriptor.id)));
        }
        if let Some(other) = self.get(&descriptor.id) {
            return Err(fail(Cause::DuplicateId {
                id: descriptor.id,
                other: other.path.clone(),
            }));
        }
        Ok(LoadedPlugin {
            descriptor,
            path: file.to_path_buf(),
            abi_minor: minor,
            entry,
        })
    }
}

/// At least two dot-separated labels of lowercase letters, digits and '-'.
fn is_reverse_dns(id: &str) -> bool {
    let labels: Vec<&str> = id.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        })
}

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
    fn libraries(&self) -> Vec<PathBuf> {
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

/// The workbench's per-user data folder: `$XDG_DATA_HOME/deepreduce`, else
/// `~/.local/share/deepreduce` (plugins, the run store).
pub fn user_data_dir() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("deepreduce")
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
