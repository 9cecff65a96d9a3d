//! Folding an inference-mode BatchNorm into the convolution before it:
//! `gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta` is the
//! convolution with weights scaled per output channel and a new bias.

use super::graph::{Graph, Op, Weights};

/// Folds every BatchNorm that reads a convolution nobody else reads into
/// it (the convolution gains a bias). Returns how many were folded.
pub fn fold_batch_norms(graph: &mut Graph) -> usize {
    let mut folded = 0;
    let mut i = 0;
    while i < graph.nodes.len() {
        let Some(conv) = foldable_conv(graph, i) else {
            i += 1;
            continue;
        };
        let Op::BatchNorm {
            gamma,
            beta,
            mean,
            var,
            epsilon,
        } = graph.nodes[i].op.clone()
        else {
            unreachable!("foldable_conv checked the op")
        };
        let Op::Conv { weight, bias, .. } = &mut graph.nodes[conv].op else {
            unreachable!("foldable_conv checked the op")
        };
        let out = weight.shape[0];
        let per_channel = weight.data.len() / out;
        let old_bias = bias.take();
        let mut new_bias = Vec::with_capacity(out);
        // f64 so that folding adds no rounding beyond the final cast.
        for o in 0..out {
            let scale = gamma.data[o] as f64 / (var.data[o] as f64 + epsilon).sqrt();
            for w in &mut weight.data[o * per_channel..(o + 1) * per_channel] {
                *w = (*w as f64 * scale) as f32;
            }
            let b = old_bias.as_ref().map_or(0.0, |b| b.data[o] as f64);
            new_bias.push(((b - mean.data[o] as f64) * scale + beta.data[o] as f64) as f32);
        }
        *bias = Some(Weights::new(vec![out], new_bias));
        let conv_name = graph.nodes[conv].name.clone();
        graph.remove(i, &conv_name);
        folded += 1;
    }
    folded
}

/// The convolution node that the BatchNorm at `i` can fold into.
fn foldable_conv(graph: &Graph, i: usize) -> Option<usize> {
    let node = &graph.nodes[i];
    if !matches!(node.op, Op::BatchNorm { .. }) {
        return None;
    }
    let conv = graph.index(&node.inputs[0])?;
    (matches!(graph.nodes[conv].op, Op::Conv { .. }) && graph.feeds_only(conv, i)).then_some(conv)
}
