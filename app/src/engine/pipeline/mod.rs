//! A pipeline: a ReLU-reduction method (a method plugin; DeepReDuce's by
//! default, SPEC.md) followed end to end on the architecture and dataset
//! the user chose, every training recorded in the run store as it happens.
//! Finished runs are never retrained; an interrupted run resumes from its
//! last checkpoint.

pub mod criticality;
pub mod method;
pub mod pareto;
mod plan;
mod remote;
pub mod results;
pub mod single;

use super::backend::Backend;
use super::executor::Executor;
use super::executor::slurm::JobStatus;
use super::network::NetworkError;
use super::plugin_host::{HostError, PluginHost};
use super::run::{Models, ModelsError, RunEnv, RunError, RunFolder, RunSpec, execute};
use super::store::{PipelineStatus, RunResult, RunRole, RunStatus, Store, StoreError, run_status};
use super::train::{Status, TrainConfig, TrainError, TrainEvent};
use super::trained;
use deepreduce_datasets::Dataset;
use plan::Job;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;

/// What a pipeline trains; stored with it so `--resume` needs only the id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineConfig {
    pub arch: String,
    pub dataset: String,
    pub blocks: Option<Vec<usize>>,
    pub width: Option<usize>,
    pub train: TrainConfig,
    /// Also train each stage-only network without KD (the paper records both).
    pub criticality_without_kd: bool,
    /// Ids of further optimization plugins whose candidates join the set.
    pub extra_plugins: Vec<String>,
    /// Retrain criticality networks and candidates with knowledge
    /// distillation from the baseline (the method); off trains them alone.
    #[serde(default = "kd_default")]
    pub kd: bool,
    /// Trainings run at once. CPU backends share one thread pool, so more
    /// jobs interleave rather than oversubscribe the cores.
    pub jobs: usize,
    /// A method plugin to follow; without one, the DeepReDuce method with
    /// the fields above as its parameters (how pipelines were stored before
    /// methods were plugins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<method::MethodChoice>,
    /// Where the trainings run: here, or as jobs of a cluster.
    #[serde(default, skip_serializing_if = "Executor::is_local")]
    pub executor: Executor,
}

impl PipelineConfig {
    /// The method this pipeline follows, with its parameters.
    pub fn method_choice(&self) -> method::MethodChoice {
        self.method.clone().unwrap_or_else(|| method::MethodChoice {
            id: method::DEEPREDUCE.into(),
            params: serde_json::json!({
                "kd": self.kd,
                "criticality_without_kd": self.criticality_without_kd,
                "extra_plugins": self.extra_plugins,
            }),
        })
    }
}

fn kd_default() -> bool {
    true
}

