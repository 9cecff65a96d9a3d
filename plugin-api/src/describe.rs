//! Human descriptions of networks in the paper's notation, e.g.
//! "S2^RT + S3^RT, alpha 0.5": the stages whose ReLUs remain, RT for a
//! thinned stage, a star for a one-block ResNet stage, then reshaping.
//!
//! Finer choices are noted in parentheses after a stage: "S2 (pixel 38%)"
//! when masks keep 38% of the elements of the stage's ReLU layers (those
//! still evaluating ReLUs: whole or masked; "channel" or "mixed" for other
//! masks), and "poly" when polynomials replace ReLUs in the stage. Stages
//! left with polynomials and no ReLU follow the list: ", poly in S1".

use crate::analysis::{Analysis, analyze};
use crate::ir::{Dropped, Network, Op, STEM};

/// The paper-style description of `net`, derived from its IR and the
/// `alpha`, `rho`, `thinned_stages` and `family` annotations.
pub fn describe(net: &Network) -> String {
    let active = |stage: &str| {
        net.nodes
            .iter()
            .any(|n| n.stage_is(stage) && n.op.has_relus())
    };
    let all_active = net
        .nodes
        .iter()
        .filter(|n| n.op.is_activation_slot())
        .all(|n| matches!(n.op, Op::Relu));
    let thinned = net.thinned_stages();
    let one_block_marks = net.meta_str("family") == Some("resnet");
    // Shapes only matter for the kept fraction of masked stages.
    let analysis = net
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::MaskedRelu { .. }))
        .then(|| analyze(net).ok())
        .flatten();
    let noted = |mut label: String, stage: &str| {
        let notes = stage_notes(net, stage, analysis.as_ref());
        if !notes.is_empty() {
            label.push_str(&format!(" ({})", notes.join(", ")));
        }
        label
    };

    let mut parts: Vec<String> = Vec::new();
    if all_active {
        parts.push("all ReLUs".into());
    } else {
        if active(STEM) {
            parts.push(noted("Conv1".into(), STEM));
        }
        for stage in net.body_stages().iter().filter(|s| active(s)) {
            let mut label = stage.clone();
            if one_block_marks && blocks_in(net, stage) == 1 {
                label.push('*');
            }
            if thinned.contains(stage) {
                label.push_str("^RT");
            }
            parts.push(noted(label, stage));
        }
        if parts.is_empty() {
            parts.push("no ReLUs".into());
        }
    }
    let mut text = parts.join(" + ");
    let mut poly_only: Vec<String> = net
        .body_stages()
        .into_iter()
        .filter(|s| !active(s) && has_polys(net, s))
        .collect();
    if !active(STEM) && has_polys(net, STEM) {
        poly_only.insert(0, "Conv1".into());
    }
    if !poly_only.is_empty() {
        text.push_str(&format!(", poly in {}", poly_only.join(" + ")));
    }
    for key in ["alpha", "rho"] {
        if let Some(v) = net.meta_f64(key).filter(|v| *v != 1.0) {
            text.push_str(&format!(", {key} {v}"));
        }
    }
    text
}

/// "pixel 38%" if the stage has masked layers, "poly" if it has
/// polynomials; empty for a stage of whole ReLU layers.
fn stage_notes(net: &Network, stage: &str, analysis: Option<&Analysis>) -> Vec<String> {
    let mut notes = Vec::new();
    let mut granularities = net.nodes.iter().filter_map(|n| match &n.op {
        Op::MaskedRelu { mask, .. } if n.stage_is(stage) => Some(mask.granularity),
        _ => None,
    });
    if let Some(first) = granularities.next() {
        let name = if granularities.all(|g| g == first) {
            first.as_str()
        } else {
            "mixed"
        };
        notes.push(match analysis {
            Some(a) => format!("{name} {}", kept_percent(net, a, stage)),
            None => name.to_string(),
        });
    }
    if has_polys(net, stage) {
        notes.push("poly".into());
    }
    notes
}

/// Kept ReLUs over the elements of the stage's layers that evaluate ReLUs,
/// rounded to a whole percent, never shown as 0% or 100% when it is not.
fn kept_percent(net: &Network, analysis: &Analysis, stage: &str) -> String {
    let (kept, elements) = net
        .nodes
        .iter()
        .zip(&analysis.nodes)
        .filter(|(n, _)| n.stage_is(stage) && n.op.has_relus())
        .fold((0, 0), |(k, e), (_, s)| {
            (k + s.relus, e + s.output.elements())
        });
    match (kept as f64 * 100.0 / elements as f64).round() as u64 {
        0 if kept > 0 => "<1%".into(),
        100 if kept < elements => ">99%".into(),
        p => format!("{p}%"),
    }
}

fn has_polys(net: &Network, stage: &str) -> bool {
    net.nodes.iter().any(|n| {
        n.stage_is(stage)
            && matches!(
                n.op,
                Op::Poly(_)
                    | Op::MaskedRelu {
                        dropped: Dropped::Poly(_),
                        ..
                    }
            )
    })
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
