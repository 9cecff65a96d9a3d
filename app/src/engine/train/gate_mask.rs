//! From learned gates to an exact mask: the live units of every gated
//! layer compete globally, largest gate first, ties to the earlier layer
//! and then the lower index; each is kept while its ReLUs fit in the
//! budget. At pixel granularity that is exactly the `budget` largest
//! gates; at channel granularity a channel too large for what is left is
//! passed over for smaller ones. The budget plugin's rule with scores
//! (`plugins/budget/src/scores.rs`), so that the plugin given these gates
//! as `context.scores` builds the same network.

use deepreduce_models::GateLayer;
use deepreduce_plugin_api::{BitSet, Network, Op, ReluMask};

/// The units each layer keeps, ascending.
pub fn top_units(layers: &[GateLayer], budget: u64) -> Vec<Vec<usize>> {
    let mut candidates: Vec<(f32, usize, usize)> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.live.ones().map(move |u| (layer.values[u], i, u)))
        .collect();
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    let mut kept = vec![Vec::new(); layers.len()];
    let mut left = budget;
    for (_, i, unit) in candidates {
        let size = layers[i].unit_size as u64;
        if size <= left {
            kept[i].push(unit);
            left -= size;
        }
    }
    for units in &mut kept {
        units.sort_unstable();
    }
    kept
}

/// Gates of 1 at the `kept` units and 0 elsewhere: the gated model then
/// computes the masked network exactly.
pub fn hard_gates(layers: &[GateLayer], kept: &[Vec<usize>]) -> Vec<Vec<f32>> {
    layers
        .iter()
        .zip(kept)
        .map(|(layer, kept)| {
            let mut gates = vec![0.0; layer.values.len()];
            for &u in kept {
                gates[u] = 1.0;
            }
            gates
        })
        .collect()
}

/// `net` with each gated layer masked to its `kept` units, its dropped
/// elements becoming what they became in the gated model (with the
/// trained coefficients of a polynomial).
pub fn masked_network(net: &Network, layers: &[GateLayer], kept: &[Vec<usize>]) -> Network {
    let mut net = net.clone();
    for (layer, kept) in layers.iter().zip(kept) {
        let bits = BitSet::from_indices(layer.values.len(), kept.iter().copied());
        let mask = ReluMask::new(layer.granularity, bits);
        net.nodes[layer.node].op = Op::masked_relu(mask, layer.dropped.clone());
    }
    net
}

/// ReLUs whose gate is above `threshold`.
pub fn relus_above(layers: &[GateLayer], threshold: f64) -> u64 {
    layers
        .iter()
        .map(|layer| {
            let open = layer
                .values
                .iter()
                .filter(|&&g| g as f64 > threshold)
                .count();
            (open * layer.unit_size) as u64
        })
        .sum()
}
