use super::*;
use deepreduce_plugin_api::testing::{arch_params, build_analyzed};
use deepreduce_plugin_api::{Analysis, HEAD, Shape, describe};

fn params(input: [usize; 3], classes: usize) -> ArchParams {
    arch_params(VARIANT, input, classes)
}

fn build(p: &ArchParams) -> (Network, Analysis) {
    build_analyzed(&MobileNet, p)
}

fn error(p: &ArchParams) -> String {
    MobileNet.build(p).expect_err("must be refused")
}

const CIFAR: [usize; 3] = [3, 32, 32];

#[test]
fn descriptor_and_variant() {
    let d = MobileNet.descriptor();
    assert_eq!(
        (d.id.as_str(), d.kind),
        ("org.deepreduce.mobilenet", PluginKind::Architecture)
    );
    let info = MobileNet.describe_architecture().unwrap();
    assert_eq!(info.variants.len(), 1);
    let v = &info.variants[0];
    assert_eq!(
        (v.name.as_str(), v.blocks.as_slice(), v.width),
        ("mobilenet_v1", [1, 2, 2, 6, 2].as_slice(), 32)
    );
}

#[test]
fn builds_for_every_dataset() {
    let datasets = [
        ("CIFAR-10", CIFAR, 10, [2, 2]),
        ("CIFAR-100", CIFAR, 100, [2, 2]),
        ("TinyImageNet", [3, 64, 64], 200, [4, 4]),
        ("Fashion-MNIST", [1, 28, 28], 10, [2, 2]),
    ];
    for (dataset, input, classes, last_map) in datasets {
        let (net, a) = build(&params(input, classes));
        assert_eq!(a.output, Shape::Vector(classes), "{dataset}");
        let features = a.nodes.iter().find(|n| n.name == "s5.b1.pw.relu").unwrap();
        assert_eq!(
            features.output,
            Shape::Map([1024, last_map[0], last_map[1]]),
            "{dataset}"
        );
        assert_eq!(
            (net.name.as_str(), net.output.as_str()),
            (VARIANT, "head.fc")
        );
        assert_eq!(net.meta_str("family"), Some("mobilenet"));
        assert_eq!(net.meta_str("arch"), Some(VARIANT));
        assert_eq!(
            (net.meta_f64("alpha"), net.meta_f64("rho")),
            (Some(1.0), Some(1.0))
        );
        assert_eq!(describe(&net), "all ReLUs");
    }
}

#[test]
fn parameter_count_matches_pytorch() {
    // No conv biases. A block in->out: depthwise 9 in + BN 2 in, pointwise
    // in x out + BN 2 out.
    //   stem 3x9x32 + 2x32                            =       928
    //   32->64   288 + 64 + 2,048 + 128               =     2,528
    //   64->128  576 + 128 + 8,192 + 256              =     9,152
    //   128->128 1,152 + 256 + 16,384 + 256           =    18,048
    //   128->256 1,152 + 256 + 32,768 + 512           =    34,688
    //   256->256 2,304 + 512 + 65,536 + 512           =    68,864
    //   256->512 2,304 + 512 + 131,072 + 1,024        =   134,912
    //   5 x 512->512 5 x (4,608 + 1,024 + 262,144 + 1,024) = 1,344,000
    //   512->1024 4,608 + 1,024 + 524,288 + 2,048     =   531,968
    //   1024->1024 9,216 + 2,048 + 1,048,576 + 2,048  = 1,061,888
    //   features 3,206,976; Linear 1024 x 10 + 10 = 10,250 -> 3,217,226
    assert_eq!(build(&params(CIFAR, 10)).1.total.params, 3_217_226);
    assert_eq!(
        build(&params(CIFAR, 100)).1.total.params,
        3_217_226 - 10_250 + 102_500
    );
    let tiny = build(&params([3, 64, 64], 200)).1.total.params;
    assert_eq!(tiny, 3_217_226 - 10_250 + 1024 * 200 + 200);
}

#[test]
fn relu_counts() {
    // stem 32x32x32 = 32,768
    // S1 (32x32): dw 32x1024 + pw 64x1024                  = 98,304
    // S2 (16x16): dw 64x256 + pw 128x256 + (128 + 128)x256 = 114,688
    // S3 (8x8):   dw 128x64 + pw 256x64 + (256 + 256)x64   = 57,344
    // S4 (4x4):   dw 256x16 + pw 512x16 + 5 x 1024x16      = 94,208
    // S5 (2x2):   dw 512x4 + pw 1024x4 + 2048x4            = 14,336
    // total 411,648
    let (_, a) = build(&params(CIFAR, 10));
    let expected = [
        (STEM, 32_768),
        ("S1", 98_304),
        ("S2", 114_688),
        ("S3", 57_344),
        ("S4", 94_208),
        ("S5", 14_336),
        (HEAD, 0),
    ];
    for (stage, relus) in expected {
        assert_eq!(a.stage(stage).unwrap().relus, relus, "{stage}");
    }
    assert_eq!(a.total.relus, 411_648);
}

