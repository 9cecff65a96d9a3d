//! Merging two convolutions with nothing non-linear between them (the
//! dropped ReLU is gone from the graph) into one equivalent convolution.
//!
//! conv2(conv1(x)) with kernels k1, k2, strides s1, s2, paddings p1, p2 is
//! one convolution with kernel k1 + (k2 - 1) s1, stride s1 s2 and padding
//! p1 + p2 s1 -- exactly, only when conv2's padding reads nothing conv1 did
//! not compute: p2 = 0, or conv1 maps zeros to zeros at the same positions
//! (1x1, stride 1, no padding, no bias). A 3x3 conv with padding 1 after a
//! dropped ReLU (every ResNet block, MobileNet's depthwise convs) pads its
//! input with zeros where the merged conv would see conv1's bias and border
//! terms, so it is left alone. conv1's output must also feed conv2 only (a
//! residual fan-out keeps it). Grouped convolutions stay grouped when both
//! have the same groups (their blocks line up); otherwise the result is dense.
//!
//! Never across a masked ReLU or a polynomial layer: neither is the
//! identity (the kept elements still take their ReLU; a polynomial is not
//! linear). Such pairs are reported ([`kept_apart`]), so that a user sees
//! why they stayed.

use super::graph::{Graph, Op, Weights};
use serde::Serialize;

/// A convolution's parameters, borrowed from the graph.
struct Conv<'a> {
    weight: &'a Weights,
    bias: Option<&'a Weights>,
    stride: [usize; 2],
    padding: [usize; 2],
    groups: usize,
}

impl<'a> Conv<'a> {
    fn of(op: &'a Op) -> Option<Self> {
        match op {
            Op::Conv {
                weight,
                bias,
                stride,
                padding,
                groups,
            } => Some(Conv {
                weight,
                bias: bias.as_ref(),
                stride: *stride,
                padding: *padding,
                groups: *groups,
            }),
            _ => None,
        }
    }

    fn kernel(&self) -> [usize; 2] {
        [self.weight.shape[2], self.weight.shape[3]]
    }

    fn out_channels(&self) -> usize {
        self.weight.shape[0]
    }

    fn in_channels(&self) -> usize {
        self.weight.shape[1] * self.groups
    }

    fn weight_at(&self, o: usize, c_local: usize, y: usize, x: usize) -> f64 {
        let [_, cg, kh, kw] = self.weight.shape[..] else {
            unreachable!("conv weights are 4-D")
        };
        self.weight.data[((o * cg + c_local) * kh + y) * kw + x] as f64
    }

    /// Whether `next(self(x))` is one convolution (see the module doc).
    fn merges_with(&self, next: &Conv) -> bool {
        let maps_zero_to_zero = self.kernel() == [1, 1]
            && self.stride == [1, 1]
            && self.padding == [0, 0]
            && self.bias.is_none();
        next.padding == [0, 0] || maps_zero_to_zero
    }

