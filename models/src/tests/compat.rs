//! Weights saved before masks and polynomials existed still load.
//!
//! `fixtures/plain-tiny` was written by the code of commit 483e471 (before
//! IR 1.1): `testing::tiny()` as `network.json`, its freshly initialised
//! `IrModel` (flex, seed 7) saved with `IrModel::save` as `model.bpk`, and
//! its logits on `super::input([2, 3, 8, 8])` as `logits.json`.

use super::{input, values};
use crate::IrModel;
use burn::tensor::Device;
use deepreduce_plugin_api::{BitSet, Dropped, Granularity, Network, Op, ReluMask};
use std::path::PathBuf;

fn fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/tests/fixtures/plain-tiny")
        .join(file)
}

fn read_json<T: serde::de::DeserializeOwned>(file: &str) -> T {
    serde_json::from_slice(&std::fs::read(fixture(file)).expect("fixture")).expect("fixture JSON")
}

fn logits(net: &Network) -> Vec<f32> {
    let device = Device::flex();
    let model = IrModel::load(net, &fixture("model.bpk"), &device).expect("old weights load");
    values(model.forward(input([2, 3, 8, 8], &device)))
}

#[test]
fn weights_saved_before_ir_1_1_load_and_compute_the_same_logits() {
    let net: Network = read_json("network.json");
    let expected: Vec<f32> = read_json("logits.json");
    assert_eq!(logits(&net), expected);
}

#[test]
fn old_weights_load_into_the_same_network_with_a_mask() {
    // A mask changes no weight: masking a trained network keeps its weights.
    let mut net: Network = read_json("network.json");
    let relu = net
        .nodes
        .iter()
        .position(|n| n.op == Op::Relu)
        .expect("a ReLU");
    net.nodes[relu].op = Op::MaskedRelu {
        mask: ReluMask::new(Granularity::Pixel, BitSet::full(512)),
        dropped: Dropped::Identity,
    };
    let expected: Vec<f32> = read_json("logits.json");
    assert_eq!(logits(&net), expected);
}
