//! MobileNetV1 as an architecture plugin: the CIFAR variant of the widely
//! used pytorch-cifar code (kuangliu/pytorch-cifar, `models/mobilenet.py`).
//!
//! Stem: conv3x3 3->32, stride 1, no bias, + BN + ReLU. Then depthwise-
//! separable blocks (depthwise conv3x3, groups = input channels, + BN + ReLU,
//! pointwise conv1x1 + BN + ReLU; no biases), cfg
//! `[64, (128,2), 128, (256,2), 256, (512,2), 512 x5, (1024,2), 1024]`.
//! A stride-2 block starts a stage: S1 [64] at full resolution, S2 [128, 128],
//! S3 [256, 256], S4 [512 x6], S5 [1024, 1024]. Head: GlobalAvgPool (the
//! reference's `avg_pool2d(out, 2)` on the 2x2 map of a 32x32 input) +
//! Flatten + Linear(1024, classes).
//!
//! `width` is the stem's width (32); stage k's blocks have 2^k x width
//! channels, i.e. the cfg scaled by width / 32. Inputs too small for the four
//! down-samplings are refused: each stride-2 conv must see at least a 2x2
//! map, so height and width must be at least 9 (28x28 runs 28 -> 14 -> 7 ->
//! 4 -> 2).

use deepreduce_plugin_api::builder::{GraphBuilder, arch_meta};
use deepreduce_plugin_api::{
    ArchParams, ArchitectureInfo, Descriptor, Network, Op, Plugin, PluginKind, STEM, VariantInfo,
    analyze,
};

const VARIANT: &str = "mobilenet_v1";
/// Depthwise-separable blocks per stage S1..S5.
const DEFAULT_BLOCKS: [usize; 5] = [1, 2, 2, 6, 2];
/// The stem's channels.
const DEFAULT_WIDTH: usize = 32;

#[derive(Default)]
pub struct MobileNet;

impl Plugin for MobileNet {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.mobilenet",
            "MobileNet",
            PluginKind::Architecture,
            "MobileNetV1, CIFAR variant (conv3x3 stem, depthwise-separable blocks, global \
             average pool, one linear layer); a stride-2 block starts each of S2..S5",
        )
    }

    fn describe_architecture(&self) -> Result<ArchitectureInfo, String> {
        Ok(ArchitectureInfo {
            variants: vec![VariantInfo {
                name: VARIANT.into(),
                description: "MobileNetV1: conv3x3 stem of `width` channels, then \
                              depthwise-separable blocks of 2x..32x width"
                    .into(),
                blocks: DEFAULT_BLOCKS.to_vec(),
                width: DEFAULT_WIDTH,
            }],
        })
    }

    fn build(&self, params: &ArchParams) -> Result<Network, String> {
        if !params.variant.eq_ignore_ascii_case(VARIANT) {
            return Err(format!(
                "unknown MobileNet variant '{}' (known: {VARIANT})",
                params.variant
            ));
        }
        if params.classes == 0 {
            return Err("classes must be at least 1".into());
        }
        let stages = DEFAULT_BLOCKS.len();
        let blocks = params.stage_blocks(VARIANT, &DEFAULT_BLOCKS, "blocks")?;
        let width = params.width_or(DEFAULT_WIDTH)?;
        let input = params.checked_input()?;
        // S2..S5 each halve the map (ceil); the last of these stride-2 convs
        // sees ceil(size / 8) and needs at least 2.
        let min = (1 << (stages - 2)) + 1;
        if input.height < min || input.width < min {
            return Err(format!(
                "input {}x{} is too small for {VARIANT}: its {} stride-2 convolutions each need \
                 at least a 2x2 map, so height and width must be at least {min}",
                input.height,
                input.width,
                stages - 1
            ));
        }

        let mut net = GraphBuilder::new();
        net.conv_bn_relu("stem", conv(width, 3, 1, 1), STEM, None);
        let mut channels = width;
        for (s, &count) in blocks.iter().enumerate() {
            let stage = format!("S{}", s + 1);
            let out = width << (s + 1);
            for b in 0..count {
                let block = format!("{stage}.B{b}");
                let prefix = format!("s{}.b{b}", s + 1);
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                // Depthwise: one group per input channel.
                let dw = conv(channels, 3, stride, channels);
                net.conv_bn_relu(&format!("{prefix}.dw"), dw, &stage, Some(&block));
                let pw = conv(out, 1, 1, 1);
                net.conv_bn_relu(&format!("{prefix}.pw"), pw, &stage, Some(&block));
                channels = out;
            }
        }
        net.classifier(["head.gap", "head.flatten", "head.fc"], params.classes);
        let meta = arch_meta("mobilenet", VARIANT, &blocks, width);
        let network = net.finish(VARIANT, input, meta);
        analyze(&network).map_err(|e| format!("internal error: {VARIANT} is invalid: {e}"))?;
        Ok(network)
    }
}

/// A bias-free conv whose padding keeps the map size at stride 1.
fn conv(out_channels: usize, kernel: usize, stride: usize, groups: usize) -> Op {
    Op::Conv2d {
        out_channels,
        kernel: [kernel; 2],
        stride: [stride; 2],
        padding: [kernel / 2; 2],
        groups,
        bias: false,
    }
}

#[cfg(test)]
mod tests;

deepreduce_plugin_api::export_plugin!(MobileNet);
