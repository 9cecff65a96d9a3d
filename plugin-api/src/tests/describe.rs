use crate::builder::{GraphBuilder, conv};
use crate::describe::describe;
use crate::ir::{Dropped, Network, Op, STEM};
use crate::mask::{BitSet, Granularity, ReluMask};
use crate::poly::Polynomial;
use crate::testing::input_spec;
use serde_json::json;

/// stem: conv, relu; S1: two blocks of conv, relu; S2: one block of two
/// conv, relu; head: pool, flatten, linear.
fn staged(family: Option<&str>) -> Network {
    let mut b = GraphBuilder::new();
    b.then("c0", conv(4, 3, 1, 1), STEM, None);
    b.then("r0", Op::Relu, STEM, None);
    for (stage, block, layers) in [("S1", "S1.B1", 1), ("S1", "S1.B2", 1), ("S2", "S2.B1", 2)] {
        for layer in 0..layers {
            b.then(
                format!("{block}.c{layer}"),
                conv(4, 3, 1, 1),
                stage,
                Some(block),
            );
            b.then(format!("{block}.r{layer}"), Op::Relu, stage, Some(block));
        }
    }
    b.classifier(["gap", "flat", "fc"], 10);
    let meta = family.map(|family| ("family", json!(family)));
    b.finish("staged", input_spec([3, 8, 8]), meta)
}

fn drop(net: &mut Network, names: &[&str]) {
    for node in &mut net.nodes {
        if names.contains(&node.name.as_str()) {
            assert!(node.op.is_activation_slot());
            node.op = Op::Identity;
        }
    }
}

fn drop_stage(net: &mut Network, stage: &str) {
    for node in &mut net.nodes {
        if node.stage_is(stage) && node.op.is_activation_slot() {
            node.op = Op::Identity;
        }
    }
}

#[test]
fn all_relus() {
    assert_eq!(describe(&staged(None)), "all ReLUs");
    assert_eq!(describe(&staged(Some("resnet"))), "all ReLUs");
}

#[test]
fn no_relus() {
    let mut net = staged(Some("resnet"));
    for stage in ["stem", "S1", "S2"] {
        drop_stage(&mut net, stage);
    }
    assert_eq!(describe(&net), "no ReLUs");
}

#[test]
fn conv1_and_a_stage() {
    let mut net = staged(None);
    drop_stage(&mut net, "S2");
    assert_eq!(describe(&net), "Conv1 + S1");
}

#[test]
fn stages_without_conv1() {
    let mut net = staged(None);
    drop_stage(&mut net, STEM);
    assert_eq!(describe(&net), "S1 + S2");
    drop_stage(&mut net, "S1");
    assert_eq!(describe(&net), "S2");
}

#[test]
fn a_partly_dropped_stage_is_listed_and_thinned_stages_get_rt() {
    let mut net = staged(None);
    drop_stage(&mut net, STEM);
    drop(&mut net, &["S1.B2.r0"]);
    // S1 still has an active ReLU: it is listed, without RT unless recorded.
    assert_eq!(describe(&net), "S1 + S2");
    net.meta.insert("thinned_stages".into(), json!(["S1"]));
    assert_eq!(describe(&net), "S1^RT + S2");
    net.meta
        .insert("thinned_stages".into(), json!(["S1", "S2"]));
    assert_eq!(describe(&net), "S1^RT + S2^RT");
}

#[test]
fn a_culled_stage_is_not_listed_even_if_recorded_as_thinned() {
    let mut net = staged(None);
    drop_stage(&mut net, STEM);
    drop_stage(&mut net, "S1");
    net.meta
        .insert("thinned_stages".into(), json!(["S1", "S2"]));
    assert_eq!(describe(&net), "S2^RT");
}

#[test]
fn resnet_one_block_stages_get_a_star() {
    let mut net = staged(Some("resnet"));
    drop_stage(&mut net, STEM);
    assert_eq!(describe(&net), "S1 + S2*");
    net.meta
        .insert("thinned_stages".into(), json!(["S1", "S2"]));
    assert_eq!(describe(&net), "S1^RT + S2*^RT");
}

#[test]
fn other_families_have_no_star() {
    for family in [None, Some("vgg"), Some("mobilenet")] {
        let mut net = staged(family);
        drop_stage(&mut net, STEM);
        assert_eq!(describe(&net), "S1 + S2", "family {family:?}");
    }
}

#[test]
fn reshaping_is_appended() {
    let mut net = staged(None);
    net.meta.insert("alpha".into(), json!(0.5));
    assert_eq!(describe(&net), "all ReLUs, alpha 0.5");
    net.meta.insert("rho".into(), json!(0.5));
    assert_eq!(describe(&net), "all ReLUs, alpha 0.5, rho 0.5");
    net.meta.insert("alpha".into(), json!(1.0));
    assert_eq!(describe(&net), "all ReLUs, rho 0.5");
    drop_stage(&mut net, STEM);
    drop_stage(&mut net, "S1");
    net.meta.insert("alpha".into(), json!(0.25));
    net.meta.insert("thinned_stages".into(), json!(["S2"]));
    assert_eq!(describe(&net), "S2^RT, alpha 0.25, rho 0.5");
}

