//! The 1.1 operators in the IR: a `Relu` node with a mask, `Poly`, their
//! JSON, and the helpers that tell them apart.

use crate::abi::ABI_MINOR;
use crate::ir::{Dropped, Network, Node, Op};
use crate::mask::{BitSet, Granularity, ReluMask};
use crate::poly::Polynomial;
use crate::testing::tiny;
use serde_json::json;

fn pixel_mask(len: usize, kept: &[usize]) -> ReluMask {
    ReluMask::new(
        Granularity::Pixel,
        BitSet::from_indices(len, kept.iter().copied()),
    )
}

fn masked(dropped: Dropped) -> Op {
    Op::MaskedRelu {
        mask: pixel_mask(12, &[0, 9, 11]),
        dropped,
    }
}

fn write(op: Op) -> String {
    serde_json::to_string(&Node::new("r", op, &["x"]).in_stage("S1")).unwrap()
}

fn read(value: serde_json::Value) -> Result<Node, String> {
    serde_json::from_value::<Node>(value).map_err(|e| e.to_string())
}

#[test]
fn a_masked_relu_is_a_relu_node_with_a_mask() {
    let text = write(masked(Dropped::Identity));
    assert_eq!(
        text,
        r#"{"name":"r","op":"Relu","mask":{"granularity":"pixel","len":12,"kept":3,"bits":"AQo="},"dropped":"identity","inputs":["x"],"stage":"S1"}"#
    );
    assert_eq!(
        serde_json::from_str::<Node>(&text).unwrap().op,
        masked(Dropped::Identity)
    );
}

#[test]
fn dropped_elements_may_become_a_polynomial() {
    let poly = Polynomial::identity(1).into_trainable();
    let text = write(masked(Dropped::Poly(poly.clone())));
    assert_eq!(
        text,
        r#"{"name":"r","op":"Relu","mask":{"granularity":"pixel","len":12,"kept":3,"bits":"AQo="},"dropped":{"poly":{"a":[0.0],"b":[1.0],"c":[0.0],"trainable":true}},"inputs":["x"],"stage":"S1"}"#
    );
    assert_eq!(
        serde_json::from_str::<Node>(&text).unwrap().op,
        masked(Dropped::Poly(poly))
    );
}

#[test]
fn a_poly_layer_carries_its_polynomial_under_poly() {
    let op = Op::Poly(Polynomial::delphi(2));
    let text = write(op.clone());
    assert_eq!(
        text,
        r#"{"name":"r","op":"Poly","poly":{"a":[0.1997,0.1997],"b":[0.5002,0.5002],"c":[0.1992,0.1992],"trainable":false},"inputs":["x"],"stage":"S1"}"#
    );
    assert_eq!(serde_json::from_str::<Node>(&text).unwrap().op, op);
}

#[test]
fn dropped_defaults_to_identity_and_a_relu_without_mask_is_whole() {
    let mask = json!({"granularity": "pixel", "len": 12, "kept": 3, "bits": "AQo="});
    let node = read(json!({"name": "r", "op": "Relu", "mask": mask, "inputs": ["x"]})).unwrap();
    assert_eq!(node.op, masked(Dropped::Identity));
    let node = read(json!({"name": "r", "op": "Relu", "inputs": ["x"]})).unwrap();
    assert_eq!(node.op, Op::Relu);
}

#[test]
fn masks_and_polynomials_only_where_they_belong() {
    let mask = json!({"granularity": "pixel", "len": 12, "kept": 3, "bits": "AQo="});
    let poly = json!({"a": [0.0], "b": [1.0], "c": [0.0], "trainable": false});
    assert_eq!(
        read(json!({"name": "r", "op": "Relu", "dropped": "identity", "inputs": []})).unwrap_err(),
        "node r: `dropped` needs a `mask` (a Relu without one keeps every element)"
    );
    // A plugin that turns a masked Relu into Identity must drop its mask too.
    assert_eq!(
        read(json!({"name": "r", "op": "Identity", "mask": mask, "inputs": []})).unwrap_err(),
        "node r: field `mask` does not apply to Identity"
    );
    assert_eq!(
        read(json!({"name": "r", "op": "Poly", "dropped": "identity", "poly": poly, "inputs": []}))
            .unwrap_err(),
        "node r: field `dropped` does not apply to Poly"
    );
    assert_eq!(
        read(json!({"name": "r", "op": "Relu", "poly": poly, "inputs": []})).unwrap_err(),
        "node r: field `poly` does not apply to Relu"
    );
    assert_eq!(
        read(json!({"name": "p", "op": "Poly", "inputs": []})).unwrap_err(),
        "node p: missing field `poly` of Poly"
    );
    // An unknown operator is named before its fields are judged.
    assert_eq!(
        read(json!({"name": "g", "op": "Gelu", "mask": mask, "inputs": []})).unwrap_err(),
        "node g: unknown operator `Gelu`"
    );
}

