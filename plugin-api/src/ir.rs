//! The network IR: an ONNX-like DAG of named nodes that plugins produce and
//! transform. Input channels are never stored; shape inference derives them,
//! so scaling a layer's `out_channels` keeps everything downstream consistent.

use crate::mask::{MaskWire, ReluMask};
use crate::poly::Polynomial;
use serde::{Deserialize, Serialize, Serializer};
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
/// send it networks using newer ones ([`Op::abi_minor`]).
///
/// Serialised as part of a [`Node`] only, and read only through one.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op")]
pub enum Op {
    Conv2d {
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        /// 1 when absent on the wire.
        groups: usize,
        /// false when absent on the wire.
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
        /// [0, 0] when absent on the wire.
        padding: [usize; 2],
    },
    AvgPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        /// [0, 0] when absent on the wire.
        padding: [usize; 2],
    },
    GlobalAvgPool,
    Flatten,
    Linear {
        out_features: usize,
        /// true when absent on the wire.
        bias: bool,
    },
    /// ABI 1.1. A ReLU layer of which only the elements (or channels) the
    /// mask keeps pass through the ReLU; the others become `dropped`. On
    /// the wire it is a `Relu` node with a `mask` (and `dropped`, identity
    /// when absent), as the issue puts it: a ReLU may carry a mask.
    #[serde(rename = "Relu")]
    MaskedRelu {
        mask: ReluMask,
        dropped: Dropped,
    },
    /// ABI 1.1. A whole ReLU layer replaced by a polynomial (DELPHI). On the
    /// wire: `{"op": "Poly", "poly": {...}}`, the same object as in
    /// `"dropped": {"poly": {...}}`.
    #[serde(serialize_with = "poly_field")]
    Poly(Polynomial),
}

/// What the elements a [`ReluMask`] drops become. On the wire `"identity"`
/// or `{"poly": {...}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dropped {
    /// Passed through unchanged, as in a dropped ReLU layer.
    #[default]
    Identity,
    /// Replaced by the channel's polynomial (AutoReP).
    Poly(Polynomial),
}

/// Writes [`Op::Poly`] as `"poly": {...}` after its tag.
fn poly_field<S: Serializer>(poly: &Polynomial, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Field<'a> {
        poly: &'a Polynomial,
    }
    Field { poly }.serialize(serializer)
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
    mask: Option<MaskWire>,
    dropped: Option<Dropped>,
    poly: Option<Polynomial>,
}

impl TryFrom<NodeWire> for Node {
    type Error = String;

    fn try_from(mut w: NodeWire) -> Result<Self, String> {
        // The 1.1 fields, checked against the operator below: a `mask` left
        // on a node turned into `Identity` would otherwise vanish silently.
        let (mask, dropped, poly) = (w.mask.take(), w.dropped.take(), w.poly.take());
        let stray = [
            ("mask", mask.is_some(), "Relu"),
            ("dropped", dropped.is_some(), "Relu"),
            ("poly", poly.is_some(), "Poly"),
        ]
        .into_iter()
        .find(|&(_, present, owner)| present && w.op != owner);
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
            "Relu" => match (mask, dropped) {
                (None, None) => Op::Relu,
                (None, Some(_)) => {
                    return Err(format!(
                        "node {}: `dropped` needs a `mask` (a Relu without one keeps every element)",
                        w.name
                    ));
                }
                (Some(mask), dropped) => Op::MaskedRelu {
                    mask: ReluMask::try_from(mask)
                        .map_err(|e| format!("node {}: mask: {e}", w.name))?,
                    dropped: dropped.unwrap_or_default(),
                },
            },
            "Poly" => Op::Poly(
                poly.ok_or_else(|| format!("node {}: missing field `poly` of Poly", w.name))?,
            ),
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
        if let Some((field, _, _)) = stray {
            return Err(format!(
                "node {}: field `{field}` does not apply to {}",
                w.name, w.op
            ));
        }
        Ok(Node {
            name: w.name,
            op,
            inputs: w.inputs,
            stage: w.stage,
            block: w.block,
        })
    }
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
            Op::MaskedRelu { .. } => "MaskedRelu",
            Op::Poly(_) => "Poly",
        }
    }

    /// A ReLU layer, whole, masked, dropped or replaced by a polynomial:
    /// the places culling and thinning act on.
    pub fn is_activation_slot(&self) -> bool {
        matches!(
            self,
            Op::Relu | Op::Identity | Op::MaskedRelu { .. } | Op::Poly(_)
        )
    }

    /// A layer that still evaluates ReLUs: whole or masked.
    pub fn has_relus(&self) -> bool {
        matches!(self, Op::Relu | Op::MaskedRelu { .. })
    }

    /// The ABI minor version that introduced this operator: a plugin built
    /// against an older minor cannot read it.
    pub fn abi_minor(&self) -> u16 {
        match self {
            Op::MaskedRelu { .. } | Op::Poly(_) => 1,
            _ => 0,
        }
    }

    /// The activation of a ReLU layer masked by `mask`, in its simplest
    /// form: `Relu` when every bit is set; when none is, `Identity` or the
    /// polynomial on the whole layer; else `MaskedRelu`.
    pub fn masked_relu(mask: ReluMask, dropped: Dropped) -> Op {
        match (mask.kept(), dropped) {
            (kept, _) if kept == mask.len() => Op::Relu,
            (0, Dropped::Identity) => Op::Identity,
            (0, Dropped::Poly(poly)) => Op::Poly(poly),
            (_, dropped) => Op::MaskedRelu { mask, dropped },
        }
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

    /// The lowest ABI minor version a plugin must speak to read this network
    /// (1 once a node is masked or polynomial): the host sends a network
    /// only to plugins built against that minor or a later one.
    pub fn abi_minor_needed(&self) -> u16 {
        self.nodes
            .iter()
            .map(|n| n.op.abi_minor())
            .max()
            .unwrap_or(0)
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
