//! The network IR: an ONNX-like DAG of named nodes that plugins produce and
//! transform. Input channels are never stored; shape inference derives them,
//! so scaling a layer's `out_channels` keeps everything downstream consistent.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Name by which nodes refer to the network's input tensor.
pub const INPUT: &str = "input";

/// Stage annotation of the stem (Conv1 in the paper).
pub const STEM: &str = "stem";

/// Stage annotation of the classifier head.
pub const HEAD: &str = "head";

/// Shape of one input image: channels x height x width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

/// A whole network. Nodes are listed in topological order: a node's inputs
/// are [`INPUT`] or nodes listed before it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub input: InputSpec,
    pub nodes: Vec<Node>,
    /// Name of the node whose output is the network's output (the logits).
    pub output: String,
    /// Free-form annotations: architecture family, applied optimizations
    /// (`alpha`, `rho`, `thinned_stages`), the dataset. Plugins keep keys
    /// they do not understand.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, serde_json::Value>,
}

/// Reading goes through [`NodeWire`]: serde's `flatten` of an internally
/// tagged enum buffers every node twice, and networks cross the plugin
/// boundary on every click in the GUI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NodeWire")]
pub struct Node {
    pub name: String,
    #[serde(flatten)]
    pub op: Op,
    pub inputs: Vec<String>,
    /// "stem", "S1".."SD" or "head": culling and thinning act on this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Block within the stage, e.g. "S2.B1".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<String>,
}

/// The operators. New operators are appended as new variants; a plugin only
/// ever sees operators that existed when it was built if the host does not
/// send it networks using newer ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op")]
pub enum Op {
    Conv2d {
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        #[serde(default = "one")]
        groups: usize,
        #[serde(default)]
        bias: bool,
    },
    BatchNorm2d,
    Relu,
    /// A dropped ReLU: the layer stays in the graph as the identity.
    Identity,
    Add,
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        #[serde(default)]
        padding: [usize; 2],
    },
    AvgPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        #[serde(default)]
        padding: [usize; 2],
    },
    GlobalAvgPool,
    Flatten,
    Linear {
        out_features: usize,
        #[serde(default = "yes")]
        bias: bool,
    },
}

/// A node as written on the wire: every operator field optional, checked
/// against the operator in [`TryFrom`]. The same JSON as [`Node`] writes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeWire {
    name: String,
    op: String,
    inputs: Vec<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    block: Option<String>,
    out_channels: Option<usize>,
    out_features: Option<usize>,
    kernel: Option<[usize; 2]>,
    stride: Option<[usize; 2]>,
    padding: Option<[usize; 2]>,
    groups: Option<usize>,
    bias: Option<bool>,
}

impl TryFrom<NodeWire> for Node {
    type Error = String;

    fn try_from(w: NodeWire) -> Result<Self, String> {
        let need = |value: Option<[usize; 2]>, field: &str| {
            value.ok_or_else(|| format!("node {}: missing field `{field}` of {}", w.name, w.op))
        };
        let op = match w.op.as_str() {
            "Conv2d" => Op::Conv2d {
                out_channels: w.out_channels.ok_or_else(|| {
                    format!("node {}: missing field `out_channels` of Conv2d", w.name)
                })?,
                kernel: need(w.kernel, "kernel")?,
                stride: need(w.stride, "stride")?,
                padding: need(w.padding, "padding")?,
                groups: w.groups.unwrap_or(1),
                bias: w.bias.unwrap_or(false),
            },
            "BatchNorm2d" => Op::BatchNorm2d,
            "Relu" => Op::Relu,
            "Identity" => Op::Identity,
            "Add" => Op::Add,
            "MaxPool2d" => Op::MaxPool2d {
                kernel: need(w.kernel, "kernel")?,
                stride: need(w.stride, "stride")?,
                padding: w.padding.unwrap_or_default(),
            },
            "AvgPool2d" => Op::AvgPool2d {
                kernel: need(w.kernel, "kernel")?,
                stride: need(w.stride, "stride")?,
                padding: w.padding.unwrap_or_default(),
            },
            "GlobalAvgPool" => Op::GlobalAvgPool,
            "Flatten" => Op::Flatten,
            "Linear" => Op::Linear {
                out_features: w.out_features.ok_or_else(|| {
                    format!("node {}: missing field `out_features` of Linear", w.name)
                })?,
                bias: w.bias.unwrap_or(true),
            },
            other => return Err(format!("node {}: unknown operator `{other}`", w.name)),
        };
        Ok(Node {
            name: w.name,
            op,
            inputs: w.inputs,
            stage: w.stage,
            block: w.block,
        })
    }
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

impl Op {
    /// A short operator name, as in ONNX.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv2d { .. } => "Conv2d",
            Op::BatchNorm2d => "BatchNorm2d",
            Op::Relu => "Relu",
            Op::Identity => "Identity",
            Op::Add => "Add",
            Op::MaxPool2d { .. } => "MaxPool2d",
            Op::AvgPool2d { .. } => "AvgPool2d",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::Flatten => "Flatten",
            Op::Linear { .. } => "Linear",
        }
    }

    /// A ReLU layer, active or dropped: the places culling and thinning act on.
    pub fn is_activation_slot(&self) -> bool {
        matches!(self, Op::Relu | Op::Identity)
    }
}

impl Node {
    pub fn new(name: impl Into<String>, op: Op, inputs: &[&str]) -> Self {
        Node {
            name: name.into(),
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            stage: None,
            block: None,
        }
    }

    pub fn in_stage(mut self, stage: &str) -> Self {
        self.stage = Some(stage.to_string());
        self
    }

    pub fn in_block(mut self, block: &str) -> Self {
        self.block = Some(block.to_string());
        self
    }

    pub fn stage_is(&self, stage: &str) -> bool {
        self.stage.as_deref() == Some(stage)
    }
}

impl Network {
    /// The stage annotations in order of first appearance ("stem", "S1", ..., "head").
    pub fn stages(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for stage in self.nodes.iter().filter_map(|n| n.stage.as_ref()) {
            if !seen.contains(stage) {
                seen.push(stage.clone());
            }
        }
        seen
    }

    /// The stages S1..SD: every stage but the stem and the head.
    pub fn body_stages(&self) -> Vec<String> {
        self.stages()
            .into_iter()
            .filter(|s| s != STEM && s != HEAD)
            .collect()
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn meta_f64(&self, key: &str) -> Option<f64> {
        self.meta.get(key).and_then(|v| v.as_f64())
    }

    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.meta.get(key).and_then(|v| v.as_str())
    }

    /// Stages recorded as thinned by the thin plugin.
    pub fn thinned_stages(&self) -> Vec<String> {
        self.meta
            .get("thinned_stages")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}
