//! A training the pipeline runs (a method's request as the host plans it),
//! and the baseline network every method starts from.

use super::super::dataset_shape::info_shape;
use super::super::network::{NetworkSpec, build_network};
use super::super::store::{NewRun, RunRole};
use super::super::train::TrainConfig;
use super::{PipelineConfig, PipelineError};
use crate::engine::plugin_host::PluginHost;
use deepreduce_datasets::DatasetInfo;
use deepreduce_plugin_api::Network;
use deepreduce_plugin_api::reduction::{GateRecipe, TrainingRequest};
use serde_json::json;

/// One training the pipeline plans.
#[derive(Clone, Debug)]
pub struct Job {
    /// Unique within the pipeline; how a resumed pipeline finds the run.
    pub key: String,
    pub role: RunRole,
    pub stage: Option<String>,
    pub description: String,
    pub network: Network,
    /// Distil from this finished run of the pipeline (by key).
    pub teacher: Option<String>,
    /// Start from this finished run's weights, layer by layer (by key).
    pub init_from: Option<String>,
    /// Learn gates to a ReLU budget instead of training the network as is.
    pub gates: Option<GateRecipe>,
    /// The pipeline's epochs when `None`.
    pub epochs: Option<usize>,
    pub relus: u64,
    /// (id, version) of the plugins that produced the network.
    pub plugins: Vec<(String, String)>,
    /// The method's request this job is, kept with the run for the replay.
    pub request: Option<TrainingRequest>,
}

impl Job {
    /// The pipeline's training settings for this job.
    pub fn train_config(&self, pipeline: &TrainConfig) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs.unwrap_or(pipeline.epochs),
            ..pipeline.clone()
        }
    }

    pub fn new_run(&self, pipeline: i64, train: &TrainConfig) -> NewRun {
        let plugins: Vec<_> = self
            .plugins
            .iter()
            .map(|(id, v)| json!({ "id": id, "version": v }))
            .collect();
        let train = self.train_config(train);
        let mut config = json!({ "train": train, "kd": self.teacher.is_some() });
        if let Some(request) = &self.request {
            config["request"] = serde_json::to_value(request).expect("requests serialise");
        }
        NewRun {
            pipeline_id: Some(pipeline),
            key: self.key.clone(),
            role: self.role,
            stage: self.stage.clone(),
            description: self.description.clone(),
            network: serde_json::to_value(&self.network).expect("IR serialises"),
            config,
            plugins: json!(plugins),
            seed: train.seed,
            relus: self.relus,
        }
    }
}

/// The full-ReLU network the user chose: the architecture plugin's, for
/// the dataset's input and classes. Every method starts from it.
pub fn baseline_network(
    host: &PluginHost,
    cfg: &PipelineConfig,
    info: &DatasetInfo,
) -> Result<Network, PipelineError> {
    let (input, classes) = info_shape(info);
    let spec = NetworkSpec {
        blocks: cfg.blocks.clone(),
        width: cfg.width,
        ..NetworkSpec::new(&cfg.arch, input, classes)
    };
    Ok(build_network(host, &spec)?.0)
}
