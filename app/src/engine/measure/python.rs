//! The runners of `measure/` and the Python environments they need: found
//! by environment variable or in the user's cache folder, started with a
//! time limit, their JSON report read from their output.

use super::Framework;
use super::report::Report;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(
        "no {framework} environment: {python} does not exist (make it with `bash {setup}`, or set {var})"
    )]
    NoEnvironment {
        framework: &'static str,
        python: PathBuf,
        setup: String,
        var: &'static str,
    },
    #[error("cannot start {}: {error}", .python.display())]
    Start {
        python: PathBuf,
        error: std::io::Error,
    },
    #[error("the {framework} measurement did not finish within {} s and was stopped", .limit.as_secs())]
    Timeout {
        framework: &'static str,
        limit: Duration,
    },
    #[error("the {framework} runner failed ({status}): {stderr}")]
    Failed {
        framework: &'static str,
        status: String,
        stderr: String,
    },
    #[error("the {framework} runner's report is not what it should be: {message}")]
    BadReport {
        framework: &'static str,
        message: String,
    },
}

/// The runner scripts, in the source tree the workbench was built from.
fn measure_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../measure")
}

impl Framework {
    fn script(self) -> &'static str {
        match self {
            Framework::Cheetah => "spu_measure.py",
            Framework::Crypten => "crypten_measure.py",
        }
    }

    fn setup(self) -> &'static str {
        match self {
            Framework::Cheetah => "setup-spu.sh",
            Framework::Crypten => "setup-crypten.sh",
        }
    }

    /// The variable naming the environment's python, as `.ci/run` sets it.
    fn python_var(self) -> &'static str {
        match self {
            Framework::Cheetah => "DEEPREDUCE_SPU_PYTHON",
            Framework::Crypten => "DEEPREDUCE_CRYPTEN_PYTHON",
        }
    }

    fn venv(self) -> &'static str {
        match self {
            Framework::Cheetah => "spu-venv",
            Framework::Crypten => "crypten-venv",
        }
    }
}

/// The python of `framework`'s environment, or how to make one.
pub fn find(framework: Framework) -> Result<PathBuf, RunnerError> {
    let python = std::env::var_os(framework.python_var())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // Where the setup scripts make it.
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
            home.join(".cache/deepreduce")
                .join(framework.venv())
                .join("bin/python")
        });
    if python.exists() {
        Ok(python)
    } else {
        Err(RunnerError::NoEnvironment {
            framework: framework.as_str(),
            python,
            setup: measure_dir().join(framework.setup()).display().to_string(),
            var: framework.python_var(),
        })
    }
}

/// A free TCP port on 127.0.0.1 with the next one free too (SPU's second
/// party listens there).
fn free_ports() -> u16 {
    for _ in 0..50 {
        let Ok(first) = std::net::TcpListener::bind("127.0.0.1:0") else {
            break;
        };
        let port = first.local_addr().map_or(0, |a| a.port());
        if port != 0
            && port < u16::MAX
            && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok()
        {
            return port;
        }
    }
    29_500
}

/// Runs `framework`'s runner on `model` with `images`; its report.
pub fn run(
    python: &Path,
    framework: Framework,
    model: &Path,
    images: &Path,
    repeat: usize,
    limit: Duration,
) -> Result<Report, RunnerError> {
    let name = framework.as_str();
    let mut child = Command::new(python)
        .arg(measure_dir().join(framework.script()))
        .arg("--onnx")
        .arg(model)
        .arg("--images")
        .arg(images)
        .args(["--repeat", &repeat.to_string()])
        .args(["--port", &free_ports().to_string()])
        .args(["--timeout", &limit.as_secs().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| RunnerError::Start {
            python: python.to_path_buf(),
            error,
        })?;
    // Read both pipes on threads: a full pipe would block the runner.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + limit + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|error| RunnerError::Start {
            python: python.to_path_buf(),
            error,
        })? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RunnerError::Timeout {
                framework: name,
                limit,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    );
    if !status.success() {
        let tail: String = stderr
            .chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(RunnerError::Failed {
            framework: name,
            status: status.to_string(),
            stderr: tail,
        });
    }
    serde_json::from_str(&stdout).map_err(|e| RunnerError::BadReport {
        framework: name,
        message: e.to_string(),
    })
}
