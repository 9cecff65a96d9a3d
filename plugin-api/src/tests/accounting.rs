//! Accounting of masked ReLUs, polynomials and max-pool comparisons, on
//! `testing::tiny`: relu1 is the stem's 8x8x8 ReLU (512 elements), relu2
//! S1's 16x4x4 ReLU (256 elements); 34,464 MACs and 1,714 parameters.

use crate::analysis::{IrError, Totals, analyze};
use crate::builder::conv;
use crate::ir::{Dropped, INPUT, Network, Node, Op};
use crate::mask::{BitSet, Granularity, ReluMask};
use crate::poly::Polynomial;
use crate::testing::{network, tiny};

const RELU1: usize = 2;
const RELU2: usize = 7;

fn mask(granularity: Granularity, len: usize, kept: impl IntoIterator<Item = usize>) -> ReluMask {
    ReluMask::new(granularity, BitSet::from_indices(len, kept))
}

/// (relus, polys, comparisons, params) of each node named.
fn counts(net: &Network, names: &[&str]) -> Vec<(u64, u64, u64, u64)> {
    let a = analyze(net).unwrap();
    names
        .iter()
        .map(|name| {
            let n = a.nodes.iter().find(|n| n.name == *name).unwrap();
            (n.relus, n.polys, n.comparisons, n.params)
        })
        .collect()
}

fn invalid(net: &Network) -> String {
    let e = analyze(net).expect_err("the network should be refused");
    assert!(matches!(e, IrError::Invalid { .. }), "{e:?}");
    e.to_string()
}

#[test]
fn masked_relus_count_their_kept_elements_per_node_stage_and_total() {
    let mut net = tiny();
    // 100 of relu1's 512 elements; dropped ones pass through.
    net.nodes[RELU1].op = Op::MaskedRelu {
        mask: mask(Granularity::Pixel, 512, 0..100),
        dropped: Dropped::Identity,
    };
    // 5 of relu2's 16 channels of 4x4 = 80 elements; the other 176 go
    // through a trainable quadratic: 3 x 16 parameters.
    net.nodes[RELU2].op = Op::MaskedRelu {
        mask: mask(Granularity::Channel, 16, [0, 3, 5, 10, 15]),
        dropped: Dropped::Poly(Polynomial::delphi(16).into_trainable()),
    };
    assert_eq!(
        counts(&net, &["relu1", "relu2"]),
        [(100, 0, 0, 0), (80, 176, 0, 48)]
    );
    let a = analyze(&net).unwrap();
    assert_eq!(a.nodes[RELU1].op, "MaskedRelu");
    let stem = Totals {
        relus: 100,
        polys: 0,
        comparisons: 0,
        macs: 13_824,
        params: 232,
    };
    let s1 = Totals {
        relus: 80,
        polys: 176,
        comparisons: 0,
        macs: 20_480,
        params: 1_312 + 48,
    };
    assert_eq!(a.stage("stem"), Some(&stem));
    assert_eq!(a.stage("S1"), Some(&s1));
    assert_eq!(
        a.total,
        Totals {
            relus: 180,
            polys: 176,
            comparisons: 0,
            macs: 34_464,
            params: 1_714 + 48,
        }
    );
}

#[test]
fn a_polynomial_layer_counts_every_element_and_no_relu() {
    let mut net = tiny();
    net.nodes[RELU1].op = Op::Poly(Polynomial::delphi(8));
    net.nodes[RELU2].op = Op::Poly(Polynomial::identity(16).into_trainable());
    assert_eq!(
        counts(&net, &["relu1", "relu2"]),
        [(0, 512, 0, 0), (0, 256, 0, 48)]
    );
    let total = analyze(&net).unwrap().total;
    assert_eq!((total.relus, total.polys, total.params), (0, 768, 1_762));
}

#[test]
fn full_and_empty_masks_count_like_relu_and_identity() {
    let mut net = tiny();
    net.nodes[RELU1].op = Op::MaskedRelu {
        mask: mask(Granularity::Pixel, 512, 0..512),
        dropped: Dropped::Poly(Polynomial::delphi(8)),
    };
    net.nodes[RELU2].op = Op::MaskedRelu {
        mask: mask(Granularity::Channel, 16, []),
        dropped: Dropped::Identity,
    };
    assert_eq!(
        counts(&net, &["relu1", "relu2"]),
        [(512, 0, 0, 0), (0, 0, 0, 0)]
    );
}

