use crate::analysis::{IrError, analyze};
use crate::builder::conv;
use crate::ir::{INPUT, Node, Op};
use crate::testing::{network, tiny};

/// The error of `net` and its Display text.
fn fails(net: &crate::Network) -> (IrError, String) {
    let e = analyze(net).expect_err("the network should be refused");
    let text = e.to_string();
    (e, text)
}

fn one(node: Node) -> crate::Network {
    let output = node.name.clone();
    network("one", [3, 8, 8], vec![node], &output)
}

#[test]
fn empty_network() {
    let (e, text) = fails(&network("empty", [3, 8, 8], vec![], "x"));
    assert_eq!(e, IrError::Empty);
    assert_eq!(text, "the network has no nodes");
}

#[test]
fn duplicate_name() {
    let mut net = tiny();
    net.nodes[4].name = "conv2".into(); // bn2 renamed to its input's name
    let (e, text) = fails(&net);
    assert_eq!(e, IrError::DuplicateName("conv2".into()));
    assert_eq!(text, "two nodes are named 'conv2'");
}

#[test]
fn a_node_may_not_be_called_input() {
    let (e, text) = fails(&one(Node::new(INPUT, Op::Relu, &[INPUT])));
    assert_eq!(e, IrError::DuplicateName("input".into()));
    assert_eq!(text, "two nodes are named 'input'");
}

#[test]
fn unknown_input() {
    let mut net = tiny();
    net.nodes[2].inputs = vec!["bn9".into()];
    let (e, text) = fails(&net);
    assert_eq!(
        e,
        IrError::UnknownInput {
            node: "relu1".into(),
            input: "bn9".into()
        }
    );
    assert_eq!(
        text,
        "node 'relu1' reads 'bn9', which is neither 'input' nor a node listed before it"
    );
}

#[test]
fn forward_reference_is_not_topological() {
    let net = network(
        "backwards",
        [3, 8, 8],
        vec![
            Node::new("a", Op::Relu, &["b"]),
            Node::new("b", Op::Relu, &[INPUT]),
        ],
        "a",
    );
    let (e, text) = fails(&net);
    assert_eq!(
        e,
        IrError::UnknownInput {
            node: "a".into(),
            input: "b".into()
        }
    );
    assert_eq!(
        text,
        "node 'a' reads 'b', which is neither 'input' nor a node listed before it"
    );
}

#[test]
fn add_with_one_input() {
    let (e, text) = fails(&one(Node::new("sum", Op::Add, &[INPUT])));
    assert_eq!(
        e,
        IrError::WrongArity {
            node: "sum".into(),
            op: "Add",
            expected: "2",
            got: 1
        }
    );
    assert_eq!(text, "node 'sum' (Add) takes 2 input(s), got 1");
}

#[test]
fn conv_with_two_inputs_and_relu_with_none() {
    let (_, text) = fails(&one(Node::new("c", conv(4, 3, 1, 1), &[INPUT, INPUT])));
    assert_eq!(text, "node 'c' (Conv2d) takes 1 input(s), got 2");
    let (_, text) = fails(&one(Node::new("r", Op::Relu, &[])));
    assert_eq!(text, "node 'r' (Relu) takes 1 input(s), got 0");
}

#[test]
fn add_of_different_shapes() {
    let mut net = tiny();
    net.nodes[6].inputs = vec!["bn2".into(), "relu1".into()];
    let (e, text) = fails(&net);
    assert!(matches!(e, IrError::Invalid { ref node, .. } if node == "add"));
    assert_eq!(
        text,
        "node 'add': adds tensors of different shapes 16x4x4 and 8x8x8"
    );
}

#[test]
fn linear_on_a_feature_map() {
    let mut net = tiny();
    net.nodes[10].inputs = vec!["gap".into()]; // skips the Flatten
    let (_, text) = fails(&net);
    assert_eq!(
        text,
        "node 'fc': needs a flat vector input (add Flatten), got 16x1x1"
    );
}

#[test]
fn feature_map_ops_on_a_vector() {
    let mut net = tiny();
    net.nodes
        .push(Node::new("bn_flat", Op::BatchNorm2d, &["flat"]));
    let (_, text) = fails(&net);
    assert_eq!(
        text,
        "node 'bn_flat': needs a feature map (CxHxW) input, got a vector of 16"
    );
    let mut net = tiny();
    net.nodes
        .push(Node::new("conv_flat", conv(4, 1, 1, 0), &["flat"]));
    let (_, text) = fails(&net);
    assert_eq!(
        text,
        "node 'conv_flat': needs a feature map (CxHxW) input, got a vector of 16"
    );
}

#[test]
fn conv_channels_that_do_not_split_into_groups() {
    let grouped = |out_channels, groups| Op::Conv2d {
        out_channels,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        groups,
        bias: false,
    };
    // 3 input channels into 2 groups.
    let (_, text) = fails(&one(Node::new("g", grouped(8, 2), &[INPUT])));
    assert_eq!(
        text,
        "node 'g': 3 input and 8 output channels do not split into 2 groups"
    );
    // 3 input channels split into 3 groups, 4 output channels do not.
    let (_, text) = fails(&one(Node::new("g", grouped(4, 3), &[INPUT])));
    assert_eq!(
        text,
        "node 'g': 3 input and 4 output channels do not split into 3 groups"
    );
    let (_, text) = fails(&one(Node::new("g", grouped(4, 0), &[INPUT])));
    assert_eq!(
        text,
        "node 'g': 3 input and 4 output channels do not split into 0 groups"
    );
    let (_, text) = fails(&one(Node::new("g", grouped(0, 1), &[INPUT])));
    assert_eq!(
        text,
        "node 'g': 3 input and 0 output channels do not split into 1 groups"
    );
}

