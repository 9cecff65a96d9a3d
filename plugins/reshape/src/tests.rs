use super::Reshape;
use deepreduce_plugin_api::transform::{activation_slots, drop_stage_relus, set_relu};
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

fn reshape(net: &Network, params: serde_json::Value) -> Result<Candidate, String> {
    let mut out = Reshape.apply(&request(net, params, json!({})))?;
    assert_eq!(out.len(), 1, "reshaping yields one candidate");
    Ok(out.remove(0))
}

/// (name, out_channels, groups, stride) of every convolution.
fn convs(net: &Network) -> Vec<(String, usize, usize, [usize; 2])> {
    net.nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::Conv2d {
                out_channels,
                groups,
                stride,
                ..
            } => Some((n.name.clone(), out_channels, groups, stride)),
            _ => None,
        })
        .collect()
}

/// `resnet_like` culled to S2 + S3 and thinned, by hand: 192 ReLUs.
fn culled_thinned() -> Network {
    let mut net = resnet_like();
    drop_stage_relus(&mut net, STEM);
    drop_stage_relus(&mut net, "S1");
    for stage in ["S2", "S3"] {
        let slots = activation_slots(&net, stage);
        set_relu(&mut net, slots[1], false);
    }
    net.meta
        .insert("thinned_stages".into(), json!(["S2", "S3"]));
    net
}

#[test]
fn alpha_half_halves_every_convolution() {
    let net = resnet_like();
    let out = reshape(&net, json!({"alpha": 0.5})).unwrap();
    let expected: Vec<_> = convs(&net)
        .into_iter()
        .map(|(n, c, g, s)| (n, c / 2, g, s))
        .collect();
    assert_eq!(convs(&out.network), expected);
    // The classifier keeps its classes.
    assert_eq!(out.network.node("fc"), net.node("fc"));
    assert_eq!(
        relus(&out.network),
        (
            per_stage(&[
                ("stem", 128),
                ("S1", 512),
                ("S2", 128),
                ("S3", 64),
                ("head", 0)
            ]),
            832
        )
    );
    assert_eq!(out.network.meta["alpha"], json!(0.5));
    assert!(!out.network.meta.contains_key("rho"));
    assert_eq!(out.network.meta["dataset"], json!("cifar100"));
    assert_eq!(out.description, "all ReLUs, alpha 0.5");
}

#[test]
fn alpha_keeps_at_least_one_channel() {
    let out = reshape(&resnet_like(), json!({"alpha": 0.1})).unwrap();
    let channels: Vec<(String, usize)> = convs(&out.network)
        .into_iter()
        .map(|(n, c, _, _)| (n, c))
        .filter(|(n, _)| n.ends_with("conv1"))
        .collect();
    // 4 * 0.1 = 0.4 -> 1 (not 0), 8 * 0.1 = 0.8 -> 1, 16 * 0.1 = 1.6 -> 2.
    assert_eq!(
        channels,
        [
            ("conv1".to_string(), 1),
            ("S1.B1.conv1".to_string(), 1),
            ("S1.B2.conv1".to_string(), 1),
            ("S2.B1.conv1".to_string(), 1),
            ("S3.B1.conv1".to_string(), 2),
        ]
    );
    assert!(analyze(&out.network).is_ok());
}

/// MobileNet-like: conv 3->8, depthwise 3x3 (8 groups), pointwise 8->16.
fn depthwise_net() -> Network {
    let dw = Op::Conv2d {
        out_channels: 8,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        groups: 8,
        bias: false,
    };
    let mut net = resnet_like();
    net.name = "mobile-like".into();
    net.meta.insert("family".into(), json!("mobilenet"));
    net.nodes = vec![
        Node::new("conv1", conv(8, 3, 1, 1), &[INPUT]).in_stage(STEM),
        Node::new("relu1", Op::Relu, &["conv1"]).in_stage(STEM),
        Node::new("dw", dw, &["relu1"]).in_stage("S1"),
        Node::new("relu2", Op::Relu, &["dw"]).in_stage("S1"),
        Node::new("pw", conv(16, 1, 1, 0), &["relu2"]).in_stage("S1"),
        Node::new("relu3", Op::Relu, &["pw"]).in_stage("S1"),
        Node::new("gap", Op::GlobalAvgPool, &["relu3"]).in_stage(HEAD),
        Node::new("flat", Op::Flatten, &["gap"]).in_stage(HEAD),
        Node::new(
            "fc",
            Op::Linear {
                out_features: 10,
                bias: true,
            },
            &["flat"],
        )
        .in_stage(HEAD),
    ];
    net
}

