//! The Network panel's model, headless: a network named as in the paper
//! plus ReLU layers toggled by hand, built through the plugins and recounted
//! (ReLUs per layer and stage, MACs, parameters, the latency plugin's
//! estimate). The GUI recounts on every click; `deepreduce bench --recount`
//! measures how long that takes.

use super::network::{NetworkError, NetworkSpec, arch_params, find_architecture, optimize};
use super::plugin_host::PluginHost;
use deepreduce_plugin_api::transform::set_relu;
use deepreduce_plugin_api::{Analysis, ArchParams, LatencyEstimate, Network, PluginKind, analyze};
use std::collections::BTreeMap;

/// What the user has chosen: the paper's knobs plus hand edits.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub spec: NetworkSpec,
    /// ReLU layer (node name) -> active, overriding what the plugins built.
    pub overrides: BTreeMap<String, bool>,
}

/// One ReLU layer (active or dropped) in graph order.
#[derive(Clone, Debug, PartialEq)]
pub struct ReluLayer {
    pub node: String,
    pub stage: Option<String>,
    pub block: Option<String>,
    /// The layer's ReLU count when active (its output size).
    pub size: u64,
    pub active: bool,
    /// Toggled by hand, away from what the plugins built.
    pub edited: bool,
}

/// The built network and everything the panel shows about it.
#[derive(Clone, Debug)]
pub struct NetworkView {
    pub network: Network,
    pub description: String,
    pub analysis: Analysis,
    pub layers: Vec<ReluLayer>,
    /// The first latency plugin's estimate, or why there is none.
    pub latency: Result<LatencyEstimate, String>,
}

impl NetworkView {
    pub fn relus(&self) -> u64 {
        self.analysis.total.relus
    }
}

/// Recounts drafts, keeping the architecture's network between calls: most
/// clicks change culling, thinning or reshaping, not the architecture.
#[derive(Default)]
pub struct Recounter {
    base: Option<(ArchParams, Network)>,
}

impl Recounter {
    /// Forget the cached architecture (its plugin may have changed).
    pub fn clear(&mut self) {
        self.base = None;
    }

    /// Builds the draft through the plugins, applies the hand edits and
    /// recounts.
    pub fn recount(
        &mut self,
        host: &PluginHost,
        draft: &Draft,
    ) -> Result<NetworkView, NetworkError> {
        let params = arch_params(&draft.spec);
        let base = match &self.base {
            Some((cached, net)) if *cached == params => net.clone(),
            _ => {
                let net = find_architecture(host, &draft.spec.arch)?.build(&params)?;
                self.base = Some((params, net.clone()));
                net
            }
        };
        view(host, draft, base)
    }
}

fn view(host: &PluginHost, draft: &Draft, base: Network) -> Result<NetworkView, NetworkError> {
    let (mut network, mut description) = optimize(host, base, &draft.spec)?;
    let built: Vec<bool> = network
        .nodes
        .iter()
        .map(|n| n.op == deepreduce_plugin_api::Op::Relu)
        .collect();
    for i in 0..network.nodes.len() {
        if let Some(&active) = draft.overrides.get(&network.nodes[i].name) {
            set_relu(&mut network, i, active);
        }
    }
    let analysis = analyze(&network).map_err(|e| NetworkError::Invalid(e.to_string()))?;
    let layers: Vec<ReluLayer> = network
        .nodes
        .iter()
        .zip(&analysis.nodes)
        .zip(&built)
        .filter(|((node, _), _)| node.op.is_activation_slot())
        .map(|((node, stats), &was_active)| {
            let active = node.op == deepreduce_plugin_api::Op::Relu;
            ReluLayer {
                node: node.name.clone(),
                stage: node.stage.clone(),
                block: node.block.clone(),
                size: stats.output.elements(),
                active,
                edited: active != was_active,
            }
        })
        .collect();
    let edited = layers.iter().filter(|l| l.edited).count();
    if edited > 0 {
        description.push_str(&format!(
            ", {edited} ReLU layer{} edited by hand",
            if edited == 1 { "" } else { "s" }
        ));
    }
    let latency = match host.of_kind(PluginKind::Latency).next() {
        Some(plugin) => plugin.estimate(&network).map_err(|e| e.to_string()),
        None => Err("no latency plugin is loaded".into()),
    };
    Ok(NetworkView {
        network,
        description,
        analysis,
        layers,
        latency,
    })
}
