//! An SNL-style method (Cho et al., ICML 2022, "Selective Network
//! Linearization"), as a `deepreduce.method/1` plugin. It depends on the
//! public plugin API only, as a third party's method would.
//!
//! The method, for each ReLU budget B of `budgets`:
//! 1. `baseline`: the full-ReLU network, trained from scratch (once).
//! 2. `gates:B`: from the baseline's weights, with KD from it, learn a gate
//!    per ReLU (per element or channel) under a growing L1 penalty until at
//!    most B gates stay on; the host returns the network with the B largest
//!    gates as its exact mask.
//! 3. `finetune:B`: that masked network, from the gated run's weights,
//!    trained with KD from the baseline.
//!
//! The candidates are the fine-tuned networks. Like every method, this one
//! keeps no state: each step reads what is done from the history, so the
//! host resumes a stopped pipeline by replaying it.

mod params;
mod plan;
#[cfg(test)]
mod tests;

use deepreduce_plugin_api::reduction::{MethodInfo, StepInput, StepOutput};
use deepreduce_plugin_api::{Descriptor, Plugin, PluginKind};

#[derive(Default)]
pub struct Snl;

impl Plugin for Snl {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.method.snl",
            "SNL (selective linearization)",
            PluginKind::Method,
            "Per budget: gates learned from the baseline under a growing L1 penalty down to \
             exactly that many ReLUs, then the masked network fine-tuned with KD",
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

deepreduce_plugin_api::export_plugin!(Snl);
