//! Folding and merging checked against a direct evaluation of the graph
//! before and after, on hand-made graphs covering the valid and the
//! invalid merge sites.

use super::fold::fold_batch_norms;
use super::graph::{Graph, Node, Op, Weights};
use super::merge::{KeptApart, kept_apart, merge_convs};
use deepreduce_plugin_api::{BitSet, Granularity, INPUT, InputSpec, Polynomial, ReluMask, Shape};
use std::collections::HashMap;

/// A one-sample feature map: channels, height, width, values.
#[derive(Clone, Debug)]
struct Map {
    c: usize,
    h: usize,
    w: usize,
    v: Vec<f64>,
}

fn conv(x: &Map, op: &Op) -> Map {
    let Op::Conv {
        weight,
        bias,
        stride,
        padding,
        groups,
    } = op
    else {
        unreachable!()
    };
    let [o_n, cg, kh, kw] = weight.shape[..] else {
        unreachable!()
    };
    let h = (x.h + 2 * padding[0] - kh) / stride[0] + 1;
    let w = (x.w + 2 * padding[1] - kw) / stride[1] + 1;
    let mut v = vec![0.0; o_n * h * w];
    for o in 0..o_n {
        let c0 = (o / (o_n / groups)) * cg;
        for (y, x_) in (0..h).flat_map(|y| (0..w).map(move |x_| (y, x_))) {
            let mut s = bias.as_ref().map_or(0.0, |b| b.data[o] as f64);
            for (cl, i, j) in
                (0..cg).flat_map(|cl| (0..kh).flat_map(move |i| (0..kw).map(move |j| (cl, i, j))))
            {
                let (yy, xx) = (
                    (y * stride[0] + i) as isize - padding[0] as isize,
                    (x_ * stride[1] + j) as isize - padding[1] as isize,
                );
                if yy < 0 || xx < 0 || yy >= x.h as isize || xx >= x.w as isize {
                    continue;
                }
                let wv = weight.data[((o * cg + cl) * kh + i) * kw + j] as f64;
                s += wv * x.v[((c0 + cl) * x.h + yy as usize) * x.w + xx as usize];
            }
            v[(o * h + y) * w + x_] = s;
        }
    }
    Map { c: o_n, h, w, v }
}

/// `(a*x + b)*x + c` with channel `c`'s coefficients.
fn poly(p: &Polynomial, channel: usize, x: f64) -> f64 {
    let [a, b, c] = [&p.a, &p.b, &p.c].map(|v| v[channel] as f64);
    (a * x + b) * x + c
}

/// Evaluates a graph of Conv, BatchNorm, Add and activation nodes on one sample.
fn eval(graph: &Graph, input: &Map) -> Map {
    let mut values: HashMap<String, Map> = HashMap::from([(INPUT.to_string(), input.clone())]);
    for node in &graph.nodes {
        let x = values[&node.inputs[0]].clone();
        let out = match &node.op {
            Op::Conv { .. } => conv(&x, &node.op),
            Op::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                epsilon,
            } => {
                let area = x.h * x.w;
                let v = (0..x.v.len())
                    .map(|k| {
                        let c = k / area;
                        (x.v[k] - mean.data[c] as f64) / (var.data[c] as f64 + epsilon).sqrt()
                            * gamma.data[c] as f64
                            + beta.data[c] as f64
                    })
                    .collect();
                Map { v, ..x }
            }
            Op::Add => {
                let y = &values[&node.inputs[1]];
                let v = x.v.iter().zip(&y.v).map(|(a, b)| a + b).collect();
                Map { v, ..x }
            }
            Op::Relu => Map {
                v: x.v.iter().map(|a| a.max(0.0)).collect(),
                ..x
            },
            Op::MaskedRelu { mask, poly: p } => {
                let area = x.h * x.w;
                let v = (0..x.v.len())
                    .map(|k| {
                        let unit = match mask.granularity {
                            Granularity::Pixel => k,
                            Granularity::Channel => k / area,
                        };
                        match p {
                            _ if mask.bits.get(unit) => x.v[k].max(0.0),
                            Some(p) => poly(p, k / area, x.v[k]),
                            None => x.v[k],
                        }
                    })
                    .collect();
                Map { v, ..x }
            }
            Op::Poly(p) => {
                let area = x.h * x.w;
                let v = (0..x.v.len()).map(|k| poly(p, k / area, x.v[k])).collect();
                Map { v, ..x }
            }
            other => unreachable!("{other:?} is not used in these tests"),
        };
        values.insert(node.name.clone(), out);
    }
    values.remove(&graph.output).expect("output computed")
}

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

struct ConvSpec {
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    groups: usize,
    bias: bool,
}

fn c(cin: usize, cout: usize, kernel: usize, stride: usize, padding: usize) -> ConvSpec {
    ConvSpec {
        cin,
        cout,
        kernel,
        stride,
        padding,
        groups: 1,
        bias: true,
    }
}

