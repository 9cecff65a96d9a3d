use super::Thin;
use deepreduce_plugin_api::transform::drop_stage_relus;
use deepreduce_plugin_api::{
    Candidate, HEAD, INPUT, InputSpec, Network, Node, Op, OptimizationRequest, Plugin, PluginKind,
    STEM, analyze,
};
use serde_json::json;

/// A square convolution without bias or groups.
fn conv(out_channels: usize, kernel: usize, stride: usize, padding: usize) -> Op {
    Op::Conv2d {
        out_channels,
        kernel: [kernel, kernel],
        stride: [stride, stride],
        padding: [padding, padding],
        groups: 1,
        bias: false,
    }
}

/// Appends a BasicBlock (conv-BN-ReLU-conv-BN, add shortcut, ReLU; a 1x1
/// projection when it strides) and returns the name of its output.
fn basic_block(
    nodes: &mut Vec<Node>,
    stage: &str,
    block: &str,
    input: &str,
    width: usize,
    stride: usize,
) -> String {
    let name = |s: &str| format!("{block}.{s}");
    let mut push = |n: &str, op: Op, inputs: &[&str]| {
        nodes.push(
            Node::new(name(n), op, inputs)
                .in_stage(stage)
                .in_block(block),
        );
    };
    push("conv1", conv(width, 3, stride, 1), &[input]);
    push("bn1", Op::BatchNorm2d, &[&name("conv1")]);
    push("relu1", Op::Relu, &[&name("bn1")]);
    push("conv2", conv(width, 3, 1, 1), &[&name("relu1")]);
    push("bn2", Op::BatchNorm2d, &[&name("conv2")]);
    let shortcut = if stride == 1 {
        input.to_string()
    } else {
        push("proj", conv(width, 1, stride, 0), &[input]);
        push("proj_bn", Op::BatchNorm2d, &[&name("proj")]);
        name("proj_bn")
    };
    push("add", Op::Add, &[&name("bn2"), &shortcut]);
    push("relu2", Op::Relu, &[&name("add")]);
    name("relu2")
}

/// A small CIFAR-style ResNet on 3x8x8, family "resnet":
/// stem conv 3->4 + BN + ReLU (4x8x8 = 256 ReLUs);
/// S1: two blocks of width 4 (4 ReLU layers of 4x8x8: 1,024);
/// S2: one block of width 8, stride 2 (2 layers of 8x4x4: 256);
/// S3: one block of width 16, stride 2 (2 layers of 16x2x2: 128);
/// head: global pool, flatten, linear 16 -> 10. Total 1,664 ReLUs.
fn resnet_like() -> Network {
    let mut nodes = vec![
        Node::new("conv1", conv(4, 3, 1, 1), &[INPUT]).in_stage(STEM),
        Node::new("bn1", Op::BatchNorm2d, &["conv1"]).in_stage(STEM),
        Node::new("relu1", Op::Relu, &["bn1"]).in_stage(STEM),
    ];
    let mut last = "relu1".to_string();
    for (stage, block, width, stride) in [
        ("S1", "S1.B1", 4, 1),
        ("S1", "S1.B2", 4, 1),
        ("S2", "S2.B1", 8, 2),
        ("S3", "S3.B1", 16, 2),
    ] {
        last = basic_block(&mut nodes, stage, block, &last, width, stride);
    }
    nodes.push(Node::new("gap", Op::GlobalAvgPool, &[&last]).in_stage(HEAD));
    nodes.push(Node::new("flat", Op::Flatten, &["gap"]).in_stage(HEAD));
    nodes.push(
        Node::new(
            "fc",
            Op::Linear {
                out_features: 10,
                bias: true,
            },
            &["flat"],
        )
        .in_stage(HEAD),
    );
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("family".to_string(), serde_json::json!("resnet"));
    meta.insert("dataset".to_string(), serde_json::json!("cifar100"));
    Network {
        name: "resnet-like".into(),
        input: InputSpec {
            channels: 3,
            height: 8,
            width: 8,
        },
        nodes,
        output: "fc".into(),
        meta,
    }
}

/// ReLUs per stage, in stage order, and the total.
fn relus(net: &Network) -> (Vec<(String, u64)>, u64) {
    let a = analyze(net).expect("a valid network");
    (
        a.stages.iter().map(|(s, t)| (s.clone(), t.relus)).collect(),
        a.total.relus,
    )
}

fn per_stage(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

fn request(
    network: &Network,
    params: serde_json::Value,
    context: serde_json::Value,
) -> OptimizationRequest {
    OptimizationRequest {
        network: network.clone(),
        params,
        context,
    }
}

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
    let mut nodes = Vec::new();
    let mut last = INPUT.to_string();
    for (i, stage) in ["S1", "S1", "S1", "S2"].into_iter().enumerate() {
        if i == 3 {
            let pool = Op::MaxPool2d {
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 0],
            };
            nodes.push(Node::new("pool", pool, &[&last]).in_stage(stage));
            last = "pool".into();
        }
        let (c, r) = (format!("conv{i}"), format!("relu{i}"));
        nodes.push(Node::new(&c, conv(4, 3, 1, 1), &[&last]).in_stage(stage));
        nodes.push(Node::new(&r, Op::Relu, &[&c]).in_stage(stage));
        last = r;
    }
    nodes.push(Node::new("flat", Op::Flatten, &[&last]).in_stage(HEAD));
    let fc = Op::Linear {
        out_features: 10,
        bias: true,
    };
    nodes.push(Node::new("fc", fc, &["flat"]).in_stage(HEAD));
    let mut net = resnet_like();
    net.name = "chain".into();
    net.nodes = nodes;
    net.meta.insert("family".into(), json!("vgg"));
    net
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