#[test]
fn depthwise_convs_have_one_group_per_input_channel() {
    let (net, a) = build(&params(CIFAR, 10));
    let mut depthwise = 0;
    for (node, stats) in net.nodes.iter().zip(&a.nodes) {
        if let Op::Conv2d {
            groups,
            out_channels,
            ..
        } = node.op
        {
            let Shape::Map([cin, _, _]) = stats.input else {
                unreachable!()
            };
            if node.name.ends_with(".dw.conv") {
                assert_eq!((groups, out_channels), (cin, cin), "{}", node.name);
                depthwise += 1;
            } else {
                assert_eq!(groups, 1, "{}", node.name);
            }
        }
    }
    assert_eq!(depthwise, 13);
}

#[test]
fn stage_and_block_annotations() {
    let (net, a) = build(&params(CIFAR, 10));
    assert_eq!(net.stages(), [STEM, "S1", "S2", "S3", "S4", "S5", HEAD]);
    let stem: Vec<&str> = net
        .nodes
        .iter()
        .filter(|n| n.stage_is(STEM))
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(stem, ["stem.conv", "stem.bn", "stem.relu"]);
    for node in &net.nodes {
        let stage = node
            .stage
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no stage", node.name));
        if stage == STEM || stage == HEAD {
            assert!(node.name.starts_with(&format!("{stage}.")), "{}", node.name);
            continue;
        }
        let block = node
            .block
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no block", node.name));
        assert!(
            block.starts_with(&format!("{stage}.B")),
            "{}: {block}",
            node.name
        );
    }
    // Each stage has 6 nodes per block, at one resolution; S2..S5 start with
    // the stride-2 depthwise conv that halves the map.
    let mut size = 32;
    for (s, count) in DEFAULT_BLOCKS.into_iter().enumerate() {
        let stage = format!("S{}", s + 1);
        let nodes: Vec<_> = a
            .nodes
            .iter()
            .filter(|n| n.stage.as_deref() == Some(&stage))
            .collect();
        assert_eq!(nodes.len(), 6 * count, "{stage}");
        let first = net.node(&nodes[0].name).unwrap();
        let stride = if s == 0 { 1 } else { 2 };
        assert!(
            matches!(first.op, Op::Conv2d { stride: [t, _], .. } if t == stride),
            "{stage}"
        );
        size /= stride;
        assert!(
            nodes
                .iter()
                .all(|n| matches!(n.output, Shape::Map([_, h, w]) if h == size && w == size))
        );
        let mut blocks: Vec<&str> = nodes.iter().filter_map(|n| n.block.as_deref()).collect();
        blocks.dedup();
        assert_eq!(blocks.len(), count, "{stage}");
    }
}

#[test]
fn custom_blocks_and_width() {
    let mut p = params([3, 9, 20], 10);
    p.blocks = Some(vec![1, 1, 1, 1, 1]);
    p.width = Some(8);
    let (net, a) = build(&p);
    let pointwise: Vec<usize> = net
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::Conv2d {
                out_channels,
                kernel: [1, 1],
                ..
            } => Some(out_channels),
            _ => None,
        })
        .collect();
    assert_eq!(pointwise, [16, 32, 64, 128, 256]);
    let features = a.nodes.iter().find(|n| n.name == "s5.b0.pw.relu").unwrap();
    assert_eq!(features.output, Shape::Map([256, 1, 2]));
    assert_eq!(a.output, Shape::Vector(10));
    assert_eq!(net.meta["width"].as_u64(), Some(8));
    assert_eq!(net.meta["blocks"].as_array().map(Vec::len), Some(5));
}

#[test]
fn bad_parameters_are_refused_with_clear_errors() {
    let mut p = params(CIFAR, 10);
    p.variant = "mobilenet_v2".into();
    assert_eq!(
        error(&p),
        "unknown MobileNet variant 'mobilenet_v2' (known: mobilenet_v1)"
    );
    p.variant = "MobileNet_V1".into();
    assert_eq!(MobileNet.build(&p).unwrap().name, VARIANT);

    assert_eq!(error(&params(CIFAR, 0)), "classes must be at least 1");

    p.blocks = Some(vec![1, 2, 2, 6, 2, 1]);
    assert_eq!(
        error(&p),
        "mobilenet_v1 has 5 stages (S1..S5), but blocks lists 6: [1, 2, 2, 6, 2, 1]"
    );
    p.blocks = Some(vec![1, 0, 2, 6, 2]);
    assert_eq!(
        error(&p),
        "blocks: stage S2 has 0 blocks; every stage needs at least 1"
    );
    p.blocks = None;

    p.width = Some(0);
    assert_eq!(error(&p), "width must be at least 1");

    assert_eq!(
        error(&params([3, 8, 32], 10)),
        "input 8x32 is too small for mobilenet_v1: its 4 stride-2 convolutions each need at \
         least a 2x2 map, so height and width must be at least 9"
    );
    assert!(MobileNet.build(&params([3, 9, 9], 10)).is_ok());
    assert_eq!(
        error(&params([3, 0, 32], 10)),
        "input 3x0x32 has a zero dimension"
    );
}