fn conv_node(name: &str, input: &str, s: &ConvSpec, seed: u64) -> Node {
    let shape = vec![s.cout, s.cin / s.groups, s.kernel, s.kernel];
    let n = shape.iter().product();
    node(
        name,
        &[input],
        Op::Conv {
            weight: Weights::new(shape, values(n, seed)),
            bias: s
                .bias
                .then(|| Weights::new(vec![s.cout], values(s.cout, seed + 100))),
            stride: [s.stride; 2],
            padding: [s.padding; 2],
            groups: s.groups,
        },
    )
}

fn node(name: &str, inputs: &[&str], op: Op) -> Node {
    Node {
        name: name.into(),
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        // Shapes only feed MAC counts, which these tests do not read.
        output: Shape::Vector(1),
        stage: None,
        block: None,
    }
}

fn batch_norm(name: &str, input: &str, channels: usize, seed: u64) -> Node {
    let positive = |v: Vec<f32>| v.into_iter().map(|x| x.abs() + 0.5).collect();
    let w = |v| Weights::new(vec![channels], v);
    node(
        name,
        &[input],
        Op::BatchNorm {
            gamma: w(positive(values(channels, seed))),
            beta: w(values(channels, seed + 1)),
            mean: w(values(channels, seed + 2)),
            var: w(positive(values(channels, seed + 3))),
            epsilon: 1e-5,
        },
    )
}

fn graph(channels: usize, side: usize, nodes: Vec<Node>) -> Graph {
    let output = nodes.last().expect("nodes").name.clone();
    Graph {
        input: InputSpec {
            channels,
            height: side,
            width: side,
        },
        nodes,
        output,
    }
}

fn input(g: &Graph) -> Map {
    let i = g.input;
    let n = i.channels * i.height * i.width;
    Map {
        c: i.channels,
        h: i.height,
        w: i.width,
        v: values(n, 7).into_iter().map(f64::from).collect(),
    }
}

/// Simplifies `g` with `f` and checks the output is unchanged (to f32
/// rounding); returns the simplified graph.
fn same_output(mut g: Graph, f: impl FnOnce(&mut Graph)) -> Graph {
    let x = input(&g);
    let before = eval(&g, &x);
    f(&mut g);
    let after = eval(&g, &x);
    assert_eq!((before.c, before.h, before.w), (after.c, after.h, after.w));
    let diff = before
        .v
        .iter()
        .zip(&after.v)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-4, "max |diff| {diff}");
    g
}

fn merged(g: Graph) -> (Graph, Vec<(String, String)>) {
    let mut pairs = Vec::new();
    let g = same_output(g, |g| pairs = merge_convs(g));
    (g, pairs)
}

#[test]
fn folding_batch_norms_keeps_the_output_and_removes_them() {
    let g = graph(
        3,
        6,
        vec![
            conv_node(
                "a",
                INPUT,
                &ConvSpec {
                    bias: false,
                    ..c(3, 4, 3, 1, 1)
                },
                1,
            ),
            batch_norm("a.bn", "a", 4, 2),
            node("r", &["a.bn"], Op::Relu),
            conv_node("b", "r", &c(4, 4, 3, 2, 1), 3),
            batch_norm("b.bn", "b", 4, 4),
        ],
    );
    let mut folded = 0;
    let g = same_output(g, |g| folded = fold_batch_norms(g));
    assert_eq!(folded, 2);
    let kinds: Vec<_> = g.nodes.iter().map(|n| n.op.onnx_type()).collect();
    assert_eq!(kinds, [Some("Conv"), Some("Relu"), Some("Conv")]);
    assert_eq!(g.output, "b");
}

#[test]
fn a_batch_norm_after_a_shared_conv_is_not_folded() {
    let mut g = graph(
        2,
        4,
        vec![
            conv_node("a", INPUT, &c(2, 2, 1, 1, 0), 1),
            batch_norm("bn", "a", 2, 2),
            node("add", &["bn", "a"], Op::Add),
        ],
    );
    assert_eq!(fold_batch_norms(&mut g), 0);
}

#[test]
fn a_conv_then_a_pointwise_conv_merge() {
    let g = graph(
        3,
        7,
        vec![
            conv_node("a", INPUT, &c(3, 5, 3, 2, 1), 1),
            conv_node("b", "a", &c(5, 4, 1, 1, 0), 2),
        ],
    );
    let (g, pairs) = merged(g);
    assert_eq!(pairs, [("a".to_string(), "b".to_string())]);
    assert_eq!(g.nodes.len(), 1);
}

#[test]
fn a_depthwise_conv_merges_into_the_pointwise_conv_after_it_as_a_dense_conv() {
    let dw = ConvSpec {
        groups: 4,
        ..c(4, 4, 3, 2, 1)
    };
    let g = graph(
        4,
        8,
        vec![
            conv_node("dw", INPUT, &dw, 1),
            conv_node("pw", "dw", &c(4, 6, 1, 1, 0), 2),
        ],
    );
    let (g, pairs) = merged(g);
    assert_eq!(pairs.len(), 1);
    let Op::Conv { groups, weight, .. } = &g.nodes[0].op else {
        panic!()
    };
    assert_eq!((*groups, weight.shape.as_slice()), (1, &[6, 4, 3, 3][..]));
}

