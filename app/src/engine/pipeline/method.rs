//! The method host: a pipeline that follows a method plugin
//! (`deepreduce.method/1`). The plugin decides what to train; the host
//! trains, applies the optimizations it asks for, and keeps everything in
//! the store, from which each step's history is read again: a stopped
//! pipeline resumes by replaying it, and finished runs are never retrained.

use super::criticality;
use super::plan::Job;
use super::results::learning::{self, DataSizes};
use super::{PipelineConfig, PipelineError, PipelineEvent, Runner};
use crate::engine::network::plugin;
use crate::engine::plugin_host::PluginHost;
use crate::engine::store::{RunRole, RunRow, RunStatus, Store};
use deepreduce_datasets::Dataset;
use deepreduce_plugin_api::reduction::{
    Applied, ApplyRequest, Exchange, ResultStatus, StepInput, StepOutput, TrainingRequest,
    TrainingResult, check_step,
};
use deepreduce_plugin_api::{Candidate, Network, OptimizationRequest, analyze};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The built-in DeepReDuce method, followed when a pipeline names none.
pub const DEEPREDUCE: &str = "org.deepreduce.method.deepreduce";

/// The method a pipeline follows, stored with its configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodChoice {
    /// The method plugin's id, e.g. "org.deepreduce.method.snl".
    pub id: String,
    /// Its parameters as the user gave them (defaults filled at each run).
    #[serde(default)]
    pub params: Value,
}

impl MethodChoice {
    /// Refuses an unknown plugin, one that is not a method, and parameters
    /// its form does not accept.
    pub fn check(&self, host: &PluginHost) -> Result<(), PipelineError> {
        plugin(host, &self.id)?
            .describe_method()?
            .resolve_params(&self.params)
            .map_err(PipelineError::Invalid)?;
        Ok(())
    }
}

/// More trainings and optimizations than any method needs: one that keeps
/// asking for new keys is stopped.
const MAX_REQUESTS: usize = 10_000;

impl Runner<'_> {
    /// Runs (or resumes) pipeline `id` by the steps of `method`.
    pub(super) fn run_method(
        &self,
        store: &Store,
        id: i64,
        cfg: &PipelineConfig,
        method: &MethodChoice,
        data: &Dataset,
        baseline: &Network,
    ) -> Result<(), PipelineError> {
        let plugin_of = plugin(self.host, &method.id)?;
        let refused = |message: String| PipelineError::Method {
            id: method.id.clone(),
            message,
        };
        let params = plugin_of
            .describe_method()?
            .resolve_params(&method.params)
            .map_err(PipelineError::Invalid)?;
        loop {
            if self.cancelled() {
                return Err(PipelineError::Cancelled);
            }
            let input = StepInput {
                params: params.clone(),
                baseline: baseline.clone(),
                history: history(store, id, DataSizes::of(data))?,
                applied: applied(store, id)?,
            };
            let output = plugin_of.step(&input).map_err(|e| refused(e.to_string()))?;
            check_step(&output, &input.history, &input.applied)
                .map_err(|e| refused(e.to_string()))?;
            let asked = match &output {
                StepOutput::Train { requests } => requests.len(),
                StepOutput::Apply { requests } => requests.len(),
                StepOutput::Done { .. } => 0,
            };
            // Counted before anything is planned: a method asking for a
            // million runs in one step would otherwise fill the store first.
            if input.history.len() + input.applied.len() + asked > MAX_REQUESTS {
                return Err(refused(format!(
                    "asked for more than {MAX_REQUESTS} trainings and optimizations"
                )));
            }
            match output {
                StepOutput::Train { requests } => {
                    let version = (
                        plugin_of.descriptor.id.clone(),
                        plugin_of.descriptor.version.clone(),
                    );
                    let jobs = requests
                        .into_iter()
                        .map(|r| job(r, cfg.train.epochs, &version))
                        .collect::<Vec<_>>();
                    if let Some(key) = self.replayed_differently(store, id, &jobs)? {
                        return Err(refused(format!(
                            "asked for '{key}' differently than before the stop: a method \
                             must give the same answer to the same history"
                        )));
                    }
                    self.send(PipelineEvent::Step {
                        role: jobs[0].role,
                        runs: jobs.len(),
                    });
                    self.run_jobs(store, id, cfg, data, &jobs)?;
                    if jobs.iter().any(|j| j.role == RunRole::Criticality) {
                        self.report_criticality(store, id, data)?;
                    }
                }
                StepOutput::Apply { requests } => {
                    for request in requests {
                        self.apply(store, id, &request)?;
                    }
                }
                StepOutput::Done { candidates } => {
                    store.set_pipeline_candidates(id, &json!(candidates))?;
                    return Ok(());
                }
            }
        }
    }

    /// A request asked again for a run the store has unfinished (a replay
    /// after a stop) must be the same request: a method must be a function
    /// of its history. A run stored before methods were plugins has no
    /// request: it is the same when it trained the same network in the same
    /// role, and then the request is recorded with it (and it joins the
    /// history, finished or not).
    /// The first job asked differently than the stored run of its key (a
    /// store error is reported as such, not taken for "no run").
    fn replayed_differently(
        &self,
        store: &Store,
        pipeline: i64,
        jobs: &[Job],
    ) -> Result<Option<String>, PipelineError> {
        for job in jobs {
            let Some(run) = store.run_by_key(pipeline, &job.key)? else {
                continue;
            };
            let request = json!(job.request);
            match run.config.get("request") {
                Some(stored) if *stored == request => {}
                None if run.role == job.role && run.network == json!(job.network) => {
                    store.set_run_request(run.id, &request)?;
                }
                _ => return Ok(Some(job.key.clone())),
            }
        }
        Ok(None)
    }

    /// Tells the listeners each stage's criticality as recorded so far.
    fn report_criticality(
        &self,
        store: &Store,
        pipeline: i64,
        data: &Dataset,
    ) -> Result<(), PipelineError> {
        let results = criticality::stage_results(store, pipeline, Some(DataSizes::of(data)))?;
        self.send(PipelineEvent::Criticality {
            stages: criticality::criticality(&results),
            did_not_learn: criticality::did_not_learn(&results),
        });
        Ok(())
    }

    /// Applies one optimization the method asked for and records it.
    fn apply(
        &self,
        store: &Store,
        pipeline: i64,
        request: &ApplyRequest,
    ) -> Result<(), PipelineError> {
        let candidates = plugin(self.host, &request.plugin)?.apply(&OptimizationRequest {
            network: request.network.clone(),
            params: request.params.clone(),
            context: request.context.clone(),
        })?;
        store.record_applied(pipeline, &request.key, &json!(request), &json!(candidates))?;
        Ok(())
    }
}

