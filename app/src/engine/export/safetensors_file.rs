//! The safetensors writer: every tensor under its PyTorch `state_dict` name
//! and layout, so `model.load_state_dict(load_file(path))` fills an
//! equivalent PyTorch model. Written with the `safetensors` crate from the
//! export graph rather than burn-store's PyTorch adapter: the adapter maps
//! burn's module paths, which for an `IrModel` are `convs.3`, `norms.5`
//! rather than the network's node names, and it cannot see folded or
//! merged weights, which exist only in the export graph.

use super::graph::{Graph, Op};
use super::tensor_names::tensors;
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
