//! The method protocol: parameters checked against the method's form, the
//! wire shape of a step, and the host's checks of a method's answer.

use crate::Granularity;
use crate::reduction::*;
use crate::testing::tiny;
use serde_json::json;

fn snl_like() -> MethodInfo {
    serde_json::from_value(json!({
        "name": "snl",
        "description": "gates to a budget, then KD",
        "params": [
            {"name": "budgets", "type": "integer_list", "min": 0, "default": [1000], "help": "ReLU counts"},
            {"name": "granularity", "type": "choice", "options": ["pixel", "channel"], "default": "pixel", "help": ""},
            {"name": "kd", "type": "boolean", "default": true, "help": ""},
            {"name": "lr_scale", "type": "number", "default": 1.0, "help": ""},
            {"name": "rounds", "type": "integer", "min": 1, "default": 2, "help": ""}
        ]
    }))
    .unwrap()
}

#[test]
fn parameters_get_their_defaults_and_are_checked_by_kind() {
    let info = snl_like();
    let resolved = info
        .resolve_params(&json!({"budgets": [1000, 3000]}))
        .unwrap();
    assert_eq!(resolved["budgets"], json!([1000, 3000]));
    assert_eq!(resolved["granularity"], "pixel");
    assert_eq!(resolved["rounds"], 2);
    assert_eq!(info.resolve_params(&json!(null)).unwrap().len(), 5);

    let refused = |params: serde_json::Value| info.resolve_params(&params).unwrap_err();
    assert_eq!(
        refused(json!({"budget": 5})),
        "snl has no parameter 'budget' (it has: budgets, granularity, kd, lr_scale, rounds)"
    );
    assert_eq!(
        refused(json!({"budgets": []})),
        "snl: parameter 'budgets': the list is empty"
    );
    assert_eq!(
        refused(json!({"budgets": [10, -1]})),
        "snl: parameter 'budgets': -1 is below the minimum 0"
    );
    assert_eq!(
        refused(json!({"granularity": "layer"})),
        "snl: parameter 'granularity': \"layer\" is not one of pixel, channel"
    );
    assert_eq!(
        refused(json!({"rounds": 1.5})),
        "snl: parameter 'rounds': 1.5 is not a whole number"
    );
    assert_eq!(
        refused(json!({"kd": "yes"})),
        "snl: parameter 'kd': \"yes\" is not true or false"
    );
    assert_eq!(
        refused(json!([1])),
        "method parameters must be a JSON object, not [1]"
    );
}

fn request(key: &str, recipe: serde_json::Value) -> TrainingRequest {
    serde_json::from_value(json!({
        "key": key,
        "description": key,
        "role": "candidate",
        "network": tiny(),
        "recipe": recipe,
    }))
    .unwrap()
}

fn finished(key: &str, status: ResultStatus) -> Exchange {
    let request = request(key, json!({"epochs": {"count": 1}}));
    Exchange {
        result: TrainingResult {
            key: key.into(),
            status,
            epoch_accuracies: vec![50.0],
            accuracy: (status == ResultStatus::Completed).then_some(50.0),
            relus: 768,
            polys: 0,
            network: request.network.clone(),
            learned: Some(true),
            error: None,
        },
        request,
    }
}

#[test]
fn a_step_reads_from_its_documented_wire_shape() {
    let wire = json!({
        "next": "train",
        "requests": [{
            "key": "gates-1000",
            "description": "gates to 1,000 ReLUs",
            "role": "gates",
            "network": tiny(),
            "recipe": {
                "epochs": {"fraction": 0.5},
                "objective": {"loss": "distillation", "teacher": "baseline"},
                "init_from": "baseline",
                "gates": {"granularity": "pixel", "budget": 1000, "dropped": "identity",
                          "l1_initial": 1e-5, "l1_growth": 2.0, "threshold": 0.5}
            }
        }]
    });
    let step: StepOutput = serde_json::from_value(wire.clone()).unwrap();
    let StepOutput::Train { requests } = &step else {
        panic!("a training step");
    };
    let recipe = &requests[0].recipe;
    assert_eq!(requests[0].role, Role::Gates);
    assert_eq!(recipe.epochs.resolve(10), 5);
    assert_eq!(Epochs::Fraction(0.01).resolve(10), 1, "at least one epoch");
    assert_eq!(recipe.init_from.as_deref(), Some("baseline"));
    assert_eq!(
        recipe.gates.as_ref().unwrap().granularity,
        Granularity::Pixel
    );
    assert_eq!(serde_json::to_value(&step).unwrap(), wire);
    // The objective defaults to cross-entropy.
    let plain = request("x", json!({"epochs": {"count": 3}}));
    assert_eq!(plain.recipe.objective, Objective::CrossEntropy);
    let done: StepOutput = serde_json::from_value(
        json!({"next": "done", "candidates": [{"key": "ft-1000", "description": "1,000 ReLUs"}]}),
    )
    .unwrap();
    assert!(matches!(done, StepOutput::Done { .. }));
}