/// The job of a method's request, in a pipeline of `epochs` epochs.
fn job(request: TrainingRequest, epochs: usize, method: &(String, String)) -> Job {
    use deepreduce_plugin_api::reduction::Objective;
    let recipe = &request.recipe;
    Job {
        key: request.key.clone(),
        role: request.role.into(),
        stage: request.stage.clone(),
        description: request.description.clone(),
        network: request.network.clone(),
        teacher: match &recipe.objective {
            Objective::Distillation { teacher } => Some(teacher.clone()),
            Objective::CrossEntropy => None,
        },
        init_from: recipe.init_from.clone(),
        gates: recipe.gates.clone(),
        epochs: Some(recipe.epochs.resolve(epochs)),
        relus: analyze(&request.network).map_or(0, |a| a.total.relus),
        plugins: vec![method.clone()],
        request: Some(request),
    }
}

/// Every finished run of the pipeline that a method asked for, with its
/// result, in the order asked. Unfinished ones (a stop) are not history:
/// the method asks for them again and they resume.
fn history(store: &Store, pipeline: i64, data: DataSizes) -> Result<Vec<Exchange>, PipelineError> {
    let mut exchanges = Vec::new();
    for run in store.runs(Some(pipeline))? {
        let Some(status) = finished(run.status) else {
            continue;
        };
        let Some(request) = run.config.get("request") else {
            continue;
        };
        let bad = |message: String| PipelineError::BadRunConfig {
            id: run.id,
            message,
        };
        let request: TrainingRequest =
            serde_json::from_value(request.clone()).map_err(|e| bad(e.to_string()))?;
        let network: Network =
            serde_json::from_value(run.network.clone()).map_err(|e| bad(e.to_string()))?;
        let totals = analyze(&network).map_err(|e| bad(e.to_string()))?.total;
        let epoch_accuracies = store
            .epochs(run.id)?
            .iter()
            .map(|e| e.test_accuracy)
            .collect();
        let mut result = result(&run, status, epoch_accuracies, network, totals);
        result.learned = learning::run_learned(store, &run, Some(data))?;
        exchanges.push(Exchange { request, result });
    }
    Ok(exchanges)
}

fn result(
    run: &RunRow,
    status: ResultStatus,
    epoch_accuracies: Vec<f64>,
    network: Network,
    totals: deepreduce_plugin_api::Totals,
) -> TrainingResult {
    TrainingResult {
        key: run.key.clone(),
        status,
        epoch_accuracies,
        accuracy: run.accuracy.filter(|_| status == ResultStatus::Completed),
        relus: totals.relus,
        polys: totals.polys,
        network,
        learned: None,
        error: run.error.clone(),
    }
}

/// How a run ended, for the method; `None` while it can still go on.
fn finished(status: RunStatus) -> Option<ResultStatus> {
    match status {
        RunStatus::Completed => Some(ResultStatus::Completed),
        RunStatus::Diverged => Some(ResultStatus::Diverged),
        RunStatus::Failed => Some(ResultStatus::Failed),
        RunStatus::Planned | RunStatus::Running | RunStatus::Cancelled => None,
    }
}

/// The optimizations recorded for the pipeline, in the order asked.
fn applied(store: &Store, pipeline: i64) -> Result<Vec<Applied>, PipelineError> {
    store
        .applied(pipeline)?
        .into_iter()
        .map(|(request, candidates)| {
            let request: ApplyRequest = serde_json::from_value(request)
                .map_err(|e| PipelineError::Invalid(format!("a stored optimization: {e}")))?;
            let candidates: Vec<Candidate> = serde_json::from_value(candidates)
                .map_err(|e| PipelineError::Invalid(format!("a stored optimization: {e}")))?;
            Ok(Applied {
                request,
                candidates,
            })
        })
        .collect()
}
