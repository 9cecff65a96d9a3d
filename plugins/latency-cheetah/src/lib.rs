//! Online latency in SecretFlow SPU's Cheetah protocol, two parties on
//! loopback: the calibration `deepreduce calibrate --framework cheetah`
//! fitted to networks measured with `deepreduce measure` on this
//! workbench's machine (calibration.json beside this crate's manifest,
//! which says which measurements and how).

use deepreduce_plugin_api::calibration::CalibratedLatency;

deepreduce_plugin_api::export_plugin!(CalibratedLatency {
    id: "org.deepreduce.latency.cheetah",
    name: "Cheetah latency (measured)",
    calibration: include_str!("../calibration.json"),
});
