//! Shape inference and accounting: the one function that host, plugins and
//! GUI use for shapes, ReLU counts (per node, per stage, total), FLOPs
//! (multiply-accumulates) and parameters, and the other non-linear costs of
//! private inference: polynomial elements and max-pool comparisons.

use crate::ir::{Dropped, INPUT, Network, Node, Op};
use crate::poly::Polynomial;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// Shape of one sample's activation (no batch axis).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Shape {
    /// channels x height x width
    Map([usize; 3]),
    /// a flat feature vector
    Vector(usize),
}

impl Shape {
    /// Elements of one sample. Every shape [`analyze`] returns fits in a
    /// `u64` (it refuses the others), so this cannot overflow for them.
    pub fn elements(&self) -> u64 {
        self.checked_elements().unwrap_or(u64::MAX)
    }

    /// Elements of one sample, or `None` when the product overflows.
    pub fn checked_elements(&self) -> Option<u64> {
        match *self {
            Shape::Map([c, h, w]) => (c as u64).checked_mul(h as u64)?.checked_mul(w as u64),
            Shape::Vector(n) => Some(n as u64),
        }
    }

    /// Channels and elements per channel, as a ReLU mask or a polynomial
    /// sees them: a vector is one element per channel.
    pub fn channels_and_plane(&self) -> (usize, usize) {
        match *self {
            Shape::Map([c, h, w]) => (c, h * w),
            Shape::Vector(n) => (n, 1),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Map([c, h, w]) => write!(f, "{c}x{h}x{w}"),
            Shape::Vector(n) => write!(f, "{n}"),
        }
    }
}

/// Why a network is not valid. Always names the offending node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IrError {
    Empty,
    DuplicateName(String),
    UnknownInput {
        node: String,
        input: String,
    },
    WrongArity {
        node: String,
        op: &'static str,
        expected: &'static str,
        got: usize,
    },
    Invalid {
        node: String,
        reason: String,
    },
    UnknownOutput(String),
    /// A size, count or total does not fit in 64 bits.
    Overflow {
        node: String,
        quantity: &'static str,
    },
}

impl fmt::Display for IrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IrError::Empty => write!(f, "the network has no nodes"),
            IrError::DuplicateName(n) => write!(f, "two nodes are named '{n}'"),
            IrError::UnknownInput { node, input } => write!(
                f,
                "node '{node}' reads '{input}', which is neither 'input' nor a node listed before it"
            ),
            IrError::WrongArity {
                node,
                op,
                expected,
                got,
            } => {
                write!(
                    f,
                    "node '{node}' ({op}) takes {expected} input(s), got {got}"
                )
            }
            IrError::Invalid { node, reason } => write!(f, "node '{node}': {reason}"),
            IrError::UnknownOutput(n) => write!(f, "the network's output '{n}' is not a node"),
            IrError::Overflow { node, quantity } => write!(
                f,
                "node '{node}': its {quantity} overflows 64-bit arithmetic (absurd sizes?)"
            ),
        }
    }
}

impl std::error::Error for IrError {}

/// Accounting of one node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeStats {
    pub name: String,
    pub op: &'static str,
    pub stage: Option<String>,
    pub block: Option<String>,
    pub input: Shape,
    pub output: Shape,
    /// Active ReLUs: output elements of a `Relu` node, the kept elements of
    /// a masked one, 0 otherwise.
    pub relus: u64,
    /// Elements computed by a polynomial, one secure multiplication each:
    /// all of a `Poly` layer, the dropped ones of a mask that drops to a
    /// polynomial.
    pub polys: u64,
    /// Comparisons of a max-pool, k_h x k_w - 1 per output element, each a
    /// garbled circuit like a ReLU's. Padded border windows count in full.
    pub comparisons: u64,
    /// Multiply-accumulates of one forward pass of one sample.
    pub macs: u64,
    /// Trainable parameters (BatchNorm running statistics are buffers, not
    /// counted; nor are fixed polynomial coefficients).
    pub params: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    pub relus: u64,
    pub polys: u64,
    pub comparisons: u64,
    pub macs: u64,
    pub params: u64,
}

impl Totals {
    fn add(&mut self, n: &NodeStats) -> Result<(), IrError> {
        let sum = |total: u64, count: u64, quantity| {
            total.checked_add(count).ok_or_else(|| IrError::Overflow {
                node: n.name.clone(),
                quantity,
            })
        };
        self.relus = sum(self.relus, n.relus, "running ReLU total")?;
        self.polys = sum(self.polys, n.polys, "running polynomial total")?;
        self.comparisons = sum(self.comparisons, n.comparisons, "running comparison total")?;
        self.macs = sum(self.macs, n.macs, "running MAC total")?;
        self.params = sum(self.params, n.params, "running parameter total")?;
        Ok(())
    }
}

/// The result of [`analyze`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    pub nodes: Vec<NodeStats>,
    /// Per stage, in order of first appearance; nodes without a stage are
    /// counted in the totals only.
    pub stages: Vec<(String, Totals)>,
    pub total: Totals,
    pub output: Shape,
}

