//! Thinning: in every non-culled stage, drop alternate ReLU layers: every
//! second ReLU layer of the stage, starting with the second. In a ResNet
//! BasicBlock this keeps the ReLU after the first conv-BN and drops the one
//! after the residual add, as in the paper's released models.

use deepreduce_plugin_api::transform::{
    activation_slots, check_stages, record_in_meta, set_relu, stage_has_relus, string_list,
};
use deepreduce_plugin_api::{
    Candidate, Descriptor, OptimizationRequest, Plugin, PluginKind, describe,
};

#[derive(Default)]
pub struct Thin;

impl Plugin for Thin {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.thin",
            "Thin ReLU layers",
            PluginKind::Optimization,
            "Drops every second ReLU layer in each non-culled stage (or in params.stages)",
        )
    }

    fn apply(&self, request: &OptimizationRequest) -> Result<Vec<Candidate>, String> {
        let mut net = request.network.clone();
        let stages = match string_list(&request.params, "stages")? {
            Some(stages) => {
                check_stages(&net, &stages)?;
                stages
            }
            None => net.body_stages(),
        };
        for stage in stages {
            if !stage_has_relus(&net, &stage) {
                continue; // culled: nothing to thin
            }
            for &i in activation_slots(&net, &stage).iter().skip(1).step_by(2) {
                set_relu(&mut net, i, false);
            }
            record_in_meta(&mut net, "thinned_stages", &stage);
        }
        Ok(vec![Candidate {
            description: describe(&net),
            network: net,
        }])
    }
}

deepreduce_plugin_api::export_plugin!(Thin);

#[cfg(test)]
mod tests;
