//! The JSON manifest written next to an exported model: what a deployment
//! needs to know beside the weights -- the architecture and how it was
//! reduced, where the remaining ReLUs are (masked layers with their kept
//! counts), the polynomial layers, the input normalisation, the accuracy
//! and the private-inference latency estimate.

use super::graph::{Graph, Op};
use super::onnx::OUTPUT;
use super::{ExportReport, ExportRequest};
use deepreduce_datasets::DatasetInfo;
use deepreduce_plugin_api::{INPUT, LatencyEstimate, Network, Op as IrOp, Shape, describe};
use serde_json::{Map, Value, json};

/// What the manifest is made from besides the network and its export graph.
pub struct Facts<'a> {
    pub request: &'a ExportRequest,
    pub report: &'a ExportReport,
    pub origin: &'a Value,
    pub dataset: Option<&'a DatasetInfo>,
    pub dataset_name: Option<&'a str>,
    pub accuracy: Option<f64>,
    pub latency: Option<&'a LatencyEstimate>,
}

pub fn manifest(net: &Network, graph: &Graph, facts: &Facts) -> Value {
    let i = net.input;
    let classes = graph
        .nodes
        .iter()
        .find(|n| n.name == graph.output)
        .map_or(0, |n| n.output.elements());
    let network_optimizations: Map<String, Value> =
        ["culled_stages", "thinned_stages", "alpha", "rho"]
            .iter()
            .filter_map(|k| net.meta.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
    let report = facts.report;
    json!({
        "format": facts.request.format,
        "model": report.model.file_name().map(|f| f.to_string_lossy()),
        "producer": format!("deepreduce-workbench {}", env!("CARGO_PKG_VERSION")),
        "source": facts.origin,
        "architecture": {
            "name": net.name,
            "family": net.meta.get("family"),
            "description": describe(net),
            "meta": net.meta,
        },
        "input": {
            "name": INPUT,
            "shape": ["batch", i.channels, i.height, i.width],
            "layout": "NCHW",
            "dtype": "float32",
        },
        "output": { "name": OUTPUT, "shape": ["batch", classes], "meaning": "logits" },
        "optimizations": {
            "network": network_optimizations,
            "export": {
                "fold_batch_norm": facts.request.folds(),
                "merge_convolutions": facts.request.merge_convs,
                "batch_norms_folded": report.batch_norms_folded,
                "convolutions_merged": report.convs_merged,
                "convolutions_kept_apart": report.convs_kept_apart,
                "layers_removed": report.nodes_before - report.nodes_after,
                "nodes_before": report.nodes_before,
                "nodes_after": report.nodes_after,
                "macs_before": report.macs_before,
                "macs_after": report.macs_after,
            },
        },
        "relus": relus(net, graph),
        "polynomials": polynomials(graph),
        "dataset": dataset(facts.dataset_name, facts.dataset),
        "accuracy": facts.accuracy.map(|a| json!({ "top1_percent": a, "from": "run store" })),
        "latency": facts.latency,
    })
}

/// The remaining ReLU layers of the exported graph (a masked one counts its
/// kept elements), per stage and in total; the masked ones with their
/// granularity and kept count; the dropped ones (absent from the graph).
fn relus(net: &Network, graph: &Graph) -> Value {
    let mut per_stage = Map::new();
    let mut layers = Vec::new();
    let mut masked = Vec::new();
    let mut total = 0;
    for node in graph.nodes.iter().filter(|n| n.relus() > 0) {
        let count = node.relus();
        total += count;
        let stage = node.stage.clone().unwrap_or_default();
        let sum = per_stage.entry(stage).or_insert(json!(0));
        *sum = json!(sum.as_u64().unwrap_or(0) + count);
        layers.push(json!({
            "node": node.name,
            "stage": node.stage,
            "block": node.block,
            "shape": shape(node.output),
            "count": count,
        }));
        if let Op::MaskedRelu { mask, poly } = &node.op {
            masked.push(json!({
                "node": node.name,
                "stage": node.stage,
                "granularity": mask.granularity,
                "kept": count,
                "elements": node.output.elements(),
                "dropped_as": if poly.is_some() { "polynomial" } else { "identity" },
            }));
        }
    }
    let dropped: Vec<&str> = net
        .nodes
        .iter()
        .filter(|n| n.op == IrOp::Identity)
        .map(|n| n.name.as_str())
        .collect();
    json!({
        "total": total,
        "per_sample": true,
        "per_stage": per_stage,
        "layers": layers,
        "masked": masked,
        "dropped": dropped,
    })
}

/// The layers with elements computed by a polynomial (one private
/// multiplication each): whole `Poly` layers and the dropped elements of
/// masked ReLUs, with the total.
fn polynomials(graph: &Graph) -> Value {
    let layers: Vec<Value> = graph
        .nodes
        .iter()
        .filter(|n| n.polys() > 0)
        .map(|node| {
            json!({
                "node": node.name,
                "stage": node.stage,
                "elements": node.polys(),
                "of": if matches!(node.op, Op::Poly(_)) { "layer" } else { "dropped elements" },
            })
        })
        .collect();
    let total: u64 = graph.nodes.iter().map(|n| n.polys()).sum();
    json!({ "total": total, "per_sample": true, "layers": layers })
}

fn shape(s: Shape) -> Vec<usize> {
    match s {
        Shape::Map(m) => m.to_vec(),
        Shape::Vector(n) => vec![n],
    }
}

fn dataset(name: Option<&str>, info: Option<&DatasetInfo>) -> Value {
    match (name, info) {
        (_, Some(info)) => json!({
            "name": info.name,
            "classes": info.class_names,
            "mean": info.mean,
            "std": info.std,
            "normalisation": "input[c] = (pixel / 255 - mean[c]) / std[c], pixels in CHW order",
        }),
        (Some(name), None) => json!({ "name": name, "mean": null, "std": null }),
        (None, None) => Value::Null,
    }
}