// Masks and polynomials. Every ReLU layer of `staged` is 4x8x8: 4 channels
// of 64, 256 elements.

fn set(net: &mut Network, name: &str, op: Op) {
    let node = net.nodes.iter_mut().find(|n| n.name == name).unwrap();
    assert!(node.op.is_activation_slot());
    node.op = op;
}

fn masked(granularity: Granularity, len: usize, kept: usize, dropped: Dropped) -> Op {
    Op::MaskedRelu {
        mask: ReluMask::new(granularity, BitSet::from_indices(len, 0..kept)),
        dropped,
    }
}

fn pixels(kept: usize) -> Op {
    masked(Granularity::Pixel, 256, kept, Dropped::Identity)
}

#[test]
fn masked_stages_show_their_granularity_and_kept_fraction() {
    let mut net = staged(None);
    drop_stage(&mut net, STEM);
    // S2: 77 + 256 of its 512 ReLU elements = 65%.
    set(&mut net, "S2.B1.r0", pixels(77));
    assert_eq!(describe(&net), "S1 + S2 (pixel 65%)");
    // S1: a channel of the one layer left evaluating ReLUs.
    set(&mut net, "S1.B2.r0", Op::Identity);
    set(
        &mut net,
        "S1.B1.r0",
        masked(Granularity::Channel, 4, 1, Dropped::Identity),
    );
    assert_eq!(describe(&net), "S1 (channel 25%) + S2 (pixel 65%)");
    // Two granularities in one stage: 77 + 2 x 64 of 512 = 40%.
    set(
        &mut net,
        "S2.B1.r1",
        masked(Granularity::Channel, 4, 2, Dropped::Identity),
    );
    assert_eq!(describe(&net), "S1 (channel 25%) + S2 (mixed 40%)");
}

#[test]
fn the_mask_note_follows_star_and_rt() {
    let mut net = staged(Some("resnet"));
    drop_stage(&mut net, STEM);
    set(&mut net, "S2.B1.r0", pixels(77));
    net.meta.insert("thinned_stages".into(), json!(["S2"]));
    net.meta.insert("alpha".into(), json!(0.5));
    assert_eq!(describe(&net), "S1 + S2*^RT (pixel 65%), alpha 0.5");
}

#[test]
fn a_fraction_is_never_rounded_to_none_or_all() {
    let mut net = staged(None);
    drop_stage(&mut net, STEM);
    drop_stage(&mut net, "S1");
    set(&mut net, "S2.B1.r1", Op::Identity);
    set(&mut net, "S2.B1.r0", pixels(1));
    assert_eq!(describe(&net), "S2 (pixel <1%)");
    set(&mut net, "S2.B1.r0", pixels(3));
    assert_eq!(describe(&net), "S2 (pixel 1%)");
    set(&mut net, "S2.B1.r1", Op::Relu);
    set(&mut net, "S2.B1.r0", pixels(255));
    assert_eq!(describe(&net), "S2 (pixel >99%)");
}

#[test]
fn polynomials_are_noted_where_they_replace_relus() {
    let mut net = staged(None);
    drop_stage(&mut net, STEM);
    let poly = || Dropped::Poly(Polynomial::delphi(4));
    set(
        &mut net,
        "S2.B1.r0",
        masked(Granularity::Pixel, 256, 77, poly()),
    );
    assert_eq!(describe(&net), "S1 + S2 (pixel 65%, poly)");
    set(&mut net, "S2.B1.r0", Op::Relu);
    set(&mut net, "S2.B1.r1", Op::Poly(Polynomial::delphi(4)));
    assert_eq!(describe(&net), "S1 + S2 (poly)");
}

#[test]
fn stages_with_polynomials_and_no_relus_follow_the_list() {
    let mut net = staged(None);
    set(&mut net, "r0", Op::Poly(Polynomial::delphi(4)));
    set(&mut net, "S1.B1.r0", Op::Poly(Polynomial::delphi(4)));
    set(&mut net, "S1.B2.r0", Op::Identity);
    assert_eq!(describe(&net), "S2, poly in Conv1 + S1");
    drop_stage(&mut net, "S2");
    net.meta.insert("rho".into(), json!(0.5));
    assert_eq!(describe(&net), "no ReLUs, poly in Conv1 + S1, rho 0.5");
}

#[test]
fn an_invalid_mask_leaves_out_the_fraction() {
    let mut net = staged(None);
    drop_stage(&mut net, STEM);
    set(
        &mut net,
        "S2.B1.r0",
        masked(Granularity::Pixel, 100, 7, Dropped::Identity),
    );
    assert_eq!(describe(&net), "S1 + S2 (pixel)");
}
