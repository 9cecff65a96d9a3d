use super::apply;
use crate::Budget;
use deepreduce_plugin_api::testing::{resnet_like, tiny};
use deepreduce_plugin_api::{
    BitSet, Dropped, Granularity, OPTIMIZATION, Op, Plugin, PluginKind, ReluMask,
};
use serde_json::{Value, json};

fn refusal(params: Value, context: Value) -> String {
    apply(&tiny(), params, context).unwrap_err()
}

#[test]
fn a_budget_above_the_networks_relus_is_refused() {
    assert_eq!(
        refusal(json!({"budget": 769}), json!({})),
        "a budget of 769 ReLUs is more than the network's 768"
    );
    assert_eq!(
        refusal(json!({"budget": 769, "granularity": "channel"}), json!({})),
        "a budget of 769 ReLUs is more than the network's 768"
    );
}

#[test]
fn malformed_params_are_refused() {
    assert_eq!(
        refusal(json!({}), json!({})),
        "params: missing field `budget`"
    );
    assert_eq!(
        refusal(json!({"budget": -1}), json!({})),
        "params: invalid value: integer `-1`, expected u64"
    );
    assert_eq!(
        refusal(json!({"budget": 1, "granularity": "row"}), json!({})),
        "params: unknown variant `row`, expected `channel` or `pixel`"
    );
    assert_eq!(
        refusal(json!({"budget": 1, "dropped": "zero"}), json!({})),
        "params: unknown variant `zero`, expected `identity` or `poly`"
    );
    let extra = refusal(json!({"budget": 1, "scores": {}}), json!({}));
    assert!(
        extra.starts_with("params: unknown field `scores`"),
        "{extra}"
    );
}

#[test]
fn a_channel_budget_refuses_pixel_masks() {
    let mut net = tiny();
    net.nodes[7].op = Op::MaskedRelu {
        mask: ReluMask::new(Granularity::Pixel, BitSet::from_indices(256, [0])),
        dropped: Dropped::Identity,
    };
    assert_eq!(
        apply(
            &net,
            json!({"budget": 1, "granularity": "channel"}),
            json!({})
        )
        .unwrap_err(),
        "a channel budget keeps whole channels, and 'relu2' is masked per pixel: \
         apply it to a network without pixel masks"
    );
}

#[test]
fn scores_must_name_every_relu_layer_with_one_score_per_unit() {
    let scores = |relu1: usize, relu2: usize| json!({"scores": {"relu1": vec![0.0; relu1], "relu2": vec![0.0; relu2]}});
    assert_eq!(
        refusal(json!({"budget": 1}), scores(512, 255)),
        "context.scores['relu2'] has 255 scores; it needs one per element: 256"
    );
    assert_eq!(
        refusal(
            json!({"budget": 1, "granularity": "channel"}),
            scores(8, 256)
        ),
        "context.scores['relu2'] has 256 scores; it needs one per channel: 16"
    );
    let relu1_only = json!({"scores": {"relu1": vec![0.0; 512]}});
    assert_eq!(
        refusal(json!({"budget": 1}), relu1_only),
        "context.scores has no scores for 'relu2'"
    );
    let mut net = resnet_like();
    net.nodes[2].op = Op::Identity;
    let stale = json!({"scores": {"relu1": [0.0]}});
    assert_eq!(
        apply(&net, json!({"budget": 1}), stale).unwrap_err(),
        "context.scores names 'relu1', which is not a ReLU layer of the network \
         (or keeps no ReLU)"
    );
    let words = refusal(json!({"budget": 1}), json!({"scores": {"relu1": "high"}}));
    assert!(words.starts_with("context.scores: invalid type"), "{words}");
}

#[test]
fn descriptor() {
    let d = Budget.descriptor();
    assert_eq!(d.id, "org.deepreduce.budget");
    assert_eq!(d.kind, PluginKind::Optimization);
    assert_eq!(d.capabilities, [OPTIMIZATION]);
}
