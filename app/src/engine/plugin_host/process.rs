//! One plugin library served by its own process (`deepreduce-plugin`, the
//! `plugin-runner` crate): started when the library is found, kept alive
//! between calls, restarted after a crash, killed after a timeout, disabled
//! after [`FAULTS_BEFORE_DISABLED`] faults. Calls to one process are taken
//! one at a time.

use super::log::PluginLog;
use deepreduce_plugin_runner::{
    Confinement, Hello, Isolation, NO_SANDBOX, RUNNER_NAME, Reply, read_frame, write_frame,
};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A plugin that crashed or hung this many times in a session is called no
/// more.
pub const FAULTS_BEFORE_DISABLED: u32 = 3;

/// How long a plugin process may take: to start (load the library and run
/// its constructors) and to answer each kind of call (by method id, e.g.
/// `deepreduce.architecture/1:build`).
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
    #[error("answered as another plugin after a restart: {0}")]
    Changed(String),
    #[error("could not be started again: {0}")]
    Restart(String),
    #[error("the sandbox could not be set up ({0}); trust the plugin to run it without one")]
    Sandbox(String),
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
    /// Requests for the writer thread: a plugin that stops reading its
    /// pipe cannot block the caller, whose wait for the reply times out.
    requests: Sender<(String, Vec<u8>)>,
    /// Frames from the process's stdout, read by a thread; the channel
    /// closes when the process's stdout does. Bounded: frames a plugin
    /// sends unasked wait in its pipe, not in the workbench's memory.
    replies: Receiver<std::io::Result<Vec<u8>>>,
}

impl Child {
    fn spawn(launch: &Launch) -> Result<Child, Fault> {
        let mut command = Command::new(&launch.runner);
        command.arg(&launch.library);
        if launch.sandbox {
            // The user's environment (tokens, paths) is none of its business.
            command.env_clear();
        } else {
            command.arg(NO_SANDBOX);
        }
        let mut process = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group: a stop reaches whatever it started.
            .process_group(0)
            .spawn()
            .map_err(|e| Fault::Spawn(format!("{}: {e}", launch.runner.display())))?;
        launch.log.started(process.id(), launch.sandbox);
        let stdout = process.stdout.take().expect("piped");
        let stderr = process.stderr.take().expect("piped");
        let stdin = process.stdin.take().expect("piped");
        let spawn_error = |e: std::io::Error| Fault::Spawn(e.to_string());
        let (sender, replies) = sync_channel(1);
        std::thread::Builder::new()
            .name("plugin-replies".into())
            .spawn(move || {
                let mut stdout = BufReader::new(stdout);
                loop {
                    let frame = read_frame(&mut stdout);
                    let end = !matches!(frame, Ok(Some(_)));
                    let sent = match frame {
                        Ok(Some(frame)) => sender.send(Ok(frame)),
                        Ok(None) => return,
                        Err(e) => sender.send(Err(e)),
                    };
                    if end || sent.is_err() {
                        return;
                    }
                }
            })
            .map_err(spawn_error)?;
        let (requests, to_write) = channel::<(String, Vec<u8>)>();
        std::thread::Builder::new()
            .name("plugin-requests".into())
            .spawn(move || {
                let mut stdin = BufWriter::new(stdin);
                for (method, input) in to_write {
                    let written = write_frame(&mut stdin, method.as_bytes())
                        .and_then(|()| write_frame(&mut stdin, &input))
                        .and_then(|()| stdin.flush());
                    if written.is_err() {
                        return;
                    }
                }
            })
            .map_err(spawn_error)?;
        launch.log.capture(stderr);
        Ok(Child {
            process,
            requests,
            replies,
        })
    }

