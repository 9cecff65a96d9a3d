//! Building a network node by node, as architecture plugins do: each node is
//! appended in topological order with its stage and block annotations, and
//! reads the last node appended unless it names its inputs.
//!
//! ```
//! use deepreduce_plugin_api::builder::{GraphBuilder, arch_meta, conv};
//! use deepreduce_plugin_api::{InputSpec, Op, STEM, analyze};
//!
//! let mut b = GraphBuilder::new();
//! b.conv_bn_relu("stem", conv(16, 3, 1, 1), STEM, None);
//! b.then("s1.b0.conv", conv(32, 3, 2, 1), "S1", Some("S1.B0"));
//! b.then("s1.b0.relu", Op::Relu, "S1", Some("S1.B0"));
//! b.classifier(["head.gap", "head.flatten", "head.fc"], 10);
//! let input = InputSpec { channels: 3, height: 32, width: 32 };
//! let net = b.finish("tiny", input, arch_meta("tiny", "tiny", &[1], 16));
//! assert_eq!(net.output, "head.fc");
//! assert_eq!(net.nodes[3].inputs, ["stem.relu"]);
//! assert_eq!(analyze(&net).unwrap().total.relus, 16 * 32 * 32 + 32 * 16 * 16);
//! ```

use crate::ir::{HEAD, INPUT, InputSpec, Network, Node, Op};
use serde_json::Value;

/// A network under construction: its nodes in the order appended and the
/// name of the last one (the network's input before the first).
#[derive(Clone, Debug, PartialEq)]
pub struct GraphBuilder {
    nodes: Vec<Node>,
    last: String,
}

impl Default for GraphBuilder {
    fn default() -> Self {
        GraphBuilder {
            nodes: Vec::new(),
            last: INPUT.to_string(),
        }
    }
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a node reading `inputs`, in `stage` and, if given, `block`.
    /// Returns its name, which is now the last output.
    pub fn push(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: &[&str],
        stage: &str,
        block: Option<&str>,
    ) -> String {
        let mut node = Node::new(name, op, inputs).in_stage(stage);
        if let Some(block) = block {
            node = node.in_block(block);
        }
        self.last = node.name.clone();
        self.nodes.push(node);
        self.last.clone()
    }

    /// Appends a node reading the last output; returns its name.
    pub fn then(
        &mut self,
        name: impl Into<String>,
        op: Op,
        stage: &str,
        block: Option<&str>,
    ) -> String {
        let input = self.last.clone();
        self.push(name, op, &[&input], stage, block)
    }

    /// Appends `conv`, a BatchNorm and a ReLU named `{prefix}.conv`,
    /// `{prefix}.bn` and `{prefix}.relu`, each reading the one before;
    /// returns the ReLU's name.
    pub fn conv_bn_relu(
        &mut self,
        prefix: &str,
        conv: Op,
        stage: &str,
        block: Option<&str>,
    ) -> String {
        self.then(format!("{prefix}.conv"), conv, stage, block);
        self.then(format!("{prefix}.bn"), Op::BatchNorm2d, stage, block);
        self.then(format!("{prefix}.relu"), Op::Relu, stage, block)
    }

    /// Appends the usual classifier head in stage [`HEAD`]: a global average
    /// pool, a flatten and a linear layer (with bias) to `classes` outputs,
    /// named `[pool, flatten, fc]`. Returns the linear layer's name.
    pub fn classifier(&mut self, [pool, flatten, fc]: [&str; 3], classes: usize) -> String {
        self.then(pool, Op::GlobalAvgPool, HEAD, None);
        self.then(flatten, Op::Flatten, HEAD, None);
        self.then(fc, linear(classes), HEAD, None)
    }

    /// Name of the last node appended, or [`INPUT`] before the first.
    pub fn last(&self) -> &str {
        &self.last
    }

    /// The nodes appended so far.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The network of these nodes, whose output is the last one.
    pub fn finish<'a>(
        self,
        name: impl Into<String>,
        input: InputSpec,
        meta: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> Network {
        Network {
            name: name.into(),
            input,
            nodes: self.nodes,
            output: self.last,
            meta: meta.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }
}

/// A square convolution: `kernel` x `kernel`, the same stride and padding on
/// both axes, one group, no bias.
pub fn conv(out_channels: usize, kernel: usize, stride: usize, padding: usize) -> Op {
    Op::Conv2d {
        out_channels,
        kernel: [kernel, kernel],
        stride: [stride, stride],
        padding: [padding, padding],
        groups: 1,
        bias: false,
    }
}

/// A linear layer with bias.
pub fn linear(out_features: usize) -> Op {
    Op::Linear {
        out_features,
        bias: true,
    }
}

/// The meta of a freshly built architecture: its `family` (which
/// [`describe`](crate::describe()) reads), `arch`, `blocks` per stage and
/// base `width`, and the reshaping factors `alpha` and `rho` at 1.
pub fn arch_meta(
    family: &str,
    arch: &str,
    blocks: &[usize],
    width: usize,
) -> [(&'static str, Value); 6] {
    [
        ("family", family.into()),
        ("arch", arch.into()),
        ("blocks", blocks.into()),
        ("width", width.into()),
        ("alpha", 1.0.into()),
        ("rho", 1.0.into()),
    ]
}
