//! Finds plugin libraries and calls them through their processes: each
//! library is served by its own sandboxed `deepreduce-plugin` process
//! ([`process`]), so a plugin that crashes, hangs or prints costs one call
//! and never the workbench. A broken plugin gives a [`HostError`] naming
//! its file and the cause; the host and every other plugin stay usable.
//! The host also holds plugins to what they were asked: valid networks with
//! the input and classes requested.

mod dirs;
pub mod log;
pub mod process;

pub use dirs::{
    BUILT_IN_PLUGIN_CRATES, PluginDir, build_output_dir, file_sha256, plugin_dirs, plugin_log_dir,
    user_cache_dir, user_data_dir, user_plugin_dir,
};
pub use process::{CallTimeouts, FAULTS_BEFORE_DISABLED, Fault};

use deepreduce_plugin_api::abi::{ABI_MAJOR, ABI_MINOR, ENTRY_SYMBOL, status};
use deepreduce_plugin_api::reduction::{MethodInfo, StepInput, StepOutput};
use deepreduce_plugin_api::{
    ArchParams, ArchitectureInfo, Candidate, Candidates, Descriptor, ErrorPayload, InputSpec,
    LatencyEstimate, Network, OptimizationRequest, PluginKind, Shape, TrainingObjective, analyze,
    method,
};
use deepreduce_plugin_runner::{Hello, Isolation, LoadError};
use log::PluginLog;
use process::{Health, Launch, PluginProcess, runner_path};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a plugin could not be loaded or a call failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("plugin {}: {cause}", file.display())]
pub struct HostError {
    pub file: PathBuf,
    pub cause: Cause,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum Cause {
    #[error(
        "the plugin runner {} is missing: build the workspace (`cargo build --workspace`), or install it beside deepreduce",
        .0.display()
    )]
    RunnerMissing(PathBuf),
    /// The plugin's process crashed, hung, is disabled or broke the protocol.
    #[error("{0}")]
    Process(#[from] Fault),
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
    MissingFunction(String),
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
    /// The network does not take the input, or give the classes, asked for.
    #[error("{method} returned a network for {got}, not the {asked} asked for")]
    NotAsked {
        method: String,
        // Boxed: every host call's error is no larger than its commonest cause.
        got: Box<NetworkShape>,
        asked: Box<NetworkShape>,
    },
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

/// What a network takes and gives: its input and its output's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkShape {
    pub input: InputSpec,
    pub output: Shape,
}

impl NetworkShape {
    fn of(network: &Network) -> Result<NetworkShape, deepreduce_plugin_api::IrError> {
        Ok(NetworkShape {
            input: network.input,
            output: analyze(network)?.output,
        })
    }
}

impl std::fmt::Display for NetworkShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.input;
        write!(f, "{}x{}x{} input with ", i.channels, i.height, i.width)?;
        match self.output {
            Shape::Vector(classes) => write!(f, "{classes} classes"),
            Shape::Map([c, h, w]) => write!(f, "a {c}x{h}x{w} feature map as output"),
        }
    }
}

/// A loaded plugin's state, as the Plugins panel and `deepreduce plugins`
/// show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginState {
    Running(Isolation),
    /// Crashed or hung; its process is started again for the next call.
    Crashed {
        faults: u32,
        last: String,
    },
    Disabled {
        faults: u32,
        last: String,
    },
}

impl PluginState {
    /// One word for tables: sandboxed, not sandboxed, crashed, disabled.
    pub fn label(&self) -> &'static str {
        match self {
            PluginState::Running(Isolation::Sandboxed { .. }) => "sandboxed",
            PluginState::Running(Isolation::NotSandboxed(_)) => "not sandboxed",
            PluginState::Crashed { .. } => "crashed",
            PluginState::Disabled { .. } => "disabled",
        }
    }

    pub fn is_sandboxed(&self) -> bool {
        !matches!(self, PluginState::Running(Isolation::NotSandboxed(_)))
    }
}

impl std::fmt::Display for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginState::Running(isolation) => write!(f, "{isolation}"),
            PluginState::Crashed { faults, last } => write!(
                f,
                "crashed ({faults} of {FAULTS_BEFORE_DISABLED} faults before it is disabled; restarted on the next call): {last}"
            ),
            PluginState::Disabled { faults, last } => {
                write!(f, "disabled after {faults} faults; the last: {last}")
            }
        }
    }
}

/// How the host starts plugin processes.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// Plugin ids run without the sandbox (still in their own process).
    pub trusted: BTreeSet<String>,
    pub timeouts: CallTimeouts,
    pub log_dir: PathBuf,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            trusted: BTreeSet::new(),
            timeouts: CallTimeouts::default(),
            log_dir: plugin_log_dir(),
        }
    }
}

