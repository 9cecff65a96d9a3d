use crate::analysis::{Shape, Totals, analyze};
use crate::ir::{INPUT, Node, Op};
use crate::testing::{network, tiny};

fn map(c: usize, h: usize, w: usize) -> Shape {
    Shape::Map([c, h, w])
}

#[test]
fn tiny_network_every_node_by_hand() {
    let a = analyze(&tiny()).unwrap();
    // (name, op, input, output, relus, macs, params)
    let expected: Vec<(&str, &str, Shape, Shape, u64, u64, u64)> = vec![
        // 3x3 conv, pad 1, stride 1 keeps 8x8. weights 8*3*3*3 = 216,
        // MACs = 216 per output position * 64 positions = 13,824.
        (
            "conv1",
            "Conv2d",
            map(3, 8, 8),
            map(8, 8, 8),
            0,
            13_824,
            216,
        ),
        // BN: gamma and beta per channel = 2*8.
        ("bn1", "BatchNorm2d", map(8, 8, 8), map(8, 8, 8), 0, 0, 16),
        // 8*8*8 = 512 ReLUs.
        ("relu1", "Relu", map(8, 8, 8), map(8, 8, 8), 512, 0, 0),
        // (8 + 2 - 3) / 2 + 1 = 4. weights 16*8*9 = 1,152, MACs 1,152*16 = 18,432.
        (
            "conv2",
            "Conv2d",
            map(8, 8, 8),
            map(16, 4, 4),
            0,
            18_432,
            1_152,
        ),
        ("bn2", "BatchNorm2d", map(16, 4, 4), map(16, 4, 4), 0, 0, 32),
        // 1x1 stride 2: (8 - 1) / 2 + 1 = 4. weights 16*8 = 128, MACs 128*16 = 2,048.
        ("proj", "Conv2d", map(8, 8, 8), map(16, 4, 4), 0, 2_048, 128),
        ("add", "Add", map(16, 4, 4), map(16, 4, 4), 0, 0, 0),
        // 16*4*4 = 256 ReLUs.
        ("relu2", "Relu", map(16, 4, 4), map(16, 4, 4), 256, 0, 0),
        (
            "gap",
            "GlobalAvgPool",
            map(16, 4, 4),
            map(16, 1, 1),
            0,
            0,
            0,
        ),
        ("flat", "Flatten", map(16, 1, 1), Shape::Vector(16), 0, 0, 0),
        // 16*10 = 160 MACs, 160 weights + 10 biases.
        (
            "fc",
            "Linear",
            Shape::Vector(16),
            Shape::Vector(10),
            0,
            160,
            170,
        ),
    ];
    let got: Vec<_> = a
        .nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.op,
                n.input,
                n.output,
                n.relus,
                n.macs,
                n.params,
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(a.output, Shape::Vector(10));
    assert_eq!(a.nodes[3].stage.as_deref(), Some("S1"));
    assert_eq!(a.nodes[3].block.as_deref(), Some("S1.B1"));
    assert_eq!(a.nodes[0].block, None);
}

#[test]
fn tiny_network_totals_per_stage_and_overall() {
    let a = analyze(&tiny()).unwrap();
    let stem = Totals {
        relus: 512,
        polys: 0,
        comparisons: 0,
        macs: 13_824,
        params: 216 + 16,
    };
    let s1 = Totals {
        relus: 256,
        polys: 0,
        comparisons: 0,
        macs: 18_432 + 2_048,
        params: 1_152 + 32 + 128,
    };
    let head = Totals {
        relus: 0,
        polys: 0,
        comparisons: 0,
        macs: 160,
        params: 170,
    };
    assert_eq!(
        a.stages,
        vec![
            ("stem".to_string(), stem.clone()),
            ("S1".to_string(), s1.clone()),
            ("head".to_string(), head)
        ]
    );
    assert_eq!(a.stage("S1"), Some(&s1));
    assert_eq!(a.stage("S2"), None);
    assert_eq!(
        a.total,
        Totals {
            relus: 768,
            polys: 0,
            comparisons: 0,
            macs: 34_464,
            params: 1_714,
        }
    );
}

#[test]
fn a_dropped_relu_counts_nothing_but_keeps_its_shape() {
    let mut net = tiny();
    net.nodes[7].op = Op::Identity; // relu2
    let a = analyze(&net).unwrap();
    assert_eq!(a.nodes[7].op, "Identity");
    assert_eq!(a.nodes[7].output, map(16, 4, 4));
    assert_eq!(a.nodes[7].relus, 0);
    assert_eq!(a.stage("S1").unwrap().relus, 0);
    assert_eq!(a.total.relus, 512);
    assert_eq!(a.total.macs, 34_464);
}

#[test]
fn nodes_without_a_stage_count_in_the_total_only() {
    let mut net = tiny();
    for node in &mut net.nodes {
        if node.stage.as_deref() == Some("S1") {
            node.stage = None;
        }
    }
    let a = analyze(&net).unwrap();
    let names: Vec<&str> = a.stages.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["stem", "head"]);
    assert_eq!(a.total.relus, 768);
    assert_eq!(a.total.params, 1_714);
}

