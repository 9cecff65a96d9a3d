//! One plugin library served by its own process (`deepreduce-plugin`, the
//! `plugin-runner` crate): started when the library is found, kept alive
//! between calls, restarted after a crash, killed after a timeout, disabled
//! after [`FAULTS_BEFORE_DISABLED`] faults. Calls to one process are taken
//! one at a time.

use super::log::PluginLog;
use deepreduce_plugin_runner::{Hello, NO_SANDBOX, RUNNER_NAME, Reply, read_frame, write_frame};
use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A plugin that crashed or hung this many times in a session is called no
/// more.
pub const FAULTS_BEFORE_DISABLED: u32 = 3;

/// How long a plugin process may take: to start (load the library and run
/// its constructors) and to answer each kind of call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallTimeouts {
    pub start: Duration,
    pub default: Duration,
    /// By method id (`architecture.build`, `method.step`, ...).
    pub per_method: BTreeMap<String, Duration>,
}

impl Default for CallTimeouts {
    fn default() -> Self {
        CallTimeouts {
            start: Duration::from_secs(30),
            default: Duration::from_secs(30),
            per_method: BTreeMap::new(),
        }
    }
}

impl CallTimeouts {
    pub fn for_method(&self, method: &str) -> Duration {
        self.per_method.get(method).copied().unwrap_or(self.default)
    }
}

/// How a plugin process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Signal(i32),
    Exit(i32),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Signal(n) => match signal_name(*n) {
                Some(name) => write!(f, "{name} (signal {n})"),
                None => write!(f, "signal {n}"),
            },
            Ended::Exit(code) => write!(f, "exit status {code}"),
        }
    }
}

fn signal_name(n: i32) -> Option<&'static str> {
    Some(match n {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        libc::SIGTRAP => "SIGTRAP",
        _ => return None,
    })
}

/// What went wrong with the process itself (not the plugin's answer).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Fault {
    #[error("crashed with {ended} {during}")]
    Crashed { during: During, ended: Ended },
    #[error("did not answer {during} within {} s and was stopped", .after.as_secs_f64())]
    TimedOut { during: During, after: Duration },
    #[error("is disabled after {faults} faults this session; the last: {last}")]
    Disabled { faults: u32, last: String },
    #[error("broke the protocol {during}: {error}")]
    Protocol { during: During, error: String },
    #[error("its process could not start: {0}")]
    Spawn(String),
    #[error("answered as another library after a restart: {0}")]
    Changed(String),
}

/// When a fault happened: starting the process or in a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum During {
    Start,
    Call(String),
}

impl std::fmt::Display for During {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            During::Start => write!(f, "while loading"),
            During::Call(method) => write!(f, "during {method}"),
        }
    }
}

/// The state a listing shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Running,
    /// Faulted; the process is restarted for the next call.
    Faulted {
        faults: u32,
        last: String,
    },
    Disabled {
        faults: u32,
        last: String,
    },
}

/// Where the runner is and how to start it.
#[derive(Clone, Debug)]
pub struct Launch {
    pub runner: PathBuf,
    pub library: PathBuf,
    pub sandbox: bool,
    pub timeouts: CallTimeouts,
    pub log: Arc<PluginLog>,
}

/// A running plugin process and its pipes.
struct Child {
    process: std::process::Child,
    requests: BufWriter<ChildStdin>,
    /// Frames from the process's stdout, read by a thread; the channel
    /// closes when the process's stdout does.
    replies: Receiver<std::io::Result<Vec<u8>>>,
}

impl Child {
    fn spawn(launch: &Launch) -> Result<Child, Fault> {
        let mut command = Command::new(&launch.runner);
        command.arg(&launch.library);
        if !launch.sandbox {
            command.arg(NO_SANDBOX);
        }
        let mut process = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Fault::Spawn(format!("{}: {e}", launch.runner.display())))?;
        launch.log.started(process.id(), launch.sandbox);
        let stdout = process.stdout.take().expect("piped");
        let stderr = process.stderr.take().expect("piped");
        let requests = BufWriter::new(process.stdin.take().expect("piped"));
        let (sender, replies) = channel();
        std::thread::Builder::new()
            .name("plugin-replies".into())
            .spawn(move || {
                let mut stdout = BufReader::new(stdout);
                loop {
                    match read_frame(&mut stdout) {
                        Ok(Some(frame)) => {
                            if sender.send(Ok(frame)).is_err() {
                                return;
                            }
                        }
                        Ok(None) => return,
                        Err(e) => {
                            let _ = sender.send(Err(e));
                            return;
                        }
                    }
                }
            })
            .map_err(|e| Fault::Spawn(e.to_string()))?;
        launch.log.capture(stderr);
        Ok(Child {
            process,
            requests,
            replies,
        })
    }

    /// The next frame within `timeout`; on any fault the process is gone.
    fn receive(&mut self, during: &During, timeout: Duration) -> Result<Vec<u8>, Fault> {
        match self.replies.recv_timeout(timeout) {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(e)) => {
                self.kill();
                Err(Fault::Protocol {
                    during: during.clone(),
                    error: e.to_string(),
                })
            }
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(Fault::TimedOut {
                    during: during.clone(),
                    after: timeout,
                })
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.ended(during)),
        }
    }

    /// The process closed its stdout: it ended (or is about to).
    fn ended(&mut self, during: &During) -> Fault {
        use std::os::unix::process::ExitStatusExt;
        let ended = match self.wait_briefly() {
            Some(status) => match status.signal() {
                Some(signal) => Ended::Signal(signal),
                None => Ended::Exit(status.code().unwrap_or(-1)),
            },
            None => Ended::Exit(-1),
        };
        Fault::Crashed {
            during: during.clone(),
            ended,
        }
    }

    /// The exit status of a process that closed its stdout; one that
    /// closed it and lives on (only on purpose) is killed after a second.
    fn wait_briefly(&mut self) -> Option<std::process::ExitStatus> {
        for _ in 0..100 {
            if let Ok(Some(status)) = self.process.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.process.kill();
        self.process.wait().ok()
    }

    fn send(&mut self, method: &str, input: &[u8]) -> std::io::Result<()> {
        write_frame(&mut self.requests, method.as_bytes())?;
        write_frame(&mut self.requests, input)?;
        self.requests.flush()
    }

    fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

struct State {
    child: Option<Child>,
    faults: u32,
    last_fault: Option<String>,
    /// The descriptor of the first start: a restarted process must say the same.
    descriptor: String,
}

/// A plugin library's process, shared by every clone of its plugin.
pub struct PluginProcess {
    launch: Launch,
    state: Mutex<State>,
}

impl std::fmt::Debug for PluginProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PluginProcess({})", self.launch.library.display())
    }
}

