//! ResNet architectures with CIFAR-style stems (3x3 conv, stride 1, no
//! max-pool): resnet18, resnet34, resnet10, resnet9 (He et al. BasicBlocks,
//! widths w, 2w, 4w, 8w) and the CIFAR resnet56 (three stages of nine
//! blocks, widths 16/32/64). Shortcuts that change shape are 1x1 conv + BN
//! projections (He et al.'s option B) for every variant.

use deepreduce_plugin_api::builder::{GraphBuilder, arch_meta, conv};
use deepreduce_plugin_api::{
    ArchParams, ArchitectureInfo, Descriptor, Network, Op, Plugin, PluginKind, STEM, VariantInfo,
    analyze, check_stage_blocks,
};

/// Stages a ResNet may have (the variants have 3 or 4).
const MAX_STAGES: usize = 8;

struct Variant {
    name: &'static str,
    description: &'static str,
    blocks: &'static [usize],
    width: usize,
    /// ResNet9: the first stage's block has a single 3x3 conv.
    single_conv_first_stage: bool,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "resnet18",
        description: "ResNet18, CIFAR stem, 4 stages of 2 BasicBlocks",
        blocks: &[2, 2, 2, 2],
        width: 64,
        single_conv_first_stage: false,
    },
    Variant {
        name: "resnet34",
        description: "ResNet34, CIFAR stem, stages of 3/4/6/3 BasicBlocks",
        blocks: &[3, 4, 6, 3],
        width: 64,
        single_conv_first_stage: false,
    },
    Variant {
        name: "resnet10",
        description: "ResNet18 with one BasicBlock per stage (the paper's S*)",
        blocks: &[1, 1, 1, 1],
        width: 64,
        single_conv_first_stage: false,
    },
    Variant {
        name: "resnet9",
        description: "ResNet10 whose first-stage block has a single 3x3 conv",
        blocks: &[1, 1, 1, 1],
        width: 64,
        single_conv_first_stage: true,
    },
    Variant {
        name: "resnet56",
        description: "CIFAR ResNet56: 3 stages of 9 BasicBlocks, widths 16/32/64",
        blocks: &[9, 9, 9],
        width: 16,
        single_conv_first_stage: false,
    },
];

#[derive(Default)]
pub struct ResNet;

impl Plugin for ResNet {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.resnet",
            "ResNet",
            PluginKind::Architecture,
            "ResNet18/34/10/9 and CIFAR ResNet56 with 3x3 stride-1 stems, for 32x32 and 64x64 inputs",
        )
    }

    fn describe_architecture(&self) -> Result<ArchitectureInfo, String> {
        Ok(ArchitectureInfo {
            variants: VARIANTS
                .iter()
                .map(|v| VariantInfo {
                    name: v.name.into(),
                    description: v.description.into(),
                    blocks: v.blocks.to_vec(),
                    width: v.width,
                })
                .collect(),
        })
    }

    fn build(&self, params: &ArchParams) -> Result<Network, String> {
        let variant = VARIANTS
            .iter()
            .find(|v| v.name == params.variant)
            .ok_or_else(|| {
                let names: Vec<_> = VARIANTS.iter().map(|v| v.name).collect();
                format!(
                    "unknown ResNet variant '{}'; known: {}",
                    params.variant,
                    names.join(", ")
                )
            })?;
        let blocks = params
            .blocks
            .clone()
            .unwrap_or_else(|| variant.blocks.to_vec());
        // Widths double per stage: more stages than this would be absurd
        // and overflow the width.
        if blocks.is_empty() || blocks.len() > MAX_STAGES {
            return Err(format!(
                "a ResNet has 1 to {MAX_STAGES} stages, got {}: {blocks:?}",
                blocks.len()
            ));
        }
        check_stage_blocks(&blocks, "blocks")?;
        let width = params.width_or(variant.width)?;
        if params.classes == 0 {
            return Err("classes must be at least 1".into());
        }
        let mut b = GraphBuilder::new();
        for (name, op) in [
            ("conv1", conv(width, 3, 1, 1)),
            ("bn1", Op::BatchNorm2d),
            ("relu", Op::Relu),
        ] {
            b.then(format!("stem.{name}"), op, STEM, None);
        }
        let mut channels = width;
        for (k, &count) in blocks.iter().enumerate() {
            let stage = format!("S{}", k + 1);
            let out = width << k;
            for i in 0..count {
                let stride = if k > 0 && i == 0 { 2 } else { 1 };
                let single = variant.single_conv_first_stage && k == 0;
                basic_block(&mut b, &stage, i, channels, out, stride, single);
                channels = out;
            }
        }
        b.classifier(["head.pool", "head.flatten", "head.fc"], params.classes);
        let meta = arch_meta("resnet", variant.name, &blocks, width);
        let net = b.finish(variant.name, params.input, meta);
        analyze(&net).map_err(|e| {
            format!(
                "{} does not fit a {}x{}x{} input: {e}",
                variant.name, params.input.channels, params.input.height, params.input.width
            )
        })?;
        Ok(net)
    }
}

