//! The measured-latency plugins (`plugins/latency-cheetah`,
//! `plugins/latency-crypten`) compile in a calibration that `deepreduce
//! calibrate` fitted to the paper's ten Table-4 ResNet18 networks measured
//! on this workbench's machine (`measure/table4.py`): the constants are the
//! fit of the points kept with them, and the plugins' estimates for those
//! ten networks, built through the plugins, match what was measured.

mod common;

use deepreduce_app::engine::calibrate::{Fitted, fit};
use deepreduce_app::engine::measure::Framework;
use deepreduce_app::engine::paper::RELU_TABLE;
use deepreduce_plugin_api::calibration::CostFeatures;

fn compiled_in(framework: Framework) -> Fitted {
    let path = common::workspace()
        .join("plugins")
        .join(format!("latency-{}", framework.as_str()))
        .join("calibration.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn check(framework: Framework, max_bytes_error: f64) {
    let kept = compiled_in(framework);
    let refit = fit(
        framework,
        kept.calibration.protocol.clone(),
        kept.points.clone(),
        &kept.calibration.source,
    )
    .unwrap();
    // Equal to the last digits JSON keeps.
    let (a, b) = (
        serde_json::to_value(&refit.calibration).unwrap(),
        serde_json::to_value(&kept.calibration).unwrap(),
    );
    for (key, value) in a.as_object().unwrap() {
        match (value.as_f64(), b[key].as_f64()) {
            (Some(x), Some(y)) => assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                "{key}: refit {x}, kept {y}"
            ),
            _ => assert_eq!(value, &b[key], "{key}"),
        }
    }
    assert!(
        kept.max_bytes_error < max_bytes_error,
        "{}",
        kept.max_bytes_error
    );

    let host = common::host();
    let plugin = host
        .get(&format!("org.deepreduce.latency.{}", framework.as_str()))
        .expect("plugin loaded");
    assert_eq!(kept.points.len(), RELU_TABLE.len());
    for (row, point) in RELU_TABLE.iter().zip(&kept.points) {
        let net = common::paper_network(&host, row);
        // The point is this network, measured at batch 1.
        assert_eq!(CostFeatures::of(&net).unwrap(), point.features);
        assert_eq!(point.batch, 1.0);
        let estimate = plugin.estimate(&net).unwrap();
        let off = (estimate.communication_bytes - point.bytes).abs() / point.bytes;
        assert!(
            off < max_bytes_error,
            "{}: {} B estimated, {} B measured",
            point.network,
            estimate.communication_bytes,
            point.bytes
        );
        assert!(estimate.online_seconds > 0.0);
        assert!(
            estimate
                .model
                .source
                .contains("fitted by `deepreduce calibrate`")
        );
    }
}

#[test]
fn cheetah_latency_is_calibrated_on_the_ten_paper_networks() {
    check(Framework::Cheetah, 0.05);
}

#[test]
fn crypten_latency_is_calibrated_on_the_ten_paper_networks() {
    check(Framework::Crypten, 0.05);
}
