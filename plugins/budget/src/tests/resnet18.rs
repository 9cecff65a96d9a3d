//! ResNet18 on CIFAR-100 (557,056 ReLUs in 17 layers: the stem and S1 of
//! 64x32x32, S2 of 128x16x16, S3 of 256x8x8, S4 of 512x4x4) at AutoReP's
//! budget of 12,900 ReLUs.

use super::{apply, kept, slots};
use crate::spread::evenly_spaced;
use deepreduce_plugin_api::testing::resnet18_cifar100;
use deepreduce_plugin_api::{Dropped, Op, Polynomial, analyze};
use serde_json::json;

/// ReLUs of each ReLU layer, in graph order.
fn relus(net: &deepreduce_plugin_api::Network) -> Vec<u64> {
    slots(net)
        .into_iter()
        .map(|(_, _, relus, _)| relus)
        .collect()
}

#[test]
fn pixel_budget_keeps_exactly_12900_relus_spread_by_layer_size() {
    let net = apply(&resnet18_cifar100(), json!({"budget": 12_900}), json!({})).unwrap();
    // Quotas 12,900 x size / 557,056: 1,517.65 for a 64x32x32 layer,
    // 758.82 (128x16x16), 379.41 (256x8x8), 189.71 (512x4x4). The 11
    // units the floors leave go to the largest remainders: the four S2
    // layers, the four S4 layers, then the stem and S1's first two.
    assert_eq!(
        relus(&net),
        [
            1_518, 1_518, 1_518, 1_517, 1_517, 759, 759, 759, 759, 379, 379, 379, 379, 190, 190,
            190, 190
        ]
    );
    let a = analyze(&net).unwrap();
    assert_eq!((a.total.relus, a.total.polys), (12_900, 0));
    // Evenly spaced over CHW positions.
    assert_eq!(
        kept(&net, "S4.B2.relu2"),
        evenly_spaced(190, 8_192).collect::<Vec<_>>()
    );
    assert_eq!(kept(&net, "relu1")[..3], [21, 64, 107]);
    assert_eq!(
        slots(&net).iter().map(|s| s.1).collect::<Vec<_>>(),
        ["MaskedRelu"; 17]
    );
    assert_eq!(
        deepreduce_plugin_api::describe(&net),
        "Conv1 (pixel 2%) + S1 (pixel 2%) + S2 (pixel 2%) + S3 (pixel 2%) + S4 (pixel 2%)"
    );
}

#[test]
fn channel_budget_keeps_whole_channels_within_one_channel_of_12900() {
    let params = json!({"budget": 12_900, "granularity": "channel"});
    let net = apply(&resnet18_cifar100(), params, json!({})).unwrap();
    // Channel quotas 12,900 x C / 557,056: 1.48 (64 of 32x32), 2.96 (128 of
    // 16x16), 5.93 (256 of 8x8), 11.86 (512 of 4x4); the floors keep 9,152
    // ReLUs. The 3,748 left buy one channel each, largest unspent share
    // first, while they fit: the stem and S1's first two (1,024 each), two
    // in S2 (256), two in S3 (64), two in S4 (16); 4 are left, less
    // than the 16 of the smallest channel.
    assert_eq!(
        relus(&net),
        [
            2_048, 2_048, 2_048, 1_024, 1_024, 768, 768, 512, 512, 384, 384, 320, 320, 192, 192,
            176, 176
        ]
    );
    assert_eq!(analyze(&net).unwrap().total.relus, 12_896);
    assert_eq!(kept(&net, "S2.B1.relu1"), [21, 64, 106]);
}

#[test]
fn the_budget_is_deterministic_and_idempotent() {
    let base = resnet18_cifar100();
    let pixel = json!({"budget": 12_900, "dropped": "poly"});
    let once = apply(&base, pixel.clone(), json!({})).unwrap();
    assert_eq!(apply(&base, pixel.clone(), json!({})).unwrap(), once);
    assert_eq!(apply(&once, pixel, json!({})).unwrap(), once);
    // At channel granularity a network keeps at most the budget: applying
    // its own count again changes nothing.
    let channel = |budget: u64| json!({"budget": budget, "granularity": "channel"});
    let once = apply(&base, channel(12_900), json!({})).unwrap();
    assert_eq!(apply(&once, channel(12_896), json!({})).unwrap(), once);
}

#[test]
fn dropped_elements_become_a_trainable_quadratic_starting_as_the_identity() {
    let params = json!({"budget": 12_900, "dropped": "poly"});
    let net = apply(&resnet18_cifar100(), params, json!({})).unwrap();
    let Op::MaskedRelu { dropped, .. } = &net.node("S3.B1.relu1").unwrap().op else {
        panic!("S3.B1.relu1 is masked");
    };
    assert_eq!(
        dropped,
        &Dropped::Poly(Polynomial::identity(256).into_trainable())
    );
    let a = analyze(&net).unwrap();
    assert_eq!((a.total.relus, a.total.polys), (12_900, 557_056 - 12_900));
    // Three coefficients per channel of the 17 layers: 3 x 3,904.
    let base = analyze(&resnet18_cifar100()).unwrap();
    assert_eq!(a.total.params, base.total.params + 11_712);
    assert_eq!(
        deepreduce_plugin_api::describe(&net),
        "Conv1 (pixel 2%, poly) + S1 (pixel 2%, poly) + S2 (pixel 2%, poly) \
         + S3 (pixel 2%, poly) + S4 (pixel 2%, poly)"
    );
}

#[test]
fn a_budget_of_zero_drops_every_relu_and_of_all_keeps_them() {
    let base = resnet18_cifar100();
    let none = apply(&base, json!({"budget": 0}), json!({})).unwrap();
    assert!(slots(&none).iter().all(|s| s.1 == "Identity"));
    let none = apply(&base, json!({"budget": 0, "dropped": "poly"}), json!({})).unwrap();
    assert_eq!(
        none.node("S4.B1.relu2").unwrap().op,
        Op::Poly(Polynomial::identity(512).into_trainable())
    );
    assert_eq!(analyze(&none).unwrap().total.polys, 557_056);
    assert_eq!(
        deepreduce_plugin_api::describe(&none),
        "no ReLUs, poly in Conv1 + S1 + S2 + S3 + S4"
    );
    for granularity in ["pixel", "channel"] {
        let all = json!({"budget": 557_056, "granularity": granularity, "dropped": "poly"});
        assert_eq!(apply(&base, all, json!({})).unwrap(), base, "{granularity}");
    }
}
