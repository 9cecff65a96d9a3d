use super::{conv, network};
use crate::describe::describe;
use crate::ir::{HEAD, INPUT, Network, Node, Op, STEM};
use serde_json::json;

/// stem: conv, relu; S1: two blocks of conv, relu; S2: one block of two
/// conv, relu; head: pool, flatten, linear.
fn staged(family: Option<&str>) -> Network {
    let mut nodes = vec![
        Node::new("c0", conv(4, 3, 1, 1), &[INPUT]).in_stage(STEM),
        Node::new("r0", Op::Relu, &["c0"]).in_stage(STEM),
    ];
    let mut last = "r0".to_string();
    for (stage, block, layers) in [("S1", "S1.B1", 1), ("S1", "S1.B2", 1), ("S2", "S2.B1", 2)] {
        for layer in 0..layers {
            let c = format!("{block}.c{layer}");
            let r = format!("{block}.r{layer}");
            nodes.push(
                Node::new(&c, conv(4, 3, 1, 1), &[&last])
                    .in_stage(stage)
                    .in_block(block),
            );
            nodes.push(
                Node::new(&r, Op::Relu, &[&c])
                    .in_stage(stage)
                    .in_block(block),
            );
            last = r;
        }
    }
    nodes.push(Node::new("gap", Op::GlobalAvgPool, &[&last]).in_stage(HEAD));
    nodes.push(Node::new("flat", Op::Flatten, &["gap"]).in_stage(HEAD));
    nodes.push(
        Node::new(
            "fc",
            Op::Linear {
                out_features: 10,
                bias: true,
            },
            &["flat"],
        )
        .in_stage(HEAD),
    );
    let mut net = network("staged", [3, 8, 8], nodes, "fc");
    if let Some(family) = family {
        net.meta.insert("family".into(), json!(family));
    }
    net
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
