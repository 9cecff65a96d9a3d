//! The method played against a scripted host whose optimizations are
//! stand-ins (the real plugins' outputs are checked against the hard-coded
//! pipeline's plan in the app's tests): the order of its phases, that every
//! answer passes the host's checks, that the same history gives the same
//! answer, and what the culling is told.

use crate::DeepReduce;
use deepreduce_plugin_api::reduction::*;
use deepreduce_plugin_api::testing::resnet_like;
use deepreduce_plugin_api::{Candidate, Network, Op, Plugin};
use serde_json::{Value, json};

/// The history so far, as the host keeps it.
#[derive(Default)]
struct Host {
    history: Vec<Exchange>,
    applied: Vec<Applied>,
    /// Stand-in networks made so far.
    made: usize,
}

impl Host {
    fn input(&self, params: &Value) -> StepInput {
        StepInput {
            params: DeepReduce
                .describe_method()
                .unwrap()
                .resolve_params(params)
                .unwrap(),
            baseline: resnet_like(),
            history: self.history.clone(),
            applied: self.applied.clone(),
        }
    }

    /// The step's answer, checked as the host checks it, and asked twice.
    fn step(&self, params: &Value) -> Result<StepOutput, String> {
        let first = DeepReduce.step(&self.input(params));
        assert_eq!(first, DeepReduce.step(&self.input(params)));
        if let Ok(output) = &first {
            check_step(output, &self.history, &self.applied).unwrap();
        }
        first
    }

    fn train(&mut self, requests: &[TrainingRequest], accuracy: impl Fn(&str) -> f64) {
        for request in requests {
            let a = accuracy(&request.key);
            self.history.push(Exchange {
                request: request.clone(),
                result: TrainingResult {
                    key: request.key.clone(),
                    status: ResultStatus::Completed,
                    epoch_accuracies: vec![a],
                    accuracy: Some(a),
                    relus: 100,
                    polys: 0,
                    network: request.network.clone(),
                    learned: Some(true),
                    error: None,
                },
            });
        }
    }

    /// Each optimization gives `count` distinct stand-in networks.
    fn apply(&mut self, requests: &[ApplyRequest], count: usize) {
        for request in requests {
            let candidates = (0..count)
                .map(|i| {
                    self.made += 1;
                    Candidate {
                        network: marked(&request.network, self.made),
                        description: format!("{}#{i}", request.key),
                    }
                })
                .collect();
            self.applied.push(Applied {
                request: request.clone(),
                candidates,
            });
        }
    }
}

/// `net` with one more ReLU dropped and the serial number as its `alpha`:
/// distinct networks whose descriptions differ.
fn marked(net: &Network, serial: usize) -> Network {
    let mut net = net.clone();
    net.meta.insert("alpha".into(), json!(serial + 1));
    if let Some(relu) = net.nodes.iter_mut().find(|n| n.op == Op::Relu) {
        relu.op = Op::Identity;
    }
    net
}

fn trainings(output: StepOutput) -> Vec<TrainingRequest> {
    match output {
        StepOutput::Train { requests } => requests,
        other => panic!("expected trainings, got {other:?}"),
    }
}

fn optimizations(output: StepOutput) -> Vec<ApplyRequest> {
    match output {
        StepOutput::Apply { requests } => requests,
        other => panic!("expected optimizations, got {other:?}"),
    }
}

fn keys<T>(items: &[T], key: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| key(i).to_string()).collect()
}

