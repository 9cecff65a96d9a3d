//! Knowledge distillation: returns the training recipe of the paper (Hinton
//! KD with temperature 4 and weight 0.9 on the soft-target term, teacher =
//! the trained full-ReLU baseline). The host computes the loss on the device.

use deepreduce_plugin_api::protocol::OBJECTIVE;
use deepreduce_plugin_api::{Descriptor, Plugin, PluginKind, TrainingObjective};

pub const TEMPERATURE: f64 = 4.0;
pub const SOFT_WEIGHT: f64 = 0.9;

#[derive(Default)]
pub struct Kd;

impl Plugin for Kd {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.kd",
            "Knowledge distillation",
            PluginKind::Optimization,
            "Retrain with KD from the full-ReLU baseline: T = 4, soft weight 0.9 \
             (params.temperature / params.soft_weight override)",
        )
        .with_capabilities(&[OBJECTIVE])
    }

    fn recipe(&self, params: &serde_json::Value) -> Result<TrainingObjective, String> {
        let number = |key: &str, default: f64| match params.get(key) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| format!("{key} must be a number, got {v}")),
        };
        let temperature = number("temperature", TEMPERATURE)?;
        let soft_weight = number("soft_weight", SOFT_WEIGHT)?;
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(format!("temperature must be positive, got {temperature}"));
        }
        if !(0.0..=1.0).contains(&soft_weight) {
            return Err(format!("soft_weight must be in [0, 1], got {soft_weight}"));
        }
        Ok(TrainingObjective::Distillation {
            temperature,
            soft_weight,
            teacher: "baseline".into(),
        })
    }
}

deepreduce_plugin_api::export_plugin!(Kd);

#[cfg(test)]
mod tests;
