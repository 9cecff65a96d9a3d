//! Slurm through its commands: `sbatch` submits a job that runs
//! `deepreduce run-job` on a node, `squeue` and `scontrol` say where it is
//! (not `sacct`, which needs slurmdbd), `scancel` stops it. The commands
//! find the cluster as they do for a user (`SLURM_CONF`, `/etc/slurm`).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The resources a job asks `sbatch` for, as a user gives them: typed in
/// a [`SlurmRequest`], trimmed in the checked [`SlurmOptions`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SbatchOptions {
    pub partition: Option<String>,
    pub account: Option<String>,
    /// `--time`, e.g. `2:00:00`.
    pub time: Option<String>,
    pub cpus_per_job: Option<u32>,
    pub gpus_per_job: Option<u32>,
    /// `--mem`, e.g. `16G`.
    pub memory: Option<String>,
}

impl SbatchOptions {
    /// Blank text is no option.
    fn trimmed(&self) -> SbatchOptions {
        SbatchOptions {
            partition: given(&self.partition),
            account: given(&self.account),
            time: given(&self.time),
            cpus_per_job: self.cpus_per_job,
            gpus_per_job: self.gpus_per_job,
            memory: given(&self.memory),
        }
    }

    /// The `sbatch` flags of the options given.
    fn args(&self) -> impl Iterator<Item = String> {
        [
            ("--partition", self.partition.clone()),
            ("--account", self.account.clone()),
            ("--time", self.time.clone()),
            ("--cpus-per-task", self.cpus_per_job.map(|n| n.to_string())),
            ("--gpus", self.gpus_per_job.map(|n| n.to_string())),
            ("--mem", self.memory.clone()),
        ]
        .into_iter()
        .filter_map(|(flag, value)| Some(format!("{flag}={}", value?)))
    }
}

/// How jobs are submitted: the `sbatch` options a user would give, the
/// shared folder for specs and results, and the command that starts the
/// worker on a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlurmOptions {
    #[serde(flatten)]
    pub sbatch: SbatchOptions,
    /// Further `sbatch` arguments, split as a shell splits words.
    pub extra_args: Vec<String>,
    /// A folder every node sees at the same path: each training's spec,
    /// checkpoints, epochs, weights and result go to a folder in it.
    pub shared_dir: PathBuf,
    /// The `deepreduce` binary the nodes run: this one by default, which
    /// must then be on the shared filesystem too.
    pub worker: PathBuf,
    /// Times a failed, timed-out, preempted or lost job is submitted again.
    pub retries: u32,
}

/// Submissions again after a job fails, times out or is preempted, unless
/// the user says otherwise.
pub const DEFAULT_RETRIES: u32 = 2;

/// The Slurm options as a user gives them (flags or the Runs panel's
/// form): blank text is no option, the worker defaults to this binary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlurmRequest {
    #[serde(flatten)]
    pub sbatch: SbatchOptions,
    /// Further `sbatch` arguments in one line, split at whitespace (no
    /// quoting).
    pub extra_args: String,
    pub shared_dir: Option<PathBuf>,
    /// `None`: this binary.
    pub worker: Option<PathBuf>,
    pub retries: u32,
}

impl Default for SlurmRequest {
    fn default() -> Self {
        SlurmRequest {
            sbatch: SbatchOptions::default(),
            extra_args: String::new(),
            shared_dir: None,
            worker: None,
            retries: DEFAULT_RETRIES,
        }
    }
}

/// `text` unless it is blank.
fn given(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
}

impl SlurmRequest {
    /// The options asked for, checked: the shared folder is created and
    /// made absolute, the worker must exist here (nodes run it from the
    /// same path).
    pub fn options(&self) -> Result<SlurmOptions, String> {
        let shared = self
            .shared_dir
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty())
            .ok_or(
                "the Slurm executor needs a shared folder (--shared-dir): one every node sees \
                 at the same path",
            )?;
        std::fs::create_dir_all(shared)
            .map_err(|e| format!("shared folder {}: {e}", shared.display()))?;
        let shared_dir = std::path::absolute(shared).map_err(|e| e.to_string())?;
        let worker = match self.worker.as_ref().filter(|p| !p.as_os_str().is_empty()) {
            Some(path) => std::path::absolute(path).map_err(|e| e.to_string())?,
            None => std::env::current_exe().map_err(|e| format!("this binary's path: {e}"))?,
        };
        if !worker.is_file() {
            return Err(format!(
                "worker {}: no such file (nodes run it from that path, so it must be on the \
                 shared filesystem)",
                worker.display()
            ));
        }
        Ok(SlurmOptions {
            sbatch: self.sbatch.trimmed(),
            extra_args: self
                .extra_args
                .split_whitespace()
                .map(String::from)
                .collect(),
            shared_dir,
            worker,
            retries: self.retries,
        })
    }
}