#[test]
fn kernel_larger_than_the_padded_input() {
    let net = network(
        "small",
        [3, 2, 2],
        vec![Node::new("c", conv(4, 5, 1, 1), &[INPUT])],
        "c",
    );
    let (e, text) = fails(&net);
    assert_eq!(
        e,
        IrError::Invalid {
            node: "c".into(),
            reason: "kernel 5 is larger than its padded input (2 + 2x1)".into()
        }
    );
    assert_eq!(
        text,
        "node 'c': kernel 5 is larger than its padded input (2 + 2x1)"
    );
    // A kernel exactly as large as the padded input fits: 1x1 output.
    let net = network(
        "fits",
        [3, 2, 2],
        vec![Node::new("c", conv(4, 4, 1, 1), &[INPUT])],
        "c",
    );
    assert_eq!(analyze(&net).unwrap().output, crate::Shape::Map([4, 1, 1]));
}

#[test]
fn zero_stride_and_zero_kernel() {
    let (_, text) = fails(&one(Node::new("c", conv(4, 3, 0, 1), &[INPUT])));
    assert_eq!(text, "node 'c': kernel and stride must be at least 1");
    let pool = Op::MaxPool2d {
        kernel: [0, 2],
        stride: [2, 2],
        padding: [0, 0],
    };
    let (_, text) = fails(&one(Node::new("p", pool, &[INPUT])));
    assert_eq!(text, "node 'p': kernel and stride must be at least 1");
}

#[test]
fn linear_with_no_outputs() {
    let mut net = tiny();
    net.nodes[10].op = Op::Linear {
        out_features: 0,
        bias: true,
    };
    let (_, text) = fails(&net);
    assert_eq!(text, "node 'fc': out_features must be at least 1");
}

#[test]
fn unknown_output() {
    let mut net = tiny();
    net.output = "logits".into();
    let (e, text) = fails(&net);
    assert_eq!(e, IrError::UnknownOutput("logits".into()));
    assert_eq!(text, "the network's output 'logits' is not a node");
}

#[test]
fn zero_size_input() {
    let mut net = tiny();
    net.input.channels = 0;
    let (e, text) = fails(&net);
    assert_eq!(
        e,
        IrError::Invalid {
            node: "input".into(),
            reason: "input shape 0x8x8 has a zero dimension".into()
        }
    );
    assert_eq!(text, "node 'input': input shape 0x8x8 has a zero dimension");
    net.input.channels = 3;
    net.input.width = 0;
    assert_eq!(
        fails(&net).1,
        "node 'input': input shape 3x8x0 has a zero dimension"
    );
}

#[test]
fn the_first_error_in_graph_order_is_reported() {
    let mut net = tiny();
    net.nodes[3].inputs = vec!["nowhere".into()]; // conv2
    net.output = "logits".into();
    assert_eq!(
        fails(&net).1,
        "node 'conv2' reads 'nowhere', which is neither 'input' nor a node listed before it"
    );
}

/// Sizes whose products do not fit in 64 bits are an error naming the node,
/// never a panic (debug) or a wrapped count (release).
#[test]
fn sizes_that_overflow_are_refused_not_wrapped() {
    let mut net = tiny();
    net.input.height = usize::MAX / 2;
    net.input.width = usize::MAX / 2;
    let (e, text) = fails(&net);
    assert_eq!(
        e,
        IrError::Overflow {
            node: "input".into(),
            quantity: "element count"
        }
    );
    assert_eq!(
        text,
        "node 'input': its element count overflows 64-bit arithmetic (absurd sizes?)"
    );

    // 2^57 output channels of 8x8 fit (2^63 elements); their weights
    // (2^57 x 1024 x 3 x 3) do not.
    let mut net = one(Node::new("wide", conv(1 << 57, 3, 1, 1), &[INPUT]));
    net.input.channels = 1024;
    assert_eq!(
        fails(&net).0,
        IrError::Overflow {
            node: "wide".into(),
            quantity: "weight count"
        }
    );

    let pool = Op::MaxPool2d {
        kernel: [3, 3],
        stride: [1, 1],
        padding: [usize::MAX / 2 + 1, 0],
    };
    assert_eq!(
        fails(&one(Node::new("pad", pool, &[INPUT]))).0,
        IrError::Overflow {
            node: "pad".into(),
            quantity: "padded input size"
        }
    );

    let mut net = one(Node::new("flat", Op::Flatten, &[INPUT]));
    net.input.channels = 1 << 40;
    let linear = Op::Linear {
        out_features: 1 << 20,
        bias: true,
    };
    net.nodes.push(Node::new("lin", linear, &["flat"]));
    net.output = "lin".into();
    assert_eq!(
        fails(&net).0,
        IrError::Overflow {
            node: "lin".into(),
            quantity: "weight count"
        }
    );
}