#[test]
fn equally_grouped_convs_merge_into_a_grouped_conv() {
    let g1 = ConvSpec {
        groups: 2,
        ..c(4, 6, 3, 1, 1)
    };
    let g2 = ConvSpec {
        groups: 2,
        ..c(6, 4, 1, 1, 0)
    };
    let g = graph(
        4,
        5,
        vec![conv_node("a", INPUT, &g1, 1), conv_node("b", "a", &g2, 2)],
    );
    let (g, _) = merged(g);
    let Op::Conv { groups, .. } = &g.nodes[0].op else {
        panic!()
    };
    assert_eq!(*groups, 2);
}

#[test]
fn an_unpadded_strided_chain_merges_into_one_larger_kernel() {
    let g = graph(
        2,
        11,
        vec![
            conv_node("a", INPUT, &c(2, 3, 3, 2, 1), 1),
            conv_node("b", "a", &c(3, 2, 3, 1, 0), 2),
            conv_node("c", "b", &c(2, 2, 2, 2, 0), 3),
        ],
    );
    let (g, pairs) = merged(g);
    assert_eq!(pairs.len(), 2);
    let Op::Conv {
        weight,
        stride,
        padding,
        ..
    } = &g.nodes[0].op
    else {
        panic!()
    };
    // 3 + (3-1)*2 = 7, then 7 + (2-1)*2 = 9; stride 2*1*2; padding 1.
    assert_eq!((weight.shape[2], *stride, *padding), (9, [4, 4], [1, 1]));
}

#[test]
fn a_bias_free_pointwise_conv_merges_into_a_padded_conv_after_it() {
    let pw = ConvSpec {
        bias: false,
        ..c(3, 4, 1, 1, 0)
    };
    let g = graph(
        3,
        6,
        vec![
            conv_node("a", INPUT, &pw, 1),
            conv_node("b", "a", &c(4, 2, 3, 1, 1), 2),
        ],
    );
    assert_eq!(merged(g).1.len(), 1);
}

#[test]
fn invalid_sites_are_left_alone() {
    let unmerged = |nodes: Vec<Node>| {
        let (_, pairs) = merged(graph(2, 6, nodes));
        assert!(pairs.is_empty(), "merged {pairs:?}");
    };
    // A padded conv after a conv with a bias: the zeros it pads with are
    // not what the first conv computes there.
    unmerged(vec![
        conv_node("a", INPUT, &c(2, 2, 3, 1, 1), 1),
        conv_node("b", "a", &c(2, 2, 3, 1, 1), 2),
    ]);
    unmerged(vec![
        conv_node("a", INPUT, &c(2, 2, 1, 1, 0), 1),
        conv_node("b", "a", &c(2, 2, 3, 1, 1), 2),
    ]);
    // A residual fan-out: the first conv's output is also added.
    unmerged(vec![
        conv_node("a", INPUT, &c(2, 2, 3, 1, 1), 1),
        conv_node("b", "a", &c(2, 2, 1, 1, 0), 2),
        node("add", &["b", "a"], Op::Add),
    ]);
    // A non-linearity in between.
    unmerged(vec![
        conv_node("a", INPUT, &c(2, 2, 3, 1, 1), 1),
        node("r", &["a"], Op::Relu),
        conv_node("b", "r", &c(2, 2, 1, 1, 0), 2),
    ]);
}

#[test]
fn convs_never_merge_across_a_masked_relu_or_a_polynomial_and_the_report_says_so() {
    // conv a (3x3, bias) then conv b (1x1, unpadded): an exact merge site
    // were the activation between them the identity.
    let quadratic = Polynomial {
        a: vec![0.2, -0.1, 0.3],
        b: vec![0.5, 1.0, -0.4],
        c: vec![0.1, 0.0, 0.2],
        trainable: true,
    };
    let activations = [
        Op::MaskedRelu {
            mask: ReluMask::new(Granularity::Channel, BitSet::from_indices(3, [1])),
            poly: None,
        },
        Op::MaskedRelu {
            mask: ReluMask::new(
                Granularity::Pixel,
                BitSet::from_indices(108, (0..108).step_by(5)),
            ),
            poly: Some(quadratic.clone()),
        },
        Op::Poly(quadratic),
    ];
    for activation in activations {
        let g = graph(
            2,
            6,
            vec![
                conv_node("a", INPUT, &c(2, 3, 3, 1, 1), 1),
                node("r", &["a"], activation.clone()),
                conv_node("b", "r", &c(3, 2, 1, 1, 0), 2),
            ],
        );
        let (g, pairs) = merged(g);
        assert!(pairs.is_empty(), "{activation:?}: merged {pairs:?}");
        let expected = KeptApart {
            first: "a".into(),
            between: "r".into(),
            second: "b".into(),
        };
        assert_eq!(kept_apart(&g), [expected], "{activation:?}");
    }
    // A whole ReLU is no merge site to report.
    let g = graph(
        2,
        6,
        vec![
            conv_node("a", INPUT, &c(2, 3, 3, 1, 1), 1),
            node("r", &["a"], Op::Relu),
            conv_node("b", "r", &c(3, 2, 1, 1, 0), 2),
        ],
    );
    assert!(kept_apart(&g).is_empty());
}