/// Where a job is, as Slurm names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Pending,
    Configuring,
    Running,
    Completing,
    Suspended,
    Requeued,
    Completed,
    Failed,
    Timeout,
    Cancelled,
    Preempted,
    NodeFail,
    OutOfMemory,
    BootFail,
    Deadline,
    /// Slurm no longer knows the job (purged after `MinJobAge`).
    Gone,
}

impl JobState {
    pub fn parse(text: &str) -> Option<JobState> {
        // `scontrol` may add a qualifier: "CANCELLED by 0".
        let word = text.split_whitespace().next()?;
        serde_json::from_value(serde_json::Value::String(word.into())).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Configuring => "CONFIGURING",
            JobState::Running => "RUNNING",
            JobState::Completing => "COMPLETING",
            JobState::Suspended => "SUSPENDED",
            JobState::Requeued => "REQUEUED",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Timeout => "TIMEOUT",
            JobState::Cancelled => "CANCELLED",
            JobState::Preempted => "PREEMPTED",
            JobState::NodeFail => "NODE_FAIL",
            JobState::OutOfMemory => "OUT_OF_MEMORY",
            JobState::BootFail => "BOOT_FAIL",
            JobState::Deadline => "DEADLINE",
            JobState::Gone => "GONE",
        }
    }

    /// Still queued or running: it will end by itself.
    pub fn is_alive(self) -> bool {
        matches!(
            self,
            JobState::Pending
                | JobState::Configuring
                | JobState::Running
                | JobState::Completing
                | JobState::Suspended
                | JobState::Requeued
        )
    }

    /// Ended in a way that another submission may fix.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            JobState::Failed
                | JobState::Timeout
                | JobState::Preempted
                | JobState::NodeFail
                | JobState::OutOfMemory
                | JobState::BootFail
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's state and Slurm's reason for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    pub state: JobState,
    pub reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("cannot run `{command}` ({error}): is Slurm installed and on PATH?")]
    Missing {
        command: &'static str,
        error: String,
    },
    #[error("`{command}` failed: {stderr}")]
    Failed {
        command: &'static str,
        stderr: String,
    },
    #[error("`{command}` printed something unexpected: {output}")]
    Unexpected {
        command: &'static str,
        output: String,
    },
    #[error(
        "the worker {} does not exist here; nodes run it from the same path, so it must be on the shared filesystem",
        .0.display()
    )]
    NoWorker(PathBuf),
}

