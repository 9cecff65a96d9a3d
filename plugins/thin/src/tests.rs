use super::Thin;
use deepreduce_plugin_api::builder::{GraphBuilder, conv, linear};
use deepreduce_plugin_api::testing::{input_spec, per_stage, relus, request, resnet_like};
use deepreduce_plugin_api::transform::drop_stage_relus;
use deepreduce_plugin_api::{
    BitSet, Candidate, Dropped, Granularity, HEAD, Network, Op, Plugin, PluginKind, Polynomial,
    ReluMask, STEM,
};
use serde_json::json;

fn thin(net: &Network, params: serde_json::Value) -> Result<Candidate, String> {
    let mut out = Thin.apply(&request(net, params, json!({})))?;
    assert_eq!(out.len(), 1, "thinning yields one candidate");
    Ok(out.remove(0))
}

/// Names of the dropped ReLU layers.
fn dropped(net: &Network) -> Vec<&str> {
    net.nodes
        .iter()
        .filter(|n| n.op == Op::Identity)
        .map(|n| n.name.as_str())
        .collect()
}

#[test]
fn drops_every_second_relu_layer_of_each_body_stage() {
    let out = thin(&resnet_like(), json!({})).unwrap();
    // In a BasicBlock: the ReLU after the residual add goes, the one after
    // the first conv-BN stays.
    assert_eq!(
        dropped(&out.network),
        ["S1.B1.relu2", "S1.B2.relu2", "S2.B1.relu2", "S3.B1.relu2"]
    );
    assert_eq!(
        relus(&out.network),
        (
            per_stage(&[
                ("stem", 256),
                ("S1", 512),
                ("S2", 128),
                ("S3", 64),
                ("head", 0)
            ]),
            960
        )
    );
    assert_eq!(
        out.network.meta["thinned_stages"],
        json!(["S1", "S2", "S3"])
    );
    assert_eq!(out.network.thinned_stages(), ["S1", "S2", "S3"]);
    assert_eq!(out.description, "Conv1 + S1^RT + S2*^RT + S3*^RT");
    assert_eq!(out.network.meta["dataset"], json!("cifar100"));
}

#[test]
fn skips_culled_stages() {
    let mut net = resnet_like();
    drop_stage_relus(&mut net, STEM);
    drop_stage_relus(&mut net, "S1");
    let out = thin(&net, json!({})).unwrap();
    assert_eq!(out.network.thinned_stages(), ["S2", "S3"]);
    // Thinning halves the ReLUs of "S2 + S3": 384 -> 192.
    assert_eq!(
        relus(&out.network),
        (
            per_stage(&[("stem", 0), ("S1", 0), ("S2", 128), ("S3", 64), ("head", 0)]),
            192
        )
    );
    assert_eq!(out.description, "S2*^RT + S3*^RT");
}

#[test]
fn masked_and_polynomial_layers_are_thinned_like_relu_layers() {
    let mut net = resnet_like();
    let mut set = |name: &str, op: Op| {
        net.nodes.iter_mut().find(|n| n.name == name).unwrap().op = op;
    };
    let mask = Op::MaskedRelu {
        mask: ReluMask::new(Granularity::Pixel, BitSet::from_indices(256, 0..64)),
        dropped: Dropped::Identity,
    };
    set("S1.B1.relu1", mask.clone());
    set("S1.B1.relu2", mask.clone());
    set("S1.B2.relu1", Op::Poly(Polynomial::delphi(4)));
    // S3 has polynomials and no ReLU left: like a culled stage, skipped.
    set("S3.B1.relu1", Op::Poly(Polynomial::delphi(16)));
    set("S3.B1.relu2", Op::Poly(Polynomial::delphi(16)));
    let out = thin(&net, json!({})).unwrap();
    let op = |name: &str| out.network.node(name).unwrap().op.clone();
    assert_eq!(op("S1.B1.relu1"), mask);
    assert_eq!(op("S1.B1.relu2"), Op::Identity);
    assert_eq!(op("S1.B2.relu1"), Op::Poly(Polynomial::delphi(4)));
    assert_eq!(op("S1.B2.relu2"), Op::Identity);
    assert_eq!(op("S3.B1.relu2"), Op::Poly(Polynomial::delphi(16)));
    assert_eq!(out.network.thinned_stages(), ["S1", "S2"]);
    assert_eq!(
        relus(&out.network),
        (
            per_stage(&[
                ("stem", 256),
                ("S1", 64),
                ("S2", 128),
                ("S3", 0),
                ("head", 0)
            ]),
            448
        )
    );
}

