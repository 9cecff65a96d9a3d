//! A pipeline's results as read back from the store: every network with its
//! ReLUs, accuracy, accuracy per kilo-ReLU, latency estimate, measured
//! inference time and Pareto flag, plus the criticality of each stage.
//! Derived figures are computed here, never stored, so they cannot go stale.
//! A network that did not learn (see [`learning`]) is listed, marked, and
//! kept off the Pareto frontier.

pub mod learning;

use super::criticality::{criticality, stage_results};
use super::pareto::{accuracy_per_kilo_relu, frontier};
use crate::engine::store::{
    ClusterJob, PipelineRow, RunRole, RunRow, RunStatus, Store, StoreError,
};
use deepreduce_plugin_api::LatencyModel;
use learning::{DataSizes, run_learned};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct ResultRow {
    pub run_id: i64,
    pub role: RunRole,
    pub description: String,
    pub status: RunStatus,
    pub relus: u64,
    pub accuracy: Option<f64>,
    pub accuracy_per_kilo_relu: Option<f64>,
    pub latency_seconds: Option<f64>,
    pub communication_bytes: Option<f64>,
    pub inference_ms_per_image: Option<f64>,
    /// Whether it rose above chance; `None` when that cannot be told yet.
    pub learned: Option<bool>,
    pub pareto: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct StageCriticality {
    pub stage: String,
    pub relus: u64,
    pub accuracy: f64,
    pub criticality: f64,
    /// `Some(false)`: its network did not learn and the score is unreliable.
    pub learned: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PipelineResults {
    pub pipeline: PipelineRow,
    /// The method plugin the pipeline followed; `None` when its configuration
    /// does not read.
    pub method: Option<String>,
    /// Baseline and candidates, in the order they were planned.
    pub networks: Vec<ResultRow>,
    /// Least critical first.
    pub criticality: Vec<StageCriticality>,
    pub latency_model: Option<LatencyModel>,
    /// Every run handed to a cluster, with its latest job.
    pub jobs: Vec<RunJob>,
}

/// A run and the cluster job that runs (or ran) it.
#[derive(Clone, Debug, Serialize)]
pub struct RunJob {
    pub run_id: i64,
    pub key: String,
    pub status: RunStatus,
    pub job: ClusterJob,
}

fn row(run: &RunRow, learned: Option<bool>) -> ResultRow {
    let latency = |key: &str| {
        run.latency
            .as_ref()
            .and_then(|l| l.get(key))
            .and_then(|v| v.as_f64())
    };
    ResultRow {
        run_id: run.id,
        role: run.role,
        description: run.description.clone(),
        status: run.status,
        relus: run.relus,
        accuracy: run.accuracy,
        accuracy_per_kilo_relu: run.accuracy.map(|a| accuracy_per_kilo_relu(a, run.relus)),
        latency_seconds: latency("online_seconds"),
        communication_bytes: latency("communication_bytes"),
        inference_ms_per_image: run.inference_ms,
        learned,
        pareto: false,
    }
}

/// Flags the networks on the Pareto frontier of those with an accuracy
/// that means something.
fn mark_pareto(networks: &mut [ResultRow]) {
    let scored: Vec<(usize, (u64, f64))> = networks
        .iter()
        .enumerate()
        .filter(|(_, r)| r.learned != Some(false))
        .filter_map(|(i, r)| r.accuracy.map(|a| (i, (r.relus, a))))
        .collect();
    let points: Vec<(u64, f64)> = scored.iter().map(|(_, p)| *p).collect();
    for k in frontier(&points) {
        networks[scored[k].0].pareto = true;
    }
}

pub fn results(store: &Store, id: i64) -> Result<Option<PipelineResults>, StoreError> {
    let Some(pipeline) = store.pipeline(id)? else {
        return Ok(None);
    };
    let data = DataSizes::open(&pipeline.dataset);
    let runs = store.runs(Some(id))?;
    let mut networks = Vec::new();
    for run in runs
        .iter()
        .filter(|r| matches!(r.role, RunRole::Baseline | RunRole::Candidate))
    {
        networks.push(row(run, run_learned(store, run, data)?));
    }
    mark_pareto(&mut networks);
    let stages = stage_results(store, id, data)?;
    let mut criticality: Vec<StageCriticality> = stages
        .iter()
        .zip(criticality(&stages))
        .map(|(s, (_, c))| StageCriticality {
            stage: s.stage.clone(),
            relus: s.relus,
            accuracy: s.accuracy,
            criticality: c,
            learned: s.learned,
        })
        .collect();
    criticality.sort_by(|a, b| a.criticality.total_cmp(&b.criticality));
    let latency_model = runs
        .iter()
        .filter_map(|r| r.latency.as_ref()?.get("model").cloned())
        .find_map(|m| serde_json::from_value(m).ok());
    // A pipeline stored before methods were plugins followed DeepReDuce's.
    let method = serde_json::from_value::<super::PipelineConfig>(pipeline.config.clone())
        .ok()
        .map(|cfg| cfg.method_choice().id);
    let jobs = runs
        .iter()
        .filter_map(|r| {
            Some(RunJob {
                run_id: r.id,
                key: r.key.clone(),
                status: r.status,
                job: r.job.clone()?,
            })
        })
        .collect();
    Ok(Some(PipelineResults {
        method,
        pipeline,
        networks,
        criticality,
        latency_model,
        jobs,
    }))
}
