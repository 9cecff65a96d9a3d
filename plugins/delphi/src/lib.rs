//! A DELPHI online-latency model: every ReLU costs one garbled-circuit
//! evaluation, every linear-layer multiply-accumulate a secret-shared
//! multiply. Both constants are a least-squares fit (no intercept, both
//! non-negative) of `latency = a * ReLUs + b * MACs` to the ten measured
//! DELPHI latencies of DeepReDuce's ResNet18 CIFAR-100 Pareto points (Jha et
//! al., ICML 2021; shared/SPEC.md), with ReLU and MAC counts
//! computed from this workbench's IR. The app's tests refit them from those
//! points and check these constants and the fit's error.
//!
//! A masked layer costs its kept ReLUs. The fitted networks have no
//! max-pools or polynomials, so their costs are stated, not fitted: a
//! max-pool comparison is one garbled comparison, counted at a ReLU's cost
//! (a ReLU's circuit is a comparison with zero and a select); a polynomial
//! element is one Beaver-triple multiplication, secret-shared arithmetic
//! like a linear layer's, counted at one multiply-accumulate's time with
//! the 32 bytes its opening sends (two 8-byte shares from each party).

use deepreduce_plugin_api::{
    Descriptor, LatencyEstimate, LatencyModel, Network, Op, Plugin, PluginKind, analyze,
};

/// Seconds per ReLU (garbled-circuit evaluation).
pub const SECONDS_PER_RELU: f64 = 19.551e-6;
/// Seconds per multiply-accumulate of a convolution or linear layer.
pub const SECONDS_PER_MAC: f64 = 0.3171e-9;
/// Online bytes per ReLU: wire labels (16 bytes) of the 41-bit share that
/// enters the circuit, for both parties' shares. Derived from the protocol's
/// structure (DELPHI, USENIX Security 2020), not measured.
pub const BYTES_PER_RELU: f64 = 2.0 * 41.0 * 16.0;
/// Online bytes per element entering a linear layer: the client's 8-byte
/// share goes out and the server's result share comes back.
pub const BYTES_PER_LINEAR_INPUT: f64 = 2.0 * 8.0;
/// Online bytes per polynomial multiplication: each party opens two 8-byte
/// shares (the masked operands of the Beaver triple).
pub const BYTES_PER_POLY_MULTIPLICATION: f64 = 2.0 * 2.0 * 8.0;

#[derive(Default)]
pub struct Delphi;

impl Plugin for Delphi {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.delphi",
            "DELPHI latency",
            PluginKind::Latency,
            "Online latency and communication of DELPHI-style private inference: \
             garbled circuits per ReLU plus secret-shared linear layers, fitted to the paper's measurements",
        )
    }

    fn estimate(&self, network: &Network) -> Result<LatencyEstimate, String> {
        let analysis = analyze(network).map_err(|e| e.to_string())?;
        let relus = analysis.total.relus as f64;
        let comparisons = analysis.total.comparisons as f64;
        let polys = analysis.total.polys as f64;
        let macs = analysis.total.macs as f64;
        let linear_inputs: u64 = network
            .nodes
            .iter()
            .zip(&analysis.nodes)
            .filter(|(n, _)| matches!(n.op, Op::Conv2d { .. } | Op::Linear { .. }))
            .map(|(_, s)| s.input.elements())
            .sum();
        // Garbled circuits: ReLUs and max-pool comparisons alike.
        let relu_seconds = (relus + comparisons) * SECONDS_PER_RELU;
        // Secret-shared arithmetic: linear layers and polynomials.
        let linear_seconds = (macs + polys) * SECONDS_PER_MAC;
        Ok(LatencyEstimate {
            online_seconds: relu_seconds + linear_seconds,
            relu_seconds,
            linear_seconds,
            communication_bytes: (relus + comparisons) * BYTES_PER_RELU
                + linear_inputs as f64 * BYTES_PER_LINEAR_INPUT
                + polys * BYTES_PER_POLY_MULTIPLICATION,
            model: LatencyModel {
                name: "DELPHI online (fitted)".into(),
                constants: [
                    ("seconds_per_relu".to_string(), SECONDS_PER_RELU),
                    ("seconds_per_mac".to_string(), SECONDS_PER_MAC),
                    ("bytes_per_relu".to_string(), BYTES_PER_RELU),
                    ("bytes_per_linear_input".to_string(), BYTES_PER_LINEAR_INPUT),
                    ("bytes_per_poly_multiplication".to_string(), BYTES_PER_POLY_MULTIPLICATION),
                ]
                .into_iter()
                .collect(),
                source: "time constants: least-squares fit of a*ReLUs + b*MACs to the 10 DELPHI \
                         online latencies of DeepReDuce (ICML 2021) ResNet18/CIFAR-100 Pareto points; \
                         communication: wire labels and shares implied by the DELPHI protocol, not measured; \
                         max-pool comparisons counted as ReLUs, polynomial multiplications as \
                         multiply-accumulates (time) and 32-byte openings (bytes), not fitted: \
                         the fitted networks have neither"
                    .into(),
            },
        })
    }
}

deepreduce_plugin_api::export_plugin!(Delphi);

#[cfg(test)]
mod tests;
