//! What to train next, read from the history alone.

use crate::params::Params;
use deepreduce_plugin_api::reduction::{
    Epochs, Exchange, FinalCandidate, GateRecipe, Objective, Recipe, ResultStatus, Role, StepInput,
    StepOutput, TrainingRequest,
};
use deepreduce_plugin_api::{Network, analyze, describe};

const BASELINE: &str = "baseline";
/// Gates learn over half the pipeline's epochs; the fine-tuning gets them all.
const GATE_EPOCHS: f64 = 0.5;
/// The L1 weight on the sum of the gates (each gate's own pull towards 0)
/// in the first gate epoch, and its factor after each epoch that still
/// keeps more gates on than the budget.
const L1_INITIAL: f64 = 0.01;
const L1_GROWTH: f64 = 2.0;
/// A gate above this counts as on.
const THRESHOLD: f64 = 0.5;

fn gates_key(budget: u64) -> String {
    format!("gates:{budget}")
}

fn finetune_key(budget: u64) -> String {
    format!("finetune:{budget}")
}

/// The history, looked up by key.
struct History<'a>(&'a [Exchange]);

impl History<'_> {
    fn get(&self, key: &str) -> Option<&Exchange> {
        self.0.iter().find(|e| e.request.key == key)
    }

    fn completed(&self, key: &str) -> Option<&Exchange> {
        self.get(key)
            .filter(|e| e.result.status == ResultStatus::Completed)
    }
}

pub fn next(params: &Params, input: &StepInput) -> Result<StepOutput, String> {
    let history = History(&input.history);
    let relus = analyze(&input.baseline)
        .map_err(|e| e.to_string())?
        .total
        .relus;
    if let Some(&budget) = params.budgets.iter().find(|&&b| b > relus) {
        return Err(format!(
            "a budget of {budget} ReLUs is more than the baseline's {relus}"
        ));
    }
    match history.get(BASELINE) {
        None => return Ok(train(vec![baseline(&input.baseline)])),
        Some(e) if e.result.status != ResultStatus::Completed => {
            return Err(format!(
                "the baseline did not complete ({}{}): nothing to learn gates from",
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
    let gates: Vec<TrainingRequest> = params
        .budgets
        .iter()
        .filter(|&&b| history.get(&gates_key(b)).is_none())
        .map(|&b| gate_learning(params, b, &input.baseline))
        .collect();
    if !gates.is_empty() {
        return Ok(train(gates));
    }
    // A budget whose gates failed has no fine-tuning: it is left out.
    let finetunes: Vec<TrainingRequest> = params
        .budgets
        .iter()
        .filter(|&&b| history.get(&finetune_key(b)).is_none())
        .filter_map(|&b| {
            Some(finetune(
                params,
                b,
                &history.completed(&gates_key(b))?.result.network,
            ))
        })
        .collect();
    if !finetunes.is_empty() {
        return Ok(train(finetunes));
    }
    let candidates: Vec<FinalCandidate> = params
        .budgets
        .iter()
        .filter_map(|&b| {
            let done = history.completed(&finetune_key(b))?;
            Some(FinalCandidate {
                key: done.request.key.clone(),
                description: done.request.description.clone(),
            })
        })
        .collect();
    if candidates.is_empty() {
        return Err("no budget's gate learning and fine-tuning completed".into());
    }
    Ok(StepOutput::Done { candidates })
}

fn train(requests: Vec<TrainingRequest>) -> StepOutput {
    StepOutput::Train { requests }
}

fn baseline(network: &Network) -> TrainingRequest {
    TrainingRequest {
        key: BASELINE.into(),
        description: describe(network),
        role: Role::Baseline,
        stage: None,
        network: network.clone(),
        recipe: Recipe {
            epochs: Epochs::Fraction(1.0),
            objective: Objective::CrossEntropy,
            init_from: None,
            gates: None,
        },
    }
}

fn from_baseline(epochs: f64, init_from: String) -> Recipe {
    Recipe {
        epochs: Epochs::Fraction(epochs),
        objective: Objective::Distillation {
            teacher: BASELINE.into(),
        },
        init_from: Some(init_from),
        gates: None,
    }
}

fn gate_learning(params: &Params, budget: u64, baseline: &Network) -> TrainingRequest {
    let mut recipe = from_baseline(GATE_EPOCHS, BASELINE.into());
    recipe.gates = Some(GateRecipe {
        granularity: params.granularity,
        budget,
        dropped: params.dropped,
        l1_initial: L1_INITIAL,
        l1_growth: L1_GROWTH,
        threshold: THRESHOLD,
    });
    TrainingRequest {
        key: gates_key(budget),
        description: format!("gates to {budget} ReLUs ({})", params.granularity.as_str()),
        role: Role::Gates,
        stage: None,
        network: baseline.clone(),
        recipe,
    }
}

fn finetune(params: &Params, budget: u64, masked: &Network) -> TrainingRequest {
    TrainingRequest {
        key: finetune_key(budget),
        description: format!(
            "SNL {budget} ReLUs ({}): {}",
            params.granularity.as_str(),
            describe(masked)
        ),
        role: Role::Candidate,
        stage: None,
        network: masked.clone(),
        recipe: from_baseline(1.0, gates_key(budget)),
    }
}
