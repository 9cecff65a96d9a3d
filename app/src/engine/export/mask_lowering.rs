//! Masked ReLUs and polynomials as ONNX nodes that cost, in a
//! private-inference framework, what the IR counts: only the kept elements
//! enter a `Relu` (a mask applied as `x + m * (relu(x) - x)` would still
//! compare every element), and a polynomial takes one private
//! multiplication per element.
//!
//! A masked layer: `Gather` the kept elements -> `Relu`; `Gather` the
//! dropped ones (-> their polynomial); `Concat` both; `Gather` by the
//! inverse permutation puts every element back in place. A channel mask
//! (or any mask on a vector) gathers along the channel axis directly, with
//! indices as long as the channels; a pixel mask on a feature map gathers
//! from its `Flatten`ed `[N, C*H*W]`, and the last `Gather`'s `[C, H, W]`
//! indices restore the map's shape, so no `Reshape` is needed and the batch
//! axis stays symbolic.
//!
//! A polynomial is `(a*x + b)*x + c` with `Mul` and `Add` whose constant
//! operand comes second (CrypTen refuses `Mul(constant, x)`): `Mul(x, a)`
//! and the additions are public operations, `Mul(a*x + b, x)` the one
//! private multiplication. Coefficients, indices and masks are `Constant`
//! nodes (see [`constant`]); never an `Identity` node.

use super::graph::{Node, Op};
use super::onnx::{Values, constant, int, onnx_node};
use super::onnx_proto::Msg;
use deepreduce_plugin_api::{Granularity, Polynomial, ReluMask, Shape};

/// The nodes of `node` (a masked ReLU or a polynomial) reading the value
/// `input` and writing `output`.
pub fn nodes(node: &Node, input: &str, output: &str) -> Vec<Msg> {
    let names = Names(&node.name);
    match &node.op {
        Op::MaskedRelu { mask, poly } => {
            masked_relu(&names, node.output, mask, poly.as_ref(), input, output)
        }
        Op::Poly(poly) => {
            let dims = match node.output {
                Shape::Map([c, _, _]) => vec![c, 1, 1],
                Shape::Vector(n) => vec![n],
            };
            polynomial(&names, [&poly.a, &poly.b, &poly.c], &dims, input, output)
        }
        other => unreachable!("{other:?} is one ONNX node"),
    }
}

/// Names of the values and nodes of one layer: `<node>.<part>`.
struct Names<'a>(&'a str);

impl Names<'_> {
    fn of(&self, part: &str) -> String {
        format!("{}.{part}", self.0)
    }
}

/// `op_type` on `inputs`, a node named after its output `<node>.<part>`.
fn op(names: &Names, op_type: &str, inputs: &[&str], part: &str, attributes: Vec<Msg>) -> Msg {
    let output = names.of(part);
    onnx_node(op_type, &output, inputs, &output, attributes)
}

/// `Gather` along axis 1 of `data` by the constant `indices` (shaped
/// `dims`) into `output`: the constant `<node>.<part>_index`, then the gather.
fn gather(
    names: &Names,
    data: &str,
    indices: &[i64],
    dims: &[usize],
    part: &str,
    output: &str,
) -> [Msg; 2] {
    let index = names.of(&format!("{part}_index"));
    [
        constant(&index, dims, Values::Int64(indices)),
        onnx_node(
            "Gather",
            output,
            &[data, &index],
            output,
            vec![int("axis", 1)],
        ),
    ]
}

