//! One training, the same whoever asks for it: a method's request in a
//! pipeline, the GUI's *Train this network* and `deepreduce train` all call
//! [`execute`]. It trains (or learns gates), saves the final weights, and
//! measures the latency estimate and the inference time; recording the run
//! in the store is the caller's business. The trained models a run distils
//! from or starts from are loaded in one place, [`Models::load`].

use super::backend::Backend;
use super::inference;
use super::network::{NetworkError, ids, plugin};
use super::plugin_host::{HostError, PluginHost};
use super::train::{
    Checkpoint, RunContext, Status, Teacher, TrainConfig, TrainError, TrainEvent, learn_gates,
    train_from,
};
use super::trained::{self, TrainedError};
use deepreduce_datasets::Dataset;
use deepreduce_models::IrModel;
use deepreduce_plugin_api::reduction::GateRecipe;
use deepreduce_plugin_api::{Network, TrainingObjective};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;

/// What one training is: its network and how to train it. Teacher and
/// warm start name models of a [`Models`] by key.
pub struct RunSpec<'a> {
    pub network: &'a Network,
    pub train: TrainConfig,
    /// Distil from this model.
    pub teacher: Option<&'a str>,
    /// Seed every layer of the same name and shape from this model.
    pub init_from: Option<&'a str>,
    /// Learn gates to a ReLU budget instead of training the network as is.
    pub gates: Option<&'a GateRecipe>,
}

/// Where a run's files go: per-epoch checkpoints and the final weights
/// (`network.json` and `model.bpk`); none are written for a `None`.
#[derive(Clone, Debug, Default)]
pub struct RunFolder {
    pub checkpoints: Option<PathBuf>,
    pub weights: Option<PathBuf>,
}

impl RunFolder {
    /// The layout of a run of the store: `DIR/checkpoints`, `DIR/final`.
    pub fn stored(dir: &std::path::Path) -> Self {
        RunFolder {
            checkpoints: Some(dir.join("checkpoints")),
            weights: Some(dir.join("final")),
        }
    }

    /// The checkpoint to resume from: the latest, unless the run learns
    /// gates (their checkpoints would not hold the L1 weight reached).
    pub fn resume_point(&self, spec: &RunSpec) -> Result<Option<Checkpoint>, TrainError> {
        match (&self.checkpoints, spec.gates) {
            (Some(dir), None) => Checkpoint::latest(dir),
            _ => Ok(None),
        }
    }
}

/// The key of a teacher given as a weights file rather than a run.
pub const TEACHER: &str = "teacher";

/// Trained models runs distil from or start from, by key, loaded once,
/// with the kd plugin's distillation recipe when one distils.
#[derive(Default)]
pub struct Models {
    by_key: HashMap<String, IrModel>,
    distillation: Option<TrainingObjective>,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("'{key}': {error}")]
    Load { key: String, error: TrainedError },
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Plugin(#[from] HostError),
}

impl Models {
    /// Loads the weights files of `sources` (key, path); `distils` fetches
    /// the distillation recipe.
    pub fn load(
        host: &PluginHost,
        backend: &Backend,
        sources: impl IntoIterator<Item = (String, PathBuf)>,
        distils: bool,
    ) -> Result<Self, ModelsError> {
        let mut models = Models::default();
        for (key, path) in sources {
            let (_, model) =
                trained::load(&path, &backend.device).map_err(|error| ModelsError::Load {
                    key: key.clone(),
                    error,
                })?;
            models.by_key.insert(key, model);
        }
        if distils {
            models.distillation = Some(plugin(host, ids::KD)?.recipe(&json!({}))?);
        }
        Ok(models)
    }

    fn get(&self, key: Option<&str>) -> Option<&IrModel> {
        self.by_key.get(key?)
    }

    fn teacher(&self, key: Option<&str>) -> Option<Teacher<'_>> {
        Some(Teacher {
            model: self.get(key)?,
            objective: self.distillation.clone()?,
        })
    }
}

/// Where runs train, who listens to them and can stop them.
pub struct RunEnv<'a> {
    pub host: &'a PluginHost,
    pub backend: &'a Backend,
    pub events: Option<&'a Sender<TrainEvent>>,
    pub cancel: Option<&'a AtomicBool>,
}

/// What came of a run (a cluster job's `result.json`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Executed {
    pub status: Status,
    /// After the last finished epoch.
    pub accuracy: Option<f64>,
    /// The network trained: for gates, the one with the learned mask.
    pub network: Network,
    /// The final weights file, when the run completed and has a folder.
    pub weights: Option<PathBuf>,
    /// The latency plugin's estimate, when it completed.
    pub latency: Option<Value>,
    pub inference_ms: Option<f64>,
    pub epochs_done: usize,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Trained(#[from] TrainedError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Plugin(#[from] HostError),
}

/// Trains `spec` on `data`, resuming from `resume`; on completion saves
/// the final weights in `folder` and measures the run (latency estimate,
/// inference time).
pub fn execute(
    env: &RunEnv,
    spec: &RunSpec,
    data: &Dataset,
    models: &Models,
    folder: &RunFolder,
    resume: Option<Checkpoint>,
) -> Result<Executed, RunError> {
    let (host, backend) = (env.host, env.backend);
    let ctx = RunContext {
        device: &backend.device,
        events: env.events,
        cancel: env.cancel,
        checkpoint_dir: spec
            .gates
            .is_none()
            .then(|| folder.checkpoints.clone())
            .flatten(),
        resume,
    };
    let teacher = models.teacher(spec.teacher);
    let init = models.get(spec.init_from);
    let (status, model, accuracy, network, epochs_done, seconds) = match spec.gates {
        None => {
            let o = train_from(spec.network, data, &spec.train, teacher, init, &ctx)?;
            let network = spec.network.clone();
            (
                o.status,
                o.model,
                o.test_accuracy,
                network,
                o.epochs_done,
                o.seconds,
            )
        }
        Some(recipe) => {
            let o = learn_gates(spec.network, recipe, data, &spec.train, teacher, init, &ctx)?;
            // The learned network, as a plain model: its layers from the
            // gated one, the gates now its mask.
            let plain = IrModel::new(&o.network, &backend.device.clone().autodiff())
                .map_err(TrainError::Model)?;
            let epochs = o.epochs.len();
            let model = plain.warm_start(&o.model).0;
            (
                o.status,
                model,
                o.test_accuracy,
                o.network,
                epochs,
                o.seconds,
            )
        }
    };
    let mut executed = Executed {
        accuracy,
        status,
        network,
        weights: None,
        latency: None,
        inference_ms: None,
        epochs_done,
        seconds,
    };
    if executed.status == Status::Completed {
        if let Some(dir) = &folder.weights {
            trained::save(dir, &executed.network, &model)?;
            executed.weights = Some(dir.join(trained::WEIGHTS_FILE));
        }
        let latency = plugin(host, ids::DELPHI)?.estimate(&executed.network)?;
        executed.latency = Some(serde_json::to_value(latency).expect("JSON"));
        executed.inference_ms = Some(inference::milliseconds_per_image(
            &model,
            executed.network.input,
            &backend.device,
            32,
        ));
    }
    Ok(executed)
}
