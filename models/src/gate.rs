//! SNL-style gates on ReLU layers (Cho et al., ICML 2022): every unit (an
//! element, or a whole channel) of a layer that evaluates ReLUs gets a gate
//! `a` in [0, 1], and the layer computes `a * relu(x) + (1 - a) * d(x)`,
//! where `d` is what a dropped element becomes (the identity or the
//! channel's quadratic). Units a mask already drops have their gate fixed
//! at 0.
//!
//! Parameterisation: the gate is the parameter itself, started at 1 and
//! projected back onto [0, 1] after every optimizer step
//! ([`Gate::projected`]), rather than the sigmoid of a logit. At 1 the
//! gated network is exactly the ReLU network it starts from (a warm start
//! keeps its function), a gate can reach exactly 0, and the L1 term's
//! gradient stays `l1` all the way down; a sigmoid starts below 1, never
//! reaches 0, and its vanishing slope near 0 and 1 weakens the L1 pull
//! exactly where the budget is decided.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData, activation::relu};
use deepreduce_plugin_api::reduction::DropAs;
use deepreduce_plugin_api::{BitSet, Dropped, Granularity, Op, Polynomial, Shape};

/// How to gate a network's ReLU layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateSpec {
    /// One gate per element (pixel) or per channel.
    pub granularity: Granularity,
    /// What an element whose gate closes becomes.
    pub dropped: DropAs,
}

/// A ReLU layer as `spec` gates it: the units that still evaluate a ReLU
/// (the others' gates stay 0) and what dropped elements become.
#[derive(Clone, Debug)]
pub(crate) struct GatedLayer {
    pub granularity: Granularity,
    /// Elements per unit: 1, or the plane of a channel gate.
    pub unit_size: usize,
    pub live: BitSet,
    pub dropped: Dropped,
    /// The gate tensor's shape: `[1, C, H, W]` (pixel) or `[1, C, 1, 1]`.
    pub dims: [usize; 4],
}

/// How `spec` gates the activation `op` of a layer whose output is
/// `shape`; `None` when it evaluates no ReLU. A pixel mask has no whole
/// channels to gate: refused at channel granularity (as the budget plugin
/// refuses it).
///
/// Dropped elements become what the budget plugin makes of them, so that
/// the learned mask's network computes what the gated one did: the
/// identity, or with `DropAs::Poly` the layer's polynomial when it has one,
/// else a trainable one starting as the identity.
pub(crate) fn gated_layer(
    op: &Op,
    shape: Shape,
    spec: GateSpec,
) -> Result<Option<GatedLayer>, String> {
    let (channels, plane) = shape.channels_and_plane();
    let units = spec.granularity.mask_len(channels, plane);
    let (live, poly) = match op {
        Op::Relu => (BitSet::full(units), None),
        Op::MaskedRelu { mask, dropped } => {
            let live = match (mask.granularity, spec.granularity) {
                (from, to) if from == to => mask.bits.clone(),
                (Granularity::Channel, Granularity::Pixel) => BitSet::from_indices(
                    units,
                    mask.bits.ones().flat_map(|c| c * plane..(c + 1) * plane),
                ),
                _ => {
                    return Err(
                        "a channel gate keeps whole channels, and it is masked per pixel".into(),
                    );
                }
            };
            let poly = match dropped {
                Dropped::Poly(poly) => Some(poly.clone()),
                Dropped::Identity => None,
            };
            (live, poly)
        }
        _ => return Ok(None),
    };
    let dropped = match spec.dropped {
        DropAs::Identity => Dropped::Identity,
        DropAs::Poly => {
            Dropped::Poly(poly.unwrap_or_else(|| Polynomial::identity(channels).into_trainable()))
        }
    };
    let dims = match (spec.granularity, shape) {
        (Granularity::Pixel, Shape::Map([c, h, w])) => [1, c, h, w],
        _ => [1, channels, 1, 1],
    };
    Ok(Some(GatedLayer {
        granularity: spec.granularity,
        unit_size: channels * plane / units,
        live,
        dropped,
        dims,
    }))
}

/// The gates of one layer: `alpha` (the parameter) and the constant
/// `live`, 1 where the layer evaluates a ReLU and 0 where its mask already
/// drops it, so that those gates stay 0 and get no gradient.
#[derive(Module, Debug)]
pub struct Gate {
    pub(crate) alpha: Param<Tensor<4>>,
    live: Tensor<4>,
}

impl Gate {
    /// Every live gate open (1), the others closed (0).
    pub(crate) fn new(layer: &GatedLayer, device: &Device) -> Self {
        let live: Vec<f32> = (0..layer.live.len())
            .map(|i| if layer.live.get(i) { 1.0 } else { 0.0 })
            .collect();
        let tensor = |values| Tensor::<4>::from_data(TensorData::new(values, layer.dims), device);
        Gate {
            alpha: Param::from_tensor(tensor(live.clone())),
            live: tensor(live),
        }
    }

    /// The gates in effect, shaped to broadcast over a batch.
    pub fn values(&self) -> Tensor<4> {
        self.alpha.val() * self.live.clone()
    }

    /// `a * relu(x) + (1 - a) * dropped`: exactly the ReLU where a gate is
    /// 1 and exactly `dropped` where it is 0 (unlike `d + a * (relu(x) -
    /// d)`, which rounds).
    pub fn forward(&self, x: Tensor<4>, dropped: Tensor<4>) -> Tensor<4> {
        let a = self.values();
        relu(x) * a.clone() + dropped * (a.neg() + 1.0)
    }

    /// These gates with `values` (in the layer's unit order) instead, still
    /// a parameter requiring a gradient if they did.
    pub(crate) fn with_values(self, values: Vec<f32>) -> Self {
        let dims = self.live.dims();
        let device = self.live.device();
        Gate {
            alpha: self.alpha.map(|old| {
                let values = Tensor::from_data(TensorData::new(values, dims), &device);
                values.set_require_grad(old.is_require_grad())
            }),
            ..self
        }
    }

    /// Projected onto [0, 1], after an optimizer step. The parameter stays
    /// a leaf of the autodiff graph, requiring a gradient as before.
    pub(crate) fn projected(self) -> Self {
        Gate {
            alpha: self.alpha.map(|t| {
                let (autodiff, require_grad) = (t.is_autodiff(), t.is_require_grad());
                let clamped = t.inner().clamp(0.0, 1.0);
                match autodiff {
                    true => Tensor::from_inner(clamped).set_require_grad(require_grad),
                    false => clamped,
                }
            }),
            ..self
        }
    }
}
