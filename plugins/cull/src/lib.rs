//! Culling: drop every ReLU of whole stages. Two modes:
//! - `params.keep`: the stages whose ReLUs stay (the stem, Conv1, only if
//!   listed as "stem"); one candidate.
//! - `context.criticality` (stage -> C_k): the paper's cumulative culling,
//!   least critical first, never the most critical: D-1 candidates. The
//!   stem's ReLU is dropped in every one.

use deepreduce_plugin_api::transform::{
    check_stages, drop_stage_relus, record_in_meta, string_list,
};
use deepreduce_plugin_api::{
    Candidate, Descriptor, Network, OptimizationRequest, Plugin, PluginKind, describe,
};

#[derive(Default)]
pub struct Cull;

impl Plugin for Cull {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.cull",
            "Cull stages",
            PluginKind::Optimization,
            "Drops all ReLUs of whole stages: the stages not in params.keep, or cumulatively \
             the least critical stages given context.criticality",
        )
    }

    fn apply(&self, request: &OptimizationRequest) -> Result<Vec<Candidate>, String> {
        let net = &request.network;
        if let Some(keep) = string_list(&request.params, "keep")? {
            check_stages(net, &keep)?;
            return Ok(vec![candidate(keep_only(net, &keep))]);
        }
        let Some(criticality) = request.context.get("criticality") else {
            return Err("give params.keep (stages to keep) or context.criticality".into());
        };
        let order = least_critical_first(net, criticality)?;
        Ok((1..order.len())
            .map(|culled| {
                let keep: Vec<String> = order[culled..].to_vec();
                candidate(keep_only(net, &keep))
            })
            .collect())
    }
}

fn candidate(network: Network) -> Candidate {
    Candidate {
        description: describe(&network),
        network,
    }
}

/// A copy of `net` whose only ReLUs are those of `keep`.
fn keep_only(net: &Network, keep: &[String]) -> Network {
    let mut out = net.clone();
    for stage in net.stages().iter().filter(|s| !keep.contains(s)) {
        drop_stage_relus(&mut out, stage);
        record_in_meta(&mut out, "culled_stages", stage);
    }
    out
}

/// The body stages ordered by criticality, least critical first (ties keep
/// stage order).
fn least_critical_first(
    net: &Network,
    criticality: &serde_json::Value,
) -> Result<Vec<String>, String> {
    let mut scored = net
        .body_stages()
        .into_iter()
        .map(|s| match criticality.get(&s).and_then(|v| v.as_f64()) {
            Some(c) if c.is_finite() => Ok((s, c)),
            _ => Err(format!(
                "context.criticality has no finite number for stage {s}"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    scored.sort_by(|a, b| a.1.total_cmp(&b.1));
    Ok(scored.into_iter().map(|(s, _)| s).collect())
}

deepreduce_plugin_api::export_plugin!(Cull);

#[cfg(test)]
mod tests;