#[test]
fn depthwise_groups_follow_the_channels() {
    let out = reshape(&depthwise_net(), json!({"alpha": 0.5})).unwrap();
    assert_eq!(
        convs(&out.network),
        [
            ("conv1".to_string(), 4, 1, [1, 1]),
            ("dw".to_string(), 4, 4, [1, 1]),
            ("pw".to_string(), 8, 1, [1, 1]),
        ]
    );
    let a = analyze(&out.network).unwrap();
    // Depthwise 4 channels: 4 * 1 * 9 = 36 weights; pointwise 8 * 4 = 32.
    assert_eq!(a.nodes[2].params, 36);
    assert_eq!(a.nodes[4].params, 32);
    assert_eq!(a.total.relus, (512 + 512 + 1024) / 2);
}

#[test]
fn a_depthwise_conv_on_the_raw_input_cannot_be_scaled() {
    // The input's 3 channels do not scale, the depthwise groups do.
    let mut net = depthwise_net();
    net.nodes[0].op = Op::Conv2d {
        out_channels: 3,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        groups: 3,
        bias: false,
    };
    net.nodes[2].op = conv(8, 3, 1, 1);
    assert!(analyze(&net).is_ok());
    assert_eq!(
        reshape(&net, json!({"alpha": 0.5})).unwrap_err(),
        "reshaping leaves an invalid network: node 'conv1': 3 input and 2 output channels do not split into 2 groups"
    );
}

#[test]
fn rho_half_doubles_the_first_convolutions_stride_only() {
    let net = resnet_like();
    let out = reshape(&net, json!({"rho": 0.5})).unwrap();
    assert_eq!(
        out.network.nodes[0].op,
        Op::Conv2d {
            out_channels: 4,
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
            groups: 1,
            bias: false,
        }
    );
    assert_eq!(out.network.nodes[1..], net.nodes[1..]);
    assert_eq!(out.network.input, net.input);
    assert_eq!(
        relus(&out.network),
        (
            per_stage(&[
                ("stem", 64),
                ("S1", 256),
                ("S2", 64),
                ("S3", 32),
                ("head", 0)
            ]),
            416
        )
    );
    assert_eq!(out.network.meta["rho"], json!(0.5));
    assert!(!out.network.meta.contains_key("alpha"));
    assert_eq!(out.description, "all ReLUs, rho 0.5");
}

#[test]
fn rho_one_third_is_a_stride_of_three() {
    let out = reshape(&resnet_like(), json!({"rho": 1.0 / 3.0})).unwrap();
    assert_eq!(convs(&out.network)[0].3, [3, 3]);
    // (8 + 2 - 3) / 3 + 1 = 3
    assert_eq!(
        analyze(&out.network).unwrap().nodes[0].output.elements(),
        4 * 3 * 3
    );
}

#[test]
fn alpha_and_rho_together() {
    let out = reshape(&resnet_like(), json!({"alpha": 0.5, "rho": 0.5})).unwrap();
    assert_eq!(
        relus(&out.network),
        (
            per_stage(&[
                ("stem", 32),
                ("S1", 128),
                ("S2", 32),
                ("S3", 16),
                ("head", 0)
            ]),
            208
        )
    );
    assert_eq!(out.description, "all ReLUs, alpha 0.5, rho 0.5");
}

#[test]
fn relus_divide_by_two_four_and_eight_after_culling_and_thinning() {
    let net = culled_thinned();
    assert_eq!(relus(&net).1, 192);
    for (params, total, description) in [
        (json!({"alpha": 0.5}), 96, "S2*^RT + S3*^RT, alpha 0.5"),
        (json!({"rho": 0.5}), 48, "S2*^RT + S3*^RT, rho 0.5"),
        (
            json!({"alpha": 0.5, "rho": 0.5}),
            24,
            "S2*^RT + S3*^RT, alpha 0.5, rho 0.5",
        ),
    ] {
        let out = reshape(&net, params).unwrap();
        assert_eq!(relus(&out.network).1, total, "{description}");
        assert_eq!(out.description, description);
        assert_eq!(out.network.thinned_stages(), ["S2", "S3"]);
    }
}

