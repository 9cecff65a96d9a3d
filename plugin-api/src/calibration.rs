//! A latency model calibrated from measurements in a two-party framework:
//! the work of a network that private inference pays for ([`CostFeatures`],
//! from the IR) and what one unit of each costs in that framework
//! ([`Calibration`], fitted by `deepreduce calibrate` from measured
//! networks). The measured-latency plugins estimate with it; the host fits
//! it, so both count the same features.

use crate::analysis::{IrError, analyze};
use crate::export::Plugin;
use crate::ir::{Network, Op};
use crate::protocol::{Descriptor, LatencyEstimate, LatencyModel, PluginKind};
use serde::{Deserialize, Serialize};

/// What one image's private inference has to do, as the cost model counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostFeatures {
    /// ReLUs plus max-pool comparisons (each a secure comparison).
    pub comparisons: f64,
    /// Layers with ReLUs (each a few protocol rounds whatever its size).
    pub relu_layers: f64,
    /// Multiply-accumulates of the convolutions and linear layers.
    pub macs: f64,
    /// Elements entering and leaving the convolutions and linear layers.
    pub linear_elements: f64,
    /// Weights of the convolutions and linear layers.
    pub weights: f64,
    /// Convolutions and linear layers.
    pub linear_layers: f64,
}

impl CostFeatures {
    pub fn of(network: &Network) -> Result<Self, IrError> {
        let analysis = analyze(network)?;
        let mut f = CostFeatures {
            comparisons: (analysis.total.relus + analysis.total.comparisons) as f64,
            macs: analysis.total.macs as f64,
            ..CostFeatures::default()
        };
        for (node, stats) in network.nodes.iter().zip(&analysis.nodes) {
            if stats.relus > 0 {
                f.relu_layers += 1.0;
            }
            if matches!(node.op, Op::Conv2d { .. } | Op::Linear { .. }) {
                f.linear_layers += 1.0;
                f.linear_elements += (stats.input.elements() + stats.output.elements()) as f64;
                f.weights += stats.params as f64;
            }
        }
        Ok(f)
    }
}

/// What a unit of each feature costs in one framework, measured on one
/// machine over loopback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub framework: String,
    pub protocol: String,
    /// Bytes (both parties) per ReLU or max-pool comparison.
    pub bytes_per_comparison: f64,
    /// Bytes per element entering or leaving a linear layer, per image.
    pub bytes_per_linear_element: f64,
    /// Bytes per weight of a linear layer (once per batch).
    pub bytes_per_weight: f64,
    /// Bytes per multiply-accumulate, per image (homomorphic products:
    /// Cheetah's convolutions send ciphertexts that grow with them).
    pub bytes_per_mac: f64,
    /// Bytes per linear layer whatever its size (a layer's fixed overhead).
    pub bytes_per_linear_layer: f64,
    /// Rounds (or messages, as the framework counts them) per ReLU layer
    /// and per linear layer.
    pub rounds_per_relu_layer: f64,
    pub rounds_per_linear_layer: f64,
    /// Loopback online seconds per comparison, per multiply-accumulate and
    /// per round.
    pub seconds_per_comparison: f64,
    pub seconds_per_mac: f64,
    pub seconds_per_round: f64,
    /// How many measurements the constants were fitted to.
    pub measurements: usize,
    /// Where the measurements come from and how they were fitted.
    pub source: String,
}

impl Calibration {
    /// The estimate for one image. Polynomial activations are not in the
    /// model (not measured yet) and the model says so.
    pub fn estimate(&self, network: &Network) -> Result<LatencyEstimate, String> {
        let f = CostFeatures::of(network).map_err(|e| e.to_string())?;
        let relu_rounds = f.relu_layers * self.rounds_per_relu_layer;
        let linear_rounds = f.linear_layers * self.rounds_per_linear_layer;
        let relu_seconds =
            f.comparisons * self.seconds_per_comparison + relu_rounds * self.seconds_per_round;
        let linear_seconds = f.macs * self.seconds_per_mac + linear_rounds * self.seconds_per_round;
        let constants = [
            ("bytes_per_comparison", self.bytes_per_comparison),
            ("bytes_per_linear_element", self.bytes_per_linear_element),
            ("bytes_per_weight", self.bytes_per_weight),
            ("bytes_per_mac", self.bytes_per_mac),
            ("bytes_per_linear_layer", self.bytes_per_linear_layer),
            ("rounds_per_relu_layer", self.rounds_per_relu_layer),
            ("rounds_per_linear_layer", self.rounds_per_linear_layer),
            ("seconds_per_comparison", self.seconds_per_comparison),
            ("seconds_per_mac", self.seconds_per_mac),
            ("seconds_per_round", self.seconds_per_round),
        ];
        Ok(LatencyEstimate {
            online_seconds: relu_seconds + linear_seconds,
            relu_seconds,
            linear_seconds,
            communication_bytes: f.comparisons * self.bytes_per_comparison
                + f.linear_elements * self.bytes_per_linear_element
                + f.weights * self.bytes_per_weight
                + f.macs * self.bytes_per_mac
                + f.linear_layers * self.bytes_per_linear_layer,
            model: LatencyModel {
                name: format!("{} online, loopback (calibrated)", self.framework),
                constants: constants
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                source: format!(
                    "{}; polynomial activations are not in the model (none measured)",
                    self.source
                ),
            },
        })
    }
}

