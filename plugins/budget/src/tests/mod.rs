//! Tests of the budget plugin: the rule's arithmetic ([`spread`]), the
//! paper's ResNet18 on CIFAR-100 at the AutoReP budget of 12,900 ReLUs
//! ([`resnet18`]), masks already there ([`masked`]), scores ([`scored`])
//! and refusals ([`errors`]).

mod errors;
mod masked;
mod resnet18;
mod scored;
mod spread;

use super::Budget;
use deepreduce_plugin_api::testing::request;
use deepreduce_plugin_api::{Network, Op, Plugin, analyze};
use serde_json::Value;

/// The network the budget makes of `net`.
fn apply(net: &Network, params: Value, context: Value) -> Result<Network, String> {
    let mut out = Budget.apply(&request(net, params, context))?;
    assert_eq!(out.len(), 1, "a budget yields one candidate");
    let candidate = out.remove(0);
    assert_eq!(
        candidate.description,
        deepreduce_plugin_api::describe(&candidate.network)
    );
    Ok(candidate.network)
}

/// (name, operator, ReLUs, polynomial elements) of every ReLU layer.
fn slots(net: &Network) -> Vec<(String, &'static str, u64, u64)> {
    let a = analyze(net).expect("a valid network");
    net.nodes
        .iter()
        .zip(&a.nodes)
        .filter(|(n, _)| n.op.is_activation_slot())
        .map(|(n, s)| (n.name.clone(), s.op, s.relus, s.polys))
        .collect()
}

/// The kept units of the mask of node `name`.
fn kept(net: &Network, name: &str) -> Vec<usize> {
    match &net.node(name).unwrap().op {
        Op::MaskedRelu { mask, .. } => mask.bits.ones().collect(),
        other => panic!("{name} is not masked: {other:?}"),
    }
}