#[test]
fn a_mask_must_fit_its_layer() {
    let mut net = tiny();
    net.nodes[RELU1].op = Op::MaskedRelu {
        mask: mask(Granularity::Pixel, 511, [0]),
        dropped: Dropped::Identity,
    };
    assert_eq!(
        invalid(&net),
        "node 'relu1': its pixel mask has 511 bits, but the layer has 512 elements"
    );
    // A channel mask sized for relu1's 8 channels on relu2's 16.
    let mut net = tiny();
    net.nodes[RELU2].op = Op::MaskedRelu {
        mask: mask(Granularity::Channel, 8, [0]),
        dropped: Dropped::Identity,
    };
    assert_eq!(
        invalid(&net),
        "node 'relu2': its channel mask has 8 bits, but the layer has 16 channels"
    );
}

#[test]
fn a_polynomial_must_fit_its_layer_and_be_finite() {
    let mut net = tiny();
    net.nodes[RELU2].op = Op::Poly(Polynomial::delphi(8));
    assert_eq!(
        invalid(&net),
        "node 'relu2': its polynomial has 8 coefficients in `a`, but the layer has 16 channels"
    );
    // The polynomial of a mask's dropped elements too.
    let mut net = tiny();
    let mut poly = Polynomial::delphi(8);
    poly.c[7] = f32::NEG_INFINITY;
    net.nodes[RELU1].op = Op::MaskedRelu {
        mask: mask(Granularity::Pixel, 512, [0]),
        dropped: Dropped::Poly(poly),
    };
    assert_eq!(
        invalid(&net),
        "node 'relu1': its polynomial's c[7] is -inf; coefficients must be finite"
    );
}

#[test]
fn on_a_vector_every_feature_is_a_channel() {
    let relu = |op: Op| {
        network(
            "mlp",
            [1, 4, 4],
            vec![
                Node::new("flat", Op::Flatten, &[INPUT]),
                Node::new(
                    "fc",
                    Op::Linear {
                        out_features: 5,
                        bias: true,
                    },
                    &["flat"],
                ),
                Node::new("relu", op, &["fc"]),
            ],
            "relu",
        )
    };
    for granularity in [Granularity::Pixel, Granularity::Channel] {
        let net = relu(Op::MaskedRelu {
            mask: mask(granularity, 5, [1, 4]),
            dropped: Dropped::Poly(Polynomial::delphi(5)),
        });
        assert_eq!(counts(&net, &["relu"]), [(2, 3, 0, 0)], "{granularity:?}");
    }
    let net = relu(Op::Poly(Polynomial::delphi(4)));
    assert!(invalid(&net).contains("but the layer has 5 channels"));
}

#[test]
fn max_pool_comparisons_per_node_stage_and_total() {
    let pool = |k: usize, s: usize, p: usize| Op::MaxPool2d {
        kernel: [k, k],
        stride: [s, s],
        padding: [p, p],
    };
    let net = network(
        "pools",
        [3, 8, 8],
        vec![
            Node::new("conv", conv(4, 3, 1, 1), &[INPUT]).in_stage("S1"),
            Node::new("relu", Op::Relu, &["conv"]).in_stage("S1"),
            // 4x4x4 = 64 outputs, 2*2 - 1 = 3 comparisons each.
            Node::new("pool1", pool(2, 2, 0), &["relu"]).in_stage("S1"),
            // 4x4x4 = 64 outputs (padded), 3*3 - 1 = 8 each.
            Node::new("pool2", pool(3, 1, 1), &["pool1"]).in_stage("S2"),
            Node::new(
                "avg",
                Op::AvgPool2d {
                    kernel: [2, 2],
                    stride: [2, 2],
                    padding: [0, 0],
                },
                &["pool2"],
            ),
        ],
        "avg",
    );
    assert_eq!(
        counts(&net, &["relu", "pool1", "pool2", "avg"]),
        [(256, 0, 0, 0), (0, 0, 192, 0), (0, 0, 512, 0), (0, 0, 0, 0)]
    );
    let a = analyze(&net).unwrap();
    assert_eq!(a.stage("S1").unwrap().comparisons, 192);
    assert_eq!(a.stage("S2").unwrap().comparisons, 512);
    assert_eq!((a.total.relus, a.total.comparisons), (256, 704));
}
