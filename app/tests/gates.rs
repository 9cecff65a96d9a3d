//! Gate learning (SNL-style) to an exact ReLU budget on the built-in
//! data: exactly the budget at pixel granularity, within one channel of it
//! at channel granularity, an L1 weight that grows while too many gates
//! stay open, a learned mask (not the budget plugin's even spread, but the
//! plugin's rule on the learned gates), a masked network that fine-tunes
//! from the gated weights, and clear refusals.

mod common;

use burn::tensor::Device;
use deepreduce_app::engine::network::ids;
use deepreduce_app::engine::train::{
    GatedOutcome, RunContext, Schedule, Status, TrainConfig, TrainError, learn_gates, train_from,
};
use deepreduce_datasets::{Dataset, SyntheticConfig, synthetic};
use deepreduce_plugin_api::reduction::{DropAs, GateRecipe};
use deepreduce_plugin_api::{Granularity, Network, Op, OptimizationRequest, analyze};
use serde_json::json;

fn data() -> Dataset {
    synthetic(&SyntheticConfig {
        train: 2000,
        test: 500,
        ..SyntheticConfig::default()
    })
    .unwrap()
}

fn cfg(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 64,
        lr: 0.05,
        schedule: Schedule::Cosine,
        subset: Some(2000),
        test_subset: Some(500),
        ..TrainConfig::default()
    }
}

fn recipe(granularity: Granularity, budget: u64) -> GateRecipe {
    GateRecipe {
        granularity,
        budget,
        dropped: DropAs::Identity,
        // With SGD at lr 0.05 and momentum 0.9 a gate falls by up to
        // 0.5 * l1 per step from the L1 term alone: 0.3 in the first
        // epoch's 31 steps, then faster as the weight grows.
        l1_initial: 0.02,
        l1_growth: 2.0,
        threshold: 0.5,
    }
}

/// A small ResNet (width 8, one block per stage) for the built-in data.
fn resnet() -> Network {
    common::network(&common::small_resnet("synthetic", 8))
}

fn flex_ctx(device: &Device) -> RunContext<'_> {
    RunContext {
        device,
        events: None,
        cancel: None,
        checkpoint_dir: None,
        resume: None,
    }
}

fn learn(
    net: &Network,
    recipe: &GateRecipe,
    cfg: &TrainConfig,
) -> Result<GatedOutcome, TrainError> {
    let device = Device::flex();
    learn_gates(net, recipe, &data(), cfg, None, None, &flex_ctx(&device))
}

fn relus(net: &Network) -> u64 {
    analyze(net).expect("valid network").total.relus
}

/// The budget plugin on `net`, given `context`.
fn budget_plugin(net: &Network, budget: u64, context: serde_json::Value) -> Network {
    let host = common::host();
    let request = OptimizationRequest {
        network: net.clone(),
        params: json!({ "budget": budget, "granularity": "pixel" }),
        context,
    };
    let mut candidates = host
        .get(ids::BUDGET)
        .expect("budget plugin")
        .apply(&request)
        .unwrap();
    candidates.remove(0).network
}

#[test]
fn pixel_gates_keep_exactly_the_budget_and_the_l1_weight_grows() {
    let _serial = common::serial();
    let net = resnet();
    println!("{} ReLUs", relus(&net));
    for budget in [1_000, 3_000] {
        let out = learn(&net, &recipe(Granularity::Pixel, budget), &cfg(3)).unwrap();
        assert_eq!(out.status, Status::Completed);
        assert_eq!(relus(&out.network), budget);
        for e in &out.epochs {
            println!(
                "budget {budget}, epoch {}: l1 {:e}, {} ReLUs above the threshold, hard-mask accuracy {:.1}%, {:.1} s",
                e.metrics.epoch,
                e.l1,
                e.relus_above_threshold,
                e.metrics.test_accuracy,
                e.metrics.seconds
            );
        }
        // The weight grows after exactly the epochs that end with more
        // ReLUs above the threshold than the budget; gates start open, so
        // the first does.
        assert_eq!(out.epochs[0].l1, 0.02);
        assert!(out.epochs[0].relus_above_threshold > budget);
        for pair in out.epochs.windows(2) {
            let grows = pair[0].relus_above_threshold > budget;
            let factor = if grows { 2.0 } else { 1.0 };
            assert_eq!(pair[1].l1, pair[0].l1 * factor);
        }
        // ... until the gates above it fit the budget.
        let last = out.epochs.last().unwrap();
        assert!(
            last.relus_above_threshold <= budget,
            "the L1 term closes gates: {} above the threshold",
            last.relus_above_threshold
        );

        // Learned: not the plugin's evenly spread mask, but the plugin's
        // rule with the learned gates as scores.
        assert_ne!(out.network, budget_plugin(&net, budget, json!(null)));
        let layers = out.model.gate_layers();
        let scores: serde_json::Map<String, serde_json::Value> = layers
            .iter()
            .map(|l| (net.nodes[l.node].name.clone(), json!(l.values)))
            .collect();
        assert_eq!(
            out.network,
            budget_plugin(&net, budget, json!({ "scores": scores }))
        );
    }
}