    /// The next message (a JSON frame) within `timeout`.
    fn receive_json<T: DeserializeOwned>(
        &mut self,
        during: &During,
        timeout: Duration,
    ) -> Result<T, Fault> {
        let frame = self.receive(during, timeout)?;
        serde_json::from_slice(&frame).map_err(|e| {
            self.kill();
            Fault::Protocol {
                during: during.clone(),
                error: e.to_string(),
            }
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

    /// Hands a request to the writer thread; a frame the plugin sent
    /// unasked (a reply to nothing) is a broken protocol.
    fn send(&mut self, during: &During, method: &str, input: &[u8]) -> Result<(), Fault> {
        let unasked = match self.replies.try_recv() {
            Ok(_) => Some("a frame it sent unasked".to_string()),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => return Err(self.ended(during)),
        };
        if let Some(error) = unasked {
            self.kill();
            return Err(Fault::Protocol {
                during: during.clone(),
                error,
            });
        }
        if self
            .requests
            .send((method.to_string(), input.to_vec()))
            .is_err()
        {
            return Err(self.ended(during));
        }
        Ok(())
    }

    /// Kills the process and its group (a trusted plugin may start others).
    fn kill(&mut self) {
        let pid = self.process.id() as i32;
        // SAFETY: signals the group this process leads (`process_group(0)`).
        unsafe { libc::killpg(pid, libc::SIGKILL) };
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The faults so far: read by listings while a call may be running, so it
/// has a lock of its own, never held for long.
#[derive(Default)]
struct Faults {
    count: u32,
    last: Option<String>,
}

/// A plugin library's process, shared by every clone of its plugin.
pub struct PluginProcess {
    launch: Launch,
    /// The process; held for the whole of a call, one call at a time.
    child: Mutex<Option<Child>>,
    faults: Mutex<Faults>,
    /// The descriptor of the first start: a restarted process must say the same.
    descriptor: String,
}

impl std::fmt::Debug for PluginProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PluginProcess({})", self.launch.library.display())
    }
}

impl PluginProcess {
    /// Starts the process and waits for how it is confined and its hello:
    /// the library loaded (the process is kept) or refused (it is gone).
    pub fn start(launch: Launch) -> Result<(PluginProcess, Isolation, Hello), Fault> {
        let (child, isolation, hello) = Self::spawn_and_greet(&launch)?;
        let descriptor = match &hello {
            Hello::Loaded(loaded) => loaded.descriptor.clone(),
            Hello::Refused(_) => String::new(),
        };
        let loaded = matches!(hello, Hello::Loaded(_));
        let process = PluginProcess {
            launch,
            child: Mutex::new(loaded.then_some(child)),
            faults: Mutex::default(),
            descriptor,
        };
        Ok((process, isolation, hello))
    }

    fn spawn_and_greet(launch: &Launch) -> Result<(Child, Isolation, Hello), Fault> {
        let mut child = Child::spawn(launch)?;
        let timeout = launch.timeouts.start;
        let isolation = match child.receive_json(&During::Start, timeout)? {
            Confinement::Confined(isolation) => isolation,
            Confinement::Failed(error) => return Err(Fault::Sandbox(error)),
        };
        let hello = child.receive_json(&During::Start, timeout)?;
        Ok((child, isolation, hello))
    }

    pub fn library(&self) -> &Path {
        &self.launch.library
    }

    pub fn log(&self) -> &PluginLog {
        &self.launch.log
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        // Poisoned only by a panic between two plain assignments.
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn health(&self) -> Health {
        let faults = self.faults();
        match &faults.last {
            None => Health::Running,
            Some(last) if faults.count >= FAULTS_BEFORE_DISABLED => Health::Disabled {
                faults: faults.count,
                last: last.clone(),
            },
            Some(last) => Health::Faulted {
                faults: faults.count,
                last: last.clone(),
            },
        }
    }

    /// Calls `method` in the process, restarting it first if it is gone.
    pub fn call(&self, method: &str, input: &[u8]) -> Result<Reply, Fault> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Health::Disabled { faults, last } = self.health() {
            return Err(Fault::Disabled { faults, last });
        }
        let result = self.call_in(&mut child, method, input);
        if let Err(fault) = &result {
            *child = None;
            let mut faults = self.faults();
            faults.count += 1;
            faults.last = Some(fault.to_string());
            self.launch.log.note(&format!("fault: {fault}"));
        }
        result
    }

    fn call_in(
        &self,
        child: &mut Option<Child>,
        method: &str,
        input: &[u8],
    ) -> Result<Reply, Fault> {
        if child.is_none() {
            *child = Some(self.restart()?);
        }
        let child = child.as_mut().expect("started above");
        let during = During::Call(method.to_string());
        child.send(&during, method, input)?;
        let frame = child.receive(&during, self.launch.timeouts.for_method(method))?;
        Reply::decode(&frame).map_err(|error| Fault::Protocol { during, error })
    }

    fn restart(&self) -> Result<Child, Fault> {
        match Self::spawn_and_greet(&self.launch)? {
            (child, _, Hello::Loaded(loaded)) if loaded.descriptor == self.descriptor => Ok(child),
            (_, _, Hello::Loaded(loaded)) => Err(Fault::Changed(loaded.descriptor)),
            (_, _, Hello::Refused(error)) => Err(Fault::Restart(format!("{error:?}"))),
        }
    }
}

/// The plugin runner: next to the `deepreduce` binary (or, for test
/// binaries, in the build folder above theirs).
pub fn runner_path() -> Option<PathBuf> {
    let name = format!("{RUNNER_NAME}{}", std::env::consts::EXE_SUFFIX);
    Some(super::dirs::build_output_dir()?.join(name))
}
