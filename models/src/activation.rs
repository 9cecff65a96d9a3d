//! The activations of IR 1.1: a ReLU masked per channel or per element,
//! whose dropped elements pass through or become a per-channel quadratic,
//! and the quadratic on a whole layer.
//!
//! Plain burn tensor operations on every backend, no kernel of our own:
//! each is a memory-bound pass over the activation, which flex runs
//! vectorised and in parallel, and autodiff differentiates them,
//! coefficients included. Measured on flex (2 shared cores, forward and
//! backward of `[16, 64, 32, 32]`, best of 5): ReLU 11 ms, masked ReLU
//! 14 ms, polynomial 26 ms, masked ReLU dropping to the polynomial 31 ms,
//! against 107 ms for the 3x3 64->64 convolution before it. A fused kernel
//! could save most of the polynomial's 15-20 ms per layer (roughly 15% of a
//! training step of a network whose every ReLU layer has one); the masked
//! ReLU alone is not worth one.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData, activation::relu};
use deepreduce_plugin_api::{Granularity, Polynomial, ReluMask, Shape};

/// Per-channel coefficients of `a*x^2 + b*x + c`. Trainable ones are
/// parameters like any weight, weight decay included: the recipe's L2
/// applies to every parameter, BatchNorm's scale and shift too (as
/// PyTorch's `SGD(model.parameters(), weight_decay=..)` does), and its
/// mild pull towards 0 on `a` works against the growth of `x^2` terms from
/// layer to layer, the known instability of polynomial activations. Fixed
/// ones are parameters that require no gradient, so the optimizer never
/// sees them. Both are saved with the model.
#[derive(Module, Debug)]
pub struct Quadratic {
    pub(crate) a: Param<Tensor<1>>,
    pub(crate) b: Param<Tensor<1>>,
    pub(crate) c: Param<Tensor<1>>,
    #[module(skip)]
    trainable: bool,
}

impl Quadratic {
    /// The coefficients of `poly`, which shape inference has checked
    /// against the layer.
    pub fn new(poly: &Polynomial, device: &Device) -> Self {
        let param = |values: &[f32]| {
            let tensor =
                Tensor::<1>::from_data(TensorData::new(values.to_vec(), [values.len()]), device);
            Param::from_tensor(tensor).set_require_grad(poly.trainable)
        };
        Quadratic {
            a: param(&poly.a),
            b: param(&poly.b),
            c: param(&poly.c),
            trainable: poly.trainable,
        }
    }

    /// `(a*x + b)*x + c` on `[N, C, H, W]`, each channel with its own
    /// coefficients.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let channels = self.a.dims()[0];
        let per_channel = |p: &Param<Tensor<1>>| p.val().reshape([1, channels, 1, 1]);
        (x.clone() * per_channel(&self.a) + per_channel(&self.b)) * x + per_channel(&self.c)
    }

    /// The coefficients as they are now (trained, for a trainable one).
    pub fn polynomial(&self) -> Polynomial {
        let read = |p: &Param<Tensor<1>>| {
            p.val()
                .into_data()
                .try_to_vec::<f32>()
                .expect("coefficients are f32")
        };
        Polynomial {
            a: read(&self.a),
            b: read(&self.b),
            c: read(&self.c),
            trainable: self.trainable,
        }
    }
}

/// A ReLU mask as two constant tensors: `keep`, 1 where the ReLU applies,
/// and `drop = 1 - keep`, shaped `[1, C, 1, 1]` (channel mask) or
/// `[1, C, H, W]` (pixel mask) to broadcast over the batch.
///
/// Tensor fields of a burn module are constants: no gradient, no record
/// (the IR holds the mask, so a saved model never disagrees with its
/// network), yet moved with the module between devices and in and out of
/// autodiff.
#[derive(Module, Debug)]
pub struct Mask {
    keep: Tensor<4>,
    drop: Tensor<4>,
}

impl Mask {
    /// `mask` on a layer of `shape` (checked by shape inference); a vector
    /// of `n` features is `n` channels of one element.
    pub fn new(mask: &ReluMask, shape: Shape, device: &Device) -> Self {
        let (channels, plane) = shape.channels_and_plane();
        let dims = match (mask.granularity, shape) {
            (Granularity::Pixel, Shape::Map([c, h, w])) => [1, c, h, w],
            _ => [1, channels, 1, 1],
        };
        debug_assert_eq!(
            mask.len(),
            mask.granularity.mask_len(channels, plane),
            "shape inference checks the mask"
        );
        let bits: Vec<f32> = (0..mask.len())
            .map(|i| if mask.bits.get(i) { 1.0 } else { 0.0 })
            .collect();
        let constant =
            |values: Vec<f32>| Tensor::<4>::from_data(TensorData::new(values, dims), device);
        Mask {
            drop: constant(bits.iter().map(|k| 1.0 - k).collect()),
            keep: constant(bits),
        }
    }

    /// `keep * relu(x) + drop * dropped`: each element's ReLU where the mask
    /// keeps it, else its `dropped` value. Exactly those values, as the
    /// factors are 0 and 1 (no rounding, unlike `d + m * (relu(x) - d)`).
    pub fn forward(&self, x: Tensor<4>, dropped: Tensor<4>) -> Tensor<4> {
        relu(x) * self.keep.clone() + dropped * self.drop.clone()
    }
}
