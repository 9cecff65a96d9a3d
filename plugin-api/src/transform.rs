//! Small edits of a network that optimization plugins and the GUI share.

use crate::ir::{Network, Op};

/// Indices (into `net.nodes`) of the ReLU layers of `stage`, active,
/// masked, dropped or polynomial, in graph order.
pub fn activation_slots(net: &Network, stage: &str) -> Vec<usize> {
    net.nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.stage_is(stage) && n.op.is_activation_slot())
        .map(|(i, _)| i)
        .collect()
}

/// Whether `stage` still has at least one active ReLU (whole or masked).
pub fn stage_has_relus(net: &Network, stage: &str) -> bool {
    net.nodes
        .iter()
        .any(|n| n.stage_is(stage) && n.op.has_relus())
}

/// Replaces the ReLU layer at node index `i`, whatever its form (masked,
/// polynomial), by the identity, or by a whole ReLU.
pub fn set_relu(net: &mut Network, i: usize, active: bool) {
    if net.nodes[i].op.is_activation_slot() {
        net.nodes[i].op = if active { Op::Relu } else { Op::Identity };
    }
}

/// Drops every ReLU of `stage`.
pub fn drop_stage_relus(net: &mut Network, stage: &str) {
    for i in activation_slots(net, stage) {
        set_relu(net, i, false);
    }
}

/// Appends `value` to the string list under `key` in the network's meta.
pub fn record_in_meta(net: &mut Network, key: &str, value: &str) {
    let entry = net
        .meta
        .entry(key.to_string())
        .or_insert_with(|| serde_json::json!([]));
    if let Some(list) = entry.as_array_mut()
        && !list.iter().any(|v| v == value)
    {
        list.push(value.into());
    }
}

/// Reads an optional string-list parameter, e.g. `{"keep": ["S2", "S3"]}`.
pub fn string_list(params: &serde_json::Value, key: &str) -> Result<Option<Vec<String>>, String> {
    match params.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("'{key}' must be a list of stage names, found {v}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!(
            "'{key}' must be a list of stage names, found {other}"
        )),
    }
}

/// Checks that every name in `stages` is a stage of `net`.
pub fn check_stages(net: &Network, stages: &[String]) -> Result<(), String> {
    let known = net.stages();
    match stages.iter().find(|s| !known.contains(s)) {
        Some(s) => Err(format!(
            "'{s}' is not a stage of {}; its stages are {}",
            net.name,
            known.join(", ")
        )),
        None => Ok(()),
    }
}
