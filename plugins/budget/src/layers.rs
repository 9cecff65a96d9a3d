//! The layers a budget acts on: every ReLU layer that still evaluates
//! ReLUs, whole or masked, with the units (elements or channels) whose ReLU
//! it keeps now. A budget only ever drops ReLUs: these units are the only
//! ones it may keep.

use deepreduce_plugin_api::{Analysis, Dropped, Granularity, Network, Op, Polynomial};

/// Units whose ReLU a layer keeps, ascending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Units {
    /// All `n` units of a whole ReLU layer.
    All(usize),
    /// Those of a masked layer.
    Some(Vec<usize>),
}

impl Units {
    pub fn len(&self) -> usize {
        match self {
            Units::All(n) => *n,
            Units::Some(units) => units.len(),
        }
    }

    /// The `k`-th unit.
    pub fn get(&self, k: usize) -> usize {
        match self {
            Units::All(_) => k,
            Units::Some(units) => units[k],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Index of the node in the network.
    pub node: usize,
    pub name: String,
    pub channels: usize,
    /// Elements per channel.
    pub plane: usize,
    pub granularity: Granularity,
    pub kept: Units,
    /// The polynomial of the elements the layer already drops, if any: it
    /// stays (its coefficients may have been trained).
    pub poly: Option<Polynomial>,
}

impl Layer {
    /// Elements in one unit.
    pub fn unit_size(&self) -> usize {
        match self.granularity {
            Granularity::Channel => self.plane,
            Granularity::Pixel => 1,
        }
    }

    /// Bits of the layer's mask: all its units.
    pub fn mask_len(&self) -> usize {
        self.granularity.mask_len(self.channels, self.plane)
    }

    /// ReLUs the layer keeps now.
    pub fn relus(&self) -> u64 {
        (self.kept.len() * self.unit_size()) as u64
    }
}

/// The layers of `net` (analysed as `analysis`) that evaluate ReLUs, in
/// graph order, with their kept units at `granularity`. A pixel mask has
/// no whole channels to choose from: refused at channel granularity.
pub fn active_layers(
    net: &Network,
    analysis: &Analysis,
    granularity: Granularity,
) -> Result<Vec<Layer>, String> {
    let mut layers = Vec::new();
    for (i, (node, stats)) in net.nodes.iter().zip(&analysis.nodes).enumerate() {
        let (channels, plane) = stats.output.channels_and_plane();
        let (kept, poly) = match &node.op {
            Op::Relu => (Units::All(granularity.mask_len(channels, plane)), None),
            Op::MaskedRelu { mask, dropped } => {
                let ones = mask.bits.ones();
                let kept = match (mask.granularity, granularity) {
                    (from, to) if from == to => ones.collect(),
                    (Granularity::Channel, Granularity::Pixel) => {
                        ones.flat_map(|c| c * plane..(c + 1) * plane).collect()
                    }
                    _ => {
                        return Err(format!(
                            "a channel budget keeps whole channels, and '{}' is masked per pixel: \
                             apply it to a network without pixel masks",
                            node.name
                        ));
                    }
                };
                let poly = match dropped {
                    Dropped::Poly(poly) => Some(poly.clone()),
                    Dropped::Identity => None,
                };
                (Units::Some(kept), poly)
            }
            _ => continue,
        };
        layers.push(Layer {
            node: i,
            name: node.name.clone(),
            channels,
            plane,
            granularity,
            kept,
            poly,
        });
    }
    Ok(layers)
}
