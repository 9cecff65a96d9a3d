//! The safetensors writer: every tensor under its PyTorch `state_dict` name
//! and layout, so `model.load_state_dict(load_file(path))` fills an
//! equivalent PyTorch model. Written with the `safetensors` crate from the
//! export graph rather than burn-store's PyTorch adapter: the adapter maps
//! burn's module paths, which for an `IrModel` are `convs.3`, `norms.5`
//! rather than the network's node names, and it cannot see folded or
//! merged weights, which exist only in the export graph.
//!
//! A masked ReLU adds `<node>.mask`, one uint8 (1 kept, 0 dropped) per
//! channel `[C]` or per element `[C, H, W]`; a polynomial, whole or on a
//! mask's dropped elements, adds `<node>.poly_a`, `.poly_b`, `.poly_c`
//! (f32 `[C]`) of `a*x^2 + b*x + c`.

use super::graph::{Graph, Node, Op};
use super::tensor_names::tensors;
use deepreduce_plugin_api::{Granularity, Polynomial, Shape};
use safetensors::{Dtype, tensor::TensorView};
use std::collections::HashMap;

/// One tensor's bytes before they are borrowed by a view.
struct Owned {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// The serialised file; `metadata` goes into its header.
pub fn to_safetensors(
    graph: &Graph,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let mut owned = Vec::new();
    for node in &graph.nodes {
        for (name, w) in tensors(node) {
            owned.push(Owned {
                name,
                dtype: Dtype::F32,
                shape: w.shape.clone(),
                bytes: w.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            });
        }
        owned.extend(activation_tensors(node));
        if let Op::BatchNorm { .. } = node.op {
            // PyTorch's BatchNorm2d has this buffer and a strict load wants
            // it; burn does not count batches, and with a momentum set (the
            // default) PyTorch never reads it, so 0 is stored.
            owned.push(Owned {
                name: format!("{}.num_batches_tracked", node.name),
                dtype: Dtype::I64,
                shape: Vec::new(),
                bytes: 0i64.to_le_bytes().to_vec(),
            });
        }
    }
    let views = owned
        .iter()
        .map(|t| {
            Ok((
                t.name.as_str(),
                TensorView::new(t.dtype, t.shape.clone(), &t.bytes)?,
            ))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    safetensors::serialize(views.iter().map(|(n, v)| (*n, v)), Some(metadata))
}

/// A masked ReLU's mask and a polynomial's coefficients (see the module doc).
fn activation_tensors(node: &Node) -> Vec<Owned> {
    let coefficients = |poly: &Polynomial| {
        [
            ("poly_a", &poly.a),
            ("poly_b", &poly.b),
            ("poly_c", &poly.c),
        ]
        .map(|(suffix, v)| Owned {
            name: format!("{}.{suffix}", node.name),
            dtype: Dtype::F32,
            shape: vec![v.len()],
            bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        })
    };
    match &node.op {
        Op::MaskedRelu { mask, poly } => {
            let shape = match (mask.granularity, node.output) {
                (Granularity::Pixel, Shape::Map(map)) => map.to_vec(),
                _ => vec![mask.len()],
            };
            let mask = Owned {
                name: format!("{}.mask", node.name),
                dtype: Dtype::U8,
                shape,
                bytes: (0..mask.len())
                    .map(|i| u8::from(mask.bits.get(i)))
                    .collect(),
            };
            std::iter::once(mask)
                .chain(poly.iter().flat_map(coefficients))
                .collect()
        }
        Op::Poly(poly) => coefficients(poly).into(),
        _ => Vec::new(),
    }
}
