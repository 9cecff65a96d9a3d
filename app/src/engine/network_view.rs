//! The Network panel's model, headless: a network named as in the paper,
//! optionally to a ReLU budget, plus ReLU layers toggled by hand, built
//! through the plugins and recounted (ReLUs per layer and stage, MACs,
//! parameters, polynomial elements, max-pool comparisons, the latency
//! plugin's estimate). The GUI recounts on every click; `cargo bench
//! --bench ui` measures how long that takes.

use super::budget::Budget;
use super::network::{
    NetworkError, NetworkSpec, apply_budget, arch_params, find_architecture, reduce,
};
use super::plugin_host::PluginHost;
use super::relu_layers::{ReluLayer, relu_layers};
use deepreduce_plugin_api::transform::set_relu;
use deepreduce_plugin_api::{
    Analysis, ArchParams, LatencyEstimate, Network, PluginKind, analyze, describe,
};
use std::collections::{BTreeMap, BTreeSet};

/// What the user has chosen: the paper's knobs, a budget, plus hand edits.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub spec: NetworkSpec,
    /// ReLU layer (node name) -> whether it evaluates ReLUs, overriding
    /// what the plugins built.
    pub overrides: BTreeMap<String, bool>,
}

/// One ReLU layer (whole, masked, dropped or polynomial) in graph order.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerView {
    pub layer: ReluLayer,
    /// Toggled by hand, away from what the plugins built.
    pub edited: bool,
}

impl LayerView {
    /// Whether the layer evaluates ReLUs (whole or masked): its checkbox.
    pub fn active(&self) -> bool {
        self.layer.has_relus()
    }
}

/// The built network and everything the panel shows about it.
#[derive(Clone, Debug)]
pub struct NetworkView {
    pub network: Network,
    pub description: String,
    pub analysis: Analysis,
    pub layers: Vec<LayerView>,
    /// The first latency plugin's estimate, or why there is none.
    pub latency: Result<LatencyEstimate, String>,
}

impl NetworkView {
    pub fn relus(&self) -> u64 {
        self.analysis.total.relus
    }
}

/// The budget's last input and result, with the result's description.
struct Budgeted {
    input: Network,
    budget: Budget,
    output: Network,
    description: String,
}

/// Recounts drafts, keeping between calls the architecture's network (most
/// clicks change culling, thinning or reshaping, not the architecture), the
/// culled, thinned and reshaped one (a hand edit or a budget change leaves
/// it alone; building it is three plugin round trips, most of a recount)
/// and the budget's result (masks are ~100 KB of JSON for ResNet18: a hand
/// edit or a click that leaves the budget's input alone does not resend
/// them).
#[derive(Default)]
pub struct Recounter {
    base: Option<(ArchParams, Network)>,
    /// The draft's spec without its budget, and the network it reduces to.
    reduced: Option<(NetworkSpec, Network)>,
    budgeted: Option<Budgeted>,
}

impl Recounter {
    /// Forget the cached networks (their plugins may have changed).
    pub fn clear(&mut self) {
        self.base = None;
        self.reduced = None;
        self.budgeted = None;
    }

    /// Builds the draft through the plugins, applies the hand edits and
    /// recounts.
    pub fn recount(
        &mut self,
        host: &PluginHost,
        draft: &Draft,
    ) -> Result<NetworkView, NetworkError> {
        let reduced = self.reduced(host, &draft.spec)?;
        let (built, description) = match draft.spec.budget {
            Some(budget) => self.budgeted(host, reduced, budget)?,
            None => {
                let description = describe(&reduced);
                (reduced, description)
            }
        };
        view(host, draft, built, description)
    }

    /// The architecture's network culled, thinned and reshaped as `spec`
    /// says, through the plugins unless the last call had the same spec.
    fn reduced(&mut self, host: &PluginHost, spec: &NetworkSpec) -> Result<Network, NetworkError> {
        let key = NetworkSpec {
            budget: None,
            ..spec.clone()
        };
        if let Some((cached, net)) = &self.reduced
            && *cached == key
        {
            return Ok(net.clone());
        }
        let params = arch_params(spec);
        let base = match &self.base {
            Some((cached, net)) if *cached == params => net.clone(),
            _ => {
                let net = find_architecture(host, &spec.arch)?.build(&params)?;
                self.base = Some((params, net.clone()));
                net
            }
        };
        let net = reduce(host, base, spec)?;
        self.reduced = Some((key, net.clone()));
        Ok(net)
    }

    /// `net` to `budget` and its description, through the budget plugin
    /// unless its last call had the same input.
    fn budgeted(
        &mut self,
        host: &PluginHost,
        net: Network,
        budget: Budget,
    ) -> Result<(Network, String), NetworkError> {
        let cached = self
            .budgeted
            .as_ref()
            .filter(|c| c.budget == budget && c.input == net);
        let cached = match cached {
            Some(cached) => cached,
            None => {
                let output = apply_budget(host, net.clone(), &budget)?;
                self.budgeted.insert(Budgeted {
                    input: net,
                    budget,
                    description: describe(&output),
                    output,
                })
            }
        };
        Ok((cached.output.clone(), cached.description.clone()))
    }
}

/// Applies a hand edit to node `i`, when it changes whether the layer
/// evaluates ReLUs: off makes any ReLU layer (whole or masked) the
/// identity; on makes a dropped or polynomial layer a whole ReLU and leaves
/// a masked one as the budget made it (switching it on again after off
/// restores its mask: the override is then removed). The budget is not
/// rerun around an edit: edits are the user's last word, over every plugin.
fn apply_override(net: &mut Network, i: usize, active: bool) -> bool {
    if net.nodes[i].op.has_relus() == active {
        return false;
    }
    set_relu(net, i, active);
    true
}

/// The view of `built` (described as `description`) with the draft's
/// hand edits.
fn view(
    host: &PluginHost,
    draft: &Draft,
    built: Network,
    mut description: String,
) -> Result<NetworkView, NetworkError> {
    let mut network = built;
    let mut edited = BTreeSet::new();
    for i in 0..network.nodes.len() {
        if let Some(&active) = draft.overrides.get(&network.nodes[i].name)
            && apply_override(&mut network, i, active)
        {
            edited.insert(network.nodes[i].name.clone());
        }
    }
    if !edited.is_empty() {
        description.push_str(&format!(
            ", {} ReLU layer{} edited by hand",
            edited.len(),
            if edited.len() == 1 { "" } else { "s" }
        ));
    }
    let analysis = analyze(&network).map_err(|e| NetworkError::Invalid(e.to_string()))?;
    let layers = relu_layers(&network, &analysis)
        .into_iter()
        .map(|layer| LayerView {
            edited: edited.contains(&layer.node),
            layer,
        })
        .collect();
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
