use super::*;
use deepreduce_plugin_api::testing::{arch_params, build_analyzed};
use deepreduce_plugin_api::{Analysis, HEAD, Node, Shape, describe};

fn build(p: &ArchParams) -> (Network, Analysis) {
    build_analyzed(&Vgg, p)
}

fn error(p: &ArchParams) -> String {
    Vgg.build(p).expect_err("must be refused")
}

const CIFAR: [usize; 3] = [3, 32, 32];

#[test]
fn descriptor_and_variants() {
    let d = Vgg.descriptor();
    assert_eq!(
        (d.id.as_str(), d.kind),
        ("org.deepreduce.vgg", PluginKind::Architecture)
    );
    let info = Vgg.describe_architecture().unwrap();
    let names: Vec<&str> = info.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["vgg11", "vgg13", "vgg16", "vgg19"]);
    let vgg16 = &info.variants[2];
    assert_eq!(
        (vgg16.blocks.as_slice(), vgg16.width),
        ([2, 2, 3, 3, 3].as_slice(), 64)
    );
}

#[test]
fn every_variant_builds_for_every_dataset() {
    let datasets = [
        ("CIFAR-10", CIFAR, 10, [1, 1]),
        ("CIFAR-100", CIFAR, 100, [1, 1]),
        ("TinyImageNet", [3, 64, 64], 200, [2, 2]),
        ("Fashion-MNIST", [1, 28, 28], 10, [1, 1]),
    ];
    for variant in Vgg.describe_architecture().unwrap().variants {
        for (dataset, input, classes, last_map) in datasets {
            let (net, a) = build(&arch_params(&variant.name, input, classes));
            assert_eq!(
                a.output,
                Shape::Vector(classes),
                "{} on {dataset}",
                variant.name
            );
            assert_eq!(net.name, variant.name);
            assert_eq!(net.output, "head.fc");
            let pooled = a.nodes.iter().find(|n| n.name == "s5.pool").unwrap();
            assert_eq!(
                pooled.output,
                Shape::Map([512, last_map[0], last_map[1]]),
                "{dataset}"
            );
            assert_eq!(net.meta_str("family"), Some("vgg"));
            assert_eq!(net.meta_str("arch"), Some(variant.name.as_str()));
            assert_eq!(
                (net.meta_f64("alpha"), net.meta_f64("rho")),
                (Some(1.0), Some(1.0))
            );
            assert_eq!(describe(&net), "all ReLUs");
        }
    }
}

#[test]
fn vgg16_parameter_counts_match_pytorch() {
    // conv3x3 with bias: (9 cin + 1) cout; BN: 2 cout (running stats are buffers).
    //   S1: 3->64   1,792 + 64->64 36,928                          =    38,720
    //   S2: 64->128 73,856 + 128->128 147,584                      =   221,440
    //   S3: 128->256 295,168 + 2 x 256->256 590,080                = 1,475,328
    //   S4: 256->512 1,180,160 + 2 x 512->512 2,359,808            = 5,899,776
    //   S5: 3 x 2,359,808                                          = 7,079,424
    //   convs 14,714,688; BN 2 x (2x64 + 2x128 + 3x256 + 6x512) =     8,448
    //   Linear 512 x 10 + 10 = 5,130 -> 14,728,266
    //   Linear 512 x 100 + 100 = 51,300 -> 14,774,436
    assert_eq!(
        build(&arch_params("vgg16", CIFAR, 10)).1.total.params,
        14_728_266
    );
    assert_eq!(
        build(&arch_params("vgg16", CIFAR, 100)).1.total.params,
        14_774_436
    );
    // The global average pool adds nothing: a 64x64 input only changes the head.
    let tiny = build(&arch_params("vgg16", [3, 64, 64], 200))
        .1
        .total
        .params;
    assert_eq!(tiny, 14_728_266 - 5_130 + 512 * 200 + 200);
}

#[test]
fn other_variants_parameter_counts_match_pytorch() {
    // VGG11: convs 1,792 + 73,856 + 295,168 + 590,080 + 1,180,160 + 3 x 2,359,808
    // = 9,220,480; BN 2 x (64 + 128 + 2x256 + 4x512) = 5,504; Linear 5,130.
    // VGG13 = VGG11 + 64->64 (36,928 + 128) + 128->128 (147,584 + 256).
    // VGG19 = VGG16 + 256->256 (590,080 + 512) + 2 x 512->512 (2,359,808 + 1,024).
    for (variant, expected) in [
        ("vgg11", 9_231_114),
        ("vgg13", 9_416_010),
        ("vgg19", 20_040_522),
    ] {
        assert_eq!(
            build(&arch_params(variant, CIFAR, 10)).1.total.params,
            expected,
            "{variant}"
        );
    }
}

