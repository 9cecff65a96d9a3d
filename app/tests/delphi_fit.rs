//! The delphi plugin's constants are the least-squares fit of
//! `a * ReLUs + b * MACs` to the paper's ten measured DELPHI latencies; this
//! refits them from the networks the plugins build and reports the error.

mod common;

use deepreduce_app::engine::network::ids;
use deepreduce_app::engine::paper::{DEEPREDUCE_PARETO, RELU_TABLE};
use deepreduce_plugin_api::analyze;

#[test]
fn delphi_constants_are_the_fit_to_the_paper_points() {
    let host = common::host();
    let delphi = host.get(ids::DELPHI).expect("delphi loaded");
    let mut points = Vec::new(); // (relus, macs, measured, estimated)
    for (row, published) in RELU_TABLE.iter().zip(DEEPREDUCE_PARETO) {
        let net = common::paper_network(&host, row);
        let total = analyze(&net).unwrap().total;
        assert_eq!(total.relus, published.relus);
        let estimate = delphi.estimate(&net).unwrap();
        assert!(
            (estimate.online_seconds - estimate.relu_seconds - estimate.linear_seconds).abs()
                < 1e-12
        );
        points.push((
            total.relus as f64,
            total.macs as f64,
            published.latency_seconds.unwrap(),
            estimate,
        ));
    }
    // Normal equations of the two-parameter least squares.
    let (mut s11, mut s12, mut s22, mut t1, mut t2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (r, m, y, _) in &points {
        (s11, s12, s22, t1, t2) = (
            s11 + r * r,
            s12 + r * m,
            s22 + m * m,
            t1 + r * y,
            t2 + m * y,
        );
    }
    let det = s11 * s22 - s12 * s12;
    let (a, b) = ((t1 * s22 - t2 * s12) / det, (s11 * t2 - s12 * t1) / det);
    let constants = &points[0].3.model.constants;
    let relative = |x: f64, y: f64| ((x - y) / y).abs();
    assert!(
        relative(constants["seconds_per_relu"], a) < 1e-3,
        "a = {a}, plugin {constants:?}"
    );
    assert!(
        relative(constants["seconds_per_mac"], b) < 1e-3,
        "b = {b}, plugin {constants:?}"
    );

    let errors: Vec<f64> = points
        .iter()
        .map(|(_, _, y, e)| e.online_seconds - y)
        .collect();
    let max_abs = errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    let rms = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    println!(
        "delphi fit: a = {:.3} us/ReLU, b = {:.4} ns/MAC, max |error| {max_abs:.3} s, rms {rms:.3} s",
        a * 1e6,
        b * 1e9
    );
    // The fit's error as reported in the plugin's documentation.
    assert!(max_abs < 0.24 && rms < 0.15, "max {max_abs}, rms {rms}");
    // The trend: estimates fall with the ReLU count, like the measurements.
    assert!(
        points
            .windows(2)
            .all(|w| w[1].3.online_seconds <= w[0].3.online_seconds + 1e-9)
    );
}
