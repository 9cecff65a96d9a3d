//! The execution plan of an IR: steps over value slots (slot 0 is the input,
//! slot i+1 the output of step i) and, for each step, the slots that are
//! read for the last time there.

use crate::gate::GatedLayer;
use deepreduce_plugin_api::{Dropped, INPUT, Network, Op};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug)]
pub enum Layer {
    Conv(usize),
    Norm(usize),
    Linear(usize),
}

#[derive(Clone, Copy, Debug)]
pub enum Step {
    Layer {
        layer: Layer,
        input: usize,
    },
    Relu {
        input: usize,
    },
    Identity {
        input: usize,
    },
    /// A masked ReLU: `mask` indexes the model's masks, `poly` its
    /// quadratics when the dropped elements become one.
    MaskedRelu {
        input: usize,
        mask: usize,
        poly: Option<usize>,
    },
    /// A gated ReLU layer: `gate` indexes the model's gates, `poly` its
    /// quadratics when the dropped elements become one.
    Gated {
        input: usize,
        gate: usize,
        poly: Option<usize>,
    },
    /// A whole layer's quadratic, `poly` in the model's quadratics.
    Poly {
        input: usize,
        poly: usize,
    },
    Add {
        a: usize,
        b: usize,
    },
    MaxPool {
        input: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
    AvgPool {
        input: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
    GlobalAvgPool {
        input: usize,
    },
    Flatten {
        input: usize,
    },
}

impl Step {
    fn inputs(&self) -> Vec<usize> {
        match *self {
            Step::Add { a, b } => vec![a, b],
            Step::Layer { input, .. }
            | Step::Relu { input }
            | Step::Identity { input }
            | Step::MaskedRelu { input, .. }
            | Step::Gated { input, .. }
            | Step::Poly { input, .. }
            | Step::MaxPool { input, .. }
            | Step::AvgPool { input, .. }
            | Step::GlobalAvgPool { input }
            | Step::Flatten { input } => vec![input],
        }
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub output: usize,
    pub dies_after: Vec<Vec<usize>>,
}

impl Plan {
    /// `net` must have passed shape inference; `gated` holds, per node, how
    /// its ReLU layer is gated (all `None` for a network without gates).
    pub fn from_network(net: &Network, gated: &[Option<GatedLayer>]) -> Plan {
        let mut slot_of: HashMap<&str, usize> = HashMap::new();
        slot_of.insert(INPUT, 0);
        let (mut convs, mut norms, mut linears, mut masks, mut polys) = (0, 0, 0, 0, 0);
        let mut gates = 0;
        let mut steps = Vec::with_capacity(net.nodes.len());
        for (node, gated) in net.nodes.iter().zip(gated) {
            let slot = |k: usize| slot_of[node.inputs[k].as_str()];
            let input = slot(0);
            let next = |counter: &mut usize| {
                *counter += 1;
                *counter - 1
            };
            let step = match (&node.op, gated) {
                (_, Some(layer)) => Step::Gated {
                    input,
                    gate: next(&mut gates),
                    poly: match layer.dropped {
                        Dropped::Identity => None,
                        Dropped::Poly(_) => Some(next(&mut polys)),
                    },
                },
                (op, None) => match op {
                    Op::Conv2d { .. } => Step::Layer {
                        layer: Layer::Conv(next(&mut convs)),
                        input,
                    },
                    Op::BatchNorm2d => Step::Layer {
                        layer: Layer::Norm(next(&mut norms)),
                        input,
                    },
                    Op::Linear { .. } => Step::Layer {
                        layer: Layer::Linear(next(&mut linears)),
                        input,
                    },
                    Op::Relu => Step::Relu { input },
                    Op::Identity => Step::Identity { input },
                    Op::MaskedRelu { dropped, .. } => Step::MaskedRelu {
                        input,
                        mask: next(&mut masks),
                        poly: match dropped {
                            Dropped::Identity => None,
                            Dropped::Poly(_) => Some(next(&mut polys)),
                        },
                    },
                    Op::Poly(_) => Step::Poly {
                        input,
                        poly: next(&mut polys),
                    },
                    Op::Add => Step::Add {
                        a: input,
                        b: slot(1),
                    },
                    Op::MaxPool2d {
                        kernel,
                        stride,
                        padding,
                    } => Step::MaxPool {
                        input,
                        kernel: *kernel,
                        stride: *stride,
                        padding: *padding,
                    },
                    Op::AvgPool2d {
                        kernel,
                        stride,
                        padding,
                    } => Step::AvgPool {
                        input,
                        kernel: *kernel,
                        stride: *stride,
                        padding: *padding,
                    },
                    Op::GlobalAvgPool => Step::GlobalAvgPool { input },
                    Op::Flatten => Step::Flatten { input },
                },
            };
            steps.push(step);
            slot_of.insert(&node.name, steps.len());
        }
        let output = slot_of[net.output.as_str()];
        let mut last_read = vec![None; steps.len() + 1];
        for (i, step) in steps.iter().enumerate() {
            for s in step.inputs() {
                last_read[s] = Some(i);
            }
        }
        let mut dies_after = vec![Vec::new(); steps.len()];
        for (slot, last) in last_read.iter().enumerate() {
            if let Some(i) = *last
                && slot != output
            {
                dies_after[i].push(slot);
            }
        }
        Plan {
            steps,
            output,
            dies_after,
        }
    }
}