#[test]
fn grouped_and_depthwise_convolutions() {
    let grouped = Op::Conv2d {
        out_channels: 16,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        groups: 4,
        bias: true,
    };
    let depthwise = Op::Conv2d {
        out_channels: 8,
        kernel: [3, 3],
        stride: [2, 2],
        padding: [1, 1],
        groups: 8,
        bias: false,
    };
    let net = network(
        "groups",
        [8, 8, 8],
        vec![
            Node::new("grouped", grouped, &[INPUT]),
            Node::new("depthwise", depthwise, &[INPUT]),
            // Non-square kernel and padding: 1x3, pad (0, 1) keeps 8x8.
            Node::new(
                "wide",
                Op::Conv2d {
                    out_channels: 2,
                    kernel: [1, 3],
                    stride: [1, 1],
                    padding: [0, 1],
                    groups: 1,
                    bias: false,
                },
                &[INPUT],
            ),
        ],
        "grouped",
    );
    let a = analyze(&net).unwrap();
    // 4 groups of 2 input channels: weights 16 * (8/4) * 9 = 288, + 16 biases;
    // MACs 288 * 64 = 18,432.
    let g = &a.nodes[0];
    assert_eq!((g.output, g.macs, g.params), (map(16, 8, 8), 18_432, 304));
    // Depthwise: one input channel per filter: weights 8 * 1 * 9 = 72;
    // (8 + 2 - 3) / 2 + 1 = 4, MACs 72 * 16 = 1,152.
    let d = &a.nodes[1];
    assert_eq!((d.output, d.macs, d.params), (map(8, 4, 4), 1_152, 72));
    // weights 2 * 8 * 1 * 3 = 48, MACs 48 * 64 = 3,072.
    let w = &a.nodes[2];
    assert_eq!((w.output, w.macs, w.params), (map(2, 8, 8), 3_072, 48));
}

#[test]
fn pooling_shapes_with_and_without_padding() {
    let pool = |max: bool, k: [usize; 2], s: [usize; 2], p: [usize; 2]| {
        if max {
            Op::MaxPool2d {
                kernel: k,
                stride: s,
                padding: p,
            }
        } else {
            Op::AvgPool2d {
                kernel: k,
                stride: s,
                padding: p,
            }
        }
    };
    let net = network(
        "pools",
        [8, 7, 7],
        vec![
            // (7 + 2 - 3) / 2 + 1 = 4
            Node::new("max_pad", pool(true, [3, 3], [2, 2], [1, 1]), &[INPUT]),
            // (7 - 2) / 2 + 1 = 3 (floor)
            Node::new("avg_nopad", pool(false, [2, 2], [2, 2], [0, 0]), &[INPUT]),
            // (7 + 2 - 3) / 1 + 1 = 7: "same"
            Node::new("avg_same", pool(false, [3, 3], [1, 1], [1, 1]), &[INPUT]),
            // rows (7 - 2) / 2 + 1 = 3, columns (7 - 1) / 1 + 1 = 7
            Node::new("max_rect", pool(true, [2, 1], [2, 1], [0, 0]), &[INPUT]),
        ],
        "max_pad",
    );
    let a = analyze(&net).unwrap();
    let shapes: Vec<Shape> = a.nodes.iter().map(|n| n.output).collect();
    assert_eq!(
        shapes,
        [map(8, 4, 4), map(8, 3, 3), map(8, 7, 7), map(8, 3, 7)]
    );
    assert!(a.nodes.iter().all(|n| n.macs == 0 && n.params == 0));
    // Max-pools compare k_h*k_w - 1 times per output: 8*4*4 * 8 = 1,024 and
    // 8*3*7 * 1 = 168; average pools compare nothing.
    let comparisons: Vec<u64> = a.nodes.iter().map(|n| n.comparisons).collect();
    assert_eq!(comparisons, [1_024, 0, 0, 168]);
    assert_eq!(
        a.total,
        Totals {
            comparisons: 1_192,
            ..Totals::default()
        }
    );
}

#[test]
fn linear_without_bias_and_relu_on_a_vector() {
    let net = network(
        "mlp",
        [1, 4, 4],
        vec![
            Node::new("flat", Op::Flatten, &[INPUT]),
            Node::new(
                "fc1",
                Op::Linear {
                    out_features: 5,
                    bias: false,
                },
                &["flat"],
            ),
            Node::new("relu", Op::Relu, &["fc1"]),
        ],
        "relu",
    );
    let a = analyze(&net).unwrap();
    assert_eq!(a.nodes[0].output, Shape::Vector(16));
    assert_eq!((a.nodes[1].macs, a.nodes[1].params), (80, 80));
    assert_eq!(a.nodes[2].relus, 5);
    assert_eq!(a.output, Shape::Vector(5));
}

#[test]
fn shapes_display_and_serialise() {
    assert_eq!(map(8, 4, 2).to_string(), "8x4x2");
    assert_eq!(Shape::Vector(10).to_string(), "10");
    assert_eq!(map(8, 4, 2).elements(), 64);
    assert_eq!(Shape::Vector(10).elements(), 10);
    assert_eq!(serde_json::to_string(&map(8, 4, 2)).unwrap(), "[8,4,2]");
    assert_eq!(serde_json::to_string(&Shape::Vector(10)).unwrap(), "10");
}

#[test]
fn conv_with_bias_counts_one_parameter_per_output_channel() {
    let net = network(
        "bias",
        [3, 4, 4],
        vec![Node::new(
            "c",
            Op::Conv2d {
                out_channels: 5,
                kernel: [3, 3],
                stride: [1, 1],
                padding: [0, 0],
                groups: 1,
                bias: true,
            },
            &[INPUT],
        )],
        "c",
    );
    let a = analyze(&net).unwrap();
    // (4 - 3) / 1 + 1 = 2; weights 5*3*9 = 135, MACs 135 * 4 = 540.
    assert_eq!(a.nodes[0].output, map(5, 2, 2));
    assert_eq!((a.nodes[0].macs, a.nodes[0].params), (540, 140));
}

#[test]
fn channels_and_plane_of_a_map_and_a_vector() {
    assert_eq!(map(8, 4, 2).channels_and_plane(), (8, 8));
    assert_eq!(Shape::Vector(10).channels_and_plane(), (10, 1));
}
