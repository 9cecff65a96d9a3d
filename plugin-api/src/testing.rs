//! Fixtures for tests of the plugin API and of plugins: small networks whose
//! ReLU, MAC and parameter counts are worked out by hand, and helpers to
//! count ReLUs and to make requests.
//!
//! Compiled in this crate's own tests and with the `testing` feature, which
//! plugins enable for their tests only:
//!
//! ```toml
//! [dev-dependencies]
//! deepreduce-plugin-api = { workspace = true, features = ["testing"] }
//! ```

use crate::analysis::{Analysis, analyze};
use crate::builder::{GraphBuilder, conv};
use crate::export::Plugin;
use crate::ir::{InputSpec, Network, Node, Op, STEM};
use crate::protocol::{ArchParams, OptimizationRequest};
use serde_json::{Value, json};

/// An input of `channels` x `height` x `width`.
pub fn input_spec([channels, height, width]: [usize; 3]) -> InputSpec {
    InputSpec {
        channels,
        height,
        width,
    }
}

/// A network of `nodes` on an input of `[channels, height, width]`, without
/// meta.
pub fn network(name: &str, input: [usize; 3], nodes: Vec<Node>, output: &str) -> Network {
    Network {
        name: name.into(),
        input: input_spec(input),
        nodes,
        output: output.into(),
        meta: Default::default(),
    }
}

/// "tiny", on a 3x8x8 input, without meta:
/// stem: conv 3->8 k3 s1 p1 (no bias), BN, ReLU;
/// S1 (one block, "S1.B1"): conv 8->16 k3 s2 p1, BN, plus a 1x1 stride-2
/// projection of the stem's output, Add, ReLU;
/// head: global average pool, flatten, linear 16 -> 10 (with bias).
///
/// Nodes: conv1, bn1, relu1, conv2, bn2, proj, add, relu2, gap, flat, fc.
/// ReLUs: 8*8*8 + 16*4*4 = 512 + 256 = 768.
/// MACs: 216*64 + 1,152*16 + 128*16 + 160 = 13,824 + 18,432 + 2,048 + 160 = 34,464.
/// Elements entering conv/linear layers: 3*8*8 + 8*8*8 + 8*8*8 + 16 = 1,232.
pub fn tiny() -> Network {
    let mut b = GraphBuilder::new();
    b.then("conv1", conv(8, 3, 1, 1), STEM, None);
    b.then("bn1", Op::BatchNorm2d, STEM, None);
    b.then("relu1", Op::Relu, STEM, None);
    let s1 = Some("S1.B1");
    b.then("conv2", conv(16, 3, 2, 1), "S1", s1);
    b.then("bn2", Op::BatchNorm2d, "S1", s1);
    b.push("proj", conv(16, 1, 2, 0), &["relu1"], "S1", s1);
    b.push("add", Op::Add, &["bn2", "proj"], "S1", s1);
    b.then("relu2", Op::Relu, "S1", s1);
    b.classifier(["gap", "flat", "fc"], 10);
    b.finish("tiny", input_spec([3, 8, 8]), [])
}

/// "resnet-like", a small CIFAR-style ResNet on 3x8x8 with meta family
/// "resnet" and dataset "cifar100":
/// stem conv 3->4 + BN + ReLU (4x8x8 = 256 ReLUs);
/// S1: two blocks of width 4 (4 ReLU layers of 4x8x8: 1,024);
/// S2: one block of width 8, stride 2 (2 layers of 8x4x4: 256);
/// S3: one block of width 16, stride 2 (2 layers of 16x2x2: 128);
/// head: global pool, flatten, linear 16 -> 10. Total 1,664 ReLUs.
///
/// Nodes: conv1, bn1, relu1; per block `{block}.conv1`, `.bn1`, `.relu1`,
/// `.conv2`, `.bn2`, (`.proj`, `.proj_bn` when it strides), `.add`,
/// `.relu2` for blocks S1.B1, S1.B2, S2.B1, S3.B1; gap, flat, fc.
pub fn resnet_like() -> Network {
    resnet("resnet-like", [3, 8, 8], 4, &[2, 1, 1], 10)
}