fn masked_relu(
    names: &Names,
    shape: Shape,
    mask: &ReluMask,
    poly: Option<&Polynomial>,
    input: &str,
    output: &str,
) -> Vec<Msg> {
    let (_, plane) = shape.channels_and_plane();
    // Whether to flatten first; the inverse indices' shape; the axes after
    // the gathered one in a dropped value (to broadcast coefficients over).
    let (flatten, inverse_dims, trailing) = match (mask.granularity, shape) {
        (Granularity::Pixel, Shape::Map(map)) => (true, map.to_vec(), vec![]),
        (Granularity::Channel, Shape::Map([c, _, _])) => (false, vec![c], vec![1, 1]),
        (_, Shape::Vector(n)) => (false, vec![n], vec![]),
    };
    let units = mask.len();
    let kept: Vec<usize> = mask.bits.ones().collect();
    let dropped: Vec<usize> = (0..units).filter(|&u| !mask.bits.get(u)).collect();
    // Where each unit sits in `kept ++ dropped`: gathering that concatenation
    // by these indices puts every unit back in place.
    let mut inverse = vec![0i64; units];
    for (position, &unit) in kept.iter().chain(&dropped).enumerate() {
        inverse[unit] = position as i64;
    }
    let as_i64 = |units: &[usize]| units.iter().map(|&u| u as i64).collect::<Vec<_>>();

    let mut nodes = Vec::new();
    let source = if flatten {
        nodes.push(op(names, "Flatten", &[input], "flat", vec![int("axis", 1)]));
        names.of("flat")
    } else {
        input.to_string()
    };
    let (kept_values, relu, dropped_values) =
        (names.of("kept"), names.of("relu"), names.of("dropped"));
    nodes.extend(gather(
        names,
        &source,
        &as_i64(&kept),
        &[kept.len()],
        "kept",
        &kept_values,
    ));
    nodes.push(op(names, "Relu", &[&kept_values], "relu", Vec::new()));
    nodes.extend(gather(
        names,
        &source,
        &as_i64(&dropped),
        &[dropped.len()],
        "dropped",
        &dropped_values,
    ));
    let rest = match poly {
        None => dropped_values,
        Some(poly) => {
            // Each dropped unit's channel's coefficients, shaped like one
            // sample of the dropped values.
            let channel = |unit: usize| match mask.granularity {
                Granularity::Pixel => unit / plane,
                Granularity::Channel => unit,
            };
            let per_unit = |coefficients: &[f32]| -> Vec<f32> {
                dropped.iter().map(|&u| coefficients[channel(u)]).collect()
            };
            let dims: Vec<usize> = std::iter::once(dropped.len()).chain(trailing).collect();
            let rest = names.of("dropped_poly");
            let [a, b, c] = [&poly.a, &poly.b, &poly.c].map(|v| per_unit(v));
            nodes.extend(polynomial(
                &Names(&rest),
                [&a, &b, &c],
                &dims,
                &dropped_values,
                &rest,
            ));
            rest
        }
    };
    nodes.push(op(
        names,
        "Concat",
        &[&relu, &rest],
        "concat",
        vec![int("axis", 1)],
    ));
    nodes.extend(gather(
        names,
        &names.of("concat"),
        &inverse,
        &inverse_dims,
        "inverse",
        output,
    ));
    nodes
}

/// `(a*x + b)*x + c` of `x` into `output`, the coefficients `[a, b, c]`
/// shaped `dims` (one sample of `x`, or what broadcasts to it).
fn polynomial(
    names: &Names,
    [a, b, c]: [&[f32]; 3],
    dims: &[usize],
    x: &str,
    output: &str,
) -> Vec<Msg> {
    let [ca, cb, cc] = ["a", "b", "c"].map(|term| names.of(term));
    let (ax, ax_b, ax_b_x) = (names.of("ax"), names.of("ax_b"), names.of("ax_b_x"));
    vec![
        constant(&ca, dims, Values::Float(a)),
        op(names, "Mul", &[x, &ca], "ax", Vec::new()),
        constant(&cb, dims, Values::Float(b)),
        op(names, "Add", &[&ax, &cb], "ax_b", Vec::new()),
        op(names, "Mul", &[&ax_b, x], "ax_b_x", Vec::new()),
        constant(&cc, dims, Values::Float(c)),
        onnx_node("Add", output, &[&ax_b_x, &cc], output, Vec::new()),
    ]
}
