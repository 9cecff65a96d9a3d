//! Measured private inference in the real frameworks: CrypTen and SPU's
//! Cheetah, each party its own process, over TCP on loopback. Their Python
//! environments come from `measure/setup-*.sh` (`.ci/run` makes them and
//! names them in DEEPREDUCE_CRYPTEN_PYTHON and DEEPREDUCE_SPU_PYTHON).

mod common;

use deepreduce_app::engine::budget::{Budget, DroppedAs};
use deepreduce_app::engine::calibrate::calibrate;
use deepreduce_app::engine::export::Source;
use deepreduce_app::engine::measure::{Framework, MeasureRequest, Measured, Report, measure};
use deepreduce_app::engine::network::{NetworkSpec, build_network};
use deepreduce_app::engine::store::Store;
use deepreduce_plugin_api::{Granularity, Network, analyze};
use std::path::Path;
use std::time::Duration;

/// One measurement at a time: two concurrent ones raced for ports (the
/// runner frees its probe before a party binds) and once aborted a CrypTen
/// party; four parties on two cores also time each other.
fn measure_alone(
    host: &deepreduce_app::engine::plugin_host::PluginHost,
    request: &MeasureRequest,
) -> Result<Report, deepreduce_app::engine::measure::MeasureError> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    measure(host, request)
}

fn request(measured: Measured, framework: Framework, batch: usize) -> MeasureRequest {
    MeasureRequest {
        measured,
        framework,
        batch,
        repeat: 1,
        test_images: None,
        timeout: Duration::from_secs(1800),
    }
}

fn stored(db: &Path, run: i64) -> Measured {
    Measured::Trained(Source::Run {
        id: run,
        db: db.to_path_buf(),
    })
}

fn relus(net: &Network) -> u64 {
    analyze(net).unwrap().total.relus
}

/// The revealed logits agree with the plaintext forward.
fn check_revealed(report: &Report) {
    assert_eq!(report.top1_agreement, 1.0, "{report:?}");
    assert!(
        report.max_abs_diff < 1e-2,
        "max |diff| {}",
        report.max_abs_diff
    );
}

/// Culled variants of a small ResNet18 (width 4) and, last, the middle one
/// with a pixel mask keeping half its ReLUs.
fn culled_and_masked() -> Vec<NetworkSpec> {
    let mut specs: Vec<NetworkSpec> = [&["S3"][..], &["S3", "S4"], &["S2", "S3", "S4"]]
        .into_iter()
        .map(|keep| NetworkSpec {
            keep: Some(keep.iter().map(|s| s.to_string()).collect()),
            ..common::small_resnet("synthetic", 4)
        })
        .collect();
    let parent = relus(&build_network(&common::host(), &specs[1]).unwrap().0);
    specs.push(NetworkSpec {
        budget: Some(Budget {
            relus: parent / 2,
            granularity: Granularity::Pixel,
            dropped: DroppedAs::Identity,
        }),
        ..specs[1].clone()
    });
    specs
}

/// Measured bytes grow linearly with ReLUs (one cost per ReLU between two
/// pairs of culled networks, within 2%), and a pixel mask saves its
/// dropped ReLUs times that cost (within 2%): the export lets only kept
/// elements into a ReLU. Every network is measured untrained, with BN
/// folded by the export (no BatchNormalization node is measured).
fn bytes_follow_relus(framework: Framework) {
    let host = common::host();
    let db = common::temp_dir(&format!("calibrate-{}", framework.as_str())).join("runs.db");
    let batch = 2;
    let mut points = Vec::new();
    for spec in culled_and_masked() {
        let (network, _) = build_network(&host, &spec).unwrap();
        let count = relus(&network);
        let untrained = Measured::Untrained {
            network,
            seed: 3,
            db: Some(db.clone()),
        };
        let report = measure_alone(&host, &request(untrained, framework, batch)).unwrap();
        check_revealed(&report);
        assert!(
            report.weights.starts_with("untrained"),
            "{}",
            report.weights
        );
        assert!(report.input.contains("noise"), "{}", report.input);
        let ops: Vec<&str> = report.layers.iter().map(|l| l.op.as_str()).collect();
        assert!(
            ops.contains(&"Conv") && !ops.contains(&"BatchNormalization"),
            "{ops:?}"
        );
        let relu_layers = ops.iter().filter(|op| **op == "Relu").count();
        assert!(relu_layers > 0, "{ops:?}");
        points.push((count as f64 * batch as f64, report.bytes as f64));
    }
    let slope = |a: (f64, f64), b: (f64, f64)| (b.1 - a.1) / (b.0 - a.0);
    let (first, second) = (slope(points[0], points[1]), slope(points[1], points[2]));
    assert!(first > 0.0, "bytes grow with ReLUs: {points:?}");
    assert!(
        (first - second).abs() / first < 0.02,
        "one cost per ReLU: {first} and {second} bytes per ReLU ({points:?})"
    );
    let saved = points[1].1 - points[3].1;
    let expected = (points[1].0 - points[3].0) * first;
    assert!(
        (saved - expected).abs() / expected < 0.02,
        "the mask saved {saved} bytes, {expected} expected ({points:?})"
    );
    // The four measurements, kept in the store, calibrate the framework's
    // model: its cost per ReLU is the slope above.
    let fitted = calibrate(&db, framework).unwrap();
    let c = &fitted.calibration;
    assert_eq!(c.measurements, 4);
    assert!(
        (c.bytes_per_comparison - first).abs() / first < 0.02,
        "{} bytes per ReLU fitted, {first} measured",
        c.bytes_per_comparison
    );
    assert!(fitted.max_bytes_error < 0.05, "{fitted:?}");
    assert!(c.rounds_per_relu_layer > 0.0 && c.seconds_per_comparison >= 0.0);
}

