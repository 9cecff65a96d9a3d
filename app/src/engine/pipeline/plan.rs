//! Which networks the pipeline trains, built through the plugins: the
//! baseline, the stage-only criticality networks, and the candidates.

use super::super::dataset_shape::info_shape;
use super::super::network::{
    NetworkError, NetworkSpec, apply_one, build_network, find_architecture, ids, plugin,
};
use super::super::store::NewRun;
use super::super::train::TrainConfig;
use super::{PipelineConfig, PipelineError};
use crate::engine::plugin_host::PluginHost;
use deepreduce_datasets::DatasetInfo;
use deepreduce_plugin_api::reduction::{GateRecipe, TrainingRequest};
use deepreduce_plugin_api::{InputSpec, Network, OptimizationRequest, analyze, describe};
use serde_json::json;

/// The key of the full-ReLU network's run, the teacher of the others.
pub const BASELINE: &str = "baseline";

/// One training the pipeline plans.
#[derive(Clone, Debug)]
pub struct Job {
    /// Unique within the pipeline; how a resumed pipeline finds the run.
    pub key: String,
    pub role: &'static str,
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
            role: self.role.to_string(),
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

pub struct Planner<'a> {
    host: &'a PluginHost,
    cfg: &'a PipelineConfig,
    input: InputSpec,
    classes: usize,
}

impl<'a> Planner<'a> {
    pub fn new(host: &'a PluginHost, cfg: &'a PipelineConfig, info: &DatasetInfo) -> Self {
        let (input, classes) = info_shape(info);
        Planner {
            host,
            cfg,
            input,
            classes,
        }
    }

    fn version(&self, id: &str) -> Result<(String, String), NetworkError> {
        let p = plugin(self.host, id)?;
        Ok((p.descriptor.id.clone(), p.descriptor.version.clone()))
    }

    fn job(
        &self,
        key: String,
        role: &'static str,
        network: Network,
        kd: bool,
        plugins: &[&str],
    ) -> Result<Job, PipelineError> {
        let arch = find_architecture(self.host, &self.cfg.arch)?;
        let mut versions = vec![(arch.descriptor.id.clone(), arch.descriptor.version.clone())];
        for id in plugins {
            versions.push(self.version(id)?);
        }
        let relus = analyze(&network).map(|a| a.total.relus).unwrap_or(0);
        Ok(Job {
            key,
            role,
            stage: None,
            description: describe(&network),
            network,
            teacher: (kd && self.cfg.kd).then(|| BASELINE.to_string()),
            init_from: None,
            gates: None,
            epochs: None,
            relus,
            plugins: versions,
            request: None,
        })
    }

    pub fn baseline(&self) -> Result<Job, PipelineError> {
        let spec = NetworkSpec {
            blocks: self.cfg.blocks.clone(),
            width: self.cfg.width,
            ..NetworkSpec::new(&self.cfg.arch, self.input, self.classes)
        };
        let (net, _) = build_network(self.host, &spec)?;
        self.job(BASELINE.into(), "baseline", net, false, &[])
    }

    /// One network per stage with ReLUs only there (Conv1's dropped too),
    /// trained with KD (and without, when asked).
    pub fn criticality(&self, base: &Network) -> Result<Vec<Job>, PipelineError> {
        let cull = plugin(self.host, ids::CULL)?;
        let mut jobs = Vec::new();
        for stage in base.body_stages() {
            let net = apply_one(cull, base.clone(), json!({ "keep": [stage] }))?;
            let mut variants = vec![(format!("criticality:{stage}"), "criticality", true)];
            if self.cfg.criticality_without_kd {
                variants.push((
                    format!("criticality-nokd:{stage}"),
                    "criticality-nokd",
                    false,
                ));
            }
            for (key, role, kd) in variants {
                let mut job = self.job(key, role, net.clone(), kd, &[ids::CULL])?;
                job.stage = Some(stage.clone());
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// The D-1 cumulatively culled networks (least critical first), each
    /// with its five variants, plus the extra plugins' candidates.
    pub fn candidates(
        &self,
        base: &Network,
        criticality: &[(String, f64)],
    ) -> Result<Vec<Job>, PipelineError> {
        let context: serde_json::Map<_, _> = criticality
            .iter()
            .map(|(s, c)| (s.clone(), json!(c)))
            .collect();
        let request = OptimizationRequest {
            network: base.clone(),
            params: json!({}),
            context: json!({ "criticality": context }),
        };
        let culled = plugin(self.host, ids::CULL)?.apply(&request)?;
        let thin = plugin(self.host, ids::THIN)?;
        let reshape = plugin(self.host, ids::RESHAPE)?;
        let mut jobs: Vec<Job> = Vec::new();
        let mut push = |job: Job| {
            if !jobs.iter().any(|j| j.key == job.key) {
                jobs.push(job);
            }
        };
        for c in culled {
            let built_in = |net: Network, plugins: &[&str]| {
                let key = format!("candidate:{}", describe(&net));
                self.job(key, "candidate", net, true, plugins)
            };
            push(built_in(c.network.clone(), &[ids::CULL])?);
            let thinned = apply_one(thin, c.network.clone(), json!({}))?;
            push(built_in(thinned.clone(), &[ids::CULL, ids::THIN])?);
            for (alpha, rho) in [(0.5, 1.0), (1.0, 0.5), (0.5, 0.5)] {
                let net = apply_one(
                    reshape,
                    thinned.clone(),
                    json!({ "alpha": alpha, "rho": rho }),
                )?;
                push(built_in(net, &[ids::CULL, ids::THIN, ids::RESHAPE])?);
            }
            for id in &self.cfg.extra_plugins {
                let request = OptimizationRequest {
                    network: c.network.clone(),
                    params: json!({}),
                    context: json!({}),
                };
                for extra in plugin(self.host, id)?.apply(&request)? {
                    let key = format!("candidate:{id}:{}", extra.description);
                    let mut job = self.job(
                        key,
                        "candidate",
                        extra.network,
                        true,
                        &[ids::CULL, id.as_str()],
                    )?;
                    job.description = format!("{} ({id})", extra.description);
                    push(job);
                }
            }
        }
        Ok(jobs)
    }
}