impl Analysis {
    pub fn stage(&self, name: &str) -> Option<&Totals> {
        self.stages.iter().find(|(s, _)| s == name).map(|(_, t)| t)
    }
}

/// Infers every node's shape and counts ReLUs, MACs and parameters.
pub fn analyze(net: &Network) -> Result<Analysis, IrError> {
    if net.nodes.is_empty() {
        return Err(IrError::Empty);
    }
    let input = Shape::Map([net.input.channels, net.input.height, net.input.width]);
    if input.checked_elements().is_none() {
        return Err(IrError::Overflow {
            node: INPUT.into(),
            quantity: "element count",
        });
    }
    if input.elements() == 0 {
        return Err(IrError::Invalid {
            node: INPUT.into(),
            reason: format!("input shape {input} has a zero dimension"),
        });
    }
    let mut shapes: HashMap<&str, Shape> = HashMap::with_capacity(net.nodes.len() + 1);
    shapes.insert(INPUT, input);
    let mut nodes = Vec::with_capacity(net.nodes.len());
    let mut stages: Vec<(String, Totals)> = Vec::new();
    let mut total = Totals::default();
    for node in &net.nodes {
        if shapes.contains_key(node.name.as_str()) {
            return Err(IrError::DuplicateName(node.name.clone()));
        }
        let inputs = node
            .inputs
            .iter()
            .map(|i| {
                shapes
                    .get(i.as_str())
                    .copied()
                    .ok_or_else(|| IrError::UnknownInput {
                        node: node.name.clone(),
                        input: i.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stats = node_stats(node, &inputs)?;
        shapes.insert(&node.name, stats.output);
        total.add(&stats)?;
        if let Some(stage) = &node.stage {
            match stages.iter_mut().find(|(s, _)| s == stage) {
                Some((_, t)) => t.add(&stats)?,
                None => {
                    let mut t = Totals::default();
                    t.add(&stats)?;
                    stages.push((stage.clone(), t));
                }
            }
        }
        nodes.push(stats);
    }
    let output = *shapes
        .get(net.output.as_str())
        .ok_or_else(|| IrError::UnknownOutput(net.output.clone()))?;
    Ok(Analysis {
        nodes,
        stages,
        total,
        output,
    })
}

fn invalid(node: &Node, reason: String) -> IrError {
    IrError::Invalid {
        node: node.name.clone(),
        reason,
    }
}

/// The product of `factors`, or an overflow error naming `quantity`.
fn product(node: &Node, quantity: &'static str, factors: &[u64]) -> Result<u64, IrError> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(f))
        .ok_or_else(|| IrError::Overflow {
            node: node.name.clone(),
            quantity,
        })
}

fn checked_sum(node: &Node, quantity: &'static str, a: u64, b: u64) -> Result<u64, IrError> {
    a.checked_add(b).ok_or_else(|| IrError::Overflow {
        node: node.name.clone(),
        quantity,
    })
}

fn expect_inputs(node: &Node, inputs: &[Shape], n: usize) -> Result<(), IrError> {
    if inputs.len() == n {
        return Ok(());
    }
    Err(IrError::WrongArity {
        node: node.name.clone(),
        op: node.op.kind(),
        expected: if n == 1 { "1" } else { "2" },
        got: inputs.len(),
    })
}

fn expect_map(node: &Node, shape: Shape) -> Result<[usize; 3], IrError> {
    match shape {
        Shape::Map(m) => Ok(m),
        Shape::Vector(n) => Err(invalid(
            node,
            format!("needs a feature map (CxHxW) input, got a vector of {n}"),
        )),
    }
}

/// Output size of a sliding window along one axis, or why it does not fit.
fn window_out(
    node: &Node,
    size: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
) -> Result<usize, IrError> {
    if kernel == 0 || stride == 0 {
        return Err(invalid(node, "kernel and stride must be at least 1".into()));
    }
    let padded = pad
        .checked_mul(2)
        .and_then(|p| p.checked_add(size))
        .ok_or_else(|| IrError::Overflow {
            node: node.name.clone(),
            quantity: "padded input size",
        })?;
    if kernel > padded {
        return Err(invalid(
            node,
            format!("kernel {kernel} is larger than its padded input ({size} + 2x{pad})"),
        ));
    }
    Ok((padded - kernel) / stride + 1)
}

fn window_map(
    node: &Node,
    [c, h, w]: [usize; 3],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<[usize; 3], IrError> {
    Ok([
        c,
        window_out(node, h, kernel[0], stride[0], padding[0])?,
        window_out(node, w, kernel[1], stride[1], padding[1])?,
    ])
}

/// The parameters of `poly` on a layer of `input`, or why it does not fit.
fn poly_params(node: &Node, poly: &Polynomial, input: Shape) -> Result<u64, IrError> {
    let (channels, _) = input.channels_and_plane();
    poly.check(channels)
        .map_err(|reason| invalid(node, reason))?;
    Ok(poly.params())
}

/// ReLUs, polynomial elements and comparisons of `op` producing `output`.
fn nonlinear(node: &Node, output: Shape) -> Result<(u64, u64, u64), IrError> {
    let elements = output.elements();
    Ok(match &node.op {
        Op::Relu => (elements, 0, 0),
        Op::MaskedRelu { mask, dropped } => {
            let kept = mask.kept_elements(output.channels_and_plane().1);
            let polys = match dropped {
                Dropped::Identity => 0,
                Dropped::Poly(_) => elements - kept,
            };
            (kept, polys, 0)
        }
        Op::Poly(_) => (0, elements, 0),
        Op::MaxPool2d { kernel, .. } => {
            let window = product(
                node,
                "max-pool window",
                &[kernel[0] as u64, kernel[1] as u64],
            )?;
            let comparisons = product(node, "max-pool comparisons", &[window - 1, elements])?;
            (0, 0, comparisons)
        }
        _ => (0, 0, 0),
    })
}

fn node_stats(node: &Node, inputs: &[Shape]) -> Result<NodeStats, IrError> {
    let arity = if matches!(node.op, Op::Add) { 2 } else { 1 };
    expect_inputs(node, inputs, arity)?;
    let input = inputs[0];
    let (output, macs, params) = match &node.op {
        Op::Conv2d {
            out_channels,
            kernel,
            stride,
            padding,
            groups,
            bias,
        } => {
            let map = expect_map(node, input)?;
            let (cin, cout, g) = (map[0], *out_channels, *groups);
            if cout == 0 || g == 0 || cin % g != 0 || cout % g != 0 {
                return Err(invalid(
                    node,
                    format!("{cin} input and {cout} output channels do not split into {g} groups"),
                ));
            }
            let [_, h, w] = window_map(node, map, *kernel, *stride, *padding)?;
            let [cout, cin_g, k0, k1] = [cout, cin / g, kernel[0], kernel[1]].map(|v| v as u64);
            let weights = product(node, "weight count", &[cout, cin_g, k0, k1])?;
            let macs = product(node, "multiply-accumulates", &[weights, h as u64, w as u64])?;
            let bias = if *bias { cout } else { 0 };
            (
                Shape::Map([*out_channels, h, w]),
                macs,
                checked_sum(node, "parameter count", weights, bias)?,
            )
        }
        Op::BatchNorm2d => {
            let [c, _, _] = expect_map(node, input)?;
            (input, 0, 2 * c as u64)
        }
        Op::Relu | Op::Identity => (input, 0, 0),
        Op::MaskedRelu { mask, dropped } => {
            let (channels, plane) = input.channels_and_plane();
            mask.check(channels, plane)
                .map_err(|reason| invalid(node, reason))?;
            let params = match dropped {
                Dropped::Identity => 0,
                Dropped::Poly(poly) => poly_params(node, poly, input)?,
            };
            (input, 0, params)
        }
        Op::Poly(poly) => (input, 0, poly_params(node, poly, input)?),
        Op::Add => {
            if inputs[0] != inputs[1] {
                return Err(invalid(
                    node,
                    format!(
                        "adds tensors of different shapes {} and {}",
                        inputs[0], inputs[1]
                    ),
                ));
            }
            (input, 0, 0)
        }
        Op::MaxPool2d {
            kernel,
            stride,
            padding,
        }
        | Op::AvgPool2d {
            kernel,
            stride,
            padding,
        } => {
            let map = expect_map(node, input)?;
            (
                Shape::Map(window_map(node, map, *kernel, *stride, *padding)?),
                0,
                0,
            )
        }
        Op::GlobalAvgPool => {
            let [c, _, _] = expect_map(node, input)?;
            (Shape::Map([c, 1, 1]), 0, 0)
        }
        Op::Flatten => (Shape::Vector(input.elements() as usize), 0, 0),
        Op::Linear { out_features, bias } => {
            let Shape::Vector(n) = input else {
                return Err(invalid(
                    node,
                    format!("needs a flat vector input (add Flatten), got {input}"),
                ));
            };
            if *out_features == 0 {
                return Err(invalid(node, "out_features must be at least 1".into()));
            }
            let weights = product(node, "weight count", &[n as u64, *out_features as u64])?;
            let bias = if *bias { *out_features as u64 } else { 0 };
            let params = checked_sum(node, "parameter count", weights, bias)?;
            (Shape::Vector(*out_features), weights, params)
        }
    };
    if output.checked_elements().is_none() {
        return Err(IrError::Overflow {
            node: node.name.clone(),
            quantity: "element count",
        });
    }
    if output.elements() == 0 {
        return Err(invalid(node, format!("produces an empty tensor {output}")));
    }
    let (relus, polys, comparisons) = nonlinear(node, output)?;
    Ok(NodeStats {
        name: node.name.clone(),
        op: node.op.kind(),
        stage: node.stage.clone(),
        block: node.block.clone(),
        input,
        output,
        relus,
        polys,
        comparisons,
        macs,
        params,
    })
}
