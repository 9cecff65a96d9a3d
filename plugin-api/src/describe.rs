//! Human descriptions of networks in the paper's notation, e.g.
//! "S2^RT + S3^RT, alpha 0.5": the stages whose ReLUs remain, RT for a
//! thinned stage, a star for a one-block ResNet stage, then reshaping.

use crate::ir::{Network, STEM};

/// The paper-style description of `net`, derived from its IR and the
/// `alpha`, `rho`, `thinned_stages` and `family` annotations.
pub fn describe(net: &Network) -> String {
    let active = |stage: &str| {
        net.nodes
            .iter()
            .any(|n| n.stage_is(stage) && matches!(n.op, crate::Op::Relu))
    };
    let all_active = net
        .nodes
        .iter()
        .filter(|n| n.op.is_activation_slot())
        .all(|n| matches!(n.op, crate::Op::Relu));
    let thinned = net.thinned_stages();
    let one_block_marks = net.meta_str("family") == Some("resnet");

    let mut parts: Vec<String> = Vec::new();
    if all_active {
        parts.push("all ReLUs".into());
    } else {
        if active(STEM) {
            parts.push("Conv1".into());
        }
        for stage in net.body_stages().iter().filter(|s| active(s)) {
            let mut label = stage.clone();
            if one_block_marks && blocks_in(net, stage) == 1 {
                label.push('*');
            }
            if thinned.contains(stage) {
                label.push_str("^RT");
            }
            parts.push(label);
        }
        if parts.is_empty() {
            parts.push("no ReLUs".into());
        }
    }
    let mut text = parts.join(" + ");
    for key in ["alpha", "rho"] {
        if let Some(v) = net.meta_f64(key).filter(|v| *v != 1.0) {
            text.push_str(&format!(", {key} {v}"));
        }
    }
    text
}

fn blocks_in(net: &Network, stage: &str) -> usize {
    let mut blocks: Vec<&str> = net
        .nodes
        .iter()
        .filter(|n| n.stage_is(stage))
        .filter_map(|n| n.block.as_deref())
        .collect();
    blocks.dedup();
    blocks.len()
}