#[test]
fn is_idempotent() {
    let once = thin(&resnet_like(), json!({})).unwrap();
    let twice = thin(&once.network, json!({})).unwrap();
    assert_eq!(twice, once);
}

#[test]
fn params_stages_limits_it() {
    let out = thin(&resnet_like(), json!({"stages": ["S2"]})).unwrap();
    assert_eq!(dropped(&out.network), ["S2.B1.relu2"]);
    assert_eq!(relus(&out.network).1, 1664 - 128);
    assert_eq!(out.network.thinned_stages(), ["S2"]);
    assert_eq!(out.description, "Conv1 + S1 + S2*^RT + S3*");

    // An empty list thins nothing and records nothing.
    let out = thin(&resnet_like(), json!({"stages": []})).unwrap();
    assert_eq!(out.network, resnet_like());
    assert_eq!(out.description, "all ReLUs");
}

#[test]
fn a_listed_stage_that_is_culled_is_still_skipped() {
    let mut net = resnet_like();
    drop_stage_relus(&mut net, "S2");
    let out = thin(&net, json!({"stages": ["S2", "S3"]})).unwrap();
    assert_eq!(out.network.thinned_stages(), ["S3"]);
    assert_eq!(
        dropped(&out.network),
        ["S2.B1.relu1", "S2.B1.relu2", "S3.B1.relu2"]
    );
}

#[test]
fn unknown_stage_is_refused() {
    assert_eq!(
        thin(&resnet_like(), json!({"stages": ["S1", "S7"]})).unwrap_err(),
        "'S7' is not a stage of resnet-like; its stages are stem, S1, S2, S3, head"
    );
    assert_eq!(
        thin(&resnet_like(), json!({"stages": "S1"})).unwrap_err(),
        r#"'stages' must be a list of stage names, found "S1""#
    );
}

/// A plain chain (VGG-like, no blocks): S1 has three conv-ReLU layers, S2
/// one after a max-pool.
fn chain() -> Network {
    let mut b = GraphBuilder::new();
    for (i, stage) in ["S1", "S1", "S1", "S2"].into_iter().enumerate() {
        if i == 3 {
            let pool = Op::MaxPool2d {
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 0],
            };
            b.then("pool", pool, stage, None);
        }
        b.then(format!("conv{i}"), conv(4, 3, 1, 1), stage, None);
        b.then(format!("relu{i}"), Op::Relu, stage, None);
    }
    b.then("flat", Op::Flatten, HEAD, None);
    b.then("fc", linear(10), HEAD, None);
    let meta = [("family", json!("vgg")), ("dataset", json!("cifar100"))];
    b.finish("chain", input_spec([3, 8, 8]), meta)
}

#[test]
fn plain_chain_keeps_the_first_and_third_relu_layer() {
    let net = chain();
    assert_eq!(relus(&net).1, 3 * 256 + 64);
    let out = thin(&net, json!({})).unwrap();
    assert_eq!(dropped(&out.network), ["relu1"]);
    assert_eq!(
        relus(&out.network),
        (per_stage(&[("S1", 512), ("S2", 64), ("head", 0)]), 576)
    );
    // A stage of one ReLU layer has nothing to drop but is recorded.
    assert_eq!(out.network.thinned_stages(), ["S1", "S2"]);
    assert_eq!(out.description, "S1^RT + S2^RT");
}

#[test]
fn descriptor() {
    let d = Thin.descriptor();
    assert_eq!(d.id, "org.deepreduce.thin");
    assert_eq!(d.kind, PluginKind::Optimization);
    assert_eq!(d.capabilities, ["deepreduce.optimization/1"]);
}
