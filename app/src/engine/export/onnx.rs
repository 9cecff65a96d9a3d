//! The ONNX writer: opset 17 (what onnx-1.12-era consumers such as EzPC's
//! OnnxBridge and CrypTen read), input "input" `[batch, C, H, W]` with a
//! symbolic batch axis, output "logits" `[batch, classes]`, weights as
//! initializers named as in the safetensors file; masked ReLUs and
//! polynomials as in `mask_lowering`.

use super::graph::{Graph, Op, Weights};
use super::mask_lowering;
use super::onnx_proto::{self as pb, Msg};
use super::tensor_names::tensors;
use deepreduce_plugin_api::INPUT;

pub const OPSET: i64 = 17;
/// The IR version that shipped with opset 17 (onnx 1.12).
const IR_VERSION: i64 = 8;
pub const OUTPUT: &str = "logits";
const BATCH: &str = "batch";

/// The serialised model; `doc` becomes its doc string, `metadata` its
/// metadata_props.
pub fn to_onnx(graph: &Graph, doc: &str, metadata: &[(&str, String)]) -> Vec<u8> {
    let value_name = |name: &str| {
        if name == graph.output {
            OUTPUT.to_string()
        } else {
            name.to_string()
        }
    };
    let mut g = Msg::new();
    let mut initializers = Vec::new();
    for node in &graph.nodes {
        let mut inputs: Vec<String> = node.inputs.iter().map(|i| value_name(i)).collect();
        let output = value_name(&node.name);
        match node.op.onnx_type() {
            Some(op_type) => {
                for (name, weights) in tensors(node) {
                    initializers.push(initializer(&name, weights));
                    inputs.push(name);
                }
                let attributes = attributes(&node.op);
                g = g.message(
                    pb::graph::NODE,
                    onnx_node(op_type, &node.name, &inputs, &output, attributes),
                );
            }
            None => {
                g = g.messages(
                    pb::graph::NODE,
                    mask_lowering::nodes(node, &inputs[0], &output),
                )
            }
        }
    }
    let classes = graph
        .nodes
        .iter()
        .find(|n| n.name == graph.output)
        .map_or(0, |n| n.output.elements() as i64);
    let i = graph.input;
    let spatial = [i.channels, i.height, i.width].map(|d| d as i64);
    let g = g
        .string(pb::graph::NAME, "deepreduce")
        .messages(pb::graph::INITIALIZER, initializers)
        .message(pb::graph::INPUT, value_info(INPUT, &spatial))
        .message(pb::graph::OUTPUT, value_info(OUTPUT, &[classes]));
    let opset = Msg::new()
        .string(pb::opset_id::DOMAIN, "")
        .int(pb::opset_id::VERSION, OPSET);
    let props = metadata.iter().map(|(key, value)| {
        Msg::new()
            .string(pb::string_entry::KEY, key)
            .string(pb::string_entry::VALUE, value)
    });
    Msg::new()
        .int(pb::model::IR_VERSION, IR_VERSION)
        .message(pb::model::OPSET_IMPORT, opset)
        .string(pb::model::PRODUCER_NAME, "deepreduce-workbench")
        .string(pb::model::PRODUCER_VERSION, env!("CARGO_PKG_VERSION"))
        .string(pb::model::DOC_STRING, doc)
        .message(pb::model::GRAPH, g)
        .messages(pb::model::METADATA_PROPS, props)
        .finish()
}

/// One node computing `output` from `inputs`.
pub(super) fn onnx_node(
    op_type: &str,
    name: &str,
    inputs: &[impl AsRef<str>],
    output: &str,
    attributes: Vec<Msg>,
) -> Msg {
    let n = inputs.iter().fold(Msg::new(), |n, input| {
        n.string(pb::node::INPUT, input.as_ref())
    });
    n.string(pb::node::OUTPUT, output)
        .string(pb::node::NAME, name)
        .string(pb::node::OP_TYPE, op_type)
        .messages(pb::node::ATTRIBUTE, attributes)
}

