//! What a runner reports of one measurement, as the workbench reads it:
//! the fields every framework gives (checked when the report arrives), the
//! rest kept as the framework wrote it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One measured private inference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub framework: String,
    pub version: String,
    pub protocol: String,
    /// The framework's security setting, in words.
    pub security: String,
    /// Images in the input owner's batch.
    pub batch: u64,
    /// Online forwards whose median is `online_seconds`.
    pub repeat: u64,
    /// Median wall time of the online forwards on loopback.
    pub online_seconds: f64,
    /// The one-time setup (key exchange, OT extension), reported apart.
    pub setup_seconds: f64,
    /// Bytes sent by both parties in one online forward.
    pub bytes: u64,
    /// Messages or rounds, as the framework counts them (`rounds_named`).
    pub rounds: u64,
    pub rounds_named: String,
    /// Per ONNX node, in graph order.
    #[serde(default)]
    pub layers: Vec<LayerCost>,
    /// The revealed logits against the plaintext forward.
    pub max_abs_diff: f64,
    pub top1_agreement: f64,
    /// ReLUs per image of the measured network (the workbench counts).
    #[serde(default)]
    pub relus: u64,
    /// What the weights and the input images were (the workbench says).
    #[serde(default)]
    pub weights: String,
    #[serde(default)]
    pub input: String,
    /// Whatever else the framework reported (setup bytes, per-party bytes).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One ONNX node's share of an online forward.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerCost {
    pub node: String,
    /// The ONNX op type: Conv, Relu, Mul (a polynomial's), MaxPool, Gemm...
    pub op: String,
    /// Bytes sent by both parties.
    pub bytes: u64,
    pub rounds: u64,
}

impl Report {
    /// The bytes of each op type, largest first: where the cost goes.
    pub fn bytes_by_op(&self) -> Vec<(String, u64)> {
        let mut by_op: Vec<(String, u64)> = Vec::new();
        for layer in &self.layers {
            match by_op.iter_mut().find(|(op, _)| *op == layer.op) {
                Some((_, bytes)) => *bytes += layer.bytes,
                None => by_op.push((layer.op.clone(), layer.bytes)),
            }
        }
        by_op.sort_by_key(|&(_, bytes)| std::cmp::Reverse(bytes));
        by_op
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(layers: Value) -> Value {
        json!({
            "framework": "crypten", "version": "0.4.1", "protocol": "p", "security": "s",
            "batch": 1, "repeat": 3, "online_seconds": 0.5, "setup_seconds": 1.0, "bytes": 30,
            "rounds": 3, "rounds_named": "rounds", "max_abs_diff": 1e-6,
            "top1_agreement": 1.0, "bytes_per_party": [15, 15], "layers": layers,
        })
    }

    #[test]
    fn a_report_keeps_what_it_does_not_name_and_sums_bytes_per_op() {
        let value = report(json!([
            {"node": "a", "op": "Conv", "bytes": 4, "rounds": 1},
            {"node": "b", "op": "Relu", "bytes": 10, "rounds": 9},
            {"node": "c", "op": "Conv", "bytes": 16, "rounds": 1},
        ]));
        let parsed: Report = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(parsed.other["bytes_per_party"], json!([15, 15]));
        assert_eq!(
            parsed.bytes_by_op(),
            [("Conv".to_string(), 20), ("Relu".to_string(), 10)]
        );
        let mut round_trip = serde_json::to_value(&parsed).unwrap();
        round_trip.as_object_mut().unwrap().remove("weights");
        round_trip.as_object_mut().unwrap().remove("relus");
        round_trip.as_object_mut().unwrap().remove("input");
        assert_eq!(round_trip, value);
    }

    #[test]
    fn a_report_without_a_required_field_is_refused_naming_it() {
        let mut value = report(json!([]));
        value.as_object_mut().unwrap().remove("online_seconds");
        let error = serde_json::from_value::<Report>(value).unwrap_err();
        assert!(error.to_string().contains("online_seconds"), "{error}");
    }
}