fn run(command: &'static str, args: &[String]) -> Result<String, SlurmError> {
    let out = Command::new(command)
        .args(args)
        .output()
        .map_err(|e| SlurmError::Missing {
            command,
            error: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(SlurmError::Failed {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Quotes `text` for the shell `sbatch --wrap` starts.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The `sbatch` arguments of one training in `dir` (its spec in it).
fn sbatch_args(opts: &SlurmOptions, name: &str, dir: &Path, spec: &Path) -> Vec<String> {
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name={name}"),
        format!("--chdir={}", dir.display()),
        format!("--output={}", dir.join("slurm-%j.out").display()),
        format!("--error={}", dir.join("slurm-%j.err").display()),
    ];
    args.extend(opts.sbatch.args());
    args.extend(opts.extra_args.iter().cloned());
    // `exec`: the job's processes are the worker's, which scancel signals.
    let worker = shell_quote(&opts.worker.display().to_string());
    let spec = shell_quote(&spec.display().to_string());
    args.push(format!("--wrap=exec {worker} run-job {spec}"));
    args
}

/// Submits the training whose spec is `dir/spec.json`; its job id.
pub fn submit(
    opts: &SlurmOptions,
    name: &str,
    dir: &Path,
    spec: &Path,
) -> Result<String, SlurmError> {
    if !opts.worker.is_file() {
        return Err(SlurmError::NoWorker(opts.worker.clone()));
    }
    let out = run("sbatch", &sbatch_args(opts, name, dir, spec))?;
    // `--parsable` prints "id" or "id;cluster".
    let id = out.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return Err(SlurmError::Unexpected {
            command: "sbatch",
            output: out,
        });
    }
    Ok(id)
}

/// Where job `id` is: `squeue` while Slurm lists it, then `scontrol`
/// (until `MinJobAge` purges it: then [`JobState::Gone`]).
pub fn status(id: &str) -> Result<JobStatus, SlurmError> {
    let args = ["-h", "-j", id, "-o", "%T|%r"].map(String::from);
    // `squeue -j` of a purged id is an error: fall through to scontrol.
    if let Ok(out) = run("squeue", &args)
        && let Some(line) = out.lines().find(|l| !l.trim().is_empty())
    {
        let (state, reason) = line.split_once('|').unwrap_or((line, ""));
        let state = JobState::parse(state).ok_or_else(|| SlurmError::Unexpected {
            command: "squeue",
            output: line.to_string(),
        })?;
        return Ok(JobStatus {
            state,
            reason: known_reason(reason),
        });
    }
    match run("scontrol", &["-o", "show", "job", id].map(String::from)) {
        Ok(out) => parse_scontrol(&out).ok_or(SlurmError::Unexpected {
            command: "scontrol",
            output: out,
        }),
        Err(SlurmError::Failed { stderr, .. }) if stderr.contains("Invalid job id") => {
            Ok(JobStatus {
                state: JobState::Gone,
                reason: None,
            })
        }
        Err(e) => Err(e),
    }
}

/// `scontrol -o show job`: one line of `Key=Value` fields.
fn parse_scontrol(out: &str) -> Option<JobStatus> {
    let field = |key: &str| {
        out.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    Some(JobStatus {
        state: JobState::parse(field("JobState")?)?,
        reason: field("Reason").and_then(known_reason),
    })
}

fn known_reason(reason: &str) -> Option<String> {
    let reason = reason.trim();
    (!reason.is_empty() && reason != "None" && reason != "(null)").then(|| reason.to_string())
}

pub fn cancel(id: &str) -> Result<(), SlurmError> {
    run("scancel", &[id.to_string()]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_with_qualifiers_and_map_to_what_can_happen_next() {
        assert_eq!(JobState::parse("RUNNING"), Some(JobState::Running));
        assert_eq!(JobState::parse("CANCELLED by 0"), Some(JobState::Cancelled));
        assert_eq!(JobState::parse("NODE_FAIL"), Some(JobState::NodeFail));
        assert_eq!(JobState::parse("EXPLODED"), None);
        assert!(JobState::Pending.is_alive());
        assert!(!JobState::Completed.is_alive());
        assert!(JobState::Preempted.is_retryable());
        assert!(!JobState::Cancelled.is_retryable());
    }

    #[test]
    fn scontrol_lines_give_state_and_reason() {
        let line = "JobId=9 JobName=wrap UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=3:0";
        assert_eq!(
            parse_scontrol(line),
            Some(JobStatus {
                state: JobState::Failed,
                reason: Some("NonZeroExitCode".into()),
            })
        );
        let done = "JobId=1 JobState=COMPLETED Reason=None ExitCode=0:0";
        assert_eq!(parse_scontrol(done).unwrap().reason, None);
    }

    #[test]
    fn stored_executors_keep_their_flat_json() {
        // As pipelines stored it before the sbatch options had a struct.
        let stored = r#"{"kind":"slurm","partition":"gpu","account":null,"time":"1:00:00",
            "cpus_per_job":4,"gpus_per_job":null,"memory":null,"extra_args":["--qos=low"],
            "shared_dir":"/shared","worker":"/opt/deepreduce","retries":2}"#;
        let executor: crate::engine::executor::Executor = serde_json::from_str(stored).unwrap();
        let crate::engine::executor::Executor::Slurm(opts) = &executor else {
            panic!("not slurm: {executor:?}");
        };
        assert_eq!(opts.sbatch.partition.as_deref(), Some("gpu"));
        assert_eq!(opts.sbatch.cpus_per_job, Some(4));
        assert_eq!(opts.worker, Path::new("/opt/deepreduce"));
        let written = serde_json::to_value(&executor).unwrap();
        let stored: serde_json::Value = serde_json::from_str(stored).unwrap();
        assert_eq!(written, stored);
    }

    #[test]
    fn blank_sbatch_options_are_no_options() {
        let request = SlurmRequest {
            sbatch: SbatchOptions {
                partition: Some("  ".into()),
                memory: Some(" 16G ".into()),
                ..SbatchOptions::default()
            },
            ..SlurmRequest::default()
        };
        let flags: Vec<String> = request.sbatch.trimmed().args().collect();
        assert_eq!(flags, ["--mem=16G"]);
    }

    #[test]
    fn the_worker_command_survives_odd_paths() {
        let opts = SlurmOptions {
            sbatch: SbatchOptions {
                partition: Some("gpu".into()),
                time: Some("1:00:00".into()),
                cpus_per_job: Some(4),
                ..SbatchOptions::default()
            },
            extra_args: vec!["--qos=low".into()],
            shared_dir: "/shared".into(),
            worker: "/opt/it's here/deepreduce".into(),
            retries: 2,
        };
        let args = sbatch_args(
            &opts,
            "run-7",
            Path::new("/shared/p1/run-7"),
            Path::new("/shared/p1/run-7/spec.json"),
        );
        assert!(args.contains(&"--partition=gpu".to_string()));
        assert!(args.contains(&"--cpus-per-task=4".to_string()));
        assert!(args.contains(&"--qos=low".to_string()));
        assert_eq!(
            args.last().unwrap(),
            r"--wrap=exec '/opt/it'\''s here/deepreduce' run-job '/shared/p1/run-7/spec.json'"
        );
    }
}