/// The values of a tensor written into the model, little-endian.
pub(super) enum Values<'a> {
    Float(&'a [f32]),
    Int64(&'a [i64]),
}

fn tensor_proto(dims: &[usize], values: Values) -> Msg {
    let (data_type, raw): (i64, Vec<u8>) = match values {
        Values::Float(v) => (
            pb::tensor::FLOAT,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        Values::Int64(v) => (
            pb::tensor::INT64,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    };
    Msg::new()
        .ints(pb::tensor::DIMS, dims.iter().map(|&d| d as i64))
        .int(pb::tensor::DATA_TYPE, data_type)
        .bytes(pb::tensor::RAW_DATA, &raw)
}

fn initializer(name: &str, w: &Weights) -> Msg {
    tensor_proto(&w.shape, Values::Float(&w.data)).string(pb::tensor::NAME, name)
}

/// A `Constant` node whose output `name` holds `values` shaped `dims`.
/// Indices and masks go in as these, never as initializers: CrypTen makes
/// every initializer an encrypted parameter, which costs a private
/// multiplication where a public constant costs none.
pub(super) fn constant(name: &str, dims: &[usize], values: Values) -> Msg {
    let value = attribute("value", pb::attribute::TYPE_TENSOR)
        .message(pb::attribute::T, tensor_proto(dims, values));
    onnx_node("Constant", name, &[] as &[&str], name, vec![value])
}

/// A float tensor `[batch, dims...]`.
fn value_info(name: &str, dims: &[i64]) -> Msg {
    let batch = Msg::new().string(pb::shape::DIM_PARAM, BATCH);
    let rest = dims
        .iter()
        .map(|&d| Msg::new().int(pb::shape::DIM_VALUE, d));
    let shape = Msg::new().messages(pb::shape::DIM, std::iter::once(batch).chain(rest));
    let tensor_type = Msg::new()
        .int(pb::type_proto::ELEM_TYPE, pb::tensor::FLOAT)
        .message(pb::type_proto::SHAPE, shape);
    Msg::new().string(pb::value_info::NAME, name).message(
        pb::value_info::TYPE,
        Msg::new().message(pb::type_proto::TENSOR_TYPE, tensor_type),
    )
}

fn attribute(name: &str, kind: i64) -> Msg {
    Msg::new()
        .string(pb::attribute::NAME, name)
        .int(pb::attribute::TYPE, kind)
}

pub(super) fn int(name: &str, i: i64) -> Msg {
    attribute(name, pb::attribute::TYPE_INT).int(pb::attribute::I, i)
}

fn float(name: &str, x: f32) -> Msg {
    attribute(name, pb::attribute::TYPE_FLOAT).float(pb::attribute::F, x)
}

fn ints(name: &str, values: &[usize]) -> Msg {
    attribute(name, pb::attribute::TYPE_INTS)
        .ints(pb::attribute::INTS, values.iter().map(|&v| v as i64))
}

/// kernel_shape, strides and pads ([top, left, bottom, right]) of a window op.
fn window(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Vec<Msg> {
    vec![
        ints("kernel_shape", &kernel),
        ints("strides", &stride),
        ints("pads", &[padding[0], padding[1], padding[0], padding[1]]),
    ]
}

fn attributes(op: &Op) -> Vec<Msg> {
    match op {
        Op::Conv {
            weight,
            stride,
            padding,
            groups,
            ..
        } => {
            let mut a = window([weight.shape[2], weight.shape[3]], *stride, *padding);
            a.push(ints("dilations", &[1, 1]));
            a.push(int("group", *groups as i64));
            a
        }
        Op::BatchNorm { epsilon, .. } => vec![float("epsilon", *epsilon as f32)],
        Op::MaxPool {
            kernel,
            stride,
            padding,
        } => window(*kernel, *stride, *padding),
        Op::AvgPool {
            kernel,
            stride,
            padding,
        } => {
            let mut a = window(*kernel, *stride, *padding);
            a.push(int("count_include_pad", 1));
            a
        }
        Op::Flatten => vec![int("axis", 1)],
        // All four written out: CrypTen's importer refuses a Gemm without
        // alpha and beta, although ONNX gives them defaults.
        Op::Gemm { .. } => vec![
            float("alpha", 1.0),
            float("beta", 1.0),
            int("transA", 0),
            int("transB", 1),
        ],
        Op::Relu | Op::Add | Op::GlobalAvgPool => Vec::new(),
        Op::MaskedRelu { .. } | Op::Poly(_) => unreachable!("lowered by mask_lowering"),
    }
}
