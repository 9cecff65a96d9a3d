//! The method protocol, `deepreduce.method/1`: a whole ReLU-reduction method
//! (DeepReDuce, SNL, ...) as a plugin.
//!
//! A method is a pure function of its parameters, the baseline network and
//! the history of its training requests with their results, to the next
//! batch of requests or to its final candidates ([`StepInput`] ->
//! [`StepOutput`]). It keeps no state between calls: the host keeps the
//! history in its store, so resuming after any stop is a replay, and the
//! same history must give the same answer. Weights never cross the
//! boundary: a request names a network and a [`Recipe`], and the host
//! trains.
//!
//! The host checks every answer with [`check_step`] before running
//! anything: a method that asks again for a run it already has (a loop),
//! names a run it never asked for, or sends an invalid network stops with
//! that reason.

use crate::analysis::analyze;
use crate::ir::Network;
use crate::mask::Granularity;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// What a method plugin offers: its name and the parameters its form shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodInfo {
    pub name: String,
    pub description: String,
    pub params: Vec<ParamSpec>,
}

/// One parameter of a method: the GUI draws a field for it, the CLI
/// checks `--method-params` against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    pub name: String,
    #[serde(flatten)]
    pub kind: ParamKind,
    /// Used when the user gives none; must be of the parameter's kind.
    pub default: Value,
    pub help: String,
}

/// The type of a parameter's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// A whole number (JSON integer) of at least `min`.
    Integer {
        min: i64,
    },
    /// A non-empty list of whole numbers of at least `min` each.
    IntegerList {
        min: i64,
    },
    /// A finite number.
    Number,
    Boolean,
    /// One of `options`.
    Choice {
        options: Vec<String>,
    },
    /// A list of texts, possibly empty (e.g. plugin ids).
    TextList,
}

impl ParamKind {
    /// Why `value` is not of this kind, if it is not.
    fn check(&self, value: &Value) -> Result<(), String> {
        let integer_at_least = |v: &Value, min: i64| match v.as_i64() {
            Some(n) if n >= min => Ok(()),
            Some(n) => Err(format!("{n} is below the minimum {min}")),
            None => Err(format!("{v} is not a whole number")),
        };
        match self {
            ParamKind::Integer { min } => integer_at_least(value, *min),
            ParamKind::IntegerList { min } => match value.as_array() {
                Some(list) if !list.is_empty() => {
                    list.iter().try_for_each(|v| integer_at_least(v, *min))
                }
                Some(_) => Err("the list is empty".into()),
                None => Err(format!("{value} is not a list of whole numbers")),
            },
            ParamKind::Number => match value.as_f64() {
                Some(x) if x.is_finite() => Ok(()),
                _ => Err(format!("{value} is not a number")),
            },
            ParamKind::Boolean => match value {
                Value::Bool(_) => Ok(()),
                _ => Err(format!("{value} is not true or false")),
            },
            ParamKind::Choice { options } => match value.as_str() {
                Some(s) if options.iter().any(|o| o == s) => Ok(()),
                _ => Err(format!("{value} is not one of {}", options.join(", "))),
            },
            ParamKind::TextList => match value.as_array() {
                Some(list) if list.iter().all(Value::is_string) => Ok(()),
                _ => Err(format!("{value} is not a list of texts")),
            },
        }
    }
}

impl MethodInfo {
    /// The parameters the method is called with: `given` (a JSON object, or
    /// null for none) checked against the declared ones, with the defaults
    /// of those not given. Unknown names and values of the wrong kind are
    /// refused, naming the parameter.
    pub fn resolve_params(&self, given: &Value) -> Result<Map<String, Value>, String> {
        let given = match given {
            Value::Null => Map::new(),
            Value::Object(map) => map.clone(),
            other => {
                return Err(format!(
                    "method parameters must be a JSON object, not {other}"
                ));
            }
        };
        if let Some(unknown) = given
            .keys()
            .find(|k| !self.params.iter().any(|p| &p.name == *k))
        {
            let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
            return Err(format!(
                "{} has no parameter '{unknown}' (it has: {})",
                self.name,
                known.join(", ")
            ));
        }
        let mut resolved = Map::new();
        for spec in &self.params {
            let value = given.get(&spec.name).unwrap_or(&spec.default);
            spec.kind
                .check(value)
                .map_err(|e| format!("{}: parameter '{}': {e}", self.name, spec.name))?;
            resolved.insert(spec.name.clone(), value.clone());
        }
        Ok(resolved)
    }
}