#[test]
fn channel_gates_keep_whole_channels_within_one_channel_of_the_budget() {
    let _serial = common::serial();
    let net = resnet();
    let budget = 3_000;
    let out = learn(&net, &recipe(Granularity::Channel, budget), &cfg(1)).unwrap();
    let kept = relus(&out.network);
    let largest_plane = analyze(&net)
        .unwrap()
        .nodes
        .iter()
        .zip(&net.nodes)
        .filter(|(_, node)| node.op.has_relus())
        .map(|(stats, _)| stats.output.channels_and_plane().1 as u64)
        .max()
        .unwrap();
    println!("channel budget {budget}: {kept} ReLUs kept, channels up to {largest_plane}");
    assert!(kept <= budget && budget - kept < largest_plane, "{kept}");
    // Whole channels: every mask is per channel.
    for node in &out.network.nodes {
        if let Op::MaskedRelu { mask, .. } = &node.op {
            assert_eq!(mask.granularity, Granularity::Channel);
        }
    }
}

#[test]
fn the_masked_network_fine_tunes_from_the_gated_weights() {
    let _serial = common::serial();
    let net = resnet();
    let device = Device::flex();
    let ctx = flex_ctx(&device);
    let data = data();
    // SNL's order: a trained network, its gates, then the masked network
    // fine-tuned from the gated weights.
    let baseline = train_from(&net, &data, &cfg(4), None, None, &ctx).unwrap();
    let budget = 3_000;
    let gated = learn_gates(
        &net,
        // A stronger L1 than `recipe`'s: the gates close within the first
        // epoch, and the second trains the weights around them.
        &GateRecipe {
            l1_initial: 0.05,
            ..recipe(Granularity::Pixel, budget)
        },
        &data,
        &cfg(2),
        None,
        Some(&baseline.model),
        &ctx,
    )
    .unwrap();
    let tuned = train_from(
        &gated.network,
        &data,
        &cfg(3),
        None,
        Some(&gated.model),
        &ctx,
    )
    .unwrap();
    let (base, hard, after) = (
        baseline.test_accuracy.unwrap(),
        gated.test_accuracy.unwrap(),
        tuned.test_accuracy.unwrap(),
    );
    println!(
        "baseline {base:.1}%, gated (hard mask) {hard:.1}%, fine-tuned {after:.1}% ({} s, {} s, {} s)",
        baseline.seconds as u32, gated.seconds as u32, tuned.seconds as u32
    );
    assert_eq!(relus(&gated.network), budget);
    // Ten classes: chance is 10%.
    assert!(after > 40.0, "fine-tuned {after}%");
    assert!(
        after >= hard - 2.0,
        "fine-tuned {after}% below the gated {hard}%"
    );
}

#[test]
fn impossible_gate_recipes_are_refused_clearly() {
    let net = resnet();
    let refusal = |net: &Network, recipe: &GateRecipe| match learn(net, recipe, &cfg(1)) {
        Err(TrainError::Gates(message)) => message,
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("learned gates"),
    };
    let mut linear = net.clone();
    for node in &mut linear.nodes {
        if node.op == Op::Relu {
            node.op = Op::Identity;
        }
    }
    let message = refusal(&linear, &recipe(Granularity::Pixel, 0));
    assert!(message.contains("evaluates no ReLU"), "{message}");
    let message = refusal(&net, &recipe(Granularity::Pixel, 40_000));
    assert!(
        message.contains("a budget of 40000 ReLUs, but the network has 38912"),
        "{message}"
    );
    let shrinking = GateRecipe {
        l1_growth: 0.5,
        ..recipe(Granularity::Pixel, 1_000)
    };
    let message = refusal(&net, &shrinking);
    assert!(message.contains("growth 0.5 at least 1"), "{message}");
}