#[test]
fn repeated_reshaping_composes_in_meta() {
    let alpha = reshape(&resnet_like(), json!({"alpha": 0.5})).unwrap();
    let both = reshape(&alpha.network, json!({"rho": 0.5})).unwrap();
    let at_once = reshape(&resnet_like(), json!({"alpha": 0.5, "rho": 0.5})).unwrap();
    assert_eq!(both, at_once);

    let quarter = reshape(&alpha.network, json!({"alpha": 0.5})).unwrap();
    assert_eq!(quarter.network.meta["alpha"], json!(0.25));
    assert_eq!(relus(&quarter.network).1, 1664 / 4);
    assert_eq!(quarter.description, "all ReLUs, alpha 0.25");

    let rho = reshape(&resnet_like(), json!({"rho": 0.5})).unwrap();
    let rho2 = reshape(&rho.network, json!({"rho": 0.5})).unwrap();
    assert_eq!(rho2.network.meta["rho"], json!(0.25));
    assert_eq!(convs(&rho2.network)[0].3, [4, 4]);
    assert_eq!(rho2.description, "all ReLUs, rho 0.25");
}

#[test]
fn factors_of_one_or_absent_change_nothing() {
    let net = resnet_like();
    for params in [
        json!({}),
        json!(null),
        json!({"alpha": 1.0, "rho": 1}),
        json!({"alpha": null, "rho": null}),
    ] {
        let out = reshape(&net, params.clone()).unwrap();
        assert_eq!(out.network, net, "{params}");
        assert_eq!(out.description, "all ReLUs");
    }
}

#[test]
fn rho_that_is_not_one_over_a_whole_number_is_refused() {
    assert_eq!(
        reshape(&resnet_like(), json!({"rho": 0.3})).unwrap_err(),
        "rho must be 1/n for a whole stride n, got 0.3"
    );
    assert_eq!(
        reshape(&resnet_like(), json!({"rho": 0.4})).unwrap_err(),
        "rho must be 1/n for a whole stride n, got 0.4"
    );
}

#[test]
fn factors_outside_zero_to_one_or_not_numbers_are_refused() {
    for (params, message) in [
        (
            json!({"alpha": 0}),
            "alpha must be a number in (0, 1], got 0",
        ),
        (
            json!({"alpha": 0.0}),
            "alpha must be a number in (0, 1], got 0.0",
        ),
        (
            json!({"alpha": 2}),
            "alpha must be a number in (0, 1], got 2",
        ),
        (
            json!({"alpha": -0.5}),
            "alpha must be a number in (0, 1], got -0.5",
        ),
        (
            json!({"alpha": "half"}),
            r#"alpha must be a number in (0, 1], got "half""#,
        ),
        (
            json!({"alpha": [0.5]}),
            "alpha must be a number in (0, 1], got [0.5]",
        ),
        (json!({"rho": 0}), "rho must be a number in (0, 1], got 0"),
        (
            json!({"rho": 1.5}),
            "rho must be a number in (0, 1], got 1.5",
        ),
        (
            json!({"rho": true}),
            "rho must be a number in (0, 1], got true",
        ),
    ] {
        assert_eq!(reshape(&resnet_like(), params).unwrap_err(), message);
    }
}

#[test]
fn rho_needs_a_convolution() {
    let mut net = resnet_like();
    net.nodes = vec![
        Node::new("flat", Op::Flatten, &[INPUT]),
        Node::new(
            "fc",
            Op::Linear {
                out_features: 10,
                bias: true,
            },
            &["flat"],
        ),
    ];
    assert_eq!(
        reshape(&net, json!({"rho": 0.5})).unwrap_err(),
        "rho needs a convolution to stride, and the network has none"
    );
    // alpha has nothing to scale either, but is recorded.
    let out = reshape(&net, json!({"alpha": 0.5})).unwrap();
    assert_eq!(out.network.nodes, net.nodes);
    assert_eq!(out.network.meta["alpha"], json!(0.5));
}

#[test]
fn descriptor() {
    let d = Reshape.descriptor();
    assert_eq!(d.id, "org.deepreduce.reshape");
    assert_eq!(d.kind, PluginKind::Optimization);
    assert_eq!(d.capabilities, ["deepreduce.optimization/1"]);
}