impl PluginProcess {
    /// Starts the process and waits for its hello: the library loaded (the
    /// process is kept) or refused (the process is gone).
    pub fn start(launch: Launch) -> Result<(PluginProcess, Hello), Fault> {
        let (child, hello) = Self::spawn_and_greet(&launch)?;
        let descriptor = match &hello {
            Hello::Loaded(loaded) => loaded.descriptor.clone(),
            Hello::Refused(_) => String::new(),
        };
        let process = PluginProcess {
            launch,
            state: Mutex::new(State {
                child: matches!(hello, Hello::Loaded(_)).then_some(child),
                faults: 0,
                last_fault: None,
                descriptor,
            }),
        };
        Ok((process, hello))
    }

    fn spawn_and_greet(launch: &Launch) -> Result<(Child, Hello), Fault> {
        let mut child = Child::spawn(launch)?;
        let frame = child.receive(&During::Start, launch.timeouts.start)?;
        let hello = serde_json::from_slice(&frame).map_err(|e| Fault::Protocol {
            during: During::Start,
            error: e.to_string(),
        })?;
        Ok((child, hello))
    }

    pub fn library(&self) -> &Path {
        &self.launch.library
    }

    pub fn log(&self) -> &PluginLog {
        &self.launch.log
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves nothing half-written that
        // matters: at worst a child that is killed on the next fault.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn health(&self) -> Health {
        let state = self.lock();
        match &state.last_fault {
            None => Health::Running,
            Some(last) if state.faults >= FAULTS_BEFORE_DISABLED => Health::Disabled {
                faults: state.faults,
                last: last.clone(),
            },
            Some(last) => Health::Faulted {
                faults: state.faults,
                last: last.clone(),
            },
        }
    }

    /// Calls `method` in the process, restarting it first if it is gone.
    pub fn call(&self, method: &str, input: &[u8]) -> Result<Reply, Fault> {
        let mut state = self.lock();
        if state.faults >= FAULTS_BEFORE_DISABLED {
            return Err(Fault::Disabled {
                faults: state.faults,
                last: state.last_fault.clone().unwrap_or_default(),
            });
        }
        let result = self.call_in(&mut state, method, input);
        if let Err(fault) = &result {
            state.child = None;
            state.faults += 1;
            state.last_fault = Some(fault.to_string());
            self.launch.log.note(&format!("fault: {fault}"));
        }
        result
    }

    fn call_in(&self, state: &mut State, method: &str, input: &[u8]) -> Result<Reply, Fault> {
        if state.child.is_none() {
            state.child = Some(self.restart(&state.descriptor)?);
        }
        let child = state.child.as_mut().expect("started above");
        let during = During::Call(method.to_string());
        if child.send(method, input).is_err() {
            // A broken pipe: the process ended; say how.
            return Err(child.ended(&during));
        }
        let frame = child.receive(&during, self.launch.timeouts.for_method(method))?;
        Reply::decode(&frame).map_err(|error| Fault::Protocol { during, error })
    }

    fn restart(&self, descriptor: &str) -> Result<Child, Fault> {
        match Self::spawn_and_greet(&self.launch)? {
            (child, Hello::Loaded(loaded)) if loaded.descriptor == descriptor => Ok(child),
            (_, Hello::Loaded(loaded)) => Err(Fault::Changed(loaded.descriptor)),
            (_, Hello::Refused(error)) => Err(Fault::Changed(format!("{error:?}"))),
        }
    }
}

/// The plugin runner: next to the `deepreduce` binary (or, for test
/// binaries, in the build folder above theirs).
pub fn runner_path() -> Option<PathBuf> {
    let name = format!("{RUNNER_NAME}{}", std::env::consts::EXE_SUFFIX);
    Some(super::dirs::build_output_dir()?.join(name))
}
