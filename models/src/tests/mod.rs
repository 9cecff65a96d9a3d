//! Tests of the model built from IR: the masked ReLU and the polynomial
//! activation (`activation`), weights saved before they existed
//! (`compat`), and gates (`gates`).

mod activation;
mod compat;
mod gates;

use crate::IrModel;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use deepreduce_plugin_api::Network;

/// Touches every float parameter, which makes burn draw its lazy initial value.
struct Draw;

impl ModuleVisitor for Draw {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A model of `net` with its weights drawn now (not lazily on first use).
fn drawn(net: &Network, device: &Device) -> IrModel {
    let model = IrModel::new(net, device).expect("valid network");
    model.visit(&mut Draw);
    model
}

/// A model of `net` whose convolutions, norms and linears are those of
/// `reference` (of a network with the same layers): networks that differ
/// in their activations only then compute with the same weights. (Seeding
/// would not do: the device's generator is shared with the tests running
/// in parallel.)
fn sharing_layers(net: &Network, reference: &IrModel) -> IrModel {
    let device = reference.devices()[0].clone();
    let mut model = IrModel::new(net, &device).expect("valid network");
    model.convs = reference.convs.clone();
    model.norms = reference.norms.clone();
    model.linears = reference.linears.clone();
    model
}

/// `[batch, C, H, W]` values in [-1, 1], deterministic (the inputs of the
/// `compat` fixture's logits).
fn input(shape: [usize; 4], device: &Device) -> Tensor<4> {
    let n = shape.iter().product::<usize>();
    let values = (0..n)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32")
}
