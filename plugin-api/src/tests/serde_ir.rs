use crate::ir::{Network, Node, Op};
use crate::testing::tiny;
use serde_json::json;

#[test]
fn a_network_round_trips_through_json_unchanged() {
    let mut net = tiny();
    net.meta.insert("family".into(), json!("resnet"));
    net.meta.insert("alpha".into(), json!(0.5));
    net.meta.insert("thinned_stages".into(), json!(["S1"]));
    let text = serde_json::to_string(&net).unwrap();
    let back: Network = serde_json::from_str(&text).unwrap();
    assert_eq!(back, net);
    // And through a serde_json::Value, as the host does.
    let value = serde_json::to_value(&net).unwrap();
    assert_eq!(serde_json::from_value::<Network>(value).unwrap(), net);
    assert_eq!(back.thinned_stages(), ["S1"]);
    assert_eq!(back.meta_f64("alpha"), Some(0.5));
    assert_eq!(back.meta_str("family"), Some("resnet"));
}

#[test]
fn a_node_serialises_with_a_flattened_op_tag() {
    let net = tiny();
    assert_eq!(
        serde_json::to_string(&net.nodes[0]).unwrap(),
        r#"{"name":"conv1","op":"Conv2d","out_channels":8,"kernel":[3,3],"stride":[1,1],"padding":[1,1],"groups":1,"bias":false,"inputs":["input"],"stage":"stem"}"#
    );
    assert_eq!(
        serde_json::to_string(&net.nodes[3]).unwrap(),
        r#"{"name":"conv2","op":"Conv2d","out_channels":16,"kernel":[3,3],"stride":[2,2],"padding":[1,1],"groups":1,"bias":false,"inputs":["relu1"],"stage":"S1","block":"S1.B1"}"#
    );
    assert_eq!(
        serde_json::to_string(&net.nodes[6]).unwrap(),
        r#"{"name":"add","op":"Add","inputs":["bn2","proj"],"stage":"S1","block":"S1.B1"}"#
    );
    assert_eq!(
        serde_json::to_string(&net.nodes[10]).unwrap(),
        r#"{"name":"fc","op":"Linear","out_features":10,"bias":true,"inputs":["flat"],"stage":"head"}"#
    );
    // No stage, no block: neither key is written.
    assert_eq!(
        serde_json::to_string(&Node::new("r", Op::Relu, &["x"])).unwrap(),
        r#"{"name":"r","op":"Relu","inputs":["x"]}"#
    );
}

#[test]
fn empty_meta_is_not_written_and_absent_meta_reads_as_empty() {
    let net = tiny();
    let value = serde_json::to_value(&net).unwrap();
    assert!(value.get("meta").is_none());
    assert_eq!(
        value["input"],
        json!({"channels": 3, "height": 8, "width": 8})
    );
    assert_eq!(value["output"], json!("fc"));
    let back: Network = serde_json::from_value(value).unwrap();
    assert!(back.meta.is_empty());
}

#[test]
fn conv_groups_default_to_one_and_bias_to_false() {
    let node: Node = serde_json::from_value(json!({
        "name": "c", "op": "Conv2d", "out_channels": 4,
        "kernel": [3, 3], "stride": [1, 1], "padding": [0, 0],
        "inputs": ["input"]
    }))
    .unwrap();
    assert_eq!(
        node.op,
        Op::Conv2d {
            out_channels: 4,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [0, 0],
            groups: 1,
            bias: false
        }
    );
    assert_eq!(node.stage, None);
    assert_eq!(node.block, None);
}

#[test]
fn linear_bias_defaults_to_true_and_pool_padding_to_zero() {
    let node: Node = serde_json::from_value(json!({
        "name": "fc", "op": "Linear", "out_features": 10, "inputs": ["flat"]
    }))
    .unwrap();
    assert_eq!(
        node.op,
        Op::Linear {
            out_features: 10,
            bias: true
        }
    );
    let node: Node = serde_json::from_value(json!({
        "name": "p", "op": "AvgPool2d", "kernel": [2, 2], "stride": [2, 2], "inputs": ["x"]
    }))
    .unwrap();
    assert_eq!(
        node.op,
        Op::AvgPool2d {
            kernel: [2, 2],
            stride: [2, 2],
            padding: [0, 0]
        }
    );
}

