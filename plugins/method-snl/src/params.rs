//! The method's parameters: the form it declares and their typed reading.

use deepreduce_plugin_api::Granularity;
use deepreduce_plugin_api::reduction::{DropAs, MethodInfo, ParamKind, ParamSpec};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Params {
    /// ReLU counts, one candidate each.
    pub budgets: Vec<u64>,
    pub granularity: Granularity,
    pub dropped: DropAs,
}

pub fn info() -> MethodInfo {
    let param = |name: &str, kind: ParamKind, default: Value, help: &str| ParamSpec {
        name: name.into(),
        kind,
        default,
        help: help.into(),
    };
    let choice = |options: &[&str]| ParamKind::Choice {
        options: options.iter().map(|o| o.to_string()).collect(),
    };
    MethodInfo {
        name: "SNL".into(),
        description: "Selective network linearization (Cho et al., ICML 2022): per budget, \
                      gates learned from the trained baseline decide which ReLUs stay, then \
                      the masked network is fine-tuned with knowledge distillation"
            .into(),
        params: vec![
            param(
                "budgets",
                ParamKind::IntegerList { min: 0 },
                json!([1000]),
                "ReLU counts to reach, one network each",
            ),
            param(
                "granularity",
                choice(&["pixel", "channel"]),
                json!("pixel"),
                "a gate per element (exactly the budget) or per channel (at most the budget)",
            ),
            param(
                "dropped",
                choice(&["identity", "poly"]),
                json!("identity"),
                "what a dropped ReLU becomes: the identity or a trainable quadratic",
            ),
        ],
    }
}

impl Params {
    /// The parameters as the host resolved them against [`info`].
    pub fn read(params: &Map<String, Value>) -> Result<Self, String> {
        let params: Params = serde_json::from_value(Value::Object(params.clone()))
            .map_err(|e| format!("SNL parameters: {e}"))?;
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = params.budgets.iter().find(|b| !seen.insert(**b)) {
            return Err(format!("SNL parameters: budget {twice} is listed twice"));
        }
        Ok(params)
    }
}
