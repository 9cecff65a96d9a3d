use crate::builder::{GraphBuilder, arch_meta, conv, linear};
use crate::ir::{HEAD, INPUT, Node, Op, STEM};
use crate::testing::{input_spec, tiny};
use serde_json::json;

#[test]
fn nodes_read_the_last_output_unless_they_name_their_inputs() {
    let mut b = GraphBuilder::new();
    assert_eq!(b.last(), INPUT);
    assert_eq!(b.then("c", conv(4, 3, 1, 1), STEM, None), "c");
    assert_eq!(b.then("r", Op::Relu, STEM, None), "r");
    assert_eq!(b.last(), "r");
    let added = b.push("add", Op::Add, &["c", "r"], "S1", Some("S1.B0"));
    assert_eq!((added.as_str(), b.last()), ("add", "add"));
    assert_eq!(
        b.nodes(),
        [
            Node::new("c", conv(4, 3, 1, 1), &[INPUT]).in_stage(STEM),
            Node::new("r", Op::Relu, &["c"]).in_stage(STEM),
            Node::new("add", Op::Add, &["c", "r"])
                .in_stage("S1")
                .in_block("S1.B0"),
        ]
    );
}

#[test]
fn conv_bn_relu_and_classifier_name_and_annotate_their_nodes() {
    let mut b = GraphBuilder::default();
    let relu = b.conv_bn_relu("s1.b0", conv(8, 1, 1, 0), "S1", Some("S1.B0"));
    assert_eq!(relu, "s1.b0.relu");
    let fc = b.classifier(["pool", "flat", "fc"], 7);
    assert_eq!(fc, "fc");
    let s1 = |node: Node| node.in_stage("S1").in_block("S1.B0");
    assert_eq!(
        b.nodes(),
        [
            s1(Node::new("s1.b0.conv", conv(8, 1, 1, 0), &[INPUT])),
            s1(Node::new("s1.b0.bn", Op::BatchNorm2d, &["s1.b0.conv"])),
            s1(Node::new("s1.b0.relu", Op::Relu, &["s1.b0.bn"])),
            Node::new("pool", Op::GlobalAvgPool, &["s1.b0.relu"]).in_stage(HEAD),
            Node::new("flat", Op::Flatten, &["pool"]).in_stage(HEAD),
            Node::new("fc", linear(7), &["flat"]).in_stage(HEAD),
        ]
    );
}

#[test]
fn finish_makes_the_last_node_the_output() {
    let mut b = GraphBuilder::new();
    b.then("flat", Op::Flatten, HEAD, None);
    b.then("fc", linear(3), HEAD, None);
    let nodes = b.nodes().to_vec();
    let net = b.finish("mlp", input_spec([1, 2, 2]), [("note", json!("x"))]);
    assert_eq!(net.name, "mlp");
    assert_eq!(net.input, input_spec([1, 2, 2]));
    assert_eq!(net.nodes, nodes);
    assert_eq!(net.output, "fc");
    assert_eq!(
        serde_json::to_value(&net.meta).unwrap(),
        json!({"note": "x"})
    );
    // `tiny` is built with it: without meta, none is written.
    let value = serde_json::to_value(tiny()).unwrap();
    assert!(value.get("meta").is_none());
}

#[test]
fn op_helpers_and_architecture_meta() {
    assert_eq!(
        conv(16, 3, 2, 1),
        Op::Conv2d {
            out_channels: 16,
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
            groups: 1,
            bias: false,
        }
    );
    assert_eq!(
        linear(10),
        Op::Linear {
            out_features: 10,
            bias: true,
        }
    );
    let net = GraphBuilder::new().finish(
        "n",
        input_spec([3, 8, 8]),
        arch_meta("resnet", "resnet10", &[1, 1, 1, 1], 64),
    );
    assert_eq!(
        serde_json::to_string(&net.meta).unwrap(),
        r#"{"alpha":1.0,"arch":"resnet10","blocks":[1,1,1,1],"family":"resnet","rho":1.0,"width":64}"#
    );
}
