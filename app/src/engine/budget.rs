//! A ReLU budget as the engine applies it: through the budget plugin
//! (`org.deepreduce.budget`), after culling, thinning and reshaping, so that
//! the masked network (its masks are ~100 KB of JSON for ResNet18) never
//! crosses the other plugins.

use deepreduce_plugin_api::Granularity;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Keep `relus` ReLUs: exactly at pixel granularity, the most whole
/// channels within it at channel granularity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub relus: u64,
    pub granularity: Granularity,
    pub dropped: DroppedAs,
}

/// What an element whose ReLU is dropped becomes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DroppedAs {
    /// Passed through unchanged.
    #[default]
    Identity,
    /// A trainable per-channel quadratic (starting as the identity).
    Poly,
}

impl DroppedAs {
    pub fn as_str(self) -> &'static str {
        match self {
            DroppedAs::Identity => "identity",
            DroppedAs::Poly => "poly",
        }
    }
}

impl Budget {
    /// The budget plugin's parameters.
    pub fn params(&self) -> serde_json::Value {
        json!({
            "budget": self.relus,
            "granularity": self.granularity,
            "dropped": self.dropped,
        })
    }
}
