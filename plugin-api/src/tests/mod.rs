//! Unit tests of the plugin API: shape inference and accounting, IR errors,
//! the JSON form of the IR, descriptions, transforms and the C entry point.

mod analysis;
mod describe;
mod errors;
mod export;
mod serde_ir;
mod transform;

use crate::ir::{HEAD, INPUT, InputSpec, Network, Node, Op, STEM};

/// A square convolution without bias or groups.
pub(crate) fn conv(out_channels: usize, kernel: usize, stride: usize, padding: usize) -> Op {
    Op::Conv2d {
        out_channels,
        kernel: [kernel, kernel],
        stride: [stride, stride],
        padding: [padding, padding],
        groups: 1,
        bias: false,
    }
}

pub(crate) fn network(
    name: &str,
    [channels, height, width]: [usize; 3],
    nodes: Vec<Node>,
    output: &str,
) -> Network {
    Network {
        name: name.into(),
        input: InputSpec {
            channels,
            height,
            width,
        },
        nodes,
        output: output.into(),
        meta: Default::default(),
    }
}

/// The brief's tiny network on a 3x8x8 input:
/// stem: conv 3->8 k3 s1 p1 (no bias), BN, ReLU;
/// S1 (one block): conv 8->16 k3 s2 p1, BN, plus a 1x1 stride-2 projection
/// of the stem's output, Add, ReLU;
/// head: global average pool, flatten, linear 16 -> 10 (with bias).
pub(crate) fn tiny() -> Network {
    let s1 = |node: Node| node.in_stage("S1").in_block("S1.B1");
    network(
        "tiny",
        [3, 8, 8],
        vec![
            Node::new("conv1", conv(8, 3, 1, 1), &[INPUT]).in_stage(STEM),
            Node::new("bn1", Op::BatchNorm2d, &["conv1"]).in_stage(STEM),
            Node::new("relu1", Op::Relu, &["bn1"]).in_stage(STEM),
            s1(Node::new("conv2", conv(16, 3, 2, 1), &["relu1"])),
            s1(Node::new("bn2", Op::BatchNorm2d, &["conv2"])),
            s1(Node::new("proj", conv(16, 1, 2, 0), &["relu1"])),
            s1(Node::new("add", Op::Add, &["bn2", "proj"])),
            s1(Node::new("relu2", Op::Relu, &["add"])),
            Node::new("gap", Op::GlobalAvgPool, &["relu2"]).in_stage(HEAD),
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
        ],
        "fc",
    )
}
