//! A ReLU budget: keeps exactly `params.budget` ReLUs at pixel granularity,
//! or the most whole channels whose ReLUs do not exceed it at channel
//! granularity, over every ReLU layer that still evaluates ReLUs (whole or
//! masked; dropped and polynomial layers stay as they are). A budget only
//! drops ReLUs: a masked layer keeps a subset of what it keeps now, and a
//! budget above the network's ReLUs is refused.
//!
//! Which ReLUs: by the size-proportional rule of `spread.rs`, which needs
//! only the IR, or by `context.scores` (`scores.rs`). Dropped elements become
//! the identity or, with `"dropped": "poly"`, a per-channel quadratic,
//! trainable, starting as the identity (0, 1, 0): the network starts as the
//! identity-dropped one and learns each channel's curvature. Starting from
//! DELPHI's fit of the ReLU (0.1997x^2 + 0.5002x + 0.1992) at most of a
//! network's elements diverges: on Fashion-MNIST (ResNet18 width 16, 16% of
//! pixels kept) it stays at chance at lr 0.1 and its evaluation gives
//! infinite logits at lr 0.01, where the identity start reaches 68% after
//! two epochs. A layer whose dropped elements already have a polynomial
//! keeps it. A layer
//! left with no ReLU becomes `Identity` or a `Poly` layer, one keeping all
//! its ReLUs stays a `Relu`.

mod layers;
mod params;
mod scores;
mod spread;

use deepreduce_plugin_api::{
    BitSet, Candidate, Descriptor, Dropped, Op, OptimizationRequest, Plugin, PluginKind,
    Polynomial, ReluMask, analyze, describe,
};
use layers::{Layer, active_layers};
use params::{DroppedAs, Params};

#[derive(Default)]
pub struct Budget;

impl Plugin for Budget {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.budget",
            "ReLU budget",
            PluginKind::Optimization,
            "Keeps exactly params.budget ReLUs (granularity pixel) or the most whole channels \
             within it (channel), spread over the ReLU layers by size or by context.scores; \
             dropped elements become the identity or a trainable quadratic (params.dropped)",
        )
    }

    fn apply(&self, request: &OptimizationRequest) -> Result<Vec<Candidate>, String> {
        let params = Params::from_json(&request.params)?;
        let mut net = request.network.clone();
        let analysis = analyze(&net).map_err(|e| e.to_string())?;
        let layers = active_layers(&net, &analysis, params.granularity)?;
        let relus: u64 = layers.iter().map(Layer::relus).sum();
        if params.budget > relus {
            return Err(format!(
                "a budget of {} ReLUs is more than the network's {relus}",
                params.budget
            ));
        }
        let kept = match params::scores(&request.context)? {
            None => spread::proportional(params.budget, &layers),
            Some(scores) => {
                scores::check(&scores, &layers)?;
                scores::top_scored(params.budget, &layers, &scores)
            }
        };
        for (layer, kept) in layers.into_iter().zip(kept) {
            let bits = BitSet::from_indices(layer.mask_len(), kept);
            let mask = ReluMask::new(params.granularity, bits);
            let dropped = match params.dropped {
                DroppedAs::Identity => Dropped::Identity,
                DroppedAs::Poly => Dropped::Poly(
                    layer
                        .poly
                        .unwrap_or_else(|| Polynomial::identity(layer.channels).into_trainable()),
                ),
            };
            net.nodes[layer.node].op = Op::masked_relu(mask, dropped);
        }
        Ok(vec![Candidate {
            description: describe(&net),
            network: net,
        }])
    }
}

deepreduce_plugin_api::export_plugin!(Budget);

#[cfg(test)]
mod tests;
