use super::Cull;
use deepreduce_plugin_api::testing::{per_stage, relus, request, resnet_like};
use deepreduce_plugin_api::{
    BitSet, Candidate, Dropped, Granularity, Network, Op, Plugin, PluginKind, Polynomial, ReluMask,
    STEM, analyze,
};
use serde_json::json;

fn apply(params: serde_json::Value, context: serde_json::Value) -> Result<Vec<Candidate>, String> {
    Cull.apply(&request(&resnet_like(), params, context))
}

fn descriptions(candidates: &[Candidate]) -> Vec<&str> {
    candidates.iter().map(|c| c.description.as_str()).collect()
}

fn culled(net: &Network) -> serde_json::Value {
    net.meta["culled_stages"].clone()
}

#[test]
fn the_test_network_has_the_intended_relus() {
    assert_eq!(
        relus(&resnet_like()),
        (
            per_stage(&[
                ("stem", 256),
                ("S1", 1024),
                ("S2", 256),
                ("S3", 128),
                ("head", 0)
            ]),
            1664
        )
    );
}

#[test]
fn keep_mode_keeps_exactly_the_listed_stages() {
    let out = apply(json!({"keep": ["S2", "S3"]}), json!({})).unwrap();
    assert_eq!(out.len(), 1);
    let net = &out[0].network;
    assert_eq!(
        relus(net),
        (
            per_stage(&[
                ("stem", 0),
                ("S1", 0),
                ("S2", 256),
                ("S3", 128),
                ("head", 0)
            ]),
            384
        )
    );
    assert_eq!(out[0].description, "S2* + S3*");
    assert_eq!(net.node("relu1").unwrap().op, Op::Identity);
    // Every stage not kept is recorded, the head (no ReLUs) included.
    assert_eq!(culled(net), json!(["stem", "S1", "head"]));
    // Only activation slots changed; other annotations stay.
    let original = resnet_like();
    assert_eq!(net.nodes.len(), original.nodes.len());
    for (a, b) in net.nodes.iter().zip(&original.nodes) {
        if a.op != b.op {
            assert_eq!((&a.op, &b.op), (&Op::Identity, &Op::Relu), "{}", a.name);
        }
    }
    assert_eq!(net.meta["dataset"], json!("cifar100"));
    assert_eq!(net.meta["family"], json!("resnet"));
}

#[test]
fn keep_mode_keeps_conv1_only_when_stem_is_listed() {
    let out = apply(json!({"keep": ["stem", "S1"]}), json!({})).unwrap();
    let net = &out[0].network;
    assert_eq!(relus(net).1, 256 + 1024);
    assert_eq!(net.node("relu1").unwrap().op, Op::Relu);
    assert_eq!(out[0].description, "Conv1 + S1");
    assert_eq!(culled(net), json!(["S2", "S3", "head"]));

    let out = apply(json!({"keep": ["S1"]}), json!({})).unwrap();
    assert_eq!(relus(&out[0].network).1, 1024);
    assert_eq!(out[0].description, "S1");
}

#[test]
fn culling_turns_masked_and_polynomial_layers_into_identity_and_keeps_the_others() {
    let mut net = resnet_like();
    let mut set = |name: &str, op: Op| {
        net.nodes.iter_mut().find(|n| n.name == name).unwrap().op = op;
    };
    set(
        "S1.B1.relu1",
        Op::MaskedRelu {
            mask: ReluMask::new(Granularity::Pixel, BitSet::from_indices(256, 0..10)),
            dropped: Dropped::Identity,
        },
    );
    set("S1.B1.relu2", Op::Poly(Polynomial::delphi(4)));
    // 3 of S2's 8 channels of 4x4 keep their ReLU, the rest a quadratic.
    let s2_mask = Op::MaskedRelu {
        mask: ReluMask::new(Granularity::Channel, BitSet::from_indices(8, [0, 3, 6])),
        dropped: Dropped::Poly(Polynomial::delphi(8)),
    };
    set("S2.B1.relu1", s2_mask.clone());
    let out = Cull
        .apply(&request(&net, json!({"keep": ["S2", "S3"]}), json!({})))
        .unwrap();
    let culled = &out[0].network;
    assert_eq!(culled.node("S1.B1.relu1").unwrap().op, Op::Identity);
    assert_eq!(culled.node("S1.B1.relu2").unwrap().op, Op::Identity);
    assert_eq!(culled.node("S2.B1.relu1").unwrap().op, s2_mask);
    let s2 = analyze(culled).unwrap().stage("S2").unwrap().clone();
    assert_eq!((s2.relus, s2.polys), (48 + 128, 80));
    // (48 + 128) / 256 = 69% of S2's ReLU elements.
    assert_eq!(out[0].description, "S2* (channel 69%, poly) + S3*");
}

#[test]
fn keep_nothing_and_keep_everything() {
    let out = apply(json!({"keep": []}), json!({})).unwrap();
    assert_eq!(relus(&out[0].network).1, 0);
    assert_eq!(out[0].description, "no ReLUs");

    let all = json!({"keep": ["stem", "S1", "S2", "S3", "head"]});
    let out = apply(all, json!({})).unwrap();
    assert_eq!(out[0].network, resnet_like());
    assert_eq!(out[0].description, "all ReLUs");
}

#[test]
fn keep_mode_refuses_unknown_stages_and_non_lists() {
    assert_eq!(
        apply(json!({"keep": ["S2", "S9"]}), json!({})).unwrap_err(),
        "'S9' is not a stage of resnet-like; its stages are stem, S1, S2, S3, head"
    );
    assert_eq!(
        apply(json!({"keep": "S2"}), json!({})).unwrap_err(),
        r#"'keep' must be a list of stage names, found "S2""#
    );
}

