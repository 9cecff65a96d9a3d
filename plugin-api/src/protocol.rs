//! The JSON payloads that cross the plugin boundary, and the versioned
//! capability and method ids. A method id is `<capability>:<verb>`.

use crate::ir::{InputSpec, Network};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const ARCHITECTURE: &str = "deepreduce.architecture/1";
pub const OPTIMIZATION: &str = "deepreduce.optimization/1";
pub const OBJECTIVE: &str = "deepreduce.objective/1";
pub const LATENCY: &str = "deepreduce.latency/1";
/// A whole ReLU-reduction method (see [`crate::reduction`]); ABI minor 1.
pub const METHOD: &str = "deepreduce.method/1";

pub mod method {
    /// -> [`ArchitectureInfo`](super::ArchitectureInfo)
    pub const ARCHITECTURE_DESCRIBE: &str = "deepreduce.architecture/1:describe";
    /// [`ArchParams`](super::ArchParams) -> [`Network`](crate::ir::Network)
    pub const ARCHITECTURE_BUILD: &str = "deepreduce.architecture/1:build";
    /// [`OptimizationRequest`](super::OptimizationRequest) -> [`Candidates`](super::Candidates)
    pub const OPTIMIZATION_APPLY: &str = "deepreduce.optimization/1:apply";
    /// parameters (JSON object) -> [`TrainingObjective`](super::TrainingObjective)
    pub const OBJECTIVE_RECIPE: &str = "deepreduce.objective/1:recipe";
    /// [`Network`](crate::ir::Network) -> [`LatencyEstimate`](super::LatencyEstimate)
    pub const LATENCY_ESTIMATE: &str = "deepreduce.latency/1:estimate";
    /// -> [`MethodInfo`](crate::reduction::MethodInfo)
    pub const METHOD_DESCRIBE: &str = "deepreduce.method/1:describe";
    /// [`StepInput`](crate::reduction::StepInput) -> [`StepOutput`](crate::reduction::StepOutput)
    pub const METHOD_STEP: &str = "deepreduce.method/1:step";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Architecture,
    Optimization,
    Latency,
    /// A whole ReLU-reduction method ([`crate::reduction`]).
    Method,
}

impl PluginKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            PluginKind::Architecture => "architecture",
            PluginKind::Optimization => "optimization",
            PluginKind::Latency => "latency",
            PluginKind::Method => "method",
        }
    }
}

/// Who a plugin is and what it can do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Reverse-DNS id, e.g. "org.deepreduce.resnet".
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub version: String,
    pub kind: PluginKind,
    pub description: String,
    /// Versioned capability ids, e.g. "deepreduce.optimization/1".
    pub capabilities: Vec<String>,
}

impl Descriptor {
    /// A descriptor with the kind's usual capability.
    pub fn new(id: &str, name: &str, kind: PluginKind, description: &str) -> Self {
        let capability = match kind {
            PluginKind::Architecture => ARCHITECTURE,
            PluginKind::Optimization => OPTIMIZATION,
            PluginKind::Latency => LATENCY,
            PluginKind::Method => METHOD,
        };
        Descriptor {
            id: id.into(),
            name: name.into(),
            vendor: "DeepReDuce Workbench".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind,
            description: description.into(),
            capabilities: vec![capability.into()],
        }
    }

    pub fn with_capabilities(mut self, capabilities: &[&str]) -> Self {
        self.capabilities = capabilities.iter().map(|c| c.to_string()).collect();
        self
    }

    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// What an architecture plugin offers: its variants and their defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchitectureInfo {
    pub variants: Vec<VariantInfo>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantInfo {
    pub name: String,
    pub description: String,
    /// Default blocks (or layers) per stage.
    pub blocks: Vec<usize>,
    /// Default base width (channels of the first stage).
    pub width: usize,
}

/// Parameters of an architecture plugin's `build`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchParams {
    pub variant: String,
    pub input: InputSpec,
    pub classes: usize,
    /// Blocks per stage; the variant's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Vec<usize>>,
    /// Base width; the variant's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
}

