use super::{BYTES_PER_LINEAR_INPUT, BYTES_PER_RELU, Delphi, SECONDS_PER_MAC, SECONDS_PER_RELU};
use deepreduce_plugin_api::testing::tiny;
use deepreduce_plugin_api::{
    BitSet, Dropped, Granularity, LATENCY, Op, Plugin, PluginKind, Polynomial, ReluMask,
};

// The network is `testing::tiny`: 768 ReLUs, 34,464 MACs and 1,232 elements
// entering its conv and linear layers, worked out in its documentation.

#[test]
fn estimate_is_relus_and_macs_times_their_constants() {
    let e = Delphi.estimate(&tiny()).unwrap();
    assert_eq!(e.relu_seconds, 768.0 * SECONDS_PER_RELU);
    assert_eq!(e.linear_seconds, 34_464.0 * SECONDS_PER_MAC);
    assert_eq!(
        e.online_seconds,
        768.0 * SECONDS_PER_RELU + 34_464.0 * SECONDS_PER_MAC
    );
    // By hand: 768 * 19.551e-6 s = 15.015168 ms; 34,464 * 0.3171 ns = 10.9285344 us.
    assert!((e.relu_seconds - 0.015_015_168).abs() < 1e-15);
    assert!((e.linear_seconds - 1.092_853_44e-5).abs() < 1e-18);
    assert!((e.online_seconds - 0.015_026_096_534_4).abs() < 1e-15);
}

#[test]
fn communication_counts_relus_and_linear_layer_inputs() {
    let e = Delphi.estimate(&tiny()).unwrap();
    assert_eq!(BYTES_PER_RELU, 1312.0);
    assert_eq!(BYTES_PER_LINEAR_INPUT, 16.0);
    // 768 * 1,312 + 1,232 * 16 = 1,007,616 + 19,712.
    assert_eq!(e.communication_bytes, 1_027_328.0);
}

#[test]
fn dropping_relus_only_lowers_the_relu_part() {
    let mut net = tiny();
    net.nodes[2].op = Op::Identity; // the stem's 512 ReLUs
    let e = Delphi.estimate(&net).unwrap();
    assert_eq!(e.relu_seconds, 256.0 * SECONDS_PER_RELU);
    assert_eq!(e.linear_seconds, 34_464.0 * SECONDS_PER_MAC);
    assert_eq!(e.communication_bytes, 256.0 * 1312.0 + 1232.0 * 16.0);
}

#[test]
fn a_masked_layer_costs_its_kept_relus_and_a_polynomial_its_multiplications() {
    let mut net = tiny();
    // 100 of the stem's 512 ReLUs kept, the other 412 quadratic; S1's 256
    // ReLUs replaced by a quadratic.
    net.nodes[2].op = Op::MaskedRelu {
        mask: ReluMask::new(Granularity::Pixel, BitSet::from_indices(512, 0..100)),
        dropped: Dropped::Poly(Polynomial::delphi(8)),
    };
    net.nodes[7].op = Op::Poly(Polynomial::delphi(16));
    let e = Delphi.estimate(&net).unwrap();
    let polys = 412.0 + 256.0;
    assert_eq!(e.relu_seconds, 100.0 * SECONDS_PER_RELU);
    assert_eq!(e.linear_seconds, (34_464.0 + polys) * SECONDS_PER_MAC);
    assert_eq!(
        e.communication_bytes,
        100.0 * 1312.0 + 1232.0 * 16.0 + polys * 32.0
    );
}

#[test]
fn a_max_pool_comparison_costs_a_relu() {
    let plain = Delphi.estimate(&tiny()).unwrap();
    let mut net = tiny();
    // A 2x2 max-pool between S1's ReLU and the head: 16 channels of 4x4
    // become 2x2, 3 comparisons per output element.
    net.nodes.insert(
        8,
        deepreduce_plugin_api::Node {
            name: "pool".into(),
            op: Op::MaxPool2d {
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 0],
            },
            inputs: vec!["relu2".into()],
            stage: None,
            block: None,
        },
    );
    net.nodes[9].inputs = vec!["pool".into()];
    let analysis = deepreduce_plugin_api::analyze(&net).unwrap();
    let comparisons = analysis.total.comparisons as f64;
    assert_eq!(comparisons, 16.0 * 2.0 * 2.0 * 3.0);
    let e = Delphi.estimate(&net).unwrap();
    assert_eq!(e.relu_seconds, (768.0 + comparisons) * SECONDS_PER_RELU);
    assert!(e.communication_bytes > plain.communication_bytes);
}

#[test]
fn the_model_states_its_constants_and_their_source() {
    let m = Delphi.estimate(&tiny()).unwrap().model;
    assert_eq!(m.name, "DELPHI online (fitted)");
    let constants: Vec<(&str, f64)> = m.constants.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        constants,
        [
            ("bytes_per_linear_input", 16.0),
            ("bytes_per_poly_multiplication", 32.0),
            ("bytes_per_relu", 1312.0),
            ("seconds_per_mac", 0.3171e-9),
            ("seconds_per_relu", 19.551e-6),
        ]
    );
    assert!(m.source.contains("least-squares fit"), "{}", m.source);
    assert!(m.source.contains("DeepReDuce (ICML 2021)"), "{}", m.source);
    assert!(m.source.contains("not measured"), "{}", m.source);
}

#[test]
fn an_invalid_network_is_refused_with_the_ir_error() {
    let mut net = tiny();
    net.nodes[10].inputs = vec!["gap".into()];
    assert_eq!(
        Delphi.estimate(&net).unwrap_err(),
        "node 'fc': needs a flat vector input (add Flatten), got 16x1x1"
    );
}

#[test]
fn descriptor() {
    let d = Delphi.descriptor();
    assert_eq!(d.id, "org.deepreduce.delphi");
    assert_eq!(d.kind, PluginKind::Latency);
    assert_eq!(d.capabilities, [LATENCY]);
}
