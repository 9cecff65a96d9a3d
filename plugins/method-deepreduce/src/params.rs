//! The method's parameters: the form it declares and their typed reading.

use deepreduce_plugin_api::reduction::{MethodInfo, ParamKind, ParamSpec};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Params {
    /// Train stage-only networks and candidates with KD from the baseline.
    pub kd: bool,
    /// Also train each stage-only network without KD (reported only).
    pub criticality_without_kd: bool,
    /// Optimization plugins whose candidates of each culled network join.
    pub extra_plugins: Vec<String>,
}

pub fn info() -> MethodInfo {
    let param = |name: &str, kind: ParamKind, default: Value, help: &str| ParamSpec {
        name: name.into(),
        kind,
        default,
        help: help.into(),
    };
    MethodInfo {
        name: "DeepReDuce".into(),
        description: "Jha et al., ICML 2021: rank stages by the accuracy of stage-only \
                      networks, cull the least critical cumulatively, thin and reshape, \
                      retrain with knowledge distillation"
            .into(),
        params: vec![
            param(
                "kd",
                ParamKind::Boolean,
                json!(true),
                "retrain stage-only networks and candidates with knowledge distillation \
                 from the baseline",
            ),
            param(
                "criticality_without_kd",
                ParamKind::Boolean,
                json!(false),
                "also train each stage-only network without distillation (the paper \
                 reports both)",
            ),
            param(
                "extra_plugins",
                ParamKind::TextList,
                json!([]),
                "ids of optimization plugins whose candidates of each culled network join \
                 the set",
            ),
        ],
    }
}

impl Params {
    /// The parameters as the host resolved them against [`info`].
    pub fn read(params: &Map<String, Value>) -> Result<Self, String> {
        serde_json::from_value(Value::Object(params.clone()))
            .map_err(|e| format!("DeepReDuce parameters: {e}"))
    }
}
