//! The masked ReLU and the polynomial activation: their limits (a full
//! mask is the ReLU, an empty one the identity or the polynomial, the
//! polynomial (0, 1, 0) the identity) exactly, hand-checked values, the
//! coefficients' gradients against finite differences, and what is saved.

use super::{drawn, input, sharing_layers, values};
use crate::IrModel;
use crate::activation::Quadratic;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepreduce_plugin_api::testing::{network, tiny};
use deepreduce_plugin_api::{
    BitSet, Dropped, Granularity, Network, Node, Op, Polynomial, ReluMask,
};

/// tiny's ReLU layers: relu1 (8x8x8, stem) and relu2 (16x4x4, S1).
pub(super) const RELU1: usize = 2;
pub(super) const RELU2: usize = 7;

pub(super) fn tiny_with(relu1: Op, relu2: Op) -> Network {
    let mut net = tiny();
    net.nodes[RELU1].op = relu1;
    net.nodes[RELU2].op = relu2;
    net
}

pub(super) fn mask(
    granularity: Granularity,
    len: usize,
    kept: impl IntoIterator<Item = usize>,
) -> ReluMask {
    ReluMask::new(granularity, BitSet::from_indices(len, kept))
}

pub(super) fn masked(mask: ReluMask, dropped: Dropped) -> Op {
    Op::MaskedRelu { mask, dropped }
}

/// A polynomial whose coefficients differ from channel to channel.
fn varied(channels: usize) -> Polynomial {
    let ramp = |base: f32, step: f32| (0..channels).map(|i| base + step * i as f32).collect();
    Polynomial {
        a: ramp(0.15, 0.01),
        b: ramp(0.4, 0.03),
        c: ramp(0.1, -0.02),
        trainable: true,
    }
}

/// tiny's layers, drawn once per test: the weights every variant shares.
pub(super) fn reference() -> IrModel {
    drawn(&tiny(), &Device::flex())
}

/// The logits of `net` with the layers of `reference` on a fixed batch of 2.
fn logits(net: &Network, reference: &IrModel) -> Vec<f32> {
    let x = input([2, 3, 8, 8], &Device::flex());
    values(sharing_layers(net, reference).forward(x))
}

#[test]
fn a_full_mask_is_the_relu() {
    let layers = reference();
    let relu = logits(&tiny(), &layers);
    let identity = logits(&tiny_with(Op::Identity, Op::Identity), &layers);
    assert_ne!(
        relu, identity,
        "the ReLUs must matter for this test to mean anything"
    );
    let full = |dropped1, dropped2| {
        tiny_with(
            masked(mask(Granularity::Pixel, 512, 0..512), dropped1),
            masked(mask(Granularity::Channel, 16, 0..16), dropped2),
        )
    };
    assert_eq!(
        logits(&full(Dropped::Identity, Dropped::Identity), &layers),
        relu
    );
    let polys = full(Dropped::Poly(varied(8)), Dropped::Poly(varied(16)));
    assert_eq!(logits(&polys, &layers), relu);
}

#[test]
fn an_empty_mask_is_the_identity_or_the_polynomial() {
    let layers = reference();
    let empty = |dropped1, dropped2| {
        tiny_with(
            masked(mask(Granularity::Pixel, 512, []), dropped1),
            masked(mask(Granularity::Channel, 16, []), dropped2),
        )
    };
    let identity = logits(&tiny_with(Op::Identity, Op::Identity), &layers);
    assert_eq!(
        logits(&empty(Dropped::Identity, Dropped::Identity), &layers),
        identity
    );
    let (p1, p2) = (varied(8), varied(16));
    let polys = logits(
        &tiny_with(Op::Poly(p1.clone()), Op::Poly(p2.clone())),
        &layers,
    );
    assert_ne!(polys, identity);
    assert_eq!(
        logits(&empty(Dropped::Poly(p1), Dropped::Poly(p2)), &layers),
        polys
    );
}

