//! Gates: open gates are the network's ReLUs and closed ones what its
//! dropped elements become, exactly; units a mask already drops stay
//! dropped; the gates' gradients match finite differences; warm starts
//! take over the layers of the same name and shape.

use super::activation::{RELU1, RELU2, loss, mask, masked, reference, tiny_with};
use super::{input, values};
use crate::{GateSpec, IrModel};
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use deepreduce_plugin_api::reduction::DropAs;
use deepreduce_plugin_api::testing::tiny;
use deepreduce_plugin_api::{Dropped, Granularity, Network, Op, Polynomial};

fn spec(granularity: Granularity, dropped: DropAs) -> GateSpec {
    GateSpec {
        granularity,
        dropped,
    }
}

/// `net` gated as `spec`, with the layers of `reference`.
fn gated(net: &Network, spec: GateSpec, reference: &IrModel) -> IrModel {
    let device = reference.devices()[0].clone();
    let model = IrModel::gated(net, spec, &device).expect("gateable");
    let (model, taken) = model.warm_start(reference);
    assert_eq!(taken, 6, "tiny's 3 convolutions, 2 norms and 1 linear");
    model
}

/// Logits on the fixed batch of 2.
fn logits(model: &IrModel) -> Vec<f32> {
    values(model.forward(input([2, 3, 8, 8], &model.devices()[0])))
}

/// Every gate of `model` set to `value`.
fn all(model: IrModel, value: f32) -> IrModel {
    let values = model
        .gate_layers()
        .iter()
        .map(|l| vec![value; l.values.len()])
        .collect();
    model.with_gate_values(values)
}

#[test]
fn open_gates_are_the_relus_and_closed_ones_the_dropped_elements() {
    let layers = reference();
    let relu = logits(&layers);
    let with = |net: &Network| logits(&super::sharing_layers(net, &layers));
    let identity = with(&tiny_with(Op::Identity, Op::Identity));
    assert_ne!(relu, identity, "the ReLUs must matter for this test");
    for granularity in [Granularity::Pixel, Granularity::Channel] {
        let model = gated(&tiny(), spec(granularity, DropAs::Identity), &layers);
        // Fresh gates are open: the gated network is the ReLU network.
        assert_eq!(logits(&model), relu, "{granularity:?}, fresh");
        assert_eq!(logits(&all(model.clone(), 1.0)), relu);
        assert_eq!(logits(&all(model, 0.0)), identity, "{granularity:?}");
    }
    // Closed gates with `poly` are the trainable identity quadratic.
    let model = gated(&tiny(), spec(Granularity::Pixel, DropAs::Poly), &layers);
    let polys = tiny_with(
        Op::Poly(Polynomial::identity(8).into_trainable()),
        Op::Poly(Polynomial::identity(16).into_trainable()),
    );
    assert_eq!(logits(&all(model, 0.0)), with(&polys));
}

#[test]
fn units_a_mask_drops_keep_gate_zero() {
    let layers = reference();
    // relu1 keeps every third element (dropping the rest to the
    // identity), relu2 channels 0..5 of 16.
    let net = tiny_with(
        masked(
            mask(Granularity::Pixel, 512, (0..512).step_by(3)),
            Dropped::Identity,
        ),
        masked(mask(Granularity::Channel, 16, 0..5), Dropped::Identity),
    );
    let masked_logits = logits(&super::sharing_layers(&net, &layers));
    let model = gated(&net, spec(Granularity::Pixel, DropAs::Identity), &layers);
    let gates = model.gate_layers();
    assert_eq!(gates.len(), 2);
    assert_eq!((gates[0].node, gates[1].node), (RELU1, RELU2));
    // relu2's channel mask becomes 5 channels of 16 live elements.
    assert_eq!(gates[1].live.count_ones(), 5 * 16);
    for layer in &gates {
        for (i, &g) in layer.values.iter().enumerate() {
            assert_eq!(g, if layer.live.get(i) { 1.0 } else { 0.0 });
        }
    }
    // Setting every gate to 1 opens the live ones only.
    assert_eq!(logits(&all(model, 1.0)), masked_logits);
    // A pixel mask has no whole channels to gate.
    let device = Device::flex();
    let channel = spec(Granularity::Channel, DropAs::Identity);
    let refused = IrModel::gated(&net, channel, &device).unwrap_err();
    assert!(refused.to_string().contains("relu1"), "{refused}");
}

