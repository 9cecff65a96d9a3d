//! The method played against a scripted host: what it asks for at each
//! step, that every answer passes the host's checks, and that the same
//! history gives the same answer.

use crate::Snl;
use deepreduce_plugin_api::reduction::*;
use deepreduce_plugin_api::testing::resnet_like;
use deepreduce_plugin_api::{Network, Op, Plugin};
use serde_json::{Value, json};

fn input(params: Value, history: Vec<Exchange>) -> StepInput {
    StepInput {
        params: Snl
            .describe_method()
            .unwrap()
            .resolve_params(&params)
            .unwrap(),
        baseline: resnet_like(),
        history,
        applied: Vec::new(),
    }
}

/// The step's answer, checked as the host checks it, and asked twice.
fn step(params: &Value, history: &[Exchange]) -> Result<StepOutput, String> {
    let first = Snl.step(&input(params.clone(), history.to_vec()));
    assert_eq!(first, Snl.step(&input(params.clone(), history.to_vec())));
    if let Ok(output) = &first {
        check_step(output, history, &[]).unwrap();
    }
    first
}

fn requests(output: StepOutput) -> Vec<TrainingRequest> {
    match output {
        StepOutput::Train { requests } => requests,
        other => panic!("expected trainings, got {other:?}"),
    }
}

/// What the host answers: completed (with `network` as trained), or failed.
fn result(request: &TrainingRequest, status: ResultStatus, network: Network) -> Exchange {
    Exchange {
        request: request.clone(),
        result: TrainingResult {
            key: request.key.clone(),
            status,
            epoch_accuracies: vec![60.0],
            accuracy: (status == ResultStatus::Completed).then_some(60.0),
            relus: 0,
            polys: 0,
            network,
            learned: Some(true),
            error: (status != ResultStatus::Completed).then(|| "loss NaN".into()),
        },
    }
}

/// The baseline with its first ReLU layer dropped: stands for a learned mask.
fn learned() -> Network {
    let mut net = resnet_like();
    let relu = net.nodes.iter().position(|n| n.op == Op::Relu).unwrap();
    net.nodes[relu].op = Op::Identity;
    net
}

#[test]
fn baseline_then_gates_then_fine_tuning_per_budget() {
    let params = json!({"budgets": [100, 1000]});
    let mut history = Vec::new();

    let asked = requests(step(&params, &history).unwrap());
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].key.as_str(), asked[0].role),
        ("baseline", Role::Baseline)
    );
    assert_eq!(asked[0].recipe.objective, Objective::CrossEntropy);
    history.push(result(&asked[0], ResultStatus::Completed, resnet_like()));

    let asked = requests(step(&params, &history).unwrap());
    let keys: Vec<&str> = asked.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["gates:100", "gates:1000"]);
    let recipe = &asked[1].recipe;
    assert_eq!(asked[1].role, Role::Gates);
    assert_eq!(recipe.init_from.as_deref(), Some("baseline"));
    assert_eq!(
        recipe.objective,
        Objective::Distillation {
            teacher: "baseline".into()
        }
    );
    let gates = recipe.gates.as_ref().unwrap();
    assert_eq!(
        (gates.budget, gates.granularity),
        (1000, deepreduce_plugin_api::Granularity::Pixel)
    );
    assert_eq!(gates.dropped, DropAs::Identity);
    for request in &asked {
        history.push(result(request, ResultStatus::Completed, learned()));
    }

    let asked = requests(step(&params, &history).unwrap());
    let keys: Vec<&str> = asked.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["finetune:100", "finetune:1000"]);
    // The network the gates learned, warm-started from the gated weights.
    assert_eq!(asked[0].network, learned());
    assert_eq!(asked[0].role, Role::Candidate);
    assert_eq!(asked[0].recipe.init_from.as_deref(), Some("gates:100"));
    assert!(asked[0].recipe.gates.is_none());
    for request in &asked {
        history.push(result(request, ResultStatus::Completed, learned()));
    }

    let StepOutput::Done { candidates } = step(&params, &history).unwrap() else {
        panic!("done after the fine-tunings");
    };
    let keys: Vec<&str> = candidates.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["finetune:100", "finetune:1000"]);
    assert!(
        candidates[0]
            .description
            .starts_with("SNL 100 ReLUs (pixel): ")
    );
}

#[test]
fn a_failed_gate_learning_leaves_its_budget_out() {
    let params = json!({"budgets": [100, 1000], "granularity": "channel", "dropped": "poly"});
    let baseline = requests(step(&params, &[]).unwrap()).remove(0);
    let mut history = vec![result(&baseline, ResultStatus::Completed, resnet_like())];
    let gates = requests(step(&params, &history).unwrap());
    assert_eq!(
        gates[0].recipe.gates.as_ref().unwrap().dropped,
        DropAs::Poly
    );
    history.push(result(&gates[0], ResultStatus::Diverged, resnet_like()));
    history.push(result(&gates[1], ResultStatus::Completed, learned()));
    let finetunes = requests(step(&params, &history).unwrap());
    assert_eq!(finetunes.len(), 1);
    assert_eq!(finetunes[0].key, "finetune:1000");
    history.push(result(&finetunes[0], ResultStatus::Completed, learned()));
    let StepOutput::Done { candidates } = step(&params, &history).unwrap() else {
        panic!("done");
    };
    assert_eq!(candidates.len(), 1);
}

#[test]
fn a_failed_baseline_or_impossible_budgets_stop_the_method_with_a_reason() {
    let params = json!({"budgets": [100]});
    let baseline = requests(step(&params, &[]).unwrap()).remove(0);
    let failed = vec![result(&baseline, ResultStatus::Failed, resnet_like())];
    assert_eq!(
        step(&params, &failed).unwrap_err(),
        "the baseline did not complete (failed: loss NaN): nothing to learn gates from"
    );
    assert_eq!(
        step(&json!({"budgets": [1665]}), &[]).unwrap_err(),
        "a budget of 1665 ReLUs is more than the baseline's 1664"
    );
    assert_eq!(
        step(&json!({"budgets": [5, 5]}), &[]).unwrap_err(),
        "SNL parameters: budget 5 is listed twice"
    );
}
