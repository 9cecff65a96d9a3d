//! The ReLU layers of a network (whole, masked, dropped or polynomial) as
//! `count --json` and the Network panel list them.

use super::budget::DroppedAs;
use deepreduce_plugin_api::{Analysis, Dropped, Granularity, Network, Op, Shape};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReluLayer {
    pub node: String,
    pub stage: Option<String>,
    pub block: Option<String>,
    pub shape: Shape,
    /// ReLUs kept: every element of a whole layer, the elements a mask
    /// keeps, none of a dropped or polynomial layer.
    pub relus: u64,
    pub elements: u64,
    /// Of the mask, for a masked layer.
    pub granularity: Option<Granularity>,
    /// What the elements without a ReLU become; `None` for a whole layer.
    pub dropped: Option<DroppedAs>,
}

impl ReluLayer {
    /// Whether the layer still evaluates ReLUs: whole or masked.
    pub fn has_relus(&self) -> bool {
        self.dropped.is_none() || self.granularity.is_some()
    }

    /// Kept ReLUs over the layer's elements, in [0, 1].
    pub fn kept_fraction(&self) -> f64 {
        self.relus as f64 / self.elements.max(1) as f64
    }
}

/// Every ReLU layer of `net` (analysed as `analysis`), in graph order.
pub fn relu_layers(net: &Network, analysis: &Analysis) -> Vec<ReluLayer> {
    net.nodes
        .iter()
        .zip(&analysis.nodes)
        .filter_map(|(node, stats)| {
            let (granularity, dropped) = match &node.op {
                Op::Relu => (None, None),
                Op::MaskedRelu { mask, dropped } => {
                    (Some(mask.granularity), Some(dropped_as(dropped)))
                }
                Op::Identity => (None, Some(DroppedAs::Identity)),
                Op::Poly(_) => (None, Some(DroppedAs::Poly)),
                _ => return None,
            };
            Some(ReluLayer {
                node: node.name.clone(),
                stage: node.stage.clone(),
                block: node.block.clone(),
                shape: stats.output,
                relus: stats.relus,
                elements: stats.output.elements(),
                granularity,
                dropped,
            })
        })
        .collect()
}

/// Whether some layer keeps only part of its ReLUs (a mask): finer than
/// the layer-level networks of culling and thinning.
pub fn is_masked(net: &Network) -> bool {
    net.nodes
        .iter()
        .any(|n| matches!(n.op, Op::MaskedRelu { .. }))
}

fn dropped_as(dropped: &Dropped) -> DroppedAs {
    match dropped {
        Dropped::Identity => DroppedAs::Identity,
        Dropped::Poly(_) => DroppedAs::Poly,
    }
}