/// conv-BN-ReLU-conv-BN (+ shortcut) -> Add -> ReLU, reading the last
/// output; with `single`, one conv-BN before the Add (ResNet9's first stage).
fn basic_block(
    b: &mut GraphBuilder,
    stage: &str,
    index: usize,
    cin: usize,
    cout: usize,
    stride: usize,
    single: bool,
) {
    let block = format!("{stage}.B{index}");
    let at = Some(block.as_str());
    let prefix = format!("{}.b{index}", stage.to_lowercase());
    let name = |n: &str| format!("{prefix}.{n}");
    let block_input = b.last().to_string();
    b.then(name("conv1"), conv(cout, 3, stride, 1), stage, at);
    let mut x = b.then(name("bn1"), Op::BatchNorm2d, stage, at);
    if !single {
        b.then(name("relu1"), Op::Relu, stage, at);
        b.then(name("conv2"), conv(cout, 3, 1, 1), stage, at);
        x = b.then(name("bn2"), Op::BatchNorm2d, stage, at);
    }
    let shortcut = if stride != 1 || cin != cout {
        let s = conv(cout, 1, stride, 0);
        b.push(name("shortcut.conv"), s, &[&block_input], stage, at);
        b.then(name("shortcut.bn"), Op::BatchNorm2d, stage, at)
    } else {
        block_input
    };
    b.push(name("add"), Op::Add, &[&x, &shortcut], stage, at);
    let relu = if single { "relu1" } else { "relu2" };
    b.then(name(relu), Op::Relu, stage, at);
}

deepreduce_plugin_api::export_plugin!(ResNet);

#[cfg(test)]
mod tests {
    use super::*;
    use deepreduce_plugin_api::testing::{arch_params, input_spec};

    fn build(variant: &str, size: usize, classes: usize) -> Network {
        ResNet
            .build(&arch_params(variant, [3, size, size], classes))
            .unwrap()
    }

    fn params(net: &Network) -> u64 {
        analyze(net).unwrap().total.params
    }

    #[test]
    fn resnet18_cifar100_relus_per_stage_match_the_paper() {
        let a = analyze(&build("resnet18", 32, 100)).unwrap();
        let per_stage: Vec<(&str, u64)> = a
            .stages
            .iter()
            .map(|(s, t)| (s.as_str(), t.relus))
            .collect();
        assert_eq!(
            per_stage,
            [
                ("stem", 65_536),
                ("S1", 262_144),
                ("S2", 131_072),
                ("S3", 65_536),
                ("S4", 32_768),
                ("head", 0)
            ]
        );
        assert_eq!(a.total.relus, 557_056);
    }

    /// PyTorch counts (weights + biases + BN affine) of the usual CIFAR
    /// ResNets: kuangliu/pytorch-cifar ResNet18/34; resnet56 is the
    /// option-A (parameter-free shortcut) 853,018 of akamaster's
    /// pytorch_resnet_cifar10 plus our two 1x1 conv + BN projections.
    #[test]
    fn parameter_counts_match_the_cifar_references() {
        assert_eq!(params(&build("resnet18", 32, 100)), 11_220_132);
        assert_eq!(params(&build("resnet18", 32, 10)), 11_173_962);
        assert_eq!(params(&build("resnet34", 32, 10)), 21_282_122);
        assert_eq!(
            params(&build("resnet56", 32, 10)),
            853_018 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
        );
    }

    #[test]
    fn resnet18_on_tinyimagenet_has_four_times_the_relus() {
        let a = analyze(&build("resnet18", 64, 200)).unwrap();
        assert_eq!(a.total.relus, 4 * 557_056);
        assert_eq!(a.output, deepreduce_plugin_api::Shape::Vector(200));
    }

    #[test]
    fn resnet9_first_stage_has_a_single_relu_layer() {
        let net = build("resnet9", 32, 10);
        let a = analyze(&net).unwrap();
        assert_eq!(a.stage("S1").unwrap().relus, 64 * 32 * 32);
        assert_eq!(a.stage("S2").unwrap().relus, 2 * 128 * 16 * 16);
    }

    #[test]
    fn bad_parameters_are_refused_with_a_reason() {
        let mut p = arch_params("resnet99", [3, 32, 32], 10);
        assert!(
            ResNet
                .build(&p)
                .unwrap_err()
                .contains("unknown ResNet variant 'resnet99'")
        );
        p.variant = "resnet18".into();
        p.blocks = Some(vec![2, 0]);
        assert!(ResNet.build(&p).unwrap_err().contains("at least 1"));
        // Absurd sizes are refused before any IR is built.
        p.blocks = Some(vec![1_000_000, 1, 1, 1]);
        assert_eq!(
            ResNet.build(&p).unwrap_err(),
            "blocks: stage S1 has 1000000 blocks; at most 1000 per stage"
        );
        p.blocks = Some(vec![1; 9]);
        assert!(ResNet.build(&p).unwrap_err().contains("1 to 8 stages"));
        p.blocks = None;
        p.width = Some(100_000);
        assert_eq!(
            ResNet.build(&p).unwrap_err(),
            "width 100000 is above the maximum 65536"
        );
        p.width = None;
        p.classes = 0;
        assert!(
            ResNet
                .build(&p)
                .unwrap_err()
                .contains("classes must be at least 1")
        );
        p.classes = 10;
        p.input = input_spec([0, 32, 32]);
        assert!(
            ResNet
                .build(&p)
                .unwrap_err()
                .contains("does not fit a 0x32x32 input")
        );
    }
}