#[test]
fn the_polynomial_0_1_0_is_the_identity() {
    let layers = reference();
    let identity = logits(&tiny_with(Op::Identity, Op::Identity), &layers);
    let polys = tiny_with(
        Op::Poly(Polynomial::identity(8)),
        Op::Poly(Polynomial::identity(16).into_trainable()),
    );
    assert_eq!(logits(&polys, &layers), identity);
}

/// `op` on a 2x2x2 input (after a Flatten when `flat`) as the whole network.
fn one_layer(op: Op, flat: bool) -> Vec<f32> {
    let mut nodes = Vec::new();
    let mut last = deepreduce_plugin_api::INPUT;
    if flat {
        nodes.push(Node::new("flat", Op::Flatten, &[last]));
        last = "flat";
    }
    nodes.push(Node::new("act", op, &[last]));
    let net = network("one layer", [2, 2, 2], nodes, "act");
    let device = Device::flex();
    let x = [-1.0f32, 2.0, -3.0, 4.0, -5.0, 6.0, -7.0, 8.0];
    let x = Tensor::<4>::from_data(TensorData::new(x.to_vec(), [1, 2, 2, 2]), &device);
    values(IrModel::new(&net, &device).expect("valid").forward(x))
}

#[test]
fn pixel_and_channel_masks_by_hand() {
    // Channel 0 holds -1, 2, -3, 4 and channel 1 -5, 6, -7, 8; the
    // polynomial is x^2 + 2x + 0.25 on channel 0, 0.5x^2 - x + 3 on channel 1.
    let poly = Polynomial {
        a: vec![1.0, 0.5],
        b: vec![2.0, -1.0],
        c: vec![0.25, 3.0],
        trainable: false,
    };
    let pixels = mask(Granularity::Pixel, 8, [0, 3, 4, 6]);
    let channel = |kept| mask(Granularity::Channel, 2, [kept]);
    let cases = [
        (
            masked(pixels.clone(), Dropped::Identity),
            [0.0, 2.0, -3.0, 4.0, 0.0, 6.0, 0.0, 8.0],
        ),
        (
            masked(channel(1), Dropped::Identity),
            [-1.0, 2.0, -3.0, 4.0, 0.0, 6.0, 0.0, 8.0],
        ),
        (
            masked(pixels, Dropped::Poly(poly.clone())),
            [0.0, 8.25, 3.25, 4.0, 0.0, 15.0, 0.0, 27.0],
        ),
        (
            masked(channel(0), Dropped::Poly(poly.clone())),
            [0.0, 2.0, 0.0, 4.0, 20.5, 15.0, 34.5, 27.0],
        ),
        (
            Op::Poly(poly),
            [-0.75, 8.25, 3.25, 24.25, 20.5, 15.0, 34.5, 27.0],
        ),
    ];
    for (op, expected) in cases {
        assert_eq!(one_layer(op.clone(), false), expected, "{op:?}");
    }
    // After Flatten each of the 8 features is a channel of its own.
    let features = mask(Granularity::Channel, 8, [0, 3, 4, 6]);
    assert_eq!(
        one_layer(masked(features, Dropped::Identity), true),
        [0.0, 2.0, -3.0, 4.0, 0.0, 6.0, 0.0, 8.0]
    );
    let square = Polynomial::uniform(8, (1.0, 2.0, 0.25));
    assert_eq!(
        one_layer(Op::Poly(square), true),
        [-0.75, 8.25, 3.25, 24.25, 15.25, 48.25, 35.25, 80.25]
    );
}

/// Cross-entropy of the fixed batch against fixed labels, summed.
pub(super) fn loss(model: &IrModel, device: &Device) -> Tensor<1> {
    let logits = model.forward(input([2, 3, 8, 8], device));
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![3i64, 7], [2]), device);
    let one_hot: Tensor<2> = labels.one_hot::<2>(10).float();
    -(log_softmax(logits, 1) * one_hot).sum()
}

