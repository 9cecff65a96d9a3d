use crate::builder::{GraphBuilder, conv};
use crate::describe::describe;
use crate::ir::{Network, Op, STEM};
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
