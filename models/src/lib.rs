//! Turns a network IR into a burn module that runs on any device (flex CPU,
//! wgpu GPU, their autodiff wrappers). The IR's DAG becomes a plan of steps
//! over numbered value slots; parametric layers live in plain vectors so
//! burn's record/store machinery saves and loads them.

mod activation;
pub mod cpu;
mod gate;
mod plan;
mod warm;

pub use gate::{Gate, GateSpec};

use activation::{Mask, Quadratic};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::store::{ModuleRecord, RecordError};
use burn::tensor::module::{adaptive_avg_pool2d, avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::{Bytes, Device, Tensor, activation::relu};
use deepreduce_plugin_api::{
    BitSet, Dropped, Granularity, IrError, Network, Op, Polynomial, Shape, analyze,
};
use gate::{GatedLayer, gated_layer};
use plan::{Layer, Plan, Step};

/// A network built from IR. `forward` maps a batch `[N, C, H, W]` to logits `[N, classes]`.
///
/// burn saves and loads fields by name: `polys` is empty for a network
/// without polynomials and `gates` for one without gates, so weights saved
/// before they existed still load.
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
    /// One per gated ReLU layer, in node order (see [`IrModel::gated`]).
    gates: Vec<Gate>,
    #[module(skip)]
    plan: Plan,
    #[module(skip)]
    layout: Layout,
}

/// Where the parametric layers come from, in the order of their vectors:
/// what warm starts match layers by, and what gate results refer to.
#[derive(Clone, Debug, Default)]
struct Layout {
    convs: Vec<String>,
    norms: Vec<String>,
    linears: Vec<String>,
    polys: Vec<String>,
    gates: Vec<GateInfo>,
}

#[derive(Clone, Debug)]
struct GateInfo {
    node: usize,
    granularity: Granularity,
    unit_size: usize,
    live: BitSet,
    /// Index in `polys` of the quadratic of its dropped elements.
    poly: Option<usize>,
}