    /// The convolution equal to `next(self(x))`; `merges_with` must hold.
    fn then(&self, next: &Conv) -> Op {
        let (k1, k2, s1) = (self.kernel(), next.kernel(), self.stride);
        let kernel = [0, 1].map(|a| k1[a] + (k2[a] - 1) * s1[a]);
        let (cin, mid, out) = (self.in_channels(), self.out_channels(), next.out_channels());
        let (in_per_group1, mid_per_group2) = (cin / self.groups, mid / next.groups);
        // The dense [out, cin, kernel] composition, accumulated in f64.
        let mut dense = vec![0.0f64; out * cin * kernel[0] * kernel[1]];
        let mut bias = vec![0.0f64; out];
        for (o, b) in bias.iter_mut().enumerate() {
            *b = next.bias.map_or(0.0, |b| b.data[o] as f64);
            let mids = (o / (out / next.groups)) * mid_per_group2;
            for m in mids..mids + mid_per_group2 {
                let m_local = m - mids;
                let b1 = self.bias.map_or(0.0, |b| b.data[m] as f64);
                let ins = (m / (mid / self.groups)) * in_per_group1;
                for jy in 0..k2[0] {
                    for jx in 0..k2[1] {
                        let w2 = next.weight_at(o, m_local, jy, jx);
                        *b += w2 * b1;
                        for c_local in 0..in_per_group1 {
                            let c = ins + c_local;
                            for iy in 0..k1[0] {
                                for ix in 0..k1[1] {
                                    let (y, x) = (jy * s1[0] + iy, jx * s1[1] + ix);
                                    dense[((o * cin + c) * kernel[0] + y) * kernel[1] + x] +=
                                        w2 * self.weight_at(m, c_local, iy, ix);
                                }
                            }
                        }
                    }
                }
            }
        }
        let groups = if self.groups == next.groups {
            self.groups
        } else {
            1
        };
        // Keep each output's own group of input channels (the rest is zero).
        let (per_group_in, per_group_out) = (cin / groups, out / groups);
        let area = kernel[0] * kernel[1];
        let mut data = Vec::with_capacity(out * per_group_in * area);
        for o in 0..out {
            let first = (o / per_group_out) * per_group_in;
            let row = &dense[(o * cin + first) * area..(o * cin + first + per_group_in) * area];
            data.extend(row.iter().map(|&w| w as f32));
        }
        Op::Conv {
            weight: Weights::new(vec![out, per_group_in, kernel[0], kernel[1]], data),
            bias: Some(Weights::new(
                vec![out],
                bias.into_iter().map(|b| b as f32).collect(),
            )),
            stride: [0, 1].map(|a| self.stride[a] * next.stride[a]),
            padding: [0, 1].map(|a| self.padding[a] + next.padding[a] * s1[a]),
            groups,
        }
    }
}

/// Merges every pair of convolutions that compose into one (see the module
/// doc). The merged node keeps the second one's name. Returns the pairs
/// merged, first conv then second.
pub fn merge_convs(graph: &mut Graph) -> Vec<(String, String)> {
    let mut merged = Vec::new();
    let mut i = 0;
    while i < graph.nodes.len() {
        let Some(first) = mergeable_input(graph, i) else {
            i += 1;
            continue;
        };
        let op = {
            let a = Conv::of(&graph.nodes[first].op).expect("checked");
            let b = Conv::of(&graph.nodes[i].op).expect("checked");
            a.then(&b)
        };
        let first_node = graph.nodes.remove(first);
        let node = &mut graph.nodes[i - 1];
        node.op = op;
        node.inputs = first_node.inputs;
        merged.push((first_node.name, node.name.clone()));
        // Stay on the merged node: it may merge with the conv before it too.
        i -= 1;
    }
    merged
}

/// Two convolutions that would merge if the masked ReLU or polynomial
/// layer `between` them were the identity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptApart {
    pub first: String,
    pub between: String,
    pub second: String,
}

/// Every conv -> masked ReLU or polynomial -> conv chain that would be an
/// exact merge site without the activation (see the module doc).
pub fn kept_apart(graph: &Graph) -> Vec<KeptApart> {
    let mut pairs = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let Some(second) = Conv::of(&node.op) else {
            continue;
        };
        let Some(between) = graph.index(&node.inputs[0]) else {
            continue;
        };
        if !matches!(graph.nodes[between].op, Op::MaskedRelu { .. } | Op::Poly(_)) {
            continue;
        }
        let Some(first) = graph.index(&graph.nodes[between].inputs[0]) else {
            continue;
        };
        let merges = Conv::of(&graph.nodes[first].op).is_some_and(|conv| conv.merges_with(&second));
        if merges && graph.feeds_only(first, between) && graph.feeds_only(between, i) {
            pairs.push(KeptApart {
                first: graph.nodes[first].name.clone(),
                between: graph.nodes[between].name.clone(),
                second: node.name.clone(),
            });
        }
    }
    pairs
}

/// The convolution node that the convolution at `i` can absorb.
fn mergeable_input(graph: &Graph, i: usize) -> Option<usize> {
    let next = Conv::of(&graph.nodes[i].op)?;
    let first = graph.index(&graph.nodes[i].inputs[0])?;
    let conv = Conv::of(&graph.nodes[first].op)?;
    (graph.feeds_only(first, i) && conv.merges_with(&next)).then_some(first)
}