/// Input of `step`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepInput {
    /// The resolved parameters (see [`MethodInfo::resolve_params`]).
    pub params: Map<String, Value>,
    /// The full-ReLU network of the architecture and dataset the user chose.
    pub baseline: Network,
    /// Every training so far, in the order asked, with its result.
    pub history: Vec<Exchange>,
    /// Every optimization applied so far, in the order asked, with the
    /// candidates it gave.
    #[serde(default)]
    pub applied: Vec<Applied>,
}

/// An optimization plugin's rewrite the method asked the host for (cull,
/// thin, a budget, a third party's): methods compose the plugins the user
/// has instead of reimplementing them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplyRequest {
    /// Unique among the pipeline's optimizations.
    pub key: String,
    /// The optimization plugin's id, e.g. "org.deepreduce.cull".
    pub plugin: String,
    pub network: Network,
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub context: Value,
}

/// An optimization and the candidates it gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub request: ApplyRequest,
    pub candidates: Vec<crate::protocol::Candidate>,
}

/// A request and what came of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub request: TrainingRequest,
    pub result: TrainingResult,
}

/// Output of `step`: more trainings, or the method's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum StepOutput {
    /// Train these (the host may run them in parallel), then call `step`
    /// again with their results.
    Train { requests: Vec<TrainingRequest> },
    /// Apply these optimizations, then call `step` again with their
    /// candidates. A plugin's error stops the pipeline with its message.
    Apply { requests: Vec<ApplyRequest> },
    /// The method is finished: these finished runs are its candidates.
    Done { candidates: Vec<FinalCandidate> },
}

/// A finished run the method offers as a result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalCandidate {
    pub key: String,
    pub description: String,
}

/// One training the method asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRequest {
    /// Unique in the pipeline; later requests refer to the run by it.
    pub key: String,
    /// Human description, e.g. "S2^RT + S3^RT, alpha 0.5".
    pub description: String,
    pub role: Role,
    /// The stage a criticality run measures (the host records it with the
    /// run, and reports criticality per stage from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub network: Network,
    pub recipe: Recipe,
}

/// What a run is for in its method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The full-ReLU network: teacher and reference.
    Baseline,
    /// Measures how much a part of the network matters (DeepReDuce's
    /// stage-only networks).
    Criticality,
    /// The same measure without distillation, kept for comparison only
    /// (the paper reports both).
    CriticalityWithoutKd,
    /// Learns which ReLUs to keep (SNL's gates).
    Gates,
    /// A network offered as a result, trained to the end.
    Candidate,
}

/// How to train a request's network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    pub epochs: Epochs,
    #[serde(default)]
    pub objective: Objective,
    /// A finished run (by key) whose weights seed every layer of the same
    /// name and shape: a warm start. The rest start fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<String>,
    /// Learn SNL-style gates to a ReLU budget instead of training the
    /// network as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<GateRecipe>,
}

/// How long to train.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Epochs {
    /// Exactly this many.
    Count(usize),
    /// This fraction of the pipeline's epochs (rounded up, at least 1).
    Fraction(f64),
}

impl Epochs {
    /// The epochs to train in a pipeline of `pipeline_epochs`.
    pub fn resolve(self, pipeline_epochs: usize) -> usize {
        match self {
            Epochs::Count(n) => n,
            Epochs::Fraction(f) => ((f * pipeline_epochs as f64).ceil() as usize).max(1),
        }
    }
}

/// The loss a run trains on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "loss", rename_all = "snake_case")]
pub enum Objective {
    /// Cross-entropy on the labels.
    #[default]
    CrossEntropy,
    /// Knowledge distillation from a finished run (by key), with the kd
    /// plugin's recipe.
    Distillation { teacher: String },
}