/// A latency plugin whose constants are a calibration compiled in (the
/// JSON `deepreduce calibrate --out` writes).
pub struct CalibratedLatency {
    pub id: &'static str,
    pub name: &'static str,
    /// The JSON of `deepreduce calibrate --out`: `{"calibration": ..., ...}`.
    pub calibration: &'static str,
}

/// The file `deepreduce calibrate --out` writes: the calibration and what
/// it was fitted to (which the plugin does not need).
#[derive(Deserialize)]
struct CalibrationFile {
    calibration: Calibration,
}

impl CalibratedLatency {
    pub fn calibration(&self) -> Result<Calibration, String> {
        serde_json::from_str::<CalibrationFile>(self.calibration)
            .map(|file| file.calibration)
            .map_err(|e| format!("the calibration compiled into {}: {e}", self.id))
    }
}

impl Plugin for CalibratedLatency {
    fn descriptor(&self) -> Descriptor {
        let about = self.calibration().map_or_else(
            |e| e,
            |c| format!("{} measurements ({})", c.measurements, c.source),
        );
        Descriptor::new(
            self.id,
            self.name,
            PluginKind::Latency,
            &format!(
                "Online latency and communication on loopback, calibrated from measured \
                 networks: {about}"
            ),
        )
    }

    fn estimate(&self, network: &Network) -> Result<LatencyEstimate, String> {
        self.calibration()?.estimate(network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tiny;

    fn unit() -> Calibration {
        Calibration {
            framework: "f".into(),
            protocol: "p".into(),
            bytes_per_comparison: 1.0,
            bytes_per_linear_element: 10.0,
            bytes_per_weight: 100.0,
            bytes_per_mac: 0.5,
            bytes_per_linear_layer: 1000.0,
            rounds_per_relu_layer: 9.0,
            rounds_per_linear_layer: 1.0,
            seconds_per_comparison: 1e-3,
            seconds_per_mac: 1e-6,
            seconds_per_round: 0.5,
            measurements: 3,
            source: "s".into(),
        }
    }

    #[test]
    fn tiny_has_the_features_its_documentation_works_out() {
        let f = CostFeatures::of(&tiny()).unwrap();
        assert_eq!(f.comparisons, 768.0);
        assert_eq!(f.relu_layers, 2.0);
        assert_eq!(f.macs, 34_464.0);
        assert_eq!(f.linear_layers, 4.0);
        // In: 1,232 (documented); out: conv1 512, conv2 256, proj 256, fc 10.
        assert_eq!(f.linear_elements, 1_232.0 + 1_034.0);
        // conv1 216, conv2 1,152, proj 128, fc 160 + 10 bias.
        assert_eq!(f.weights, 216.0 + 1_152.0 + 128.0 + 170.0);
    }

    #[test]
    fn the_estimate_is_features_times_constants() {
        let e = unit().estimate(&tiny()).unwrap();
        assert_eq!(
            e.communication_bytes,
            768.0 + 2_266.0 * 10.0 + 1_666.0 * 100.0 + 34_464.0 * 0.5 + 4.0 * 1000.0
        );
        assert!((e.relu_seconds - (768.0e-3 + 18.0 * 0.5)).abs() < 1e-12);
        assert!((e.linear_seconds - (34_464.0e-6 + 4.0 * 0.5)).abs() < 1e-12);
        assert_eq!(e.online_seconds, e.relu_seconds + e.linear_seconds);
        assert_eq!(e.model.constants["seconds_per_round"], 0.5);
        assert!(
            e.model
                .source
                .contains("polynomial activations are not in the model")
        );
    }
}