#[test]
fn the_host_refuses_loops_unknown_runs_and_invalid_requests() {
    let history = [
        finished("baseline", ResultStatus::Completed),
        finished("broken", ResultStatus::Diverged),
    ];
    let train = |requests: Vec<TrainingRequest>| StepOutput::Train { requests };
    let epochs = json!({"count": 2});
    let ok = request("next", json!({"epochs": epochs, "init_from": "baseline"}));
    assert_eq!(check_step(&train(vec![ok.clone()]), &history, &[]), Ok(()));

    let refused = |output: StepOutput| check_step(&output, &history, &[]).unwrap_err().to_string();
    assert_eq!(
        refused(train(vec![request("baseline", json!({"epochs": epochs}))])),
        "asks again for 'baseline', which it already asked for: a method must move on"
    );
    assert_eq!(
        refused(train(vec![ok.clone(), ok.clone()])),
        "asks again for 'next', which it already asked for: a method must move on"
    );
    assert_eq!(
        refused(train(vec![request(
            "a",
            json!({"epochs": epochs, "init_from": "nowhere"})
        )])),
        "request 'a': init_from 'nowhere' is not a completed run of this pipeline"
    );
    assert_eq!(
        refused(train(vec![request(
            "a",
            json!({"epochs": epochs, "objective": {"loss": "distillation", "teacher": "broken"}})
        )])),
        "request 'a': teacher 'broken' is not a completed run of this pipeline"
    );
    assert_eq!(
        refused(train(vec![request("a", json!({"epochs": {"count": 0}}))])),
        "request 'a': 0 epochs"
    );
    assert_eq!(
        refused(train(vec![request(
            "a",
            json!({"epochs": {"fraction": 1.5}})
        )])),
        "request 'a': epoch fraction 1.5 is not in (0, 1]"
    );
    let gates = |budget: u64| {
        json!({"epochs": epochs, "gates": {"granularity": "pixel", "budget": budget,
               "dropped": "poly", "l1_initial": 1e-4, "l1_growth": 1.5, "threshold": 0.5}})
    };
    assert_eq!(
        check_step(&train(vec![request("g", gates(700))]), &history, &[]),
        Ok(())
    );
    assert_eq!(
        refused(train(vec![request("g", gates(769))])),
        "request 'g': a gate budget of 769 ReLUs, but the network has 768"
    );
    let mut invalid = request("bad", json!({"epochs": epochs}));
    invalid.network.nodes[0].inputs = vec!["nowhere".into()];
    assert!(refused(train(vec![invalid])).starts_with("request 'bad': invalid network: "));
    let mut empty = ok.clone();
    empty.key.clear();
    assert_eq!(refused(train(vec![empty])), "a request has an empty key");
    assert_eq!(
        refused(train(vec![])),
        "asked for no training and offered no candidates"
    );

    let done = |key: &str| StepOutput::Done {
        candidates: vec![FinalCandidate {
            key: key.into(),
            description: String::new(),
        }],
    };
    assert_eq!(check_step(&done("baseline"), &history, &[]), Ok(()));
    assert_eq!(
        refused(done("broken")),
        "candidate 'broken' is not a completed run of this pipeline"
    );
}

#[test]
fn optimizations_are_asked_once_each() {
    let apply = |key: &str| ApplyRequest {
        key: key.into(),
        plugin: "org.deepreduce.cull".into(),
        network: tiny(),
        params: json!({"keep": ["S1"]}),
        context: json!({}),
    };
    let applied = [Applied {
        request: apply("cull:S1"),
        candidates: vec![],
    }];
    let output = |keys: &[&str]| StepOutput::Apply {
        requests: keys.iter().map(|k| apply(k)).collect(),
    };
    assert_eq!(check_step(&output(&["thin"]), &[], &applied), Ok(()));
    assert_eq!(
        check_step(&output(&["cull:S1"]), &[], &applied),
        Err(StepError::Repeated("cull:S1".into()))
    );
    assert_eq!(
        check_step(&output(&["a", "a"]), &[], &applied),
        Err(StepError::Repeated("a".into()))
    );
    assert_eq!(
        check_step(&output(&[]), &[], &applied),
        Err(StepError::Empty)
    );
    let wire =
        json!({"next": "apply", "requests": [{"key": "k", "plugin": "p", "network": tiny()}]});
    let StepOutput::Apply { requests } = serde_json::from_value(wire).unwrap() else {
        panic!("an optimization step");
    };
    assert_eq!(requests[0].params, json!(null));
}