/// Progress of a pipeline, for the CLI and the GUI.
#[derive(Clone, Debug)]
pub enum PipelineEvent {
    /// The method asked for a batch of trainings (their first one's role).
    Step {
        role: RunRole,
        runs: usize,
    },
    RunStarted {
        key: String,
        description: String,
        index: usize,
        total: usize,
        resumed_from_epoch: usize,
    },
    Train {
        key: String,
        event: TrainEvent,
    },
    RunFinished {
        key: String,
        description: String,
        status: RunStatus,
        accuracy: Option<f64>,
        retrained: bool,
    },
    Criticality {
        stages: Vec<(String, f64)>,
        /// Stages whose network stayed at chance: their scores are unreliable.
        did_not_learn: Vec<String>,
    },
    /// A training's cluster job changed state (recorded in the store).
    Job {
        key: String,
        id: String,
        status: JobStatus,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Plugin(#[from] HostError),
    #[error(transparent)]
    Dataset(#[from] deepreduce_datasets::DatasetError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Trained(#[from] trained::TrainedError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("a trained model to distil from or start from: {0}")]
    Models(#[from] ModelsError),
    #[error("pipeline {0} is not in the store")]
    UnknownPipeline(i64),
    #[error("run {0} is not in the store")]
    UnknownRun(i64),
    #[error("run folder {}: {message}", path.display())]
    RunFolder { path: PathBuf, message: String },
    #[error("the network is invalid: {0}")]
    BadNetwork(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the stored configuration of pipeline {id} is unreadable: {message}")]
    BadConfig { id: i64, message: String },
    #[error("the stored configuration of run {id} is unreadable: {message}")]
    BadRunConfig { id: i64, message: String },
    #[error("run '{0}' is not a completed run with weights: nothing to distil or start from")]
    NotFinished(String),
    #[error("method {id}: {message}")]
    Method { id: String, message: String },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Executor(String),
    #[error("{error} (recording that in the store failed too: {unrecorded})")]
    Unrecorded {
        error: Box<PipelineError>,
        unrecorded: StoreError,
    },
}

/// `result`, with its failure recorded on run `run_id` so that the run is
/// never left `running` (a cancellation is recorded by whoever cancels; the
/// first error is the one reported when recording fails too).
fn record_run_failure<T>(
    store: &Store,
    run_id: i64,
    result: Result<T, PipelineError>,
) -> Result<T, PipelineError> {
    match result {
        Err(PipelineError::Cancelled) | Ok(_) => result,
        // Not the run's failure: it stays unfinished, and a resume once
        // the disk has room trains it again (a run recorded as failed
        // would be final, and the method would go on without it).
        Err(error) if error.is_a_write_failure() => Err(error),
        Err(error) => Err(
            match store.finish_run(run_id, &RunResult::failed(error.to_string())) {
                Ok(()) => error,
                Err(unrecorded) => PipelineError::Unrecorded {
                    error: Box::new(error),
                    unrecorded,
                },
            },
        ),
    }
}

impl PipelineError {
    /// The machine could not store what the run produced (a full disk, an
    /// I/O error), which says nothing about the run itself.
    fn is_a_write_failure(&self) -> bool {
        use crate::engine::trained::TrainedError;
        matches!(
            self,
            PipelineError::Store(_)
                | PipelineError::Trained(TrainedError::Write(_))
                | PipelineError::Train(TrainError::CheckpointWrite(_))
                | PipelineError::Run(
                    RunError::Trained(TrainedError::Write(_))
                        | RunError::Train(TrainError::CheckpointWrite(_)),
                )
        )
    }
}

/// Records a new pipeline; run it with [`run`].
pub fn create(store: &Store, cfg: &PipelineConfig) -> Result<i64, PipelineError> {
    cfg.train.validate().map_err(PipelineError::Invalid)?;
    let config = serde_json::to_value(cfg).expect("config serialises");
    Ok(store.create_pipeline(&cfg.arch, &cfg.dataset, &config)?)
}

/// Where the pipeline runs and who listens.
pub struct Runner<'a> {
    pub host: &'a PluginHost,
    pub store_path: PathBuf,
    pub backend: &'a Backend,
    pub events: Option<Sender<PipelineEvent>>,
    pub cancel: Option<&'a AtomicBool>,
}

/// ReLUs of a network that passed shape inference.
fn analyze_relus(network: &deepreduce_plugin_api::Network) -> u64 {
    deepreduce_plugin_api::analyze(network).map_or(0, |a| a.total.relus)
}

/// A finished (or already finished) run.
struct Trained {
    accuracy: Option<f64>,
}

impl Runner<'_> {
    fn send(&self, event: PipelineEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Runs (or resumes) pipeline `id` to the end. One process at a time:
    /// a pipeline another live process runs is refused, naming it. However
    /// it ends, the pipeline's status (and why it failed) is recorded.
    pub fn run(&self, id: i64) -> Result<(), PipelineError> {
        let store = Store::open(&self.store_path)?;
        let row = store
            .pipeline(id)?
            .ok_or(PipelineError::UnknownPipeline(id))?;
        let _lease = store.acquire_lease(&format!("pipeline:{id}"))?;
        let result = serde_json::from_value::<PipelineConfig>(row.config)
            .map_err(|e| PipelineError::BadConfig {
                id,
                message: e.to_string(),
            })
            .and_then(|cfg| {
                cfg.train
                    .validate()
                    .map_err(|message| PipelineError::BadConfig { id, message })?;
                store.set_pipeline_status(id, PipelineStatus::Running)?;
                self.run_phases(&store, id, &cfg)
            });
        let recorded = match &result {
            Ok(()) => store.set_pipeline_status(id, PipelineStatus::Completed),
            Err(PipelineError::Cancelled) => {
                store.set_pipeline_status(id, PipelineStatus::Cancelled)
            }
            Err(e) => store.fail_pipeline(id, &e.to_string()),
        };
        match (result, recorded) {
            (result, Ok(())) => result,
            // The first error is the one to report (a full disk fails both).
            (Err(error), Err(unrecorded)) => Err(PipelineError::Unrecorded {
                error: Box::new(error),
                unrecorded,
            }),
            (Ok(()), Err(unrecorded)) => Err(unrecorded.into()),
        }
    }

    /// The folder of run `run_id`'s checkpoints and final weights, beside
    /// the store (absolute, whatever the working directory).
    fn run_dir(&self, run_id: i64) -> Result<PathBuf, PipelineError> {
        let runs = std::path::absolute(self.store_path.with_extension("runs")).map_err(|e| {
            PipelineError::RunFolder {
                path: self.store_path.with_extension("runs"),
                message: e.to_string(),
            }
        })?;
        Ok(runs.join(run_id.to_string()))
    }

    fn run_phases(
        &self,
        store: &Store,
        id: i64,
        cfg: &PipelineConfig,
    ) -> Result<(), PipelineError> {
        let data = deepreduce_datasets::open(&cfg.dataset)?;
        let baseline = plan::baseline_network(self.host, cfg, &data.info)?;
        self.run_method(store, id, cfg, &cfg.method_choice(), &data, &baseline)
    }

    /// Runs `jobs` with up to `cfg.jobs` at once; results in job order.
    /// The finished runs they distil from or start from are loaded once.
    fn run_jobs(
        &self,
        store: &Store,
        pipeline: i64,
        cfg: &PipelineConfig,
        data: &Dataset,
        jobs: &[Job],
    ) -> Result<Vec<Trained>, PipelineError> {
        let ids = jobs
            .iter()
            .map(|job| store.plan_run(&job.new_run(pipeline, &cfg.train)))
            .collect::<Result<Vec<_>, _>>()?;
        let weights = finished_weights(store, pipeline, jobs)?;
        let execution = match &cfg.executor {
            Executor::Local => {
                let distils = jobs.iter().any(|j| j.teacher.is_some());
                Execution::Local(Models::load(self.host, self.backend, weights, distils)?)
            }
            Executor::Slurm(opts) => Execution::Slurm {
                opts,
                dataset: &cfg.dataset,
                weights: weights.into_iter().collect(),
            },
        };
        let next = AtomicUsize::new(0);
        // A cluster takes a batch's jobs at once; here, `cfg.jobs` at a time.
        let at_once = match cfg.executor {
            Executor::Local => cfg.jobs,
            Executor::Slurm(_) => jobs.len(),
        };
        let workers = at_once.clamp(1, jobs.len().max(1));
        let results: Mutex<Vec<Option<Result<Trained, PipelineError>>>> =
            Mutex::new((0..jobs.len()).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= jobs.len() {
                            break;
                        }
                        let place = Place {
                            pipeline,
                            run_id: ids[i],
                            index: i,
                            total: jobs.len(),
                        };
                        let result = self.run_job(&place, &jobs[i], &cfg.train, data, &execution);
                        let stop = matches!(result, Err(PipelineError::Cancelled));
                        results.lock().expect("results lock")[i] = Some(result);
                        if stop {
                            break;
                        }
                    }
                });
            }
        });
        let mut out = Vec::with_capacity(jobs.len());
        for r in results.into_inner().expect("results lock") {
            // A job never started means a worker stopped on cancellation.
            out.push(r.unwrap_or(Err(PipelineError::Cancelled))?);
        }
        Ok(out)
    }

    /// Where this runner's runs train and who hears them.
    fn env<'a>(&'a self, events: Option<&'a Sender<TrainEvent>>) -> RunEnv<'a> {
        RunEnv {
            host: self.host,
            backend: self.backend,
            events,
            cancel: self.cancel,
        }
    }

    fn run_job(
        &self,
        place: &Place,
        job: &Job,
        train: &TrainConfig,
        data: &Dataset,
        execution: &Execution,
    ) -> Result<Trained, PipelineError> {
        let run_id = place.run_id;
        // One connection per worker thread: WAL lets them write side by side.
        let store = Store::open(&self.store_path)?;
        let row = store
            .run(run_id)?
            .ok_or(PipelineError::UnknownRun(run_id))?;
        // A run is finished only with its results; one recorded "completed"
        // without them (by an older version) resumes from its checkpoint.
        let finished = row.accuracy.is_some() && row.weights.is_some();
        if row.status == RunStatus::Completed && finished {
            self.send(PipelineEvent::RunFinished {
                key: job.key.clone(),
                description: job.description.clone(),
                status: row.status,
                accuracy: row.accuracy,
                retrained: false,
            });
            return Ok(Trained {
                accuracy: row.accuracy,
            });
        }
        if self.cancelled() {
            return Err(PipelineError::Cancelled);
        }
        let trained = match execution {
            Execution::Local(models) => self.train_job(&store, place, job, train, data, models),
            Execution::Slurm {
                opts,
                dataset,
                weights,
            } => {
                self.send_started(job, place, 0);
                let spec = job.spec(train, dataset, weights);
                self.execute_on_slurm(&store, place, job, &spec, opts)
                    .and_then(|executed| self.record_executed(&store, run_id, job, executed))
            }
        };
        record_run_failure(&store, run_id, trained)
    }

    fn send_started(&self, job: &Job, place: &Place, resumed_from_epoch: usize) {
        self.send(PipelineEvent::RunStarted {
            key: job.key.clone(),
            description: job.description.clone(),
            index: place.index + 1,
            total: place.total,
            resumed_from_epoch,
        });
    }

    /// Trains (or resumes) run `place.run_id` of `job` here to its end and
    /// records it.
    fn train_job(
        &self,
        store: &Store,
        place: &Place,
        job: &Job,
        train_cfg: &TrainConfig,
        data: &Dataset,
        models: &Models,
    ) -> Result<Trained, PipelineError> {
        let run_id = place.run_id;
        let dir = self.run_dir(run_id)?;
        let folder = RunFolder::stored(&dir);
        let spec = RunSpec {
            network: &job.network,
            train: job.train_config(train_cfg),
            teacher: job.teacher.as_deref(),
            init_from: job.init_from.as_deref(),
            gates: job.gates.as_ref(),
        };
        let resume = folder.resume_point(&spec)?;
        store.start_run(run_id, &self.backend.label, &dir)?;
        // The epoch of the checkpoint may have been written by a process
        // killed before the store recorded it.
        if let Some(metrics) = resume.as_ref().and_then(|c| c.metrics.as_ref()) {
            store.record_epoch(run_id, metrics)?;
        }
        self.send_started(job, place, resume.as_ref().map_or(0, |c| c.epoch));

        let (tx, rx) = std::sync::mpsc::channel::<TrainEvent>();
        let executed = std::thread::scope(|scope| {
            // Epochs reach the store as they finish, not at the end of the run.
            let recorder = scope.spawn(|| -> Result<(), StoreError> {
                for event in rx {
                    if let TrainEvent::Epoch(m) = &event {
                        store.record_epoch(run_id, m)?;
                    }
                    self.send(PipelineEvent::Train {
                        key: job.key.clone(),
                        event,
                    });
                }
                Ok(())
            });
            let executed = execute(&self.env(Some(&tx)), &spec, data, models, &folder, resume);
            drop(tx);
            let recorded = recorder.join().expect("recorder thread");
            executed
                .map_err(PipelineError::from)
                .and_then(|o| recorded.map(|_| o).map_err(Into::into))
        })?;
        self.record_executed(store, run_id, job, executed)
    }

    /// Records how a run ended, wherever it trained.
    fn record_executed(
        &self,
        store: &Store,
        run_id: i64,
        job: &Job,
        executed: super::run::Executed,
    ) -> Result<Trained, PipelineError> {
        if job.gates.is_some() {
            // What the gates learned is the network this run stands for.
            store.set_run_network(
                run_id,
                &serde_json::to_value(&executed.network).expect("IR"),
                analyze_relus(&executed.network),
            )?;
        }
        let mut result = RunResult {
            status: run_status(&executed.status),
            accuracy: executed.accuracy,
            latency: executed.latency,
            inference_ms: executed.inference_ms,
            weights: executed.weights,
            error: None,
        };
        match &executed.status {
            Status::Completed => {}
            Status::Cancelled { .. } => {
                store.finish_run(run_id, &result)?;
                return Err(PipelineError::Cancelled);
            }
            Status::Diverged { epoch, batch, loss } => {
                result.accuracy = None;
                result.error = Some(format!("loss {loss} at epoch {epoch}, batch {batch}"));
            }
            Status::DivergedInEvaluation { epoch, images } => {
                result.accuracy = None;
                result.error = Some(format!(
                    "evaluation after epoch {epoch}: non-finite logits for {images} test images"
                ));
            }
        }
        store.finish_run(run_id, &result)?;
        self.send(PipelineEvent::RunFinished {
            key: job.key.clone(),
            description: job.description.clone(),
            status: result.status,
            accuracy: result.accuracy,
            retrained: true,
        });
        Ok(Trained {
            accuracy: result.accuracy,
        })
    }
}

