//! The budget's parameters and the scores it may be given.

use deepreduce_plugin_api::Granularity;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `{"budget": N, "granularity": "pixel" | "channel", "dropped":
/// "identity" | "poly"}`; granularity pixel and dropped identity when
/// absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// ReLUs to keep: exactly (pixel) or at most (channel).
    pub budget: u64,
    #[serde(default = "pixel")]
    pub granularity: Granularity,
    #[serde(default)]
    pub dropped: DroppedAs,
}

fn pixel() -> Granularity {
    Granularity::Pixel
}

/// What a dropped element becomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DroppedAs {
    #[default]
    Identity,
    /// A trainable per-channel quadratic, starting as the identity.
    Poly,
}

impl Params {
    pub fn from_json(params: &serde_json::Value) -> Result<Self, String> {
        Params::deserialize(params).map_err(|e| format!("params: {e}"))
    }
}

/// Per layer (by node name), one score per element (pixel) or per channel
/// (channel granularity): higher scores keep their ReLU first.
pub type Scores = BTreeMap<String, Vec<f64>>;

/// `context.scores`, if given.
pub fn scores(context: &serde_json::Value) -> Result<Option<Scores>, String> {
    match context.get("scores") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value) => Scores::deserialize(value)
            .map(Some)
            .map_err(|e| format!("context.scores: {e}")),
    }
}
