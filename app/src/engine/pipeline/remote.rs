//! A pipeline's training as a Slurm job: its spec written to the shared
//! folder, submitted (or re-attached to when a job for it is still alive),
//! followed until it ends with its epochs copied into the store as they
//! come, submitted again after a failure up to the retry limit, and its
//! result read back. The store only ever sees this process.

use super::plan::Job;
use super::{PipelineError, PipelineEvent, Place, Runner};
use crate::engine::backend::BackendChoice;
use crate::engine::executor::slurm::{self, JobState, JobStatus, SlurmOptions};
use crate::engine::job::{self, JobSpec};
use crate::engine::run::Executed;
use crate::engine::store::{RunResult, RunStatus, Store};
use crate::engine::train::{TrainConfig, TrainEvent};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a job's state and epochs are read.
const POLL: Duration = Duration::from_secs(1);

/// How much of a failed job's stderr its run's error keeps.
const STDERR_TAIL: usize = 2000;

/// A run's folder in the shared folder.
fn job_dir(opts: &SlurmOptions, pipeline: i64, run_id: i64) -> PathBuf {
    opts.shared_dir
        .join(format!("pipeline-{pipeline}"))
        .join(format!("run-{run_id}"))
}

/// A dataset named by a relative path is opened from the node's working
/// folder (the job's): make it absolute.
fn dataset_for_node(dataset: &str) -> String {
    let path = Path::new(dataset);
    if path.exists()
        && path.is_relative()
        && let Ok(absolute) = std::path::absolute(path)
    {
        return absolute.display().to_string();
    }
    dataset.to_string()
}

impl Job {
    /// This job as a self-contained spec for a cluster node. `weights`:
    /// the weights files of the finished runs it distils or starts from.
    pub(super) fn spec(
        &self,
        train: &TrainConfig,
        dataset: &str,
        weights: &BTreeMap<String, PathBuf>,
    ) -> JobSpec {
        let weight = |key: &Option<String>| key.as_ref().map(|k| weights[k].clone());
        JobSpec {
            network: self.network.clone(),
            train: self.train_config(train),
            dataset: dataset_for_node(dataset),
            teacher: weight(&self.teacher),
            init_from: weight(&self.init_from),
            gates: self.gates.clone(),
            backend: BackendChoice::Auto,
        }
    }
}

impl Runner<'_> {
    /// Runs `job` (run `run_id`) as a Slurm job to its end. `weights`: the
    /// weights files of the finished runs it distils or starts from, by key.
    pub(super) fn execute_on_slurm(
        &self,
        store: &Store,
        place: &Place,
        job: &Job,
        spec: &JobSpec,
        opts: &SlurmOptions,
    ) -> Result<Executed, PipelineError> {
        let run_id = place.run_id;
        let dir = job_dir(opts, place.pipeline, run_id);
        let folder_error = |message: String| PipelineError::RunFolder {
            path: dir.clone(),
            message,
        };
        job::write_spec(&dir, spec).map_err(|e| folder_error(e.to_string()))?;
        store.start_run(run_id, "slurm", &dir)?;
        let mut job_id = live_job_or_submit(store, run_id, job, &dir, opts)?;
        let mut epochs_seen = 0;
        loop {
            let status = self.follow(store, run_id, job, &dir, &job_id, &mut epochs_seen)?;
            match status.state {
                JobState::Completed | JobState::Gone => {
                    return match job::read_result(&dir) {
                        Some(Ok(executed)) => Ok(executed),
                        Some(Err(e)) => Err(folder_error(format!(
                            "job {job_id} wrote an unreadable result: {e}"
                        ))),
                        None => Err(job_failed(&dir, &job_id, &status)),
                    };
                }
                JobState::Cancelled => {
                    let why = format!("Slurm job {job_id} was cancelled{}", reason_text(&status));
                    return record_cancelled(store, run_id, why);
                }
                state
                    if state.is_retryable()
                        && !self.cancelled()
                        && submissions(store, run_id)? <= opts.retries =>
                {
                    job_id = submit(store, run_id, job, &dir, opts)?;
                }
                _ => return Err(job_failed(&dir, &job_id, &status)),
            }
        }
    }

    /// Polls job `job_id` until it ends, copying its new epochs into the
    /// store and its state changes onto the run; cancels it when the
    /// pipeline is cancelled.
    fn follow(
        &self,
        store: &Store,
        run_id: i64,
        job: &Job,
        dir: &Path,
        job_id: &str,
        epochs_seen: &mut usize,
    ) -> Result<JobStatus, PipelineError> {
        let mut last: Option<JobStatus> = None;
        loop {
            for metrics in job::read_epochs(dir) {
                if metrics.epoch > *epochs_seen {
                    *epochs_seen = metrics.epoch;
                    store.record_epoch(run_id, &metrics)?;
                    self.send(PipelineEvent::Train {
                        key: job.key.clone(),
                        event: TrainEvent::Epoch(metrics),
                    });
                }
            }
            if self.cancelled() {
                if let Err(e) = slurm::cancel(job_id) {
                    // scancel refuses a job that has just ended: what it
                    // left (a result, a failure) is taken as it is.
                    let status = slurm::status(job_id).map_err(slurm_error)?;
                    if status.state.is_alive() {
                        return Err(slurm_error(e));
                    }
                    return Ok(status);
                }
                store.set_run_job_state(run_id, "CANCELLED", Some("cancelled by the user"))?;
                let why = format!("cancelled by the user (Slurm job {job_id} with scancel)");
                return record_cancelled(store, run_id, why);
            }
            let status = slurm::status(job_id).map_err(slurm_error)?;
            if last.as_ref() != Some(&status) {
                store.set_run_job_state(run_id, status.state.as_str(), status.reason.as_deref())?;
                self.send(PipelineEvent::Job {
                    key: job.key.clone(),
                    id: job_id.to_string(),
                    status: status.clone(),
                });
            }
            if !status.state.is_alive() {
                return Ok(status);
            }
            last = Some(status);
            std::thread::sleep(POLL);
        }
    }
}

