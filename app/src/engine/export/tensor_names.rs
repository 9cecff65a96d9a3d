//! The names of a node's tensors, as PyTorch's `state_dict` of an
//! equivalent model names them (`<node>.weight`, `<node>.bias`,
//! `<node>.running_mean`, ...). ONNX initializers and the safetensors file
//! share them, so the two exports line up name for name.

use super::graph::{Node, Op, Weights};

/// `node`'s tensors with their names, in the order the ONNX operator takes
/// them as inputs after the data (Conv: W, B; BatchNormalization: scale, B,
/// mean, var; Gemm: B, C).
pub fn tensors(node: &Node) -> Vec<(String, &Weights)> {
    let named = |suffix: &str, w| (format!("{}.{suffix}", node.name), w);
    match &node.op {
        Op::Conv { weight, bias, .. } | Op::Gemm { weight, bias } => {
            std::iter::once(named("weight", weight))
                .chain(bias.iter().map(|b| named("bias", b)))
                .collect()
        }
        Op::BatchNorm {
            gamma,
            beta,
            mean,
            var,
            ..
        } => vec![
            named("weight", gamma),
            named("bias", beta),
            named("running_mean", mean),
            named("running_var", var),
        ],
        _ => Vec::new(),
    }
}