/// ResNet18 for CIFAR-100 (3x32x32, 100 classes), the paper's network:
/// 557,056 ReLUs (stem 65,536; S1 262,144; S2 131,072; S3 65,536; S4
/// 32,768), in 17 ReLU layers: the stem's and S1's of 64x32x32, S2's of
/// 128x16x16, S3's of 256x8x8, S4's of 512x4x4. Named as [`resnet_like`].
pub fn resnet18_cifar100() -> Network {
    resnet("resnet18", [3, 32, 32], 64, &[2, 2, 2, 2], 100)
}

/// A CIFAR-style ResNet with the resnet plugin's topology (meta family
/// "resnet", dataset "cifar100"): a 3x3 stride-1 stem of `width`, then
/// `blocks[k]` BasicBlocks of width `width << k` in stage S{k+1}, the first
/// of each stage after S1 with stride 2, and the usual classifier.
fn resnet(
    name: &str,
    input: [usize; 3],
    width: usize,
    blocks: &[usize],
    classes: usize,
) -> Network {
    let mut b = GraphBuilder::new();
    b.then("conv1", conv(width, 3, 1, 1), STEM, None);
    b.then("bn1", Op::BatchNorm2d, STEM, None);
    b.then("relu1", Op::Relu, STEM, None);
    for (k, &count) in blocks.iter().enumerate() {
        let stage = format!("S{}", k + 1);
        for i in 0..count {
            let block = format!("{stage}.B{}", i + 1);
            let stride = if k > 0 && i == 0 { 2 } else { 1 };
            basic_block(&mut b, &stage, &block, width << k, stride);
        }
    }
    b.classifier(["gap", "flat", "fc"], classes);
    let meta = [("family", json!("resnet")), ("dataset", json!("cifar100"))];
    b.finish(name, input_spec(input), meta)
}

/// Appends a BasicBlock reading the last output: conv-BN-ReLU-conv-BN, add
/// shortcut, ReLU; a 1x1 projection + BN when it strides.
fn basic_block(b: &mut GraphBuilder, stage: &str, block: &str, width: usize, stride: usize) {
    let input = b.last().to_string();
    let name = |s: &str| format!("{block}.{s}");
    let at = Some(block);
    b.then(name("conv1"), conv(width, 3, stride, 1), stage, at);
    b.then(name("bn1"), Op::BatchNorm2d, stage, at);
    b.then(name("relu1"), Op::Relu, stage, at);
    b.then(name("conv2"), conv(width, 3, 1, 1), stage, at);
    let main = b.then(name("bn2"), Op::BatchNorm2d, stage, at);
    let shortcut = if stride == 1 {
        input
    } else {
        b.push(
            name("proj"),
            conv(width, 1, stride, 0),
            &[&input],
            stage,
            at,
        );
        b.then(name("proj_bn"), Op::BatchNorm2d, stage, at)
    };
    b.push(name("add"), Op::Add, &[&main, &shortcut], stage, at);
    b.then(name("relu2"), Op::Relu, stage, at);
}

/// ReLUs per stage, in stage order, and the total.
pub fn relus(net: &Network) -> (Vec<(String, u64)>, u64) {
    let a = analyze(net).expect("a valid network");
    (
        a.stages.iter().map(|(s, t)| (s.clone(), t.relus)).collect(),
        a.total.relus,
    )
}

/// `[("stem", 256), ...]` in the form [`relus`] gives per stage.
pub fn per_stage(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

/// An optimization request for a copy of `network`.
pub fn request(network: &Network, params: Value, context: Value) -> OptimizationRequest {
    OptimizationRequest {
        network: network.clone(),
        params,
        context,
    }
}

/// Build parameters of `variant` on an input of `[channels, height, width]`
/// with the variant's default blocks and width.
pub fn arch_params(variant: &str, input: [usize; 3], classes: usize) -> ArchParams {
    ArchParams {
        variant: variant.into(),
        input: input_spec(input),
        classes,
        blocks: None,
        width: None,
    }
}

/// Builds `params` with an architecture `plugin` and analyzes the network;
/// panics if either fails.
pub fn build_analyzed(plugin: &impl Plugin, params: &ArchParams) -> (Network, Analysis) {
    let net = plugin
        .build(params)
        .unwrap_or_else(|e| panic!("{} does not build: {e}", params.variant));
    let analysis = analyze(&net).expect("analyze");
    (net, analysis)
}