/// One gated layer as it is now.
#[derive(Clone, Debug, PartialEq)]
pub struct GateLayer {
    /// The ReLU node's index in the network.
    pub node: usize,
    pub granularity: Granularity,
    /// Elements per unit: 1 for a pixel gate, the plane for a channel gate.
    pub unit_size: usize,
    /// Units that still evaluate a ReLU; the others' gates are fixed at 0.
    pub live: BitSet,
    /// The gates, one per unit (element or channel, in CHW order).
    pub values: Vec<f32>,
    /// What the elements it drops become, with the current (trained)
    /// coefficients of a polynomial.
    pub dropped: Dropped,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("invalid network: {0}")]
    Network(#[from] IrError),
    #[error("cannot gate '{node}': {reason}")]
    Layer { node: String, reason: String },
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
        Ok(Self::build(
            net,
            &analysis,
            vec![None; net.nodes.len()],
            device,
        ))
    }

    /// Builds the module with every layer that evaluates ReLUs (`Relu` or
    /// `MaskedRelu`) gated as `spec` says, all live gates open: it computes
    /// what the network computes until the gates move.
    pub fn gated(net: &Network, spec: GateSpec, device: &Device) -> Result<Self, GateError> {
        let analysis = analyze(net)?;
        let gated = net
            .nodes
            .iter()
            .zip(&analysis.nodes)
            .map(|(node, stats)| {
                gated_layer(&node.op, stats.output, spec).map_err(|reason| GateError::Layer {
                    node: node.name.clone(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::build(net, &analysis, gated, device))
    }

    /// `gated` holds, per node, how its ReLU layer is gated.
    fn build(
        net: &Network,
        analysis: &deepreduce_plugin_api::Analysis,
        gated: Vec<Option<GatedLayer>>,
        device: &Device,
    ) -> Self {
        let plan = Plan::from_network(net, &gated);
        let (mut convs, mut norms, mut linears) = (Vec::new(), Vec::new(), Vec::new());
        let (mut polys, mut masks, mut gates) = (Vec::new(), Vec::new(), Vec::new());
        let mut layout = Layout::default();
        for (i, ((node, stats), gated)) in
            net.nodes.iter().zip(&analysis.nodes).zip(gated).enumerate()
        {
            let in_channels = match stats.input {
                Shape::Map([c, _, _]) => c,
                Shape::Vector(n) => n,
            };
            let name = node.name.clone();
            if let Some(layer) = gated {
                let poly = match &layer.dropped {
                    Dropped::Poly(poly) => {
                        polys.push(Quadratic::new(poly, device));
                        layout.polys.push(name);
                        Some(polys.len() - 1)
                    }
                    Dropped::Identity => None,
                };
                gates.push(Gate::new(&layer, device));
                layout.gates.push(GateInfo {
                    node: i,
                    granularity: layer.granularity,
                    unit_size: layer.unit_size,
                    live: layer.live,
                    poly,
                });
                continue;
            }
            match &node.op {
                Op::Conv2d {
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    groups,
                    bias,
                } => {
                    convs.push(
                        Conv2dConfig::new([in_channels, *out_channels], *kernel)
                            .with_stride(*stride)
                            .with_padding(PaddingConfig2d::Explicit(
                                padding[0], padding[1], padding[0], padding[1],
                            ))
                            .with_groups(*groups)
                            .with_bias(*bias)
                            .init(device),
                    );
                    layout.convs.push(name);
                }
                Op::BatchNorm2d => {
                    norms.push(BatchNormConfig::new(in_channels).init(device));
                    layout.norms.push(name);
                }
                Op::Linear { out_features, bias } => {
                    linears.push(
                        LinearConfig::new(in_channels, *out_features)
                            .with_bias(*bias)
                            .init(device),
                    );
                    layout.linears.push(name);
                }
                Op::MaskedRelu { mask, dropped } => {
                    masks.push(Mask::new(mask, stats.output, device));
                    if let Dropped::Poly(poly) = dropped {
                        polys.push(Quadratic::new(poly, device));
                        layout.polys.push(name);
                    }
                }
                Op::Poly(poly) => {
                    polys.push(Quadratic::new(poly, device));
                    layout.polys.push(name);
                }
                _ => {}
            }
        }
        IrModel {
            convs,
            norms,
            linears,
            polys,
            masks,
            gates,
            plan,
            layout,
        }
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
                let dropped = self.dropped(poly, &x);
                self.masks[mask].forward(x, dropped)
            }),
            Step::Gated { input, gate, poly } => activation(&slots[input], |x| {
                let dropped = self.dropped(poly, &x);
                self.gates[gate].forward(x, dropped)
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

impl IrModel {
    /// What the dropped elements of `x` become: the quadratic `poly`, or
    /// the identity.
    fn dropped(&self, poly: Option<usize>, x: &Tensor<4>) -> Tensor<4> {
        match poly {
            Some(p) => self.polys[p].forward(x.clone()),
            None => x.clone(),
        }
    }

    /// The gated layers with their gates as they are now, in node order;
    /// empty for a model built without gates.
    pub fn gate_layers(&self) -> Vec<GateLayer> {
        self.gates
            .iter()
            .zip(&self.layout.gates)
            .map(|(gate, info)| GateLayer {
                node: info.node,
                granularity: info.granularity,
                unit_size: info.unit_size,
                live: info.live.clone(),
                values: gate
                    .values()
                    .into_data()
                    .try_to_vec::<f32>()
                    .expect("f32 gates"),
                dropped: match info.poly {
                    Some(p) => Dropped::Poly(self.polys[p].polynomial()),
                    None => Dropped::Identity,
                },
            })
            .collect()
    }

    /// The sum of every gate, on the device, for the L1 term of the loss;
    /// `None` for a model without gates.
    pub fn gate_sum(&self) -> Option<Tensor<1>> {
        self.gates
            .iter()
            .map(|gate| gate.values().sum())
            .reduce(|a, b| a + b)
    }

    /// This model with the gates `values` (one list per gated layer, in
    /// the order of [`IrModel::gate_layers`]): 0 and 1 make it compute a
    /// masked network exactly. Live-ness stays: a unit a mask already drops
    /// keeps gate 0 whatever its value here.
    ///
    /// # Panics
    /// If a list's length is not its layer's units.
    pub fn with_gate_values(mut self, values: Vec<Vec<f32>>) -> Self {
        assert_eq!(values.len(), self.gates.len(), "one list per gated layer");
        self.gates = self
            .gates
            .into_iter()
            .zip(values)
            .map(|(gate, values)| gate.with_values(values))
            .collect();
        self
    }

    /// The gates projected back onto [0, 1], after an optimizer step.
    pub fn project_gates(mut self) -> Self {
        self.gates = self.gates.into_iter().map(Gate::projected).collect();
        self
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