/// Where a job is in its batch.
struct Place {
    pipeline: i64,
    run_id: i64,
    index: usize,
    total: usize,
}

/// Where a batch's runs train, with what they distil from or start from:
/// models loaded here, or the weights files a cluster job reads itself.
enum Execution<'a> {
    Local(Models),
    Slurm {
        opts: &'a super::executor::slurm::SlurmOptions,
        dataset: &'a str,
        /// By the key of their run.
        weights: std::collections::BTreeMap<String, PathBuf>,
    },
}

/// The weights files of the finished runs `jobs` distil from or start
/// from, by key.
fn finished_weights(
    store: &Store,
    pipeline: i64,
    jobs: &[Job],
) -> Result<Vec<(String, PathBuf)>, PipelineError> {
    let keys = jobs
        .iter()
        .flat_map(|j| j.teacher.iter().chain(&j.init_from))
        .collect::<std::collections::BTreeSet<_>>();
    keys.into_iter()
        .map(|key| {
            let weights = store
                .run_by_key(pipeline, key)?
                .filter(|r| r.status == RunStatus::Completed)
                .and_then(|r| r.weights)
                .ok_or_else(|| PipelineError::NotFinished(key.clone()))?;
            Ok((key.clone(), weights))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::atomic_write::WriteError;
    use crate::engine::store::NewRun;
    use serde_json::json;

    fn planned_run(store: &Store, key: &str) -> i64 {
        store
            .plan_run(&NewRun {
                pipeline_id: None,
                key: key.into(),
                role: RunRole::Single,
                stage: None,
                description: key.into(),
                network: json!({}),
                config: json!({}),
                plugins: json!([]),
                seed: 0,
                relus: 0,
            })
            .unwrap()
    }

    #[test]
    fn a_run_the_disk_could_not_hold_stays_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("runs.db")).unwrap();
        let full = || WriteError {
            path: "/runs/3/final/model.bpk".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        };
        let cases: [(PipelineError, RunStatus); 3] = [
            (
                RunError::Trained(crate::engine::trained::TrainedError::Write(full())).into(),
                RunStatus::Planned,
            ),
            (
                TrainError::CheckpointWrite(full()).into(),
                RunStatus::Planned,
            ),
            (
                PipelineError::Invalid("the network has no classes".into()),
                RunStatus::Failed,
            ),
        ];
        for (i, (error, status)) in cases.into_iter().enumerate() {
            let id = planned_run(&store, &format!("run{i}"));
            let message = error.to_string();
            let returned = record_run_failure::<()>(&store, id, Err(error)).unwrap_err();
            assert_eq!(returned.to_string(), message);
            assert_eq!(store.run(id).unwrap().unwrap().status, status, "{message}");
        }
    }
}