/// SNL-style gate learning: every ReLU element (or channel) gets a gate
/// `a` in [0, 1], `y = a*relu(x) + (1 - a)*x`, under an L1 penalty on the
/// gates that grows until at most `budget` gates stay above `threshold`;
/// the run's network is then the request's with the `budget` largest gates
/// as its exact mask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateRecipe {
    pub granularity: Granularity,
    /// ReLUs the learned mask keeps.
    pub budget: u64,
    /// What a dropped element becomes.
    pub dropped: DropAs,
    /// The L1 weight of the first epoch.
    pub l1_initial: f64,
    /// Factor on the L1 weight after each epoch whose gates above the
    /// threshold are still more than the budget.
    pub l1_growth: f64,
    pub threshold: f64,
}

impl GateRecipe {
    /// Why the L1 schedule or the threshold cannot work, if they cannot:
    /// the L1 weight must start positive and never shrink, the threshold
    /// lie in [0, 1).
    pub fn check_schedule(&self) -> Result<(), String> {
        let finite_positive = |x: f64| x.is_finite() && x > 0.0;
        if !(finite_positive(self.l1_initial)
            && self.l1_growth.is_finite()
            && self.l1_growth >= 1.0)
        {
            return Err(format!(
                "gate L1 schedule: initial {} must be positive, growth {} at least 1",
                self.l1_initial, self.l1_growth
            ));
        }
        if !(self.threshold.is_finite() && (0.0..1.0).contains(&self.threshold)) {
            return Err(format!(
                "gate threshold {} is not in [0, 1)",
                self.threshold
            ));
        }
        Ok(())
    }
}

/// What an element whose ReLU is dropped becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropAs {
    Identity,
    /// A trainable per-channel quadratic.
    Poly,
}

/// What came of a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingResult {
    pub key: String,
    pub status: ResultStatus,
    /// Top-1 test accuracy (%) after each epoch trained.
    pub epoch_accuracies: Vec<f64>,
    /// After the last epoch; none unless completed.
    pub accuracy: Option<f64>,
    pub relus: u64,
    pub polys: u64,
    /// The network actually trained: for a gated run, with its learned mask.
    pub network: Network,
    /// Whether the run rose above chance on its test or train images (the
    /// host's judgment, three binomial standard errors); `None` when it
    /// cannot be told. A run at chance measured nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<bool>,
    /// Why it failed or diverged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How a requested run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    Completed,
    /// The loss or the test logits became NaN or infinite.
    Diverged,
    Failed,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Completed => "completed",
            ResultStatus::Diverged => "diverged",
            ResultStatus::Failed => "failed",
        }
    }
}

/// Why the host refuses a method's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum StepError {
    Empty,
    EmptyKey,
    /// A key already asked for, in this batch or before: a loop.
    Repeated(String),
    /// `what` (init_from, teacher) names `run`, which did not complete.
    UnknownRun {
        key: String,
        what: &'static str,
        run: String,
    },
    InvalidNetwork {
        key: String,
        error: String,
    },
    GateBudget {
        key: String,
        budget: u64,
        relus: u64,
    },
    InvalidRecipe {
        key: String,
        error: String,
    },
    UnknownCandidate(String),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Empty => write!(f, "asked for no training and offered no candidates"),
            StepError::EmptyKey => write!(f, "a request has an empty key"),
            StepError::Repeated(key) => write!(
                f,
                "asks again for '{key}', which it already asked for: a method must move on"
            ),
            StepError::UnknownRun { key, what, run } => write!(
                f,
                "request '{key}': {what} '{run}' is not a completed run of this pipeline"
            ),
            StepError::InvalidNetwork { key, error } => {
                write!(f, "request '{key}': invalid network: {error}")
            }
            StepError::GateBudget { key, budget, relus } => write!(
                f,
                "request '{key}': a gate budget of {budget} ReLUs, but the network has {relus}"
            ),
            StepError::InvalidRecipe { key, error } => write!(f, "request '{key}': {error}"),
            StepError::UnknownCandidate(key) => {
                write!(
                    f,
                    "candidate '{key}' is not a completed run of this pipeline"
                )
            }
        }
    }
}

