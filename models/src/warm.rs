//! Warm starts: a model takes over the layers of another model of a
//! related network (the same network gated, or with other masks) that have
//! the same name and shape.

use crate::IrModel;
use burn::module::Module;

impl IrModel {
    /// This model with every convolution, batch norm, linear layer and
    /// quadratic of `from` whose IR node has the same name and whose
    /// tensors have the same shapes; the rest (and the gates) stay as they
    /// are. Returns the model and how many layers it took over.
    ///
    /// Copies go through records, so the two models share nothing: batch
    /// norms clone their running statistics by reference, and a model
    /// cloned from `from` would move them when it trains.
    pub fn warm_start(mut self, from: &IrModel) -> (Self, usize) {
        let mut taken = 0;
        let layout = &self.layout;
        self.convs = take_over(
            self.convs,
            &layout.convs,
            &from.convs,
            &from.layout.convs,
            &mut taken,
        );
        self.norms = take_over(
            self.norms,
            &layout.norms,
            &from.norms,
            &from.layout.norms,
            &mut taken,
        );
        self.linears = take_over(
            self.linears,
            &layout.linears,
            &from.linears,
            &from.layout.linears,
            &mut taken,
        );
        self.polys = take_over(
            self.polys,
            &layout.polys,
            &from.polys,
            &from.layout.polys,
            &mut taken,
        );
        (self, taken)
    }
}

/// `layers` (of nodes `names`) with those of `source` (of nodes
/// `source_names`) of the same node name whose record loads, i.e. whose
/// tensors have the same shapes.
fn take_over<M: Module>(
    layers: Vec<M>,
    names: &[String],
    source: &[M],
    source_names: &[String],
    taken: &mut usize,
) -> Vec<M> {
    layers
        .into_iter()
        .zip(names)
        .map(|(layer, name)| {
            let Some(k) = source_names.iter().position(|n| n == name) else {
                return layer;
            };
            match layer
                .clone()
                .try_load_record(source[k].clone().into_record())
            {
                Ok(loaded) => {
                    *taken += 1;
                    loaded
                }
                Err(_) => layer,
            }
        })
        .collect()
}
