//! Builds a network the way the paper names it (architecture, kept stages,
//! thinning, alpha, rho), then to a ReLU budget, by driving the plugins:
//! architecture -> cull -> thin -> reshape -> budget. The CLI's `count`,
//! the pipeline and the GUI share it.

use super::budget::Budget;
use super::plugin_host::{HostError, LoadedPlugin, PluginHost};
use crate::format::group;
use deepreduce_plugin_api::{
    ArchParams, InputSpec, Network, OptimizationRequest, PluginKind, analyze, describe,
};
use serde_json::json;

/// Ids of the built-in plugins the engine relies on.
pub mod ids {
    pub const CULL: &str = "org.deepreduce.cull";
    pub const THIN: &str = "org.deepreduce.thin";
    pub const RESHAPE: &str = "org.deepreduce.reshape";
    pub const KD: &str = "org.deepreduce.kd";
    pub const DELPHI: &str = "org.deepreduce.delphi";
    pub const BUDGET: &str = "org.deepreduce.budget";
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(transparent)]
    Plugin(#[from] HostError),
    #[error(
        "no architecture plugin offers '{name}'; available: {}{}",
        known.join(", "),
        unanswered_list(unanswered)
    )]
    UnknownArchitecture {
        name: String,
        known: Vec<String>,
        /// Architecture plugins that could not say what they offer.
        unanswered: Vec<HostError>,
    },
    #[error("the plugin '{0}' is not loaded (run `deepreduce plugins` to see why)")]
    MissingPlugin(String),
    #[error("the network is invalid: {0}")]
    Invalid(String),
    #[error("{name} must be a number in (0, 1], got {value}")]
    BadScale { name: &'static str, value: f64 },
    #[error("{plugin} returned {count} networks where one was expected")]
    NotOneCandidate { plugin: String, count: usize },
    #[error(
        "a budget of {} ReLUs is more than the {} the network has after culling, thinning \
         and reshaping",
        group(*budget),
        group(*relus)
    )]
    BudgetAboveRelus { budget: u64, relus: u64 },
}

/// A network described as in the paper.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    /// An architecture variant, e.g. "resnet18".
    pub arch: String,
    pub input: InputSpec,
    pub classes: usize,
    pub blocks: Option<Vec<usize>>,
    pub width: Option<usize>,
    /// Stages whose ReLUs remain ("stem" for Conv1); `None` keeps all.
    pub keep: Option<Vec<String>>,
    pub thin: bool,
    pub alpha: f64,
    pub rho: f64,
    /// Masks to this many ReLUs, last.
    pub budget: Option<Budget>,
}

impl NetworkSpec {
    /// Refuses scales outside (0, 1]: NaN or infinity would otherwise
    /// reach the reshape plugin as JSON null and be read as "unscaled".
    pub fn validate(&self) -> Result<(), NetworkError> {
        for (name, value) in [("alpha", self.alpha), ("rho", self.rho)] {
            if !(value.is_finite() && value > 0.0 && value <= 1.0) {
                return Err(NetworkError::BadScale { name, value });
            }
        }
        Ok(())
    }

    pub fn new(arch: &str, input: InputSpec, classes: usize) -> Self {
        NetworkSpec {
            arch: arch.into(),
            input,
            classes,
            blocks: None,
            width: None,
            keep: None,
            thin: false,
            alpha: 1.0,
            rho: 1.0,
            budget: None,
        }
    }
}

/// The architecture plugin offering `variant`, and every variant on offer.
pub fn find_architecture<'h>(
    host: &'h PluginHost,
    variant: &str,
) -> Result<&'h LoadedPlugin, NetworkError> {
    let (mut known, mut unanswered) = (Vec::new(), Vec::new());
    for plugin in host.of_kind(PluginKind::Architecture) {
        let info = match plugin.describe_architecture() {
            Ok(info) => info,
            Err(e) => {
                unanswered.push(e);
                continue;
            }
        };
        if info.variants.iter().any(|v| v.name == variant) {
            return Ok(plugin);
        }
        known.extend(info.variants.into_iter().map(|v| v.name));
    }
    Err(NetworkError::UnknownArchitecture {
        name: variant.into(),
        known,
        unanswered,
    })
}

/// "; and N plugins did not answer: ..." when some could not be asked.
fn unanswered_list(unanswered: &[HostError]) -> String {
    if unanswered.is_empty() {
        return String::new();
    }
    let errors: Vec<String> = unanswered.iter().map(ToString::to_string).collect();
    format!(
        "; {} architecture plugin(s) could not say theirs: {}",
        errors.len(),
        errors.join("; ")
    )
}

