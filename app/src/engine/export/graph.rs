//! The inference graph that export writes: the IR with its trained weights
//! attached (PyTorch layouts, f32 on the host) and the dropped ReLUs gone.
//! Folding and merging rewrite it; the ONNX and safetensors writers read it.

use deepreduce_models::IrModel;
use deepreduce_plugin_api::{
    Dropped, INPUT, InputSpec, IrError, Network, Op as IrOp, Polynomial, ReluMask, Shape, analyze,
};
use std::collections::HashMap;

/// A tensor's shape and its values in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Weights {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Weights { shape, data }
    }

    fn read<const D: usize>(tensor: burn::tensor::Tensor<D>) -> Self {
        let shape = tensor.dims().to_vec();
        let data = tensor
            .into_data()
            .try_to_vec_as::<f32>()
            .expect("float parameters convert to f32");
        Weights::new(shape, data)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Weight `[out, in / groups, kh, kw]`, bias `[out]`.
    Conv {
        weight: Weights,
        bias: Option<Weights>,
        stride: [usize; 2],
        padding: [usize; 2],
        groups: usize,
    },
    /// Inference-mode batch norm over channels.
    BatchNorm {
        gamma: Weights,
        beta: Weights,
        mean: Weights,
        var: Weights,
        epsilon: f64,
    },
    Relu,
    /// A ReLU on the elements `mask` keeps (some, not all, not none); the
    /// others pass through, or become their channel's polynomial.
    MaskedRelu {
        mask: ReluMask,
        poly: Option<Polynomial>,
    },
    /// A per-channel polynomial on every element, trained coefficients.
    Poly(Polynomial),
    Add,
    MaxPool {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
    /// Padded positions count in the average (burn's and PyTorch's default).
    AvgPool {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
    GlobalAvgPool,
    Flatten,
    /// A linear layer: weight `[out, in]` (PyTorch's layout), bias `[out]`.
    Gemm {
        weight: Weights,
        bias: Option<Weights>,
    },
}

impl Op {
    /// The ONNX operator of an op that is one ONNX node; `None` for the
    /// masked ReLU and the polynomial, which are several (`mask_lowering`).
    pub fn onnx_type(&self) -> Option<&'static str> {
        Some(match self {
            Op::Conv { .. } => "Conv",
            Op::BatchNorm { .. } => "BatchNormalization",
            Op::Relu => "Relu",
            Op::Add => "Add",
            Op::MaxPool { .. } => "MaxPool",
            Op::AvgPool { .. } => "AveragePool",
            Op::GlobalAvgPool => "GlobalAveragePool",
            Op::Flatten => "Flatten",
            Op::Gemm { .. } => "Gemm",
            Op::MaskedRelu { .. } | Op::Poly(_) => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The IR node's name; its output value carries the same name.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<String>,
    /// One sample's output shape.
    pub output: Shape,
    pub stage: Option<String>,
    pub block: Option<String>,
}

impl Node {
    /// ReLUs of one sample: every element of a `Relu`, the kept ones of a
    /// masked ReLU.
    pub fn relus(&self) -> u64 {
        match &self.op {
            Op::Relu => self.output.elements(),
            Op::MaskedRelu { mask, .. } => mask.kept_elements(self.output.channels_and_plane().1),
            _ => 0,
        }
    }

    /// Elements of one sample computed by a polynomial: all of a `Poly`,
    /// the dropped ones of a masked ReLU that drops to one.
    pub fn polys(&self) -> u64 {
        match &self.op {
            Op::Poly(_) => self.output.elements(),
            Op::MaskedRelu { poly: Some(_), .. } => self.output.elements() - self.relus(),
            _ => 0,
        }
    }

    /// Multiply-accumulates of one sample.
    pub fn macs(&self) -> u64 {
        match (&self.op, self.output) {
            (Op::Conv { weight, .. }, Shape::Map([_, h, w])) => (weight.data.len() * h * w) as u64,
            (Op::Gemm { weight, .. }, _) => weight.data.len() as u64,
            _ => 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub input: InputSpec,
    /// In topological order; inputs name [`INPUT`] or earlier nodes.
    pub nodes: Vec<Node>,
    /// The node whose output is the logits `[N, classes]`.
    pub output: String,
}

impl Graph {
    /// Builds the graph of `net` with the weights of `model` (built from
    /// `net`). Dropped ReLUs (Identity nodes) vanish: their readers read
    /// their input. A mask that keeps every element is a `Relu`, one that
    /// keeps none the identity (vanishing too) or its polynomial.
    pub fn lower(net: &Network, model: &IrModel) -> Result<Graph, IrError> {
        let analysis = analyze(net)?;
        let (mut convs, mut norms, mut linears) = (
            model.convs().iter(),
            model.norms().iter(),
            model.linears().iter(),
        );
        let mut polys = model.polynomials().into_iter();
        let mut next_poly = || {
            polys
                .next()
                .expect("IrModel has one polynomial per Poly node and masked ReLU dropping to one")
        };
        let mut alias: HashMap<&str, String> = HashMap::new();
        let resolve = |alias: &HashMap<&str, String>, name: &str| {
            alias.get(name).cloned().unwrap_or_else(|| name.to_string())
        };
        let mut nodes = Vec::with_capacity(net.nodes.len());
        for (node, stats) in net.nodes.iter().zip(&analysis.nodes) {
            let inputs: Vec<String> = node.inputs.iter().map(|i| resolve(&alias, i)).collect();
            let op = match &node.op {
                IrOp::Identity => {
                    alias.insert(&node.name, inputs[0].clone());
                    continue;
                }
                IrOp::Conv2d {
                    stride,
                    padding,
                    groups,
                    ..
                } => {
                    let conv = convs.next().expect("IrModel has one conv per Conv2d node");
                    Op::Conv {
                        weight: Weights::read(conv.weight.val()),
                        bias: conv.bias.as_ref().map(|b| Weights::read(b.val())),
                        stride: *stride,
                        padding: *padding,
                        groups: *groups,
                    }
                }
                IrOp::BatchNorm2d => {
                    let bn = norms
                        .next()
                        .expect("IrModel has one norm per BatchNorm2d node");
                    Op::BatchNorm {
                        gamma: Weights::read(bn.gamma.val()),
                        beta: Weights::read(bn.beta.val()),
                        mean: Weights::read(bn.running_mean.value()),
                        var: Weights::read(bn.running_var.value()),
                        epsilon: bn.epsilon,
                    }
                }
                IrOp::Linear { .. } => {
                    let fc = linears
                        .next()
                        .expect("IrModel has one linear per Linear node");
                    // burn stores [in, out]; ONNX Gemm (transB) and PyTorch want [out, in].
                    Op::Gemm {
                        weight: Weights::read(fc.weight.val().transpose()),
                        bias: fc.bias.as_ref().map(|b| Weights::read(b.val())),
                    }
                }
                IrOp::Relu => Op::Relu,
                IrOp::MaskedRelu { mask, dropped } => {
                    let poly = match dropped {
                        Dropped::Identity => None,
                        Dropped::Poly(_) => Some(next_poly()),
                    };
                    match (mask.kept(), poly) {
                        (kept, _) if kept == mask.len() => Op::Relu,
                        (0, Some(poly)) => Op::Poly(poly),
                        (0, None) => {
                            alias.insert(&node.name, inputs[0].clone());
                            continue;
                        }
                        (_, poly) => Op::MaskedRelu {
                            mask: mask.clone(),
                            poly,
                        },
                    }
                }
                IrOp::Poly(_) => Op::Poly(next_poly()),
                IrOp::Add => Op::Add,
                IrOp::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                } => Op::MaxPool {
                    kernel: *kernel,
                    stride: *stride,
                    padding: *padding,
                },
                IrOp::AvgPool2d {
                    kernel,
                    stride,
                    padding,
                } => Op::AvgPool {
                    kernel: *kernel,
                    stride: *stride,
                    padding: *padding,
                },
                IrOp::GlobalAvgPool => Op::GlobalAvgPool,
                IrOp::Flatten => Op::Flatten,
            };
            nodes.push(Node {
                name: node.name.clone(),
                op,
                inputs,
                output: stats.output,
                stage: node.stage.clone(),
                block: node.block.clone(),
            });
        }
        let mut output = resolve(&alias, &net.output);
        if output == INPUT {
            return Err(IrError::Invalid {
                node: net.output.clone(),
                reason: "the network's output is its input: there is nothing to export".into(),
            });
        }
        // IrModel::forward flattens a feature-map output into logits; so does the export.
        if let Shape::Map(_) = analysis.output {
            let name = format!("{output}.flatten");
            nodes.push(Node {
                name: name.clone(),
                op: Op::Flatten,
                inputs: vec![output],
                output: Shape::Vector(analysis.output.elements() as usize),
                stage: None,
                block: None,
            });
            output = name;
        }
        Ok(Graph {
            input: net.input,
            nodes,
            output,
        })
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Indices of the nodes that read `name`'s output.
    pub fn readers(&self, name: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].inputs.iter().any(|x| x == name))
            .collect()
    }

    /// Whether node `i`'s output feeds exactly one node and is not the
    /// graph's output: only then may it be fused into its reader.
    pub fn feeds_only(&self, i: usize, reader: usize) -> bool {
        let name = &self.nodes[i].name;
        *name != self.output && self.readers(name) == [reader]
    }

    /// Removes node `i`; whatever read its output reads `replacement`.
    pub fn remove(&mut self, i: usize, replacement: &str) {
        let gone = self.nodes.remove(i).name;
        for node in &mut self.nodes {
            for input in node.inputs.iter_mut().filter(|x| **x == gone) {
                *input = replacement.to_string();
            }
        }
        if self.output == gone {
            self.output = replacement.to_string();
        }
    }

    pub fn macs(&self) -> u64 {
        self.nodes.iter().map(Node::macs).sum()
    }
}