impl std::error::Error for StepError {}

/// Checks a method's answer against what it has (`history`, `applied`)
/// before the host acts on it: keys new and distinct, every run it names
/// completed, networks valid, recipes sensible.
pub fn check_step(
    output: &StepOutput,
    history: &[Exchange],
    applied: &[Applied],
) -> Result<(), StepError> {
    let completed: BTreeSet<&str> = history
        .iter()
        .filter(|e| e.result.status == ResultStatus::Completed)
        .map(|e| e.request.key.as_str())
        .collect();
    let asked: BTreeSet<&str> = history.iter().map(|e| e.request.key.as_str()).collect();
    let requests = match output {
        StepOutput::Done { candidates } => {
            if candidates.is_empty() {
                return Err(StepError::Empty);
            }
            return match candidates
                .iter()
                .find(|c| !completed.contains(c.key.as_str()))
            {
                Some(c) => Err(StepError::UnknownCandidate(c.key.clone())),
                None => Ok(()),
            };
        }
        StepOutput::Apply { requests } => return check_apply(requests, applied),
        StepOutput::Train { requests } if requests.is_empty() => return Err(StepError::Empty),
        StepOutput::Train { requests } => requests,
    };
    check_new_keys(requests.iter().map(|r| r.key.as_str()), &asked)?;
    requests
        .iter()
        .try_for_each(|request| check_request(request, &completed))
}

/// Keys of one step: none empty, none asked before (`asked`) or twice in
/// the step (a loop).
fn check_new_keys<'a>(
    keys: impl Iterator<Item = &'a str>,
    asked: &BTreeSet<&str>,
) -> Result<(), StepError> {
    let mut batch = BTreeSet::new();
    for key in keys {
        if key.is_empty() {
            return Err(StepError::EmptyKey);
        }
        if asked.contains(key) || !batch.insert(key) {
            return Err(StepError::Repeated(key.to_string()));
        }
    }
    Ok(())
}

fn check_apply(requests: &[ApplyRequest], applied: &[Applied]) -> Result<(), StepError> {
    if requests.is_empty() {
        return Err(StepError::Empty);
    }
    let asked: BTreeSet<&str> = applied.iter().map(|a| a.request.key.as_str()).collect();
    check_new_keys(requests.iter().map(|r| r.key.as_str()), &asked)?;
    for request in requests {
        analyze(&request.network).map_err(|e| StepError::InvalidNetwork {
            key: request.key.clone(),
            error: e.to_string(),
        })?;
    }
    Ok(())
}

fn check_request(request: &TrainingRequest, completed: &BTreeSet<&str>) -> Result<(), StepError> {
    let key = &request.key;
    let recipe = &request.recipe;
    let known = |what: &'static str, run: &str| {
        if completed.contains(run) {
            Ok(())
        } else {
            Err(StepError::UnknownRun {
                key: key.clone(),
                what,
                run: run.into(),
            })
        }
    };
    if let Some(run) = &recipe.init_from {
        known("init_from", run)?;
    }
    if let Objective::Distillation { teacher } = &recipe.objective {
        known("teacher", teacher)?;
    }
    let invalid_recipe = |error: String| StepError::InvalidRecipe {
        key: key.clone(),
        error,
    };
    match recipe.epochs {
        Epochs::Count(0) => return Err(invalid_recipe("0 epochs".into())),
        Epochs::Fraction(f) if !(f.is_finite() && f > 0.0 && f <= 1.0) => {
            return Err(invalid_recipe(format!(
                "epoch fraction {f} is not in (0, 1]"
            )));
        }
        _ => {}
    }
    let analysis = analyze(&request.network).map_err(|e| StepError::InvalidNetwork {
        key: key.clone(),
        error: e.to_string(),
    })?;
    if let Some(gates) = &recipe.gates {
        if gates.budget > analysis.total.relus {
            return Err(StepError::GateBudget {
                key: key.clone(),
                budget: gates.budget,
                relus: analysis.total.relus,
            });
        }
        gates.check_schedule().map_err(invalid_recipe)?;
    }
    Ok(())
}
