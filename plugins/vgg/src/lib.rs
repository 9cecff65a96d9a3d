//! VGG11/13/16/19 as an architecture plugin: the CIFAR variant of the widely
//! used pytorch-cifar code (kuangliu/pytorch-cifar, `models/vgg.py`).
//!
//! Each stage S1..S5 is a group of conv3x3 (padding 1, with bias) + BN + ReLU
//! blocks closed by a 2x2 stride-2 max-pool (the pool belongs to the stage and
//! to its last block). No stem. The head is GlobalAvgPool + Flatten +
//! Linear(8 x width, classes).
//!
//! Choices where the reference is silent:
//! - Head: always GlobalAvgPool. On a 32x32 input the map after five pools is
//!   1x1, where it is the identity (pytorch-cifar ends the features with an
//!   `AvgPool2d(1, 1)`, also the identity), so CIFAR networks are exactly the
//!   reference; larger inputs (64x64 TinyImageNet: a 2x2 map) average it.
//! - Odd map sizes: the max-pool pads that axis by 1 (-inf padding), i.e.
//!   PyTorch's `ceil_mode=True`, so 28x28 (Fashion-MNIST) runs
//!   28 -> 14 -> 7 -> 4 -> 2 -> 1 instead of reaching 0. Even sizes are
//!   unpadded, as in the reference.
//! - Inputs too small for five down-samplings are refused: every max-pool
//!   must see at least a 2x2 map, so height and width must be at least 17.

use deepreduce_plugin_api::builder::{GraphBuilder, arch_meta};
use deepreduce_plugin_api::{
    ArchParams, ArchitectureInfo, Descriptor, Network, Op, Plugin, PluginKind, VariantInfo, analyze,
};

/// Stages S1..S5, each closed by a max-pool.
const STAGES: usize = 5;
/// Width of S1; each later stage doubles it, capped at 8x.
const DEFAULT_WIDTH: usize = 64;
/// The variants and their convolutions per stage.
const VARIANTS: [(&str, [usize; STAGES]); 4] = [
    ("vgg11", [1, 1, 2, 2, 2]),
    ("vgg13", [2, 2, 2, 2, 2]),
    ("vgg16", [2, 2, 3, 3, 3]),
    ("vgg19", [2, 2, 4, 4, 4]),
];

#[derive(Default)]
pub struct Vgg;

impl Plugin for Vgg {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.vgg",
            "VGG",
            PluginKind::Architecture,
            "VGG11/13/16/19, CIFAR variant (conv3x3-BN-ReLU groups between 2x2 max-pools, \
             global average pool, one linear layer); stages S1..S5 are the groups",
        )
    }

    fn describe_architecture(&self) -> Result<ArchitectureInfo, String> {
        let variants = VARIANTS
            .iter()
            .map(|(name, blocks)| VariantInfo {
                name: name.to_string(),
                description: format!(
                    "{} conv3x3-BN-ReLU layers ({blocks:?} per stage), then one linear layer",
                    blocks.iter().sum::<usize>()
                ),
                blocks: blocks.to_vec(),
                width: DEFAULT_WIDTH,
            })
            .collect();
        Ok(ArchitectureInfo { variants })
    }

    fn build(&self, params: &ArchParams) -> Result<Network, String> {
        let (name, default_blocks) = VARIANTS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&params.variant))
            .ok_or_else(|| {
                let known: Vec<&str> = VARIANTS.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown VGG variant '{}' (known: {})",
                    params.variant,
                    known.join(", ")
                )
            })?;
        if params.classes == 0 {
            return Err("classes must be at least 1".into());
        }
        let blocks = params.stage_blocks(name, default_blocks, "convolutions")?;
        let width = params.width_or(DEFAULT_WIDTH)?;
        let input = params.checked_input()?;
        // Each max-pool needs a map of at least 2x2; the n-th one sees
        // ceil(size / 2^(n-1)), so the fifth needs size > 2^4.
        let min = (1 << (STAGES - 1)) + 1;
        if input.height < min || input.width < min {
            return Err(format!(
                "input {}x{} is too small for {name}: its {STAGES} max-pools each need at least \
                 a 2x2 map, so height and width must be at least {min}",
                input.height, input.width
            ));
        }

        let mut net = GraphBuilder::new();
        let mut map = [input.height, input.width];
        for (s, &convs) in blocks.iter().enumerate() {
            let stage = format!("S{}", s + 1);
            let channels = (width << s).min(8 * width);
            for b in 0..convs {
                let block = format!("{stage}.B{b}");
                let prefix = format!("s{}.b{b}", s + 1);
                let conv = Op::Conv2d {
                    out_channels: channels,
                    kernel: [3, 3],
                    stride: [1, 1],
                    padding: [1, 1],
                    groups: 1,
                    bias: true,
                };
                net.conv_bn_relu(&prefix, conv, &stage, Some(&block));
            }
            // Pad odd axes by one: ceil-mode pooling.
            let pool = Op::MaxPool2d {
                kernel: [2, 2],
                stride: [2, 2],
                padding: map.map(|n| n % 2),
            };
            map = map.map(|n| n.div_ceil(2));
            let last_block = format!("{stage}.B{}", convs - 1);
            net.then(format!("s{}.pool", s + 1), pool, &stage, Some(&last_block));
        }
        net.classifier(["head.gap", "head.flatten", "head.fc"], params.classes);
        let network = net.finish(*name, input, arch_meta("vgg", name, &blocks, width));
        analyze(&network).map_err(|e| format!("internal error: {name} is invalid: {e}"))?;
        Ok(network)
    }
}

#[cfg(test)]
mod tests;

deepreduce_plugin_api::export_plugin!(Vgg);