/// A plugin library that loaded and passed validation. Clones share its
/// process.
#[derive(Clone)]
pub struct LoadedPlugin {
    pub descriptor: Descriptor,
    pub path: PathBuf,
    /// The ABI minor the plugin was built against: it is sent no network
    /// that needs a later one.
    pub abi_minor: u16,
    pub isolation: Isolation,
    process: Arc<PluginProcess>,
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

    /// What a listing shows: how it is confined, or that it crashed or is
    /// disabled.
    pub fn state(&self) -> PluginState {
        match self.process.health() {
            Health::Running => PluginState::Running(self.isolation.clone()),
            Health::Faulted { faults, last } => PluginState::Crashed { faults, last },
            Health::Disabled { faults, last } => PluginState::Disabled { faults, last },
        }
    }

    /// The file its output goes to.
    pub fn log(&self) -> &PluginLog {
        self.process.log()
    }

    /// Calls `method` with a JSON input and returns the plugin's JSON output.
    pub fn call_json(&self, method: &str, input: &str) -> Result<String, HostError> {
        self.call_raw(method, input.as_bytes())
    }

    fn call_raw(&self, method: &str, input: &[u8]) -> Result<String, HostError> {
        let reply = self
            .process
            .call(method, input)
            .map_err(|fault| self.error(Cause::Process(fault)))?;
        let method = method.to_string();
        if reply.code == status::OK {
            return reply.text.ok_or_else(|| {
                self.error(Cause::MalformedOutput {
                    method,
                    error: "no output".into(),
                })
            });
        }
        let message = match reply.text {
            Some(t) => serde_json::from_str::<ErrorPayload>(&t)
                .map(|e| e.error)
                .unwrap_or(t),
            None => "no error message".into(),
        };
        Err(self.error(Cause::Call {
            method,
            code: reply.code,
            message,
        }))
    }

    fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        method: &str,
        input: &I,
    ) -> Result<O, HostError> {
        let input = serde_json::to_vec(input).expect("host payloads serialise");
        let output = self.call_raw(method, &input)?;
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

    /// `network` if shape inference passes and it takes the input and
    /// gives the classes asked for.
    fn validated(
        &self,
        method: &str,
        network: Network,
        asked: NetworkShape,
    ) -> Result<Network, HostError> {
        let analysis = analyze(&network).map_err(|e| {
            self.error(Cause::InvalidNetwork {
                method: method.into(),
                error: e.to_string(),
            })
        })?;
        let got = NetworkShape {
            input: network.input,
            output: analysis.output,
        };
        if got != asked {
            return Err(self.error(Cause::NotAsked {
                method: method.into(),
                got: Box::new(got),
                asked: Box::new(asked),
            }));
        }
        Ok(network)
    }

    pub fn describe_architecture(&self) -> Result<ArchitectureInfo, HostError> {
        self.expect_capability(deepreduce_plugin_api::ARCHITECTURE)?;
        self.call(method::ARCHITECTURE_DESCRIBE, &serde_json::Value::Null)
    }

    /// Builds a network; it is returned only if shape inference passes.
    pub fn build(&self, params: &ArchParams) -> Result<Network, HostError> {
        self.expect_capability(deepreduce_plugin_api::ARCHITECTURE)?;
        let net = self.call(method::ARCHITECTURE_BUILD, params)?;
        let asked = NetworkShape {
            input: params.input,
            output: Shape::Vector(params.classes),
        };
        self.validated(method::ARCHITECTURE_BUILD, net, asked)
    }

    /// Applies an optimization; every candidate must pass shape inference
    /// and keep the input and classes of the network it was given.
    pub fn apply(&self, request: &OptimizationRequest) -> Result<Vec<Candidate>, HostError> {
        self.expect_capability(deepreduce_plugin_api::OPTIMIZATION)?;
        self.check_readable(&request.network)?;
        let given = NetworkShape::of(&request.network).map_err(|e| {
            self.error(Cause::InvalidNetwork {
                method: method::OPTIMIZATION_APPLY.into(),
                error: format!("the network given: {e}"),
            })
        })?;
        let out: Candidates = self.call(method::OPTIMIZATION_APPLY, request)?;
        out.candidates
            .into_iter()
            .map(|c| {
                let network =
                    self.validated(method::OPTIMIZATION_APPLY, c.network, given.clone())?;
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

/// A library that was found but refused.
#[derive(Clone, Debug)]
pub struct LoadFailure {
    pub error: HostError,
}

/// Every plugin found: those loaded and those refused. A clone is a snapshot
/// that a worker thread can own while the GUI goes on loading plugins; it
/// shares the plugins' processes.
#[derive(Clone, Debug, Default)]
pub struct PluginHost {
    plugins: Vec<LoadedPlugin>,
    failures: Vec<LoadFailure>,
    options: HostOptions,
}

impl PluginHost {
    /// Loads every plugin library in `dirs` (see [`plugin_dirs`]) with the
    /// default options.
    pub fn discover(dirs: &[PluginDir]) -> Self {
        Self::discover_with(dirs, HostOptions::default())
    }

    /// Loads every plugin library in `dirs`, starting their processes side
    /// by side.
    pub fn discover_with(dirs: &[PluginDir], options: HostOptions) -> Self {
        let files: Vec<PathBuf> = dirs.iter().flat_map(PluginDir::libraries).collect();
        let started: Vec<Result<LoadedPlugin, HostError>> = std::thread::scope(|scope| {
            let starts: Vec<_> = files
                .iter()
                .map(|file| scope.spawn(|| start_process(&options, file, Sandbox::On)))
                .collect();
            starts
                .into_iter()
                .map(|s| s.join().expect("starting a plugin never panics"))
                .collect()
        });
        let mut host = PluginHost {
            options,
            ..PluginHost::default()
        };
        for result in started {
            // Failures are recorded inside `insert`.
            let _ = host.insert(result);
        }
        host.apply_trust();
        host
    }

    pub fn options(&self) -> &HostOptions {
        &self.options
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
        let started = Self::start(&self.options, file);
        let id = match self.insert(started) {
            Ok(plugin) => plugin.descriptor.id.clone(),
            Err(_) => return Err(&self.failures.last().expect("just listed").error),
        };
        self.apply_trust();
        // Trusting it may have failed: then it is listed among the failures.
        match self.get(&id) {
            Some(plugin) => Ok(plugin),
            None => Err(&self
                .failures
                .last()
                .expect("a failed trust is listed")
                .error),
        }
    }

    /// Starts `file`'s process, sandboxed, and checks what it says of
    /// itself; with no host borrowed, so that a window can do it on a
    /// worker thread, [`insert`](Self::insert) the result and
    /// [`apply_trust`](Self::apply_trust).
    pub fn start(options: &HostOptions, file: &Path) -> Result<LoadedPlugin, HostError> {
        start_process(options, file, Sandbox::On)
    }

    /// `plugin` started again as `options` say: without the sandbox if its
    /// id is trusted (it must then describe itself exactly as it did inside
    /// the sandbox), else sandboxed.
    pub fn restart(
        options: &HostOptions,
        plugin: &LoadedPlugin,
    ) -> Result<LoadedPlugin, HostError> {
        if !options.trusted.contains(&plugin.descriptor.id) {
            return Self::start(options, &plugin.path);
        }
        let trusted = start_process(options, &plugin.path, Sandbox::Off)?;
        if trusted.descriptor != plugin.descriptor {
            return Err(HostError {
                file: plugin.path.clone(),
                cause: Cause::Process(Fault::Changed(format!(
                    "it said it was {} in the sandbox and {} out of it",
                    plugin.descriptor.id, trusted.descriptor.id
                ))),
            });
        }
        Ok(trusted)
    }

    /// The loaded plugins that run sandboxed though their ids are trusted,
    /// and that no other library claims to be: those
    /// [`apply_trust`](Self::apply_trust) starts again without the sandbox.
    pub fn awaiting_trust(&self) -> Vec<LoadedPlugin> {
        let claimed_twice = |id: &str| {
            self.failures.iter().any(
                |f| matches!(&f.error.cause, Cause::DuplicateId { id: other, .. } if other == id),
            )
        };
        self.plugins
            .iter()
            .filter(|p| self.options.trusted.contains(&p.descriptor.id))
            .filter(|p| p.state().is_sandboxed() && !claimed_twice(&p.descriptor.id))
            .cloned()
            .collect()
    }

    /// Runs the plugins whose ids are trusted without the sandbox. Trust
    /// follows an id, which a library says of itself: an id that more than
    /// one library claims is trusted for none of them.
    pub fn apply_trust(&mut self) {
        let claimed_twice = |id: &str| {
            self.failures.iter().any(
                |f| matches!(&f.error.cause, Cause::DuplicateId { id: other, .. } if other == id),
            )
        };
        let pending: Vec<LoadedPlugin> = self
            .plugins
            .iter()
            .filter(|p| self.options.trusted.contains(&p.descriptor.id))
            .filter(|p| p.state().is_sandboxed() && !claimed_twice(&p.descriptor.id))
            .cloned()
            .collect();
        for plugin in pending {
            match Self::restart(&self.options, &plugin) {
                Ok(trusted) => {
                    self.replace(trusted);
                }
                Err(error) => {
                    self.plugins.retain(|p| p.path != plugin.path);
                    self.failures.push(LoadFailure { error });
                }
            }
        }
    }

    /// Puts `plugin` in the place of the loaded plugin of the same library
    /// (started again, e.g. with or without the sandbox); false if that
    /// library is not loaded or now says it is another plugin.
    pub fn replace(&mut self, plugin: LoadedPlugin) -> bool {
        let slot = self
            .plugins
            .iter_mut()
            .find(|p| p.path == plugin.path && p.descriptor.id == plugin.descriptor.id);
        match slot {
            Some(slot) => {
                *slot = plugin;
                true
            }
            None => false,
        }
    }

    /// Runs the plugin `id` with or without the sandbox from now on: the
    /// options change here; the caller starts it again
    /// ([`restart`](Self::restart)) and [`replace`](Self::replace)s it.
    pub fn set_trusted(&mut self, id: &str, trusted: bool) {
        if trusted {
            self.options.trusted.insert(id.to_string());
        } else {
            self.options.trusted.remove(id);
        }
    }

    /// Adds a started plugin, unless another already has its id.
    pub fn insert(
        &mut self,
        started: Result<LoadedPlugin, HostError>,
    ) -> Result<&LoadedPlugin, &HostError> {
        let checked = started.and_then(|plugin| match self.get(&plugin.descriptor.id) {
            Some(other) => Err(HostError {
                file: plugin.path.clone(),
                cause: Cause::DuplicateId {
                    id: plugin.descriptor.id.clone(),
                    other: other.path.clone(),
                },
            }),
            None => Ok(plugin),
        });
        match checked {
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
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sandbox {
    On,
    Off,
}

/// Starts a process for `file` and validates its hello. A refusal is noted
/// in the plugin's log too.
fn start_process(
    options: &HostOptions,
    file: &Path,
    sandbox: Sandbox,
) -> Result<LoadedPlugin, HostError> {
    let log = Arc::new(PluginLog::open(&options.log_dir, file));
    let started = start_logged(options, file, sandbox, Arc::clone(&log));
    if let Err(e) = &started {
        log.note(&format!("not loaded: {}", e.cause));
    }
    started
}

fn start_logged(
    options: &HostOptions,
    file: &Path,
    sandbox: Sandbox,
    log: Arc<PluginLog>,
) -> Result<LoadedPlugin, HostError> {
    let fail = |cause| HostError {
        file: file.to_path_buf(),
        cause,
    };
    let runner = runner_path().ok_or_else(|| fail(Cause::RunnerMissing(PathBuf::new())))?;
    if !runner.is_file() {
        return Err(fail(Cause::RunnerMissing(runner)));
    }
    let launch = Launch {
        runner,
        library: file.to_path_buf(),
        sandbox: sandbox == Sandbox::On,
        timeouts: options.timeouts.clone(),
        log,
    };
    let (process, isolation, hello) =
        PluginProcess::start(launch).map_err(|f| fail(Cause::Process(f)))?;
    let loaded = match hello {
        Hello::Loaded(loaded) => loaded,
        Hello::Refused(error) => return Err(fail(load_cause(error))),
    };
    let descriptor: Descriptor = serde_json::from_str(&loaded.descriptor)
        .map_err(|e| fail(Cause::BadDescriptor(e.to_string())))?;
    if !is_reverse_dns(&descriptor.id) {
        return Err(fail(Cause::BadId(descriptor.id)));
    }
    Ok(LoadedPlugin {
        descriptor,
        path: file.to_path_buf(),
        abi_minor: loaded.abi_minor,
        isolation,
        process: Arc::new(process),
    })
}

fn load_cause(error: LoadError) -> Cause {
    match error {
        LoadError::Open(message) => Cause::Open(message),
        LoadError::MissingEntry => Cause::MissingEntry,
        LoadError::NullEntry => Cause::NullEntry,
        LoadError::AbiMismatch { major, minor } => Cause::AbiMismatch {
            plugin_major: major,
            plugin_minor: minor,
        },
        LoadError::EntryTooSmall { got, needed } => Cause::EntryTooSmall { got, needed },
        LoadError::MissingFunction(name) => Cause::MissingFunction(name),
        LoadError::NullDescriptor => Cause::BadDescriptor("descriptor() returned null".into()),
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
