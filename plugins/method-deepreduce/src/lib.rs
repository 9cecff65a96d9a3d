//! DeepReDuce (Jha et al., ICML 2021; SPEC.md) as a `deepreduce.method/1`
//! plugin, on the public plugin API only. Each step reads what is done from
//! the history and the optimizations applied so far:
//! 1. `baseline`: the full-ReLU network, trained from scratch (the teacher).
//! 2. One stage-only network per stage (the cull plugin keeping that stage),
//!    trained with KD (and without, when asked): the stage's criticality.
//! 3. The cull plugin's D-1 cumulative culls, least critical stage first.
//! 4. Per culled network: thinned (the thin plugin), thinned and reshaped
//!    three ways (the reshape plugin), and the extra plugins' candidates.
//! 5. Every candidate retrained with KD from the baseline.
//!
//! The candidates are the baseline and every retrained network that
//! completed.

mod params;
mod plan;
#[cfg(test)]
mod tests;

use deepreduce_plugin_api::reduction::{MethodInfo, StepInput, StepOutput};
use deepreduce_plugin_api::{Descriptor, Plugin, PluginKind};

#[derive(Default)]
pub struct DeepReduce;

impl Plugin for DeepReduce {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.method.deepreduce",
            "DeepReDuce",
            PluginKind::Method,
            "Stage criticality from stage-only networks, cumulative culling of the least \
             critical stages, thinning and reshaping, KD retraining of every candidate",
        )
    }

    fn describe_method(&self) -> Result<MethodInfo, String> {
        Ok(params::info())
    }

    fn step(&self, input: &StepInput) -> Result<StepOutput, String> {
        let params = params::Params::read(&input.params)?;
        plan::next(&params, input)
    }
}

deepreduce_plugin_api::export_plugin!(DeepReduce);