#[test]
fn a_corrupted_mask_names_its_node() {
    let mask = json!({"granularity": "pixel", "len": 12, "kept": 2, "bits": "AQo="});
    assert_eq!(
        read(json!({"name": "s2.relu", "op": "Relu", "mask": mask, "inputs": []})).unwrap_err(),
        "node s2.relu: mask: `kept` says 2 bits are set, but `bits` has 3: truncated or corrupted"
    );
}

/// `tiny` with a pixel mask on relu1 (dropping to a polynomial) and relu2
/// replaced by a polynomial.
fn tiny_masked() -> Network {
    let mut net = tiny();
    net.nodes[2].op = Op::MaskedRelu {
        mask: pixel_mask(512, &[0, 100, 511]),
        dropped: Dropped::Poly(Polynomial::delphi(8).into_trainable()),
    };
    net.nodes[7].op = Op::Poly(Polynomial::identity(16));
    net
}

#[test]
fn a_network_with_masks_and_polynomials_round_trips() {
    let net = tiny_masked();
    let text = serde_json::to_string(&net).unwrap();
    assert_eq!(serde_json::from_str::<Network>(&text).unwrap(), net);
    let value = serde_json::to_value(&net).unwrap();
    assert_eq!(value["nodes"][2]["op"], json!("Relu"));
    assert_eq!(value["nodes"][2]["mask"]["kept"], json!(3));
    assert_eq!(value["nodes"][7]["op"], json!("Poly"));
    assert_eq!(serde_json::from_value::<Network>(value).unwrap(), net);
}

#[test]
fn kinds_slots_and_relus_of_the_new_operators() {
    let ops = [
        Op::Relu,
        Op::Identity,
        masked(Dropped::Identity),
        Op::Poly(Polynomial::delphi(1)),
        Op::BatchNorm2d,
    ];
    let got: Vec<(&str, bool, bool, u16)> = ops
        .iter()
        .map(|op| {
            (
                op.kind(),
                op.is_activation_slot(),
                op.has_relus(),
                op.abi_minor(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Relu", true, true, 0),
            ("Identity", true, false, 0),
            ("MaskedRelu", true, true, 1),
            ("Poly", true, false, 1),
            ("BatchNorm2d", false, false, 0),
        ]
    );
}

#[test]
fn a_network_needs_abi_1_1_once_a_node_is_masked_or_polynomial() {
    assert_eq!(ABI_MINOR, 1);
    assert_eq!(tiny().abi_minor_needed(), 0);
    assert_eq!(tiny_masked().abi_minor_needed(), 1);
    let mut poly_only = tiny();
    poly_only.nodes[7].op = Op::Poly(Polynomial::identity(16));
    assert_eq!(poly_only.abi_minor_needed(), 1);
}

#[test]
fn masked_relu_takes_its_simplest_form() {
    let mask = |kept: &[usize]| pixel_mask(4, kept);
    let poly = Polynomial::delphi(1);
    assert_eq!(
        Op::masked_relu(mask(&[0, 1, 2, 3]), Dropped::Poly(poly.clone())),
        Op::Relu
    );
    assert_eq!(Op::masked_relu(mask(&[]), Dropped::Identity), Op::Identity);
    assert_eq!(
        Op::masked_relu(mask(&[]), Dropped::Poly(poly.clone())),
        Op::Poly(poly.clone())
    );
    assert_eq!(
        Op::masked_relu(mask(&[2]), Dropped::Poly(poly.clone())),
        Op::MaskedRelu {
            mask: mask(&[2]),
            dropped: Dropped::Poly(poly)
        }
    );
}