#[test]
fn unknown_operators_and_missing_fields_are_refused() {
    let e = serde_json::from_value::<Node>(json!({
        "name": "s", "op": "Softmax", "inputs": ["x"]
    }))
    .unwrap_err();
    assert!(e.to_string().contains("Softmax"), "{e}");
    let e = serde_json::from_value::<Node>(json!({
        "name": "c", "op": "Conv2d", "kernel": [3, 3], "stride": [1, 1],
        "padding": [0, 0], "inputs": ["x"]
    }))
    .unwrap_err();
    assert!(e.to_string().contains("out_channels"), "{e}");
}

#[test]
fn op_kinds_and_activation_slots() {
    let kinds: Vec<(&str, bool)> = tiny()
        .nodes
        .iter()
        .map(|n| (n.op.kind(), n.op.is_activation_slot()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Conv2d", false),
            ("BatchNorm2d", false),
            ("Relu", true),
            ("Conv2d", false),
            ("BatchNorm2d", false),
            ("Conv2d", false),
            ("Add", false),
            ("Relu", true),
            ("GlobalAvgPool", false),
            ("Flatten", false),
            ("Linear", false),
        ]
    );
    assert_eq!(Op::Identity.kind(), "Identity");
    assert!(Op::Identity.is_activation_slot());
}

#[test]
fn network_stage_helpers() {
    let net = tiny();
    assert_eq!(net.stages(), ["stem", "S1", "head"]);
    assert_eq!(net.body_stages(), ["S1"]);
    assert_eq!(net.node("proj").unwrap().inputs, ["relu1"]);
    assert!(net.node("nope").is_none());
    assert!(net.nodes[0].stage_is("stem"));
    assert!(!net.nodes[0].stage_is("S1"));
    assert!(net.thinned_stages().is_empty());
    assert_eq!(net.meta_f64("alpha"), None);
}

#[test]
fn every_operator_reads_back_with_its_defaults() {
    let ops = [
        Op::Conv2d {
            out_channels: 4,
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
            groups: 4,
            bias: true,
        },
        Op::BatchNorm2d,
        Op::Relu,
        Op::Identity,
        Op::Add,
        Op::MaxPool2d {
            kernel: [2, 2],
            stride: [2, 2],
            padding: [1, 0],
        },
        Op::AvgPool2d {
            kernel: [2, 2],
            stride: [1, 1],
            padding: [0, 0],
        },
        Op::GlobalAvgPool,
        Op::Flatten,
        Op::Linear {
            out_features: 7,
            bias: false,
        },
    ];
    for op in ops {
        let node = Node::new("n", op, &["x"]).in_stage("S1").in_block("S1.B0");
        let text = serde_json::to_string(&node).unwrap();
        assert_eq!(serde_json::from_str::<Node>(&text).unwrap(), node, "{text}");
    }
    // Fields left out take the documented defaults.
    let conv: Node = serde_json::from_value(json!({
        "name": "c", "op": "Conv2d", "out_channels": 8, "kernel": [1, 1],
        "stride": [1, 1], "padding": [0, 0], "inputs": ["x"]
    }))
    .unwrap();
    assert!(matches!(
        conv.op,
        Op::Conv2d {
            groups: 1,
            bias: false,
            ..
        }
    ));
    let fc: Node = serde_json::from_value(
        json!({"name": "f", "op": "Linear", "out_features": 3, "inputs": ["x"]}),
    )
    .unwrap();
    assert_eq!(
        fc.op,
        Op::Linear {
            out_features: 3,
            bias: true
        }
    );
    let pool: Node = serde_json::from_value(
        json!({"name": "p", "op": "MaxPool2d", "kernel": [2, 2], "stride": [2, 2], "inputs": ["x"]}),
    )
    .unwrap();
    assert!(matches!(
        pool.op,
        Op::MaxPool2d {
            padding: [0, 0],
            ..
        }
    ));
}

#[test]
fn malformed_nodes_are_refused_with_the_reason() {
    let error = |value: serde_json::Value| {
        serde_json::from_value::<Node>(value)
            .unwrap_err()
            .to_string()
    };
    let missing = error(json!({"name": "c", "op": "Conv2d", "out_channels": 8, "inputs": []}));
    assert!(
        missing.contains("node c: missing field `kernel` of Conv2d"),
        "{missing}"
    );
    let unknown = error(json!({"name": "g", "op": "Gelu", "inputs": []}));
    assert!(
        unknown.contains("node g: unknown operator `Gelu`"),
        "{unknown}"
    );
    // A field this version does not know could change the meaning
    // (a dilation, say): refused rather than ignored.
    let extra = error(json!({"name": "r", "op": "Relu", "inputs": [], "dilation": 2}));
    assert!(extra.contains("unknown field `dilation`"), "{extra}");
}