/// The most blocks (or layers) one stage may have. The deepest published
/// CIFAR ResNet (ResNet-1202) has 200 per stage; beyond this a network is a
/// mistyped flag, and its IR alone would take gigabytes.
pub const MAX_BLOCKS_PER_STAGE: usize = 1000;
/// The widest base width accepted (widths double per stage from it).
pub const MAX_WIDTH: usize = 1 << 16;

/// Refuses a stage without any `unit` or with more than
/// [`MAX_BLOCKS_PER_STAGE`].
pub fn check_stage_blocks(blocks: &[usize], unit: &str) -> Result<(), String> {
    if let Some(i) = blocks.iter().position(|&b| b == 0) {
        return Err(format!(
            "blocks: stage S{} has 0 {unit}; every stage needs at least 1",
            i + 1
        ));
    }
    if let Some(i) = blocks.iter().position(|&b| b > MAX_BLOCKS_PER_STAGE) {
        return Err(format!(
            "blocks: stage S{} has {} {unit}; at most {MAX_BLOCKS_PER_STAGE} per stage",
            i + 1,
            blocks[i]
        ));
    }
    Ok(())
}

/// Checks an architecture plugin's `build` shares; errors are messages for
/// the user.
impl ArchParams {
    /// The blocks per stage, `default` when absent, for architecture `arch`
    /// whose stages S1..SD are as many as `default` lists. Refused unless
    /// there are that many and each has at least one `unit` (e.g. "blocks",
    /// "convolutions").
    pub fn stage_blocks(
        &self,
        arch: &str,
        default: &[usize],
        unit: &str,
    ) -> Result<Vec<usize>, String> {
        let stages = default.len();
        let blocks = self.blocks.clone().unwrap_or_else(|| default.to_vec());
        if blocks.len() != stages {
            return Err(format!(
                "{arch} has {stages} stages (S1..S{stages}), but blocks lists {}: {blocks:?}",
                blocks.len()
            ));
        }
        check_stage_blocks(&blocks, unit)?;
        Ok(blocks)
    }

    /// The base width, `default` when absent; refused if 0 or above [`MAX_WIDTH`].
    pub fn width_or(&self, default: usize) -> Result<usize, String> {
        match self.width.unwrap_or(default) {
            0 => Err("width must be at least 1".into()),
            width if width > MAX_WIDTH => {
                Err(format!("width {width} is above the maximum {MAX_WIDTH}"))
            }
            width => Ok(width),
        }
    }

    /// The input, refused if a dimension is 0.
    pub fn checked_input(&self) -> Result<InputSpec, String> {
        let input = self.input;
        if input.channels == 0 || input.height == 0 || input.width == 0 {
            return Err(format!(
                "input {}x{}x{} has a zero dimension",
                input.channels, input.height, input.width
            ));
        }
        Ok(input)
    }
}

/// Input of an optimization plugin's `apply`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizationRequest {
    pub network: Network,
    /// The plugin's own parameters, e.g. `{"keep": ["S2", "S3"]}` for cull.
    #[serde(default)]
    pub params: serde_json::Value,
    /// What the host knows, e.g. `{"criticality": {"S1": 0.0, ...}}`.
    #[serde(default)]
    pub context: serde_json::Value,
}

/// One network an optimization produced, with its human description
/// (e.g. "S2^RT + S3^RT, alpha 0.5").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub description: String,
    pub network: Network,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidates {
    pub candidates: Vec<Candidate>,
}

/// A training objective returned by an objective plugin: the host computes
/// the loss on the device from these numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "objective", rename_all = "snake_case")]
pub enum TrainingObjective {
    /// `loss = soft_weight * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - soft_weight) * CE(s, y)`
    Distillation {
        temperature: f64,
        soft_weight: f64,
        /// Which network teaches: "baseline" = the trained full-ReLU network.
        teacher: String,
    },
}

/// A latency model's estimate for one network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyEstimate {
    pub online_seconds: f64,
    pub relu_seconds: f64,
    pub linear_seconds: f64,
    pub communication_bytes: f64,
    pub model: LatencyModel,
}

/// A latency model's name, constants and where they come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyModel {
    pub name: String,
    pub constants: BTreeMap<String, f64>,
    pub source: String,
}

/// The error payload every failed call returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorPayload {
    pub error: String,
}