#[test]
fn coefficient_gradients_match_finite_differences() {
    // relu1 keeps every third element and drops the rest to a polynomial;
    // relu2 is a polynomial layer. Batch norm trains (batch statistics), as
    // in a training step.
    let net = tiny_with(
        masked(
            mask(Granularity::Pixel, 512, (0..512).step_by(3)),
            Dropped::Poly(varied(8)),
        ),
        Op::Poly(varied(16)),
    );
    let device = Device::flex().autodiff();
    let model = drawn(&net, &device);
    let grads = loss(&model, &device).backward();
    let eps = 1e-2f32;
    let (mut worst, mut largest) = (0.0f32, 0.0f32);
    for (k, quadratic) in model.polys.iter().enumerate() {
        let poly = quadratic.polynomial();
        let params = [&quadratic.a, &quadratic.b, &quadratic.c];
        for (term, param) in params.into_iter().enumerate() {
            let analytic = values(
                param
                    .val()
                    .grad(&grads)
                    .expect("a trainable coefficient has a gradient"),
            );
            for (channel, &g) in analytic.iter().enumerate() {
                let at = |delta: f32| {
                    let mut p = poly.clone();
                    [&mut p.a, &mut p.b, &mut p.c][term][channel] += delta;
                    let mut perturbed = model.clone();
                    perturbed.polys[k] = Quadratic::new(&p, &device);
                    loss(&perturbed, &device).into_scalar::<f32>()
                };
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                let error = (numeric - g).abs();
                assert!(
                    error <= 5e-4 + 1e-3 * g.abs(),
                    "poly {k}, term {term}, channel {channel}: autodiff {g}, central difference {numeric}"
                );
                worst = worst.max(error);
                largest = largest.max(g.abs());
            }
        }
    }
    println!(
        "coefficient gradients: largest {largest:e}, max |autodiff - central difference| {worst:e}"
    );
    assert!(
        largest > 1e-2,
        "the gradients are all near zero: the test means nothing"
    );
}

#[test]
fn fixed_coefficients_get_no_gradient() {
    let fixed = Polynomial {
        trainable: false,
        ..varied(16)
    };
    let net = tiny_with(Op::Relu, Op::Poly(fixed));
    let device = Device::flex().autodiff();
    let model = drawn(&net, &device);
    let grads = loss(&model, &device).backward();
    assert!(model.polys[0].a.val().grad(&grads).is_none());
    assert!(model.convs[0].weight.val().grad(&grads).is_some());
}

#[test]
fn coefficients_are_saved_and_masks_are_not() {
    let mask1 = mask(Granularity::Pixel, 512, (0..512).step_by(2));
    let device = Device::flex();
    let trained = tiny_with(
        masked(mask1.clone(), Dropped::Poly(varied(8))),
        Op::Poly(varied(16)),
    );
    let saved = IrModel::new(&trained, &device).unwrap();
    // The same network with other coefficients (as before training) takes
    // the saved ones.
    let untrained = tiny_with(
        masked(
            mask1.clone(),
            Dropped::Poly(Polynomial::delphi(8).into_trainable()),
        ),
        Op::Poly(Polynomial::identity(16).into_trainable()),
    );
    let loaded = IrModel::new(&untrained, &device)
        .unwrap()
        .with_bytes(saved.to_bytes().unwrap())
        .unwrap();
    assert_eq!(loaded.polynomials(), saved.polynomials());
    assert_eq!(saved.polynomials(), [varied(8), varied(16)]);
    // A mask adds nothing to the record: the plain network's weights load
    // into the masked one and back.
    let masked_net = tiny_with(masked(mask1, Dropped::Identity), Op::Relu);
    let plain = IrModel::new(&tiny(), &device).unwrap();
    let masked_model = IrModel::new(&masked_net, &device).unwrap();
    masked_model.with_bytes(plain.to_bytes().unwrap()).unwrap();
    let back = IrModel::new(&masked_net, &device)
        .unwrap()
        .to_bytes()
        .unwrap();
    IrModel::new(&tiny(), &device)
        .unwrap()
        .with_bytes(back)
        .unwrap();
}