#[test]
fn keep_takes_precedence_over_criticality() {
    let crit = json!({"criticality": {"S1": 0.0, "S2": 0.9, "S3": 0.4}});
    let out = apply(json!({"keep": ["S1"]}), crit.clone()).unwrap();
    assert_eq!(descriptions(&out), ["S1"]);
    // A null keep is no keep.
    let out = apply(json!({"keep": null}), crit).unwrap();
    assert_eq!(out.len(), 2);
}

#[test]
fn criticality_mode_culls_cumulatively_least_critical_first() {
    // Least to most critical: S1 < S3 < S2 (D = 3: two candidates).
    let crit = json!({"criticality": {"S1": 0.0, "S2": 0.9, "S3": 0.4}});
    let out = apply(json!({}), crit).unwrap();
    assert_eq!(descriptions(&out), ["S2* + S3*", "S2*"]);
    assert_eq!(
        relus(&out[0].network),
        (
            per_stage(&[
                ("stem", 0),
                ("S1", 0),
                ("S2", 256),
                ("S3", 128),
                ("head", 0)
            ]),
            384
        )
    );
    assert_eq!(
        relus(&out[1].network),
        (
            per_stage(&[("stem", 0), ("S1", 0), ("S2", 256), ("S3", 0), ("head", 0)]),
            256
        )
    );
    assert_eq!(culled(&out[0].network), json!(["stem", "S1", "head"]));
    assert_eq!(culled(&out[1].network), json!(["stem", "S1", "S3", "head"]));
}

#[test]
fn criticality_mode_never_culls_the_most_critical_stage_and_always_drops_the_stem() {
    let stages = ["S1", "S2", "S3"];
    for most in 0..3 {
        for least in (0..3).filter(|&l| l != most) {
            let middle = 3 - most - least;
            let mut c = serde_json::Map::new();
            c.insert(stages[least].into(), json!(0.0));
            c.insert(stages[middle].into(), json!(0.5));
            c.insert(stages[most].into(), json!(1.0));
            let out = apply(json!({}), json!({ "criticality": c })).unwrap();
            assert_eq!(out.len(), 2, "D - 1 candidates");
            for (k, candidate) in out.iter().enumerate() {
                let a = analyze(&candidate.network).unwrap();
                assert_eq!(a.stage(STEM).unwrap().relus, 0);
                assert!(a.stage(stages[most]).unwrap().relus > 0);
                assert_eq!(a.stage(stages[least]).unwrap().relus, 0);
                assert_eq!(a.stage(stages[middle]).unwrap().relus > 0, k == 0);
            }
        }
    }
}

#[test]
fn criticality_ties_keep_stage_order() {
    let crit = json!({"criticality": {"S1": 0.1, "S2": 0.1, "S3": 0.1}});
    let out = apply(json!({}), crit).unwrap();
    assert_eq!(descriptions(&out), ["S2* + S3*", "S3*"]);
    assert_eq!(relus(&out[1].network).1, 128);

    let crit = json!({"criticality": {"S1": 0.5, "S2": 0.0, "S3": 0.0}});
    let out = apply(json!({}), crit).unwrap();
    assert_eq!(descriptions(&out), ["S1 + S3*", "S1"]);
    assert_eq!(relus(&out[0].network).1, 1024 + 128);
}

#[test]
fn criticality_keys_outside_the_body_stages_are_ignored() {
    let crit = json!({"criticality": {"stem": 9.0, "S1": 0.0, "S2": 0.9, "S3": 0.4, "S7": 1.0}});
    let out = apply(json!({}), crit).unwrap();
    assert_eq!(descriptions(&out), ["S2* + S3*", "S2*"]);
}

#[test]
fn one_body_stage_gives_no_candidates() {
    let mut net = resnet_like();
    for node in &mut net.nodes {
        if matches!(node.stage.as_deref(), Some("S2" | "S3")) {
            node.stage = Some("S1".into());
        }
    }
    let crit = json!({"criticality": {"S1": 0.0}});
    assert_eq!(Cull.apply(&request(&net, json!({}), crit)), Ok(vec![]));
}

#[test]
fn missing_or_non_finite_criticality_is_refused() {
    let e = apply(json!({}), json!({"criticality": {"S1": 0.0, "S2": 1.0}})).unwrap_err();
    assert_eq!(e, "context.criticality has no finite number for stage S3");
    for bad in [json!(null), json!("NaN"), json!("0.5"), json!([0.5])] {
        let crit = json!({"criticality": {"S1": 0.0, "S2": bad, "S3": 1.0}});
        assert_eq!(
            apply(json!({}), crit).unwrap_err(),
            "context.criticality has no finite number for stage S2"
        );
    }
    // JSON has no NaN: serde_json turns a NaN into null.
    let crit = json!({"criticality": {"S1": f64::NAN, "S2": 0.0, "S3": 1.0}});
    assert_eq!(
        apply(json!({}), crit).unwrap_err(),
        "context.criticality has no finite number for stage S1"
    );
    assert_eq!(
        apply(json!({}), json!({"criticality": [0.0, 1.0, 2.0]})).unwrap_err(),
        "context.criticality has no finite number for stage S1"
    );
}

#[test]
fn neither_mode_is_refused() {
    let expected = "give params.keep (stages to keep) or context.criticality";
    assert_eq!(apply(json!({}), json!({})).unwrap_err(), expected);
    assert_eq!(apply(json!(null), json!(null)).unwrap_err(), expected);
}

#[test]
fn descriptor() {
    let d = Cull.descriptor();
    assert_eq!(d.id, "org.deepreduce.cull");
    assert_eq!(d.kind, PluginKind::Optimization);
    assert_eq!(d.capabilities, ["deepreduce.optimization/1"]);
}
