use super::Reshape;
use deepreduce_plugin_api::builder::{GraphBuilder, conv, linear};
use deepreduce_plugin_api::testing::{input_spec, per_stage, relus, request, resnet_like};
use deepreduce_plugin_api::transform::{activation_slots, drop_stage_relus, set_relu};
use deepreduce_plugin_api::{
    BitSet, Candidate, Dropped, Granularity, INPUT, Network, Node, Op, Plugin, PluginKind,
    Polynomial, ReluMask, STEM, analyze,
};
use serde_json::json;

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
    let mut b = GraphBuilder::new();
    b.then("conv1", conv(8, 3, 1, 1), STEM, None);
    b.then("relu1", Op::Relu, STEM, None);
    b.then("dw", dw, "S1", None);
    b.then("relu2", Op::Relu, "S1", None);
    b.then("pw", conv(16, 1, 1, 0), "S1", None);
    b.then("relu3", Op::Relu, "S1", None);
    b.classifier(["gap", "flat", "fc"], 10);
    let meta = [
        ("family", json!("mobilenet")),
        ("dataset", json!("cifar100")),
    ];
    b.finish("mobile-like", input_spec([3, 8, 8]), meta)
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
        Node::new("fc", linear(10), &["flat"]),
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

/// `resnet_like` with a mask keeping 2 of S2's first ReLU layer (8
/// channels of 4x4) and S3's first ReLU (16 channels of 2x2) replaced by a
/// polynomial.
fn masked(granularity: Granularity) -> Network {
    let mut net = resnet_like();
    let len = granularity.mask_len(8, 16);
    set_op(
        &mut net,
        "S2.B1.relu1",
        Op::MaskedRelu {
            mask: ReluMask::new(granularity, BitSet::from_indices(len, [0, 5])),
            dropped: Dropped::Identity,
        },
    );
    set_op(&mut net, "S3.B1.relu1", Op::Poly(Polynomial::delphi(16)));
    net
}

fn set_op(net: &mut Network, name: &str, op: Op) {
    net.nodes.iter_mut().find(|n| n.name == name).unwrap().op = op;
}

#[test]
fn alpha_refuses_masks_and_polynomials_it_would_no_longer_fit() {
    let refusal = |layer: &str, mask: &str| {
        format!(
            "node '{layer}' has a mask or polynomial made for its shape before reshaping, \
             and {mask}: apply masks and polynomials after reshaping"
        )
    };
    assert_eq!(
        reshape(&masked(Granularity::Channel), json!({"alpha": 0.5})).unwrap_err(),
        refusal(
            "S2.B1.relu1",
            "its channel mask has 8 bits, but the layer has 4 channels"
        )
    );
    assert_eq!(
        reshape(&masked(Granularity::Pixel), json!({"alpha": 0.5})).unwrap_err(),
        refusal(
            "S2.B1.relu1",
            "its pixel mask has 128 bits, but the layer has 64 elements"
        )
    );
    let mut net = masked(Granularity::Channel);
    set_op(&mut net, "S2.B1.relu1", Op::Relu);
    assert_eq!(
        reshape(&net, json!({"alpha": 0.5})).unwrap_err(),
        refusal(
            "S3.B1.relu1",
            "its polynomial has 16 coefficients in `a`, but the layer has 8 channels"
        )
    );
}

#[test]
fn rho_keeps_channel_masks_and_polynomials_and_refuses_pixel_masks() {
    let out = reshape(&masked(Granularity::Channel), json!({"rho": 0.5})).unwrap();
    // S2's layers become 8 channels of 2x2: 2 kept channels = 8 ReLUs;
    // S3's polynomial covers 16 channels of 1x1.
    let a = analyze(&out.network).unwrap();
    let stats = |name: &str| a.nodes.iter().find(|n| n.name == name).unwrap();
    assert_eq!(stats("S2.B1.relu1").relus, 8);
    assert_eq!(stats("S3.B1.relu1").polys, 16);
    let error = reshape(&masked(Granularity::Pixel), json!({"rho": 0.5})).unwrap_err();
    assert!(
        error.contains("its pixel mask has 128 bits, but the layer has 32 elements"),
        "{error}"
    );
}
