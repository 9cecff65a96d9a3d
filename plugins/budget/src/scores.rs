//! The rule with scores (`context.scores`, e.g. learned by a method): the
//! kept units of every layer compete globally, highest score first, ties
//! to the earlier layer and then the lower index; each is kept while its
//! elements fit in the budget. At pixel granularity that is exactly the
//! top-N elements; at channel granularity a channel too large for what is
//! left is passed over for smaller ones.

use crate::layers::Layer;
use crate::params::Scores;
use deepreduce_plugin_api::Granularity;

/// Refuses scores that do not name exactly the layers, one per unit.
pub fn check(scores: &Scores, layers: &[Layer]) -> Result<(), String> {
    if let Some(name) = scores
        .keys()
        .find(|k| !layers.iter().any(|l| &l.name == *k))
    {
        return Err(format!(
            "context.scores names '{name}', which is not a ReLU layer of the network \
             (or keeps no ReLU)"
        ));
    }
    for layer in layers {
        let unit = match layer.granularity {
            Granularity::Channel => "channel",
            Granularity::Pixel => "element",
        };
        match scores.get(&layer.name) {
            None => return Err(format!("context.scores has no scores for '{}'", layer.name)),
            Some(s) if s.len() != layer.mask_len() => {
                return Err(format!(
                    "context.scores['{}'] has {} scores; it needs one per {unit}: {}",
                    layer.name,
                    s.len(),
                    layer.mask_len()
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The units each layer keeps, by score; `scores` passed [`check`].
pub fn top_scored(budget: u64, layers: &[Layer], scores: &Scores) -> Vec<Vec<usize>> {
    let mut candidates: Vec<(f64, usize, usize)> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| {
            let scores = &scores[&layer.name];
            (0..layer.kept.len()).map(move |k| {
                let unit = layer.kept.get(k);
                (scores[unit], i, unit)
            })
        })
        .collect();
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    let mut kept = vec![Vec::new(); layers.len()];
    let mut left = budget;
    for (_, i, unit) in candidates {
        let size = layers[i].unit_size() as u64;
        if size <= left {
            kept[i].push(unit);
            left -= size;
        }
    }
    kept
}