#[test]
fn calibrating_without_measurements_says_what_to_measure() {
    let db = common::temp_dir("calibrate-empty").join("runs.db");
    let err = calibrate(&db, Framework::Cheetah).unwrap_err().to_string();
    assert!(
        err.contains("at least 3 networks")
            && err.contains("has 0")
            && err.contains("deepreduce measure --framework cheetah"),
        "{err}"
    );
}

#[test]
fn crypten_bytes_follow_relus_and_masks_save_them() {
    let _serial = common::serial();
    bytes_follow_relus(Framework::Crypten);
}

#[test]
fn cheetah_bytes_follow_relus_and_masks_save_them() {
    let _serial = common::serial();
    bytes_follow_relus(Framework::Cheetah);
}

/// A trained network of the store, measured on its dataset's test images:
/// the logits revealed agree with the plaintext ones, the report is kept
/// with the run, and its layers add up to the whole.
fn measures_a_trained_run(framework: Framework) -> Report {
    let host = common::host();
    let db = common::temp_dir(&format!("measure-{}", framework.as_str())).join("runs.db");
    let run = common::trained_run(&db, &["S3", "S4"], true);
    let report = measure_alone(&host, &request(stored(&db, run), framework, 2)).unwrap();
    check_revealed(&report);
    assert_eq!(report.batch, 2);
    assert_eq!(report.input, "the first 2 test images of synthetic");
    assert_eq!(report.weights, format!("trained (run {run})"));
    assert!(report.bytes > 0 && report.rounds > 0 && report.setup_seconds > 0.0);
    // One measured Relu node per ReLU layer of the network (S3 and S4
    // thinned: one per stage).
    let row = Store::open(&db).unwrap().run(run).unwrap().unwrap();
    let network: Network = serde_json::from_value(row.network).unwrap();
    let ir_layers = analyze(&network)
        .unwrap()
        .nodes
        .iter()
        .filter(|n| n.relus > 0)
        .count();
    let relu_layers = report.layers.iter().filter(|l| l.op == "Relu").count();
    assert_eq!((relu_layers, ir_layers), (2, 2), "{:?}", report.layers);
    assert_eq!(report.relus, relus(&network));
    let layer_bytes: u64 = report.layers.iter().map(|l| l.bytes).sum();
    let off = layer_bytes.abs_diff(report.bytes) as f64 / report.bytes as f64;
    assert!(
        off < 0.02,
        "layers {layer_bytes} B, whole {} B",
        report.bytes
    );
    let kept = Store::open(&db).unwrap().measurements(run).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].framework.as_str(), kept[0].batch),
        (framework.as_str(), 2)
    );
    assert_eq!(kept[0].report, report);
    report
}

#[test]
fn crypten_measures_a_trained_run_end_to_end() {
    let _serial = common::serial();
    let report = measures_a_trained_run(Framework::Crypten);
    assert_eq!(report.framework, "crypten");
}

#[test]
fn cheetah_measures_a_trained_run_end_to_end() {
    let _serial = common::serial();
    let report = measures_a_trained_run(Framework::Cheetah);
    assert_eq!(report.protocol, "cheetah");
    assert!(report.other["setup_bytes"].as_u64().unwrap() > 0);
}
#[test]
fn a_missing_environment_names_the_command_that_makes_it() {
    let dir = common::temp_dir("measure-no-env");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deepreduce"))
        .args(["measure", "--checkpoint"])
        .arg(&dir)
        .args(["--framework", "crypten"])
        .env("DEEPREDUCE_CRYPTEN_PYTHON", dir.join("no-such-python"))
        .env("DEEPREDUCE_PLUGIN_DIR", &dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no crypten environment") && stderr.contains("setup-crypten.sh"),
        "{stderr}"
    );
}
