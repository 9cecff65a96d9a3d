//! A budget on a network that already has masks or polynomials: it only
//! keeps a subset of the ReLUs kept now and leaves other layers alone.

use super::{apply, kept, slots};
use deepreduce_plugin_api::testing::tiny;
use deepreduce_plugin_api::{
    BitSet, Dropped, Granularity, Network, Op, Polynomial, ReluMask, analyze,
};
use serde_json::json;

/// `tiny` (relu1: 8 channels of 8x8, relu2: 16 channels of 4x4) with
/// `relu1` and `relu2` set as given.
fn tiny_with(relu1: Op, relu2: Op) -> Network {
    let mut net = tiny();
    net.nodes[2].op = relu1;
    net.nodes[7].op = relu2;
    net
}

fn mask(granularity: Granularity, len: usize, kept: impl IntoIterator<Item = usize>) -> ReluMask {
    ReluMask::new(granularity, BitSet::from_indices(len, kept))
}

#[test]
fn a_pixel_budget_keeps_a_subset_of_a_masked_layer() {
    // relu1 keeps 100 elements (every fifth); relu2 is whole (256).
    let relu1 = Op::MaskedRelu {
        mask: mask(Granularity::Pixel, 512, (0..100).map(|i| 5 * i)),
        dropped: Dropped::Identity,
    };
    let net = tiny_with(relu1, Op::Relu);
    // 89 of 356: 25 (100 x 89 / 356 = 25) and 64 (256 x 89 / 356 = 64).
    let out = apply(&net, json!({"budget": 89}), json!({})).unwrap();
    assert_eq!(
        slots(&out).iter().map(|s| s.2).collect::<Vec<_>>(),
        [25, 64]
    );
    let kept1 = kept(&out, "relu1");
    assert!(kept1.iter().all(|i| i % 5 == 0), "{kept1:?}");
    // Positions 2, 6, 10, ... of the 100 kept: elements 10, 30, 50, ...
    assert_eq!(kept1[..3], [10, 30, 50]);
}

#[test]
fn a_pixel_budget_breaks_a_channel_mask_into_elements_of_its_channels() {
    // relu2 keeps channels 1 and 14 (32 elements); relu1 is dropped.
    let relu2 = Op::MaskedRelu {
        mask: mask(Granularity::Channel, 16, [1, 14]),
        dropped: Dropped::Identity,
    };
    let net = tiny_with(Op::Identity, relu2);
    let out = apply(&net, json!({"budget": 4}), json!({})).unwrap();
    // Positions 4, 12, 20, 28 of the 32 kept: elements of channel 1
    // (16..32) and 14 (224..240).
    assert_eq!(kept(&out, "relu2"), [20, 28, 228, 236]);
    let Op::MaskedRelu { mask, .. } = &out.node("relu2").unwrap().op else {
        panic!("relu2 is masked")
    };
    assert_eq!(mask.granularity, Granularity::Pixel);
    assert_eq!(out.node("relu1").unwrap().op, Op::Identity);
}

#[test]
fn a_channel_budget_keeps_a_subset_of_a_channel_mask() {
    let relu2 = Op::MaskedRelu {
        mask: mask(Granularity::Channel, 16, [1, 5, 9, 14]),
        dropped: Dropped::Identity,
    };
    let net = tiny_with(Op::Identity, relu2);
    let out = apply(
        &net,
        json!({"budget": 40, "granularity": "channel"}),
        json!({}),
    )
    .unwrap();
    // Two channels of 16 fit in 40: the second and fourth of the four.
    assert_eq!(kept(&out, "relu2"), [5, 14]);
    assert_eq!(analyze(&out).unwrap().total.relus, 32);
}

#[test]
fn polynomial_layers_stay_and_an_existing_polynomial_is_kept() {
    let trained = Polynomial {
        a: vec![0.3; 16],
        b: vec![0.7; 16],
        c: vec![-0.1; 16],
        trainable: true,
    };
    let relu2 = Op::MaskedRelu {
        mask: mask(Granularity::Pixel, 256, 0..128),
        dropped: Dropped::Poly(trained.clone()),
    };
    let net = tiny_with(Op::Poly(Polynomial::delphi(8)), relu2);
    let out = apply(&net, json!({"budget": 16, "dropped": "poly"}), json!({})).unwrap();
    assert_eq!(
        out.node("relu1").unwrap().op,
        Op::Poly(Polynomial::delphi(8))
    );
    let Op::MaskedRelu { dropped, .. } = &out.node("relu2").unwrap().op else {
        panic!("relu2 stays masked")
    };
    assert_eq!(dropped, &Dropped::Poly(trained));
    // With identity asked for, the dropped elements pass through instead.
    let out = apply(&net, json!({"budget": 16}), json!({})).unwrap();
    assert!(matches!(
        out.node("relu2").unwrap().op,
        Op::MaskedRelu {
            dropped: Dropped::Identity,
            ..
        }
    ));
}