/// The run's job if Slurm still has it queued or running, or if it
/// finished with a result while no controller watched (a controller that
/// was stopped re-attaches); otherwise a new one.
fn live_job_or_submit(
    store: &Store,
    run_id: i64,
    job: &Job,
    dir: &Path,
    opts: &SlurmOptions,
) -> Result<String, PipelineError> {
    let known = store.run(run_id)?.and_then(|r| r.job);
    if let Some(known) = known {
        let state = slurm::status(&known.id).map_err(slurm_error)?.state;
        let finished = matches!(state, JobState::Completed | JobState::Gone)
            && job::read_result(dir).is_some_and(|r| r.is_ok());
        if state.is_alive() || finished {
            return Ok(known.id);
        }
    }
    submit(store, run_id, job, dir, opts)
}

fn submit(
    store: &Store,
    run_id: i64,
    job: &Job,
    dir: &Path,
    opts: &SlurmOptions,
) -> Result<String, PipelineError> {
    // A result left by an earlier job must not pass for this one's.
    let _ = std::fs::remove_file(dir.join(job::RESULT_FILE));
    let name = format!("deepreduce-{}", job.key.replace([' ', ':', '/'], "-"));
    let id = slurm::submit(opts, &name, dir, &dir.join(job::SPEC_FILE)).map_err(slurm_error)?;
    store.set_run_job(run_id, &id)?;
    Ok(id)
}

/// Records run `run_id` as cancelled, `why`, and stops the pipeline.
fn record_cancelled<T>(store: &Store, run_id: i64, why: String) -> Result<T, PipelineError> {
    let mut result = RunResult::failed(why);
    result.status = RunStatus::Cancelled;
    store.finish_run(run_id, &result)?;
    Err(PipelineError::Cancelled)
}

fn submissions(store: &Store, run_id: i64) -> Result<u32, PipelineError> {
    Ok(store
        .run(run_id)?
        .and_then(|r| r.job)
        .map_or(0, |j| j.submissions))
}

fn slurm_error(e: slurm::SlurmError) -> PipelineError {
    PipelineError::Executor(e.to_string())
}

fn reason_text(status: &JobStatus) -> String {
    status
        .reason
        .as_ref()
        .map_or(String::new(), |r| format!(" ({r})"))
}

/// A job that ended without a result: its state, reason and stderr's end.
fn job_failed(dir: &Path, job_id: &str, status: &JobStatus) -> PipelineError {
    let stderr = std::fs::read(dir.join(format!("slurm-{job_id}.err")))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let tail: String = {
        let trimmed = stderr.trim_end();
        let start = trimmed
            .char_indices()
            .rev()
            .nth(STDERR_TAIL)
            .map_or(0, |(i, _)| i);
        trimmed[start..].to_string()
    };
    PipelineError::Executor(format!(
        "Slurm job {job_id} ended {}{}; its stderr ends:\n{tail}",
        status.state,
        reason_text(status)
    ))
}