/// Sets every float tensor to deterministic values in [-0.5, 0.5].
#[derive(Default)]
struct Fixed {
    tensors: usize,
}

impl ModuleMapper for Fixed {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        self.tensors += 1;
        let offset = self.tensors;
        param.map(|t| {
            let (dims, device) = (t.dims(), t.device());
            let n = dims.iter().product::<usize>();
            let v = (0..n)
                .map(|i| 0.5 * ((i * 7 + offset * 3) as f32 * 0.37).sin())
                .collect();
            Tensor::from_data(TensorData::new(v, dims), &device)
                .set_require_grad(t.is_require_grad())
        })
    }
}

#[test]
fn gate_gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    // Fixed weights: with random ones, a rare draw puts a ReLU's input
    // within a step of its kink, where the central difference is wrong.
    let layers = IrModel::new(&tiny(), &device)
        .expect("valid")
        .map(&mut Fixed::default());
    for granularity in [Granularity::Pixel, Granularity::Channel] {
        let model = gated(&tiny(), spec(granularity, DropAs::Poly), &layers);
        // Gates spread over (0, 1), where the gradient is the loss's
        // through both branches.
        let start: Vec<Vec<f32>> = model
            .gate_layers()
            .iter()
            .map(|l| {
                (0..l.values.len())
                    .map(|i| 0.1 + 0.8 * ((i * 29) % 31) as f32 / 30.0)
                    .collect()
            })
            .collect();
        let model = model.with_gate_values(start.clone());
        let grads = loss(&model, &device).backward();
        let (mut largest, mut checked) = (0.0f32, 0);
        for (k, gate) in model.gates.iter().enumerate() {
            let analytic = values(gate.alpha.val().grad(&grads).expect("gates are trained"));
            // Pixel layers have hundreds of gates: every 13th is checked.
            let step = if granularity == Granularity::Pixel {
                13
            } else {
                1
            };
            for i in (0..analytic.len()).step_by(step) {
                let at = |delta: f32| {
                    let mut v = start.clone();
                    v[k][i] += delta;
                    loss(&model.clone().with_gate_values(v), &device).into_scalar::<f32>()
                };
                // Small: a channel gate moves 64 elements at once, and a
                // larger step carries some later ReLU input across its kink.
                let eps = 1e-3;
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                let g = analytic[i];
                assert!(
                    (numeric - g).abs() <= 5e-4 + 1e-3 * g.abs(),
                    "{granularity:?} gate layer {k}, unit {i}: autodiff {g}, central difference {numeric}"
                );
                largest = largest.max(g.abs());
                checked += 1;
            }
        }
        println!("{granularity:?}: {checked} gate gradients checked, largest {largest:e}");
        assert!(largest > 1e-3, "all near zero: the test means nothing");
    }
}

#[test]
fn the_gate_sum_and_the_projection_onto_0_1() {
    let layers = reference();
    let model = gated(
        &tiny(),
        spec(Granularity::Channel, DropAs::Identity),
        &layers,
    );
    let sum = |m: &IrModel| m.gate_sum().expect("gates").into_scalar::<f32>();
    assert_eq!(sum(&model), 8.0 + 16.0);
    let outside = vec![
        vec![-0.5, 0.25, 1.5, 0.0, 1.0, 2.0, -1.0, 0.5],
        vec![3.0; 16],
    ];
    let projected = model.with_gate_values(outside).project_gates();
    let gates = projected.gate_layers();
    assert_eq!(
        gates[0].values,
        vec![0.0, 0.25, 1.0, 0.0, 1.0, 1.0, 0.0, 0.5]
    );
    assert_eq!(gates[1].values, vec![1.0; 16]);
    assert_eq!(sum(&projected), 3.75 + 16.0);
    assert!(
        reference().gate_sum().is_none(),
        "a plain model has no gates"
    );
}