#[test]
fn baseline_criticality_culling_variants_then_retraining() {
    let params = json!({"criticality_without_kd": true});
    let mut host = Host::default();
    let stages = resnet_like().body_stages();
    assert_eq!(stages, ["S1", "S2", "S3"]);

    let baseline = trainings(host.step(&params).unwrap());
    assert_eq!(keys(&baseline, |r| &r.key), ["baseline"]);
    assert_eq!(baseline[0].recipe.objective, Objective::CrossEntropy);
    host.train(&baseline, |_| 90.0);

    let stage_only = optimizations(host.step(&params).unwrap());
    assert_eq!(
        keys(&stage_only, |r| &r.key),
        ["stage-only:S1", "stage-only:S2", "stage-only:S3"]
    );
    assert_eq!(stage_only[1].params, json!({"keep": ["S2"]}));
    host.apply(&stage_only, 1);

    let measures = trainings(host.step(&params).unwrap());
    assert_eq!(
        keys(&measures, |r| &r.key),
        [
            "criticality:S1",
            "criticality-nokd:S1",
            "criticality:S2",
            "criticality-nokd:S2",
            "criticality:S3",
            "criticality-nokd:S3"
        ]
    );
    assert_eq!(measures[2].stage.as_deref(), Some("S2"));
    assert_eq!(measures[2].role, Role::Criticality);
    assert_eq!(measures[3].role, Role::CriticalityWithoutKd);
    assert_eq!(measures[3].recipe.objective, Objective::CrossEntropy);
    assert_eq!(
        measures[2].recipe.objective,
        Objective::Distillation {
            teacher: "baseline".into()
        }
    );
    // S2 matters most, S1 least; without KD the accuracies are ignored.
    host.train(&measures, |key| match key {
        "criticality:S1" => 50.0,
        "criticality:S2" => 80.0,
        "criticality:S3" => 60.0,
        _ => 1.0,
    });

    let cull = optimizations(host.step(&params).unwrap());
    assert_eq!(keys(&cull, |r| &r.key), ["cull"]);
    let scores = &cull[0].context["criticality"];
    assert_eq!(scores["S1"], json!(0.0));
    assert!((scores["S2"].as_f64().unwrap() - 30.0 / 100f64.powf(0.07)).abs() < 1e-12);
    // Two cumulative culls (D - 1).
    host.apply(&cull, 2);

    let thin = optimizations(host.step(&params).unwrap());
    assert_eq!(thin.len(), 2);
    assert!(thin.iter().all(|r| r.plugin == "org.deepreduce.thin"));
    host.apply(&thin, 1);
    let reshape = optimizations(host.step(&params).unwrap());
    assert_eq!(reshape.len(), 6);
    assert_eq!(reshape[1].params, json!({"alpha": 1.0, "rho": 0.5}));
    host.apply(&reshape, 1);

    let candidates = trainings(host.step(&params).unwrap());
    assert_eq!(candidates.len(), 10, "5 variants of each culled network");
    assert!(candidates.iter().all(|r| r.role == Role::Candidate));
    assert!(candidates.iter().all(|r| r.key.starts_with("candidate:")));
    // Killed half-way: the replay asks only for what did not finish.
    host.train(&candidates[..4], |_| 70.0);
    let rest = trainings(host.step(&params).unwrap());
    assert_eq!(rest, candidates[4..]);
    host.train(&rest, |_| 70.0);

    let StepOutput::Done { candidates: done } = host.step(&params).unwrap() else {
        panic!("done after the retraining");
    };
    assert_eq!(done.len(), 11, "the baseline and the ten candidates");
    assert_eq!(done[0].key, "baseline");
}

#[test]
fn extra_plugins_join_per_culled_network_and_kd_can_be_off() {
    let params = json!({"kd": false, "extra_plugins": ["org.example.prune"]});
    let mut host = Host::default();
    host.train(&trainings(host.step(&params).unwrap()), |_| 90.0);
    host.apply(&optimizations(host.step(&params).unwrap()), 1);
    let measures = trainings(host.step(&params).unwrap());
    assert_eq!(measures.len(), 3, "no runs without KD unless asked");
    assert!(
        measures
            .iter()
            .all(|r| r.recipe.objective == Objective::CrossEntropy)
    );
    host.train(&measures, |_| 60.0);
    host.apply(&optimizations(host.step(&params).unwrap()), 2);
    let derived = optimizations(host.step(&params).unwrap());
    let plugins = keys(&derived, |r| &r.plugin);
    assert_eq!(
        plugins,
        [
            "org.deepreduce.thin",
            "org.example.prune",
            "org.deepreduce.thin",
            "org.example.prune"
        ]
    );
    for request in &derived {
        let extra = request.plugin == "org.example.prune";
        host.apply(std::slice::from_ref(request), if extra { 2 } else { 1 });
    }
    host.apply(&optimizations(host.step(&params).unwrap()), 1);
    let candidates = trainings(host.step(&params).unwrap());
    // Per culled network: 5 variants and the extra plugin's 2.
    assert_eq!(candidates.len(), 14);
    assert!(candidates[5].description.ends_with(" (org.example.prune)"));
    assert!(
        candidates
            .iter()
            .all(|r| r.recipe.objective == Objective::CrossEntropy)
    );
}

#[test]
fn a_baseline_that_did_not_train_stops_the_method_with_the_reason() {
    let params = json!({});
    let mut host = Host::default();
    let baseline = trainings(host.step(&params).unwrap());
    host.train(&baseline, |_| 0.0);
    let result = &mut host.history[0].result;
    result.status = ResultStatus::Diverged;
    result.accuracy = None;
    result.error = Some("loss NaN at epoch 1, batch 3".into());
    let error = host.step(&params).unwrap_err();
    assert_eq!(
        error,
        "the baseline did not train (diverged: loss NaN at epoch 1, batch 3); the pipeline \
         cannot continue without its teacher"
    );
}

#[test]
fn parameters_of_the_wrong_kind_are_refused_by_name() {
    let info = DeepReduce.describe_method().unwrap();
    let error = info
        .resolve_params(&json!({"extra_plugins": "org.example.prune"}))
        .unwrap_err();
    assert_eq!(
        error,
        "DeepReDuce: parameter 'extra_plugins': \"org.example.prune\" is not a list of texts"
    );
    assert!(info.resolve_params(&json!({"kd": "yes"})).is_err());
}
