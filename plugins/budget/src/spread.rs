//! The rule that needs only the IR. Each layer's share of the budget is
//! proportional to the ReLUs it keeps now; whole units (elements, or
//! channels of `plane` elements) are handed out by largest remainder:
//!
//! 1. layer i keeps floor(N * u_i / S) units, where u_i is its units, p_i
//!    their size and S = sum(u_i * p_i) its ReLUs;
//! 2. then, in order of the largest unspent share (N * u_i / S - floor) *
//!    p_i, ties to the earlier layer, one more unit each while it fits;
//! 3. then, in the same order, as many more as fit.
//!
//! With units of one element (pixel) step 2 hands out exactly the leftover
//! and the total is exactly N; with channels it ends below N by less than
//! the smallest channel of the layers with channels left. Within a layer
//! the kept units are evenly spaced among those it keeps now.

use crate::layers::Layer;

/// Units kept per layer of (units, unit size); `budget` must not exceed
/// the total size.
pub fn spread(budget: u64, layers: &[(u64, u64)]) -> Vec<u64> {
    let total: u64 = layers.iter().map(|(u, p)| u * p).sum();
    assert!(budget <= total, "budget {budget} above {total}");
    if total == 0 {
        return vec![0; layers.len()];
    }
    // Units of N * u / S: whole part and remainder (in units of 1/S).
    let quota = |u: u64| {
        let exact = budget as u128 * u as u128;
        (exact / total as u128, exact % total as u128)
    };
    let mut kept: Vec<u64> = layers.iter().map(|&(u, _)| quota(u).0 as u64).collect();
    let mut left = budget
        - kept
            .iter()
            .zip(layers)
            .map(|(k, (_, p))| k * p)
            .sum::<u64>();
    let mut order: Vec<usize> = (0..layers.len()).collect();
    // Largest unspent share first: remainder/total * p, compared without division.
    order.sort_by_key(|&i| {
        let (u, p) = layers[i];
        std::cmp::Reverse(quota(u).1 * p as u128)
    });
    for &i in &order {
        let (u, p) = layers[i];
        if kept[i] < u && p <= left {
            kept[i] += 1;
            left -= p;
        }
    }
    for &i in &order {
        let (u, p) = layers[i];
        let more = (u - kept[i]).min(left / p);
        kept[i] += more;
        left -= more * p;
    }
    kept
}

/// `share` of `count` positions, evenly spaced: floor((k + 1/2) * count /
/// share) for k in 0..share, ascending and distinct.
pub fn evenly_spaced(share: usize, count: usize) -> impl Iterator<Item = usize> {
    (0..share).map(move |k| ((2 * k + 1) * count) / (2 * share))
}

/// The units each layer keeps under the rule, as unit indices.
pub fn proportional(budget: u64, layers: &[Layer]) -> Vec<Vec<usize>> {
    let sizes: Vec<(u64, u64)> = layers
        .iter()
        .map(|l| (l.kept.len() as u64, l.unit_size() as u64))
        .collect();
    spread(budget, &sizes)
        .into_iter()
        .zip(layers)
        .map(|(share, layer)| {
            evenly_spaced(share as usize, layer.kept.len())
                .map(|k| layer.kept.get(k))
                .collect()
        })
        .collect()
}
