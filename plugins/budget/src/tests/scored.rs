//! `context.scores`: the kept units compete globally by score.

use super::{apply, kept};
use deepreduce_plugin_api::testing::tiny;
use deepreduce_plugin_api::{BitSet, Dropped, Granularity, Op, ReluMask, analyze};
use serde_json::json;

/// relu1 (512 elements) scores 1 but 2 at elements 5 and 6; relu2 (256)
/// scores 1 but 5 at element 3.
fn pixel_scores() -> serde_json::Value {
    let mut relu1 = vec![1.0; 512];
    relu1[5] = 2.0;
    relu1[6] = 2.0;
    let mut relu2 = vec![1.0; 256];
    relu2[3] = 5.0;
    json!({"scores": {"relu1": relu1, "relu2": relu2}})
}

#[test]
fn pixel_scores_keep_the_top_elements_ties_to_the_earlier_layer_and_index() {
    let out = apply(&tiny(), json!({"budget": 5}), pixel_scores()).unwrap();
    // 5.0, 2.0, 2.0, then the ties at 1.0: relu1's elements 0 and 1.
    assert_eq!(kept(&out, "relu1"), [0, 1, 5, 6]);
    assert_eq!(kept(&out, "relu2"), [3]);
    assert_eq!(analyze(&out).unwrap().total.relus, 5);
}

#[test]
fn scores_choose_only_among_the_relus_kept_now() {
    let mut net = tiny();
    // relu2 already drops its element 3, the best scored.
    net.nodes[7].op = Op::MaskedRelu {
        mask: ReluMask::new(Granularity::Pixel, BitSet::from_indices(256, [0, 1, 2, 4])),
        dropped: Dropped::Identity,
    };
    let out = apply(&net, json!({"budget": 3}), pixel_scores()).unwrap();
    assert_eq!(kept(&out, "relu1"), [0, 5, 6]);
    assert_eq!(out.node("relu2").unwrap().op, Op::Identity);
}

#[test]
fn channel_scores_take_the_best_channels_that_fit() {
    // relu1: 8 channels of 64, relu2: 16 channels of 16.
    let mut relu1 = vec![0.0; 8];
    relu1[1] = 3.0;
    relu1[0] = 0.5;
    let mut relu2 = vec![1.0; 16];
    relu2[0] = 2.0;
    let scores = json!({"scores": {"relu1": relu1, "relu2": relu2}});
    let params = json!({"budget": 100, "granularity": "channel"});
    let out = apply(&tiny(), params, scores).unwrap();
    // relu1's channel 1 (64), relu2's 0 and 1 (16 each): 96. Nothing else
    // fits in the 4 left; relu1's channel 0 (0.5) did not fit either.
    assert_eq!(kept(&out, "relu1"), [1]);
    assert_eq!(kept(&out, "relu2"), [0, 1]);
    assert_eq!(analyze(&out).unwrap().total.relus, 96);
}
