//! What to do next, read from the history and the optimizations applied.
//! Each phase asks only for what it does not have yet, so a replay after a
//! stop asks again exactly for what did not finish.

use crate::params::Params;
use deepreduce_plugin_api::criticality::{StageResult, criticality};
use deepreduce_plugin_api::reduction::{
    Applied, ApplyRequest, Epochs, Exchange, FinalCandidate, Objective, Recipe, ResultStatus, Role,
    StepInput, StepOutput, TrainingRequest,
};
use deepreduce_plugin_api::{Network, describe};
use serde_json::{Map, Value, json};

const BASELINE: &str = "baseline";
const CULL: &str = "org.deepreduce.cull";
const THIN: &str = "org.deepreduce.thin";
const RESHAPE: &str = "org.deepreduce.reshape";
/// The key of the cumulative culling by criticality.
const CULL_BY_CRITICALITY: &str = "cull";
/// The paper's three reshapings of a thinned network, (alpha, rho).
const RESHAPINGS: [(f64, f64); 3] = [(0.5, 1.0), (1.0, 0.5), (0.5, 0.5)];

/// The trainings so far, by key.
struct History<'a>(&'a [Exchange]);

impl History<'_> {
    fn get(&self, key: &str) -> Option<&Exchange> {
        self.0.iter().find(|e| e.request.key == key)
    }

    fn completed(&self, key: &str) -> Option<&Exchange> {
        self.get(key)
            .filter(|e| e.result.status == ResultStatus::Completed)
    }

    /// `requests` without those already asked for (finished ones).
    fn missing(&self, requests: Vec<TrainingRequest>) -> Vec<TrainingRequest> {
        requests
            .into_iter()
            .filter(|r| self.get(&r.key).is_none())
            .collect()
    }
}

/// The optimizations so far, by key.
struct Optimizations<'a>(&'a [Applied]);

impl Optimizations<'_> {
    fn get(&self, key: &str) -> Option<&Applied> {
        self.0.iter().find(|a| a.request.key == key)
    }

    /// The networks optimization `key` gave.
    fn networks(&self, key: &str) -> Option<Vec<&Network>> {
        let applied = self.get(key)?;
        Some(applied.candidates.iter().map(|c| &c.network).collect())
    }

    /// The single network optimization `key` gave (thin, one reshaping, a
    /// stage kept alone).
    fn network(&self, key: &str) -> Result<Option<&Network>, String> {
        match self.networks(key).as_deref() {
            None => Ok(None),
            Some([one]) => Ok(Some(one)),
            Some(other) => Err(format!(
                "optimization '{key}' gave {} networks, expected one",
                other.len()
            )),
        }
    }

    fn missing(&self, requests: Vec<ApplyRequest>) -> Vec<ApplyRequest> {
        requests
            .into_iter()
            .filter(|r| self.get(&r.key).is_none())
            .collect()
    }
}