#[test]
fn vgg16_relu_counts() {
    // One ReLU per conv, on its full-resolution output (the pool follows it):
    // S1 2x64x32x32 = 131,072   S2 2x128x16x16 = 65,536   S3 3x256x8x8 = 49,152
    // S4 3x512x4x4 = 24,576     S5 3x512x2x2 = 6,144      total 276,480
    let (_, a) = build(&arch_params("vgg16", CIFAR, 100));
    let per_stage = [131_072, 65_536, 49_152, 24_576, 6_144];
    for (s, relus) in per_stage.into_iter().enumerate() {
        assert_eq!(
            a.stage(&format!("S{}", s + 1)).unwrap().relus,
            relus,
            "S{}",
            s + 1
        );
    }
    assert_eq!(a.stage(HEAD).unwrap().relus, 0);
    assert_eq!(a.total.relus, 276_480);
}

#[test]
fn stage_and_block_annotations() {
    let (net, _) = build(&arch_params("vgg16", CIFAR, 10));
    assert_eq!(net.stages(), ["S1", "S2", "S3", "S4", "S5", HEAD]);
    for node in &net.nodes {
        let stage = node
            .stage
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no stage", node.name));
        if stage == HEAD {
            assert!(node.name.starts_with("head."), "{}", node.name);
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
        assert!(
            node.name.starts_with(&stage.to_lowercase()),
            "{}",
            node.name
        );
    }
    // Each stage starts with a conv and ends with the max-pool down-sampling it.
    for (s, convs) in [2, 2, 3, 3, 3].into_iter().enumerate() {
        let stage = format!("S{}", s + 1);
        let nodes: Vec<&Node> = net.nodes.iter().filter(|n| n.stage_is(&stage)).collect();
        assert_eq!(nodes.len(), 3 * convs + 1, "{stage}");
        assert!(matches!(nodes[0].op, Op::Conv2d { .. }), "{stage}");
        assert!(
            matches!(nodes.last().unwrap().op, Op::MaxPool2d { .. }),
            "{stage}"
        );
        let mut blocks: Vec<&str> = nodes.iter().filter_map(|n| n.block.as_deref()).collect();
        blocks.dedup();
        assert_eq!(blocks.len(), convs, "{stage}");
    }
    let kinds: Vec<&str> = net.nodes[..4].iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["Conv2d", "BatchNorm2d", "Relu", "Conv2d"]);
    assert_eq!(net.nodes[0].name, "s1.b0.conv");
}

#[test]
fn odd_maps_pool_in_ceil_mode() {
    let (net, a) = build(&arch_params("vgg16", [1, 28, 28], 10));
    let pools: Vec<_> = a.nodes.iter().filter(|n| n.op == "MaxPool2d").collect();
    let sizes: Vec<Shape> = pools.iter().map(|n| n.output).collect();
    assert_eq!(
        sizes,
        [
            [64, 14, 14],
            [128, 7, 7],
            [256, 4, 4],
            [512, 2, 2],
            [512, 1, 1]
        ]
        .map(Shape::Map)
    );
    let padding = |name: &str| match net.node(name).unwrap().op {
        Op::MaxPool2d { padding, .. } => padding,
        _ => unreachable!(),
    };
    assert_eq!((padding("s2.pool"), padding("s3.pool")), ([0, 0], [1, 1]));
}

#[test]
fn custom_blocks_and_width() {
    let mut p = arch_params("vgg11", [3, 40, 17], 10);
    p.blocks = Some(vec![1, 1, 1, 1, 1]);
    p.width = Some(8);
    let (net, a) = build(&p);
    let widths: Vec<usize> = net
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::Conv2d { out_channels, .. } => Some(out_channels),
            _ => None,
        })
        .collect();
    assert_eq!(widths, [8, 16, 32, 64, 64]);
    assert_eq!(a.output, Shape::Vector(10));
    assert_eq!(net.meta["width"].as_u64(), Some(8));
    assert_eq!(net.meta["blocks"].as_array().map(Vec::len), Some(5));
}

#[test]
fn bad_parameters_are_refused_with_clear_errors() {
    let mut p = arch_params("vgg15", CIFAR, 10);
    assert_eq!(
        error(&p),
        "unknown VGG variant 'vgg15' (known: vgg11, vgg13, vgg16, vgg19)"
    );
    p.variant = "VGG16".into();
    assert_eq!(Vgg.build(&p).unwrap().name, "vgg16");

    assert_eq!(
        error(&arch_params("vgg16", CIFAR, 0)),
        "classes must be at least 1"
    );

    p.blocks = Some(vec![2, 2, 3]);
    assert_eq!(
        error(&p),
        "vgg16 has 5 stages (S1..S5), but blocks lists 3: [2, 2, 3]"
    );
    p.blocks = Some(vec![2, 2, 0, 3, 3]);
    assert_eq!(
        error(&p),
        "blocks: stage S3 has 0 convolutions; every stage needs at least 1"
    );
    p.blocks = None;

    p.width = Some(0);
    assert_eq!(error(&p), "width must be at least 1");

    assert_eq!(
        error(&arch_params("vgg16", [3, 32, 16], 10)),
        "input 32x16 is too small for vgg16: its 5 max-pools each need at least a 2x2 map, \
         so height and width must be at least 17"
    );
    assert!(Vgg.build(&arch_params("vgg16", [3, 17, 17], 10)).is_ok());
    assert_eq!(
        error(&arch_params("vgg16", [0, 32, 32], 10)),
        "input 0x32x32 has a zero dimension"
    );
}
