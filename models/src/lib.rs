//! Turns a network IR into a burn module that runs on any device (flex CPU,
//! wgpu GPU, their autodiff wrappers). The IR's DAG becomes a plan of steps
//! over numbered value slots; parametric layers live in plain vectors so
//! burn's record/store machinery saves and loads them.

mod activation;
pub mod cpu;
mod plan;

use activation::{Mask, Quadratic};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::store::{ModuleRecord, RecordError};
use burn::tensor::module::{adaptive_avg_pool2d, avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::{Bytes, Device, Tensor, activation::relu};
use deepreduce_plugin_api::{Dropped, IrError, Network, Op, Polynomial, Shape, analyze};
use plan::{Layer, Plan, Step};

/// A network built from IR. `forward` maps a batch `[N, C, H, W]` to logits `[N, classes]`.
///
/// burn saves and loads fields by name: `polys` is empty for a network
/// without polynomials, so weights saved before it existed still load.
#[derive(Module, Debug)]
pub struct IrModel {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    linears: Vec<Linear>,
    /// One per `Poly` node and per masked ReLU whose dropped elements
    /// become a polynomial, in node order.
    polys: Vec<Quadratic>,
    /// One per masked ReLU, in node order; constants, not saved.
    masks: Vec<Mask>,
    #[module(skip)]
    plan: Plan,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("invalid network: {0}")]
    Network(#[from] IrError),
    #[error("weights {}: {message}", path.display())]
    Weights {
        path: std::path::PathBuf,
        message: String,
    },
}

/// An intermediate value: a feature map or, after Flatten, a matrix.
enum Value {
    Map(Tensor<4>),
    Flat(Tensor<2>),
}

impl IrModel {
    /// Builds the module with freshly initialised weights (burn's defaults,
    /// which follow PyTorch's: Kaiming-uniform convolutions and linears).
    pub fn new(net: &Network, device: &Device) -> Result<Self, IrError> {
        let analysis = analyze(net)?;
        let plan = Plan::from_network(net);
        let (mut convs, mut norms, mut linears) = (Vec::new(), Vec::new(), Vec::new());
        let (mut polys, mut masks) = (Vec::new(), Vec::new());
        for (node, stats) in net.nodes.iter().zip(&analysis.nodes) {
            let in_channels = match stats.input {
                Shape::Map([c, _, _]) => c,
                Shape::Vector(n) => n,
            };
            match &node.op {
                Op::Conv2d {
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    groups,
                    bias,
                } => convs.push(
                    Conv2dConfig::new([in_channels, *out_channels], *kernel)
                        .with_stride(*stride)
                        .with_padding(PaddingConfig2d::Explicit(
                            padding[0], padding[1], padding[0], padding[1],
                        ))
                        .with_groups(*groups)
                        .with_bias(*bias)
                        .init(device),
                ),
                Op::BatchNorm2d => norms.push(BatchNormConfig::new(in_channels).init(device)),
                Op::Linear { out_features, bias } => linears.push(
                    LinearConfig::new(in_channels, *out_features)
                        .with_bias(*bias)
                        .init(device),
                ),
                Op::MaskedRelu { mask, dropped } => {
                    masks.push(Mask::new(mask, stats.output, device));
                    if let Dropped::Poly(poly) = dropped {
                        polys.push(Quadratic::new(poly, device));
                    }
                }
                Op::Poly(poly) => polys.push(Quadratic::new(poly, device)),
                _ => {}
            }
        }
        Ok(IrModel {
            convs,
            norms,
            linears,
            polys,
            masks,
            plan,
        })
    }

    /// Builds the module for `net` and loads weights saved by [`IrModel::save`].
    pub fn load(net: &Network, path: &std::path::Path, device: &Device) -> Result<Self, LoadError> {
        let model = IrModel::new(net, device)?;
        model.try_load_file(path).map_err(|e| LoadError::Weights {
            path: path.to_path_buf(),
            message: format!("{e:?}"),
        })
    }

    /// Saves the weights (burnpack format).
    pub fn save(&self, path: &std::path::Path) -> Result<(), LoadError> {
        self.clone()
            .save_file(path)
            .map_err(|e| LoadError::Weights {
                path: path.to_path_buf(),
                message: format!("{e:?}"),
            })
    }

    /// The weights as the bytes of a burnpack file, the format [`IrModel::save`]
    /// writes: for callers that checksum the bytes and write them themselves.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecordError> {
        Ok(self.clone().into_record().into_bytes()?.to_vec())
    }

    /// This module with the weights of a burnpack file's bytes; burn refuses
    /// tensors whose shapes differ from the module's, and missing or extra ones.
    pub fn with_bytes(self, bytes: Vec<u8>) -> Result<Self, RecordError> {
        self.try_load_record(ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))?)
    }

    /// The convolutions, in the order of their IR nodes (export reads weights through these).
    pub fn convs(&self) -> &[Conv2d] {
        &self.convs
    }

    /// The batch norms, in the order of their IR nodes.
    pub fn norms(&self) -> &[BatchNorm] {
        &self.norms
    }

    /// The linear layers, in the order of their IR nodes.
    pub fn linears(&self) -> &[Linear] {
        &self.linears
    }

    /// The polynomials of the `Poly` nodes and of the masked ReLUs whose
    /// dropped elements become one, in node order, with their current
    /// (trained) coefficients.
    pub fn polynomials(&self) -> Vec<Polynomial> {
        self.polys.iter().map(Quadratic::polynomial).collect()
    }

    /// The logits of a batch of images.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        let mut slots: Vec<Option<Value>> = Vec::with_capacity(self.plan.steps.len() + 1);
        slots.push(Some(Value::Map(input)));
        for (i, step) in self.plan.steps.iter().enumerate() {
            let out = self.run(step, &slots);
            slots.push(Some(out));
            // Free values nobody reads any more, so backends can reuse memory.
            for &dead in &self.plan.dies_after[i] {
                slots[dead] = None;
            }
        }
        match slots[self.plan.output].take() {
            Some(Value::Flat(logits)) => logits,
            Some(Value::Map(map)) => map.flatten(1, 3),
            None => unreachable!("the plan keeps its output alive"),
        }
    }

    fn run(&self, step: &Step, slots: &[Option<Value>]) -> Value {
        let map = |slot: usize| match slots[slot].as_ref() {
            Some(Value::Map(t)) => t.clone(),
            _ => unreachable!("shape inference guarantees a feature map in slot {slot}"),
        };
        match *step {
            Step::Layer {
                layer: Layer::Conv(i),
                input,
            } => Value::Map(cpu::conv2d(&self.convs[i], map(input))),
            Step::Layer {
                layer: Layer::Norm(i),
                input,
            } => Value::Map(cpu::batch_norm(&self.norms[i], map(input))),
            Step::Layer {
                layer: Layer::Linear(i),
                input,
            } => match slots[input].as_ref() {
                Some(Value::Flat(t)) => Value::Flat(self.linears[i].forward(t.clone())),
                _ => unreachable!("shape inference guarantees a vector before Linear"),
            },
            Step::Relu { input } => activation(&slots[input], relu),
            Step::MaskedRelu { input, mask, poly } => activation(&slots[input], |x| {
                let dropped = match poly {
                    Some(p) => self.polys[p].forward(x.clone()),
                    None => x.clone(),
                };
                self.masks[mask].forward(x, dropped)
            }),
            Step::Poly { input, poly } => {
                activation(&slots[input], |x| self.polys[poly].forward(x))
            }
            Step::Identity { input } => match slots[input].as_ref() {
                Some(Value::Map(t)) => Value::Map(t.clone()),
                Some(Value::Flat(t)) => Value::Flat(t.clone()),
                None => unreachable!("the plan keeps inputs alive"),
            },
            Step::Add { a, b } => Value::Map(map(a) + map(b)),
            Step::MaxPool {
                input,
                kernel,
                stride,
                padding,
            } => Value::Map(max_pool2d(
                map(input),
                MaxPoolOptions::new(kernel)
                    .with_stride(stride)
                    .with_padding(padding),
            )),
            Step::AvgPool {
                input,
                kernel,
                stride,
                padding,
            } => {
                let options = AvgPoolOptions::new(kernel)
                    .with_stride(stride)
                    .with_padding(padding);
                Value::Map(avg_pool2d(map(input), options))
            }
            Step::GlobalAvgPool { input } => Value::Map(adaptive_avg_pool2d(map(input), [1, 1])),
            Step::Flatten { input } => Value::Flat(map(input).flatten(1, 3)),
        }
    }
}

/// `f`, element-wise on channels, applied to a feature map or to a vector of
/// features (as `[N, features, 1, 1]`: one element per channel, as shape
/// inference sees it).
fn activation(value: &Option<Value>, f: impl FnOnce(Tensor<4>) -> Tensor<4>) -> Value {
    match value {
        Some(Value::Map(t)) => Value::Map(f(t.clone())),
        Some(Value::Flat(t)) => {
            let [batch, features] = t.dims();
            Value::Flat(f(t.clone().reshape([batch, features, 1, 1])).reshape([batch, features]))
        }
        None => unreachable!("the plan keeps inputs alive"),
    }
}

#[cfg(test)]
mod tests;
