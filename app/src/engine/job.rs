//! One training as a self-contained job in a folder: a spec file in, files
//! out. This is what `deepreduce run-job DIR/spec.json` runs on a cluster
//! node: it never opens the run store (SQLite is not safe on a network
//! filesystem); the controller reads the files back. Started again in the
//! same folder (a requeue, a preemption, `--resume`), it continues from its
//! last checkpoint.
//!
//! The folder: `spec.json` (a [`JobSpec`]), `checkpoints/` and `final/`
//! (as a stored run's), `epochs.jsonl` (one [`EpochMetrics`] per line, as
//! epochs finish) and, when the training ended, `result.json` (an
//! [`Executed`]).

use super::atomic_write::{Staged, WriteError};
use super::backend::{BackendChoice, select};
use super::plugin_host::PluginHost;
use super::run::{Executed, Models, RunEnv, RunError, RunFolder, RunSpec, TEACHER, execute};
use super::train::{EpochMetrics, TrainConfig, TrainEvent};
use deepreduce_plugin_api::Network;
use deepreduce_plugin_api::reduction::GateRecipe;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SPEC_FILE: &str = "spec.json";
pub const EPOCHS_FILE: &str = "epochs.jsonl";
pub const RESULT_FILE: &str = "result.json";

/// The key of the model a job starts from.
const INIT: &str = "init";

/// Everything one training needs, with every file named by its path on the
/// shared filesystem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub network: Network,
    pub train: TrainConfig,
    /// A dataset name or path, opened on the node.
    pub dataset: String,
    /// Distil from this weights file (a finished run's `model.bpk`).
    pub teacher: Option<PathBuf>,
    /// Start every layer of the same name and shape from this weights file.
    pub init_from: Option<PathBuf>,
    pub gates: Option<GateRecipe>,
    pub backend: BackendChoice,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cannot read {}: {message}", path.display())]
    Spec { path: PathBuf, message: String },
    #[error("dataset: {0}")]
    Dataset(#[from] deepreduce_datasets::DatasetError),
    #[error("a trained model to distil from or start from: {0}")]
    Models(#[from] super::run::ModelsError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("cannot record an epoch in {}: {source}", path.display())]
    Epochs {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `spec` into `dir` (created if needed), replacing any older spec.
pub fn write_spec(dir: &Path, spec: &JobSpec) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut staged = Staged::default();
    let json = serde_json::to_vec_pretty(spec).expect("a job spec serialises");
    staged.write(&dir.join(SPEC_FILE), &json)?;
    staged.commit()
}

pub fn read_spec(spec_file: &Path) -> Result<JobSpec, JobError> {
    let fail = |message: String| JobError::Spec {
        path: spec_file.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(spec_file).map_err(|e| fail(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
}

/// Runs the job whose spec is `spec_file`, in that file's folder, to its
/// end: its epochs are appended to `epochs.jsonl` as they finish and its
/// outcome written to `result.json`.
pub fn run(host: &PluginHost, spec_file: &Path) -> Result<Executed, JobError> {
    let spec = read_spec(spec_file)?;
    let dir = spec_file.parent().unwrap_or(Path::new("."));
    let data = deepreduce_datasets::open(&spec.dataset)?;
    let backend = select(spec.backend);
    let sources = [(TEACHER, &spec.teacher), (INIT, &spec.init_from)]
        .into_iter()
        .filter_map(|(key, path)| Some((key.to_string(), path.clone()?)));
    let models = Models::load(host, &backend, sources, spec.teacher.is_some())?;
    let run_spec = RunSpec {
        network: &spec.network,
        train: spec.train.clone(),
        teacher: spec.teacher.as_ref().map(|_| TEACHER),
        init_from: spec.init_from.as_ref().map(|_| INIT),
        gates: spec.gates.as_ref(),
    };
    let folder = RunFolder::stored(dir);
    let resume = folder.resume_point(&run_spec).map_err(RunError::from)?;
    let epochs_path = dir.join(EPOCHS_FILE);
    let (tx, rx) = std::sync::mpsc::channel::<TrainEvent>();
    let executed = std::thread::scope(|scope| {
        let recorder = scope.spawn(|| record_epochs(&epochs_path, rx));
        let env = RunEnv {
            host,
            backend: &backend,
            events: Some(&tx),
            cancel: None,
        };
        let executed = execute(&env, &run_spec, &data, &models, &folder, resume);
        drop(tx);
        let recorded = recorder.join().expect("the epoch recorder never panics");
        let executed = executed?;
        recorded?;
        Ok::<_, JobError>(executed)
    })?;
    let mut staged = Staged::default();
    let json = serde_json::to_vec_pretty(&executed).expect("a result serialises");
    staged.write(&dir.join(RESULT_FILE), &json)?;
    staged.commit()?;
    Ok(executed)
}

/// Appends each finished epoch to `path`, one JSON line each, flushed as
/// it comes (the controller reads the file while the job runs).
fn record_epochs(
    path: &Path,
    events: std::sync::mpsc::Receiver<TrainEvent>,
) -> Result<(), JobError> {
    let fail = |source| JobError::Epochs {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(fail)?;
    for event in events {
        if let TrainEvent::Epoch(metrics) = event {
            let mut line = serde_json::to_vec(&metrics).expect("metrics serialise");
            line.push(b'\n');
            file.write_all(&line)
                .and_then(|()| file.sync_data())
                .map_err(fail)?;
        }
    }
    Ok(())
}

/// The epochs a job has written so far; a last line cut short (the job is
/// writing it, or was killed while it did) is left for the next read.
pub fn read_epochs(dir: &Path) -> Vec<EpochMetrics> {
    let Ok(text) = std::fs::read_to_string(dir.join(EPOCHS_FILE)) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The outcome of a job that ended, if it wrote one.
pub fn read_result(dir: &Path) -> Option<Result<Executed, String>> {
    let bytes = std::fs::read(dir.join(RESULT_FILE)).ok()?;
    Some(serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
}