pub fn next(params: &Params, input: &StepInput) -> Result<StepOutput, String> {
    let runs = History(&input.history);
    let applied = Optimizations(&input.applied);
    let baseline = &input.baseline;
    match runs.get(BASELINE) {
        None => return Ok(train(vec![baseline_request(baseline)])),
        Some(e) if e.result.status != ResultStatus::Completed => {
            return Err(format!(
                "the baseline did not train ({}{}); the pipeline cannot continue without its \
                 teacher",
                e.result.status.as_str(),
                e.result
                    .error
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
        Some(_) => {}
    }

    let stages = baseline.body_stages();
    let stage_only = applied.missing(
        stages
            .iter()
            .map(|stage| ApplyRequest {
                key: stage_only_key(stage),
                plugin: CULL.into(),
                network: baseline.clone(),
                params: json!({ "keep": [stage] }),
                context: json!({}),
            })
            .collect(),
    );
    if !stage_only.is_empty() {
        return Ok(StepOutput::Apply {
            requests: stage_only,
        });
    }
    let measures = runs.missing(criticality_requests(params, &stages, &applied)?);
    if !measures.is_empty() {
        return Ok(train(measures));
    }

    let Some(culled) = applied.networks(CULL_BY_CRITICALITY) else {
        return Ok(StepOutput::Apply {
            requests: vec![cull_by_criticality(baseline, &stages, &runs)],
        });
    };
    let derived = applied.missing(
        culled
            .iter()
            .flat_map(|net| {
                let thin = apply(thin_key(net), THIN, net, json!({}));
                let extras = params
                    .extra_plugins
                    .iter()
                    .map(|id| apply(extra_key(id, net), id, net, json!({})));
                std::iter::once(thin).chain(extras)
            })
            .collect(),
    );
    if !derived.is_empty() {
        return Ok(StepOutput::Apply { requests: derived });
    }
    let mut reshapings = Vec::new();
    for net in &culled {
        let thinned = applied.network(&thin_key(net))?.ok_or("thinning missing")?;
        for (alpha, rho) in RESHAPINGS {
            reshapings.push(apply(
                reshape_key(alpha, rho, thinned),
                RESHAPE,
                thinned,
                json!({ "alpha": alpha, "rho": rho }),
            ));
        }
    }
    let reshapings = applied.missing(reshapings);
    if !reshapings.is_empty() {
        return Ok(StepOutput::Apply {
            requests: reshapings,
        });
    }

    let candidates = candidate_requests(params, &culled, &applied)?;
    let retrain = runs.missing(candidates.clone());
    if !retrain.is_empty() {
        return Ok(train(retrain));
    }
    let finished = std::iter::once(BASELINE.to_string())
        .chain(candidates.into_iter().map(|c| c.key))
        .filter_map(|key| runs.completed(&key))
        .map(|e| FinalCandidate {
            key: e.request.key.clone(),
            description: e.request.description.clone(),
        })
        .collect();
    Ok(StepOutput::Done {
        candidates: finished,
    })
}

fn train(requests: Vec<TrainingRequest>) -> StepOutput {
    StepOutput::Train { requests }
}

fn stage_only_key(stage: &str) -> String {
    format!("stage-only:{stage}")
}

fn thin_key(culled: &Network) -> String {
    format!("thin:{}", describe(culled))
}

fn extra_key(plugin: &str, culled: &Network) -> String {
    format!("extra:{plugin}:{}", describe(culled))
}

fn reshape_key(alpha: f64, rho: f64, thinned: &Network) -> String {
    format!("reshape:{alpha},{rho}:{}", describe(thinned))
}

fn apply(key: String, plugin: &str, network: &Network, params: Value) -> ApplyRequest {
    ApplyRequest {
        key,
        plugin: plugin.into(),
        network: network.clone(),
        params,
        context: json!({}),
    }
}

/// A training of the pipeline's length, distilled from the baseline or not.
fn request(key: String, role: Role, network: &Network, kd: bool) -> TrainingRequest {
    let objective = if kd {
        Objective::Distillation {
            teacher: BASELINE.into(),
        }
    } else {
        Objective::CrossEntropy
    };
    TrainingRequest {
        key,
        description: describe(network),
        role,
        stage: None,
        network: network.clone(),
        recipe: Recipe {
            epochs: Epochs::Fraction(1.0),
            objective,
            init_from: None,
            gates: None,
        },
    }
}

fn baseline_request(network: &Network) -> TrainingRequest {
    request(BASELINE.into(), Role::Baseline, network, false)
}

/// Per stage, its stage-only network trained with KD (when the method
/// distils) and, when asked, without.
fn criticality_requests(
    params: &Params,
    stages: &[String],
    applied: &Optimizations,
) -> Result<Vec<TrainingRequest>, String> {
    let mut requests = Vec::new();
    for stage in stages {
        let net = applied
            .network(&stage_only_key(stage))?
            .ok_or("stage-only network missing")?;
        let mut variants = vec![(format!("criticality:{stage}"), Role::Criticality, true)];
        if params.criticality_without_kd {
            variants.push((
                format!("criticality-nokd:{stage}"),
                Role::CriticalityWithoutKd,
                false,
            ));
        }
        for (key, role, kd) in variants {
            let mut r = request(key, role, net, kd && params.kd);
            r.stage = Some(stage.clone());
            requests.push(r);
        }
    }
    Ok(requests)
}

/// The stage-only networks' results: one that diverged has no accuracy and
/// counts as 0% that did not learn; one that failed measured nothing.
fn stage_results(stages: &[String], runs: &History) -> Vec<StageResult> {
    stages
        .iter()
        .filter_map(|stage| {
            let result = &runs.get(&format!("criticality:{stage}"))?.result;
            let (accuracy, learned) = match (result.status, result.accuracy) {
                (ResultStatus::Completed, Some(a)) => (a, result.learned),
                (ResultStatus::Diverged, _) => (0.0, Some(false)),
                _ => return None,
            };
            Some(StageResult {
                stage: stage.clone(),
                accuracy,
                relus: result.relus,
                learned,
            })
        })
        .collect()
}

/// The cull plugin's cumulative culling by the measured criticality.
fn cull_by_criticality(baseline: &Network, stages: &[String], runs: &History) -> ApplyRequest {
    let scores: Map<String, Value> = criticality(&stage_results(stages, runs))
        .into_iter()
        .map(|(stage, c)| (stage, json!(c)))
        .collect();
    ApplyRequest {
        key: CULL_BY_CRITICALITY.into(),
        plugin: CULL.into(),
        network: baseline.clone(),
        params: json!({}),
        context: json!({ "criticality": scores }),
    }
}

/// Per culled network, in the paper's order: culled, thinned, the three
/// reshapings, then the extra plugins' candidates; each network once.
fn candidate_requests(
    params: &Params,
    culled: &[&Network],
    applied: &Optimizations,
) -> Result<Vec<TrainingRequest>, String> {
    let mut requests: Vec<TrainingRequest> = Vec::new();
    let mut push = |r: TrainingRequest| {
        if !requests.iter().any(|known| known.key == r.key) {
            requests.push(r);
        }
    };
    let candidate = |net: &Network| {
        request(
            format!("candidate:{}", describe(net)),
            Role::Candidate,
            net,
            params.kd,
        )
    };
    for net in culled {
        push(candidate(net));
        let thinned = applied.network(&thin_key(net))?.ok_or("thinning missing")?;
        push(candidate(thinned));
        for (alpha, rho) in RESHAPINGS {
            let reshaped = applied
                .network(&reshape_key(alpha, rho, thinned))?
                .ok_or("reshaping missing")?;
            push(candidate(reshaped));
        }
        for id in &params.extra_plugins {
            let extras = applied.get(&extra_key(id, net)).ok_or("extra missing")?;
            for extra in &extras.candidates {
                let mut r = request(
                    format!("candidate:{id}:{}", extra.description),
                    Role::Candidate,
                    &extra.network,
                    params.kd,
                );
                r.description = format!("{} ({id})", extra.description);
                push(r);
            }
        }
    }
    Ok(requests)
}
