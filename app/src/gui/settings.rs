//! What the workbench remembers across restarts (eframe storage): the open
//! panel, the network and training choices, the dataset and the folders
//! last used. Runtime state (workers, loaded plugins) lives elsewhere.

use super::latency_axis::LatencyAxis;
use crate::engine::backend::BackendChoice;
use crate::engine::budget::{Budget, DroppedAs};
use crate::engine::executor::ExecutorRequest;
use crate::engine::train::TrainConfig;
use crate::engine::train::schedule::ScheduleKind;
use deepreduce_plugin_api::Granularity;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The panels, in tab order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Tab {
    Plugins,
    #[default]
    Network,
    Data,
    Runs,
    Frontier,
    Export,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Plugins,
        Tab::Network,
        Tab::Data,
        Tab::Runs,
        Tab::Frontier,
        Tab::Export,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Plugins => "Plugins",
            Tab::Network => "Network",
            Tab::Data => "Data",
            Tab::Runs => "Runs",
            Tab::Frontier => "Frontier",
            Tab::Export => "Export & measure",
        }
    }
}

/// The network being designed, as in the paper plus hand edits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSettings {
    pub arch: String,
    pub width: Option<usize>,
    pub blocks: Option<Vec<usize>>,
    /// Body stages whose ReLUs were culled.
    pub culled: BTreeSet<String>,
    /// Keep Conv1's ReLU in a culled network (the method drops it).
    pub keep_stem: bool,
    pub thin: bool,
    pub alpha: f64,
    pub rho: f64,
    /// ReLU layer -> active, toggled by hand.
    pub overrides: BTreeMap<String, bool>,
    pub budget: BudgetSettings,
}

/// The budget control: kept while switched off, so switching it on again
/// brings back the last figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetSettings {
    pub enabled: bool,
    pub relus: u64,
    pub granularity: Granularity,
    pub dropped: DroppedAs,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        BudgetSettings {
            enabled: false,
            // AutoReP's ResNet18 on CIFAR-100 (issue 14's yardstick).
            relus: 12_900,
            granularity: Granularity::Pixel,
            dropped: DroppedAs::Identity,
        }
    }
}

impl BudgetSettings {
    /// The budget to apply, when switched on.
    pub fn budget(&self) -> Option<Budget> {
        self.enabled.then_some(Budget {
            relus: self.relus,
            granularity: self.granularity,
            dropped: self.dropped,
        })
    }
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            arch: "resnet18".into(),
            width: None,
            blocks: None,
            culled: BTreeSet::new(),
            keep_stem: true,
            thin: false,
            alpha: 1.0,
            rho: 1.0,
            overrides: BTreeMap::new(),
            budget: BudgetSettings::default(),
        }
    }
}

/// The method a pipeline follows, and each method's parameters as last
/// set in its form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodSettings {
    /// A method plugin's id; `None`: the DeepReDuce method.
    pub chosen: Option<String>,
    pub params: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

/// Training settings exposed in the Runs panel; laptop-sized defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainingSettings {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub schedule: ScheduleKind,
    pub subset: Option<usize>,
    pub test_subset: Option<usize>,
    pub kd: bool,
    pub backend: BackendChoice,
    /// The pipeline's base width (None: the architecture's own).
    pub pipeline_width: Option<usize>,
}

impl Default for TrainingSettings {
    fn default() -> Self {
        TrainingSettings {
            epochs: 5,
            batch: 64,
            lr: 0.05,
            schedule: ScheduleKind::Cosine,
            subset: Some(2000),
            test_subset: Some(1000),
            kd: true,
            backend: BackendChoice::Auto,
            pipeline_width: Some(16),
        }
    }
}

impl TrainingSettings {
    pub fn config(&self) -> TrainConfig {
        TrainConfig::with_choices(
            self.epochs,
            self.batch,
            self.lr,
            self.schedule,
            self.subset,
            self.test_subset,
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tab: Tab,
    /// A dataset name (`synthetic`, `cifar100`, ...) or a path.
    pub dataset: String,
    pub network: NetworkSettings,
    pub training: TrainingSettings,
    /// The method a pipeline follows.
    pub method: MethodSettings,
    /// Where a pipeline's trainings run, with the Slurm form as last filled.
    pub executor: ExecutorRequest,
    /// Overlay the paper's published points on the frontier plots.
    pub show_paper_points: bool,
    /// The pipeline shown in the Frontier panel (None: every run).
    pub frontier_pipeline: Option<i64>,
    /// With every run shown: each pipeline in its own colour with its own
    /// Pareto line, to compare methods.
    pub frontier_per_pipeline: bool,
    /// The latency plot's x axis: the estimate or a measured figure.
    pub frontier_latency: LatencyAxis,
    /// The run chosen for export and measurement.
    pub export_run: Option<i64>,
    /// Plugin ids the user trusts: run without the sandbox (still in their
    /// own process).
    pub trusted_plugins: BTreeSet<String>,
    pub last_plugin_folder: Option<PathBuf>,
    pub last_data_folder: Option<PathBuf>,
    pub last_export_folder: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tab: Tab::default(),
            dataset: "synthetic".into(),
            network: NetworkSettings::default(),
            training: TrainingSettings::default(),
            method: MethodSettings::default(),
            executor: ExecutorRequest::default(),
            show_paper_points: true,
            frontier_pipeline: None,
            frontier_per_pipeline: false,
            frontier_latency: LatencyAxis::default(),
            export_run: None,
            trusted_plugins: BTreeSet::new(),
            last_plugin_folder: None,
            last_data_folder: None,
            last_export_folder: None,
        }
    }
}

/// The key under which eframe stores the settings.
pub const STORAGE_KEY: &str = "deepreduce-workbench";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_a_restart_and_old_files_fill_in_defaults() {
        let mut s = Settings {
            tab: Tab::Frontier,
            dataset: "/data/cifar-100-binary".into(),
            last_data_folder: Some("/data".into()),
            ..Settings::default()
        };
        s.network.culled.insert("S1".into());
        s.network.overrides.insert("s2.b0.relu1".into(), false);
        s.network.budget = BudgetSettings {
            enabled: true,
            relus: 5_000,
            granularity: Granularity::Channel,
            dropped: DroppedAs::Poly,
        };
        s.training.schedule = ScheduleKind::Step;
        s.trusted_plugins.insert("org.example.needs-files".into());
        s.executor.kind = crate::engine::executor::ExecutorKind::Slurm;
        s.executor.slurm.sbatch.partition = Some("gpu".into());
        s.executor.slurm.shared_dir = Some("/shared/deepreduce".into());
        s.frontier_latency = LatencyAxis::Measured {
            framework: crate::engine::measure::Framework::Crypten,
            figure: crate::gui::latency_axis::Figure::Wan,
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Settings>(&text).unwrap(), s);
        // Written by an older version that knew fewer settings.
        let old: Settings = serde_json::from_str(r#"{"tab": "Runs"}"#).unwrap();
        assert_eq!(old.tab, Tab::Runs);
        assert_eq!(old.network, NetworkSettings::default());
    }
}
