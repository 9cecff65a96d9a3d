//! A standalone training (role "single", no pipeline) recorded in the run
//! store like a pipeline's runs: planned first, then trained by
//! [`Runner::run_single`], which also resumes it from its last checkpoint.

use super::plan::Job;
use super::{PipelineError, Runner};
use crate::engine::run::{Models, TEACHER};
use crate::engine::store::{NewRun, RunRole, RunRow, Store};
use crate::engine::train::TrainConfig;
use deepreduce_datasets::Dataset;
use deepreduce_plugin_api::{Network, analyze};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;

/// Everything a standalone run needs; stored as the run's config so that a
/// resume needs only the run id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SingleRun {
    pub dataset: String,
    pub train: TrainConfig,
    /// Distil from this trained network (its weights file), if any.
    pub teacher: Option<PathBuf>,
}

/// Records a standalone run of `network`; train it with [`Runner::run_single`].
pub fn plan_single(
    store: &Store,
    network: &Network,
    description: &str,
    plugins: &[(String, String)],
    run: &SingleRun,
) -> Result<i64, PipelineError> {
    run.train.validate().map_err(PipelineError::Invalid)?;
    let relus = analyze(network)
        .map_err(|e| PipelineError::BadNetwork(e.to_string()))?
        .total
        .relus;
    let plugins: Vec<_> = plugins
        .iter()
        .map(|(id, v)| json!({ "id": id, "version": v }))
        .collect();
    let mut config = serde_json::to_value(run).expect("config serialises");
    config["kd"] = json!(run.teacher.is_some());
    Ok(store.plan_run(&NewRun {
        pipeline_id: None,
        key: "single".into(),
        role: RunRole::Single,
        stage: None,
        description: description.into(),
        network: serde_json::to_value(network).expect("IR serialises"),
        config,
        plugins: json!(plugins),
        seed: run.train.seed,
        relus,
    })?)
}

impl Runner<'_> {
    /// Trains (or resumes) standalone run `run_id`; returns its accuracy.
    pub fn run_single(&self, run_id: i64) -> Result<Option<f64>, PipelineError> {
        let store = Store::open(&self.store_path)?;
        let row = store
            .run(run_id)?
            .ok_or(PipelineError::UnknownRun(run_id))?;
        let _lease = store.acquire_lease(&format!("run:{run_id}"))?;
        // A run that cannot start is failed with the reason, never left
        // planned or running.
        let prepared = self.prepare(&row);
        let (job, train, data, models) = super::record_run_failure(&store, run_id, prepared)?;
        let place = super::Place {
            pipeline: 0,
            run_id,
            index: 0,
            total: 1,
        };
        let execution = super::Execution::Local(models);
        let trained = self.run_job(&place, &job, &train, &data, &execution)?;
        Ok(trained.accuracy)
    }

    /// What standalone run `row` trains: its job, training settings, data
    /// and the teacher it distils from.
    fn prepare(&self, row: &RunRow) -> Result<(Job, TrainConfig, Dataset, Models), PipelineError> {
        let run_id = row.id;
        let bad = |message: String| PipelineError::BadRunConfig {
            id: run_id,
            message,
        };
        let run: SingleRun =
            serde_json::from_value(row.config.clone()).map_err(|e| bad(e.to_string()))?;
        run.train.validate().map_err(bad)?;
        let network: Network =
            serde_json::from_value(row.network.clone()).map_err(|e| bad(e.to_string()))?;
        let data = deepreduce_datasets::open(&run.dataset)?;
        // The teacher is a weights file, not a run of a pipeline: it goes
        // by a key of its own.
        let teacher = run
            .teacher
            .iter()
            .map(|path| (TEACHER.into(), path.clone()));
        let models = Models::load(self.host, self.backend, teacher, run.teacher.is_some())?;
        let job = Job {
            key: row.key.clone(),
            role: RunRole::Single,
            stage: None,
            description: row.description.clone(),
            network,
            teacher: run.teacher.as_ref().map(|_| TEACHER.to_string()),
            init_from: None,
            gates: None,
            epochs: None,
            relus: row.relus,
            plugins: Vec::new(),
            request: None,
        };
        Ok((job, run.train, data, models))
    }
}