pub fn plugin<'h>(host: &'h PluginHost, id: &str) -> Result<&'h LoadedPlugin, NetworkError> {
    host.get(id)
        .ok_or_else(|| NetworkError::MissingPlugin(id.into()))
}

/// Applies an optimization plugin that yields exactly one network.
pub fn apply_one(
    plugin: &LoadedPlugin,
    network: Network,
    params: serde_json::Value,
) -> Result<Network, NetworkError> {
    let request = OptimizationRequest {
        network,
        params,
        context: serde_json::Value::Null,
    };
    let mut candidates = plugin.apply(&request)?;
    if candidates.len() != 1 {
        return Err(NetworkError::NotOneCandidate {
            plugin: plugin.descriptor.id.clone(),
            count: candidates.len(),
        });
    }
    Ok(candidates.remove(0).network)
}

/// Builds `spec` through the plugins; returns the network and its
/// paper-style description.
pub fn build_network(
    host: &PluginHost,
    spec: &NetworkSpec,
) -> Result<(Network, String), NetworkError> {
    spec.validate()?;
    let base = find_architecture(host, &spec.arch)?.build(&arch_params(spec))?;
    optimize(host, base, spec)
}

/// (id, version) of every plugin that [`build_network`] drives for `spec`,
/// as the run store records them.
pub fn plugins_used(
    host: &PluginHost,
    spec: &NetworkSpec,
) -> Result<Vec<(String, String)>, NetworkError> {
    let mut used = vec![find_architecture(host, &spec.arch)?];
    let steps = [
        (spec.keep.is_some(), ids::CULL),
        (spec.thin, ids::THIN),
        (spec.alpha != 1.0 || spec.rho != 1.0, ids::RESHAPE),
        (spec.budget.is_some(), ids::BUDGET),
    ];
    for (applies, id) in steps {
        if applies {
            used.push(plugin(host, id)?);
        }
    }
    Ok(used
        .into_iter()
        .map(|p| (p.descriptor.id.clone(), p.descriptor.version.clone()))
        .collect())
}

/// What the architecture plugin is asked to build for `spec`.
pub fn arch_params(spec: &NetworkSpec) -> ArchParams {
    ArchParams {
        variant: spec.arch.clone(),
        input: spec.input,
        classes: spec.classes,
        blocks: spec.blocks.clone(),
        width: spec.width,
    }
}

/// Culls, thins, reshapes and budgets the architecture's network `base`
/// as `spec` says; returns the network and its description.
pub fn optimize(
    host: &PluginHost,
    base: Network,
    spec: &NetworkSpec,
) -> Result<(Network, String), NetworkError> {
    let mut net = reduce(host, base, spec)?;
    if let Some(budget) = &spec.budget {
        net = apply_budget(host, net, budget)?;
    }
    let description = describe(&net);
    Ok((net, description))
}

/// Culls, thins and reshapes `base` as `spec` says: every step but the
/// budget.
pub fn reduce(
    host: &PluginHost,
    base: Network,
    spec: &NetworkSpec,
) -> Result<Network, NetworkError> {
    spec.validate()?;
    let mut net = base;
    if let Some(keep) = &spec.keep {
        net = apply_one(plugin(host, ids::CULL)?, net, json!({ "keep": keep }))?;
    }
    if spec.thin {
        net = apply_one(plugin(host, ids::THIN)?, net, json!({}))?;
    }
    if spec.alpha != 1.0 || spec.rho != 1.0 {
        let params = json!({ "alpha": spec.alpha, "rho": spec.rho });
        net = apply_one(plugin(host, ids::RESHAPE)?, net, params)?;
    }
    Ok(net)
}

/// Masks `net` to `budget` through the budget plugin. A budget above the
/// network's ReLUs is refused here, in the terms of the network's flags.
pub fn apply_budget(
    host: &PluginHost,
    net: Network,
    budget: &Budget,
) -> Result<Network, NetworkError> {
    let relus = analyze(&net)
        .map_err(|e| NetworkError::Invalid(e.to_string()))?
        .total
        .relus;
    if budget.relus > relus {
        return Err(NetworkError::BudgetAboveRelus {
            budget: budget.relus,
            relus,
        });
    }
    apply_one(plugin(host, ids::BUDGET)?, net, budget.params())
}
