//! Measured private inference in the real frameworks: CrypTen and SPU's
//! Cheetah, each party its own process, over TCP on loopback. Their Python
//! environments come from `measure/setup-*.sh` (`.ci/run` makes them and
//! names them in DEEPREDUCE_CRYPTEN_PYTHON and DEEPREDUCE_SPU_PYTHON).

mod common;

use deepreduce_app::engine::budget::{Budget, DroppedAs};
use deepreduce_app::engine::export::Source;
use deepreduce_app::engine::measure::{Framework, MeasureRequest, measure};
use deepreduce_app::engine::store::Store;
use deepreduce_plugin_api::{Granularity, Network, analyze};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn request(db: &Path, run: i64, framework: Framework, batch: usize) -> MeasureRequest {
    MeasureRequest {
        source: Source::Run {
            id: run,
            db: db.to_path_buf(),
        },
        framework,
        batch,
        repeat: 1,
        dataset: None,
        timeout: Duration::from_secs(1800),
    }
}

/// ReLUs per image of stored run `run`.
fn relus(db: &Path, run: i64) -> u64 {
    let row = Store::open(db).unwrap().run(run).unwrap().unwrap();
    let net: Network = serde_json::from_value(row.network).unwrap();
    analyze(&net).unwrap().total.relus
}

/// The revealed logits agree with the plaintext forward.
fn check_revealed(report: &Value) {
    assert_eq!(report["top1_agreement"], 1.0, "{report}");
    let diff = report["max_abs_diff"].as_f64().unwrap();
    assert!(diff < 1e-2, "max |diff| {diff}");
}

#[test]
fn crypten_measures_bytes_linear_in_relus_and_reveals_the_plaintext_logits() {
    let _serial = common::serial();
    let host = common::host();
    let db = common::temp_dir("measure-crypten").join("runs.db");
    // Three culled variants of one network: S3; S3 and S4; S2, S3 and S4.
    let runs: Vec<i64> = [&["S3"][..], &["S3", "S4"], &["S2", "S3", "S4"]]
        .into_iter()
        .map(|keep| common::trained_run(&db, keep, false))
        .collect();
    let batch = 2;
    let mut points = Vec::new();
    for &run in &runs {
        let report = measure(&host, &request(&db, run, Framework::Crypten, batch)).unwrap();
        check_revealed(&report);
        assert_eq!(report["framework"], "crypten");
        let bytes = report["bytes"].as_f64().unwrap();
        points.push((relus(&db, run) as f64 * batch as f64, bytes));
        // Kept with the run.
        let kept = Store::open(&db).unwrap().measurements(run).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].framework.as_str(), kept[0].batch), ("crypten", 2));
        assert_eq!(kept[0].report, report);
    }
    let slope = |a: (f64, f64), b: (f64, f64)| (b.1 - a.1) / (b.0 - a.0);
    let (first, second) = (slope(points[0], points[1]), slope(points[1], points[2]));
    assert!(first > 0.0, "bytes grow with ReLUs: {points:?}");
    assert!(
        (first - second).abs() / first < 0.02,
        "one cost per ReLU: {first} and {second} bytes per ReLU ({points:?})"
    );

    // The second network with a pixel mask keeping half its ReLUs: the
    // export lets only kept elements into a ReLU, so the bytes drop by the
    // dropped ReLUs times that cost.
    let parent = relus(&db, runs[1]);
    let mut spec = common::small_resnet("synthetic", 4);
    spec.keep = Some(vec!["S3".into(), "S4".into()]);
    spec.budget = Some(Budget {
        relus: parent / 2,
        granularity: Granularity::Pixel,
        dropped: DroppedAs::Identity,
    });
    let masked = common::trained_run_of(&db, &spec);
    assert_eq!(relus(&db, masked), parent / 2);
    let report = measure(&host, &request(&db, masked, Framework::Crypten, batch)).unwrap();
    check_revealed(&report);
    let saved = points[1].1 - report["bytes"].as_f64().unwrap();
    let expected = (parent - parent / 2) as f64 * batch as f64 * first;
    assert!(
        (saved - expected).abs() / expected < 0.02,
        "the mask saved {saved} bytes, {expected} expected"
    );
}

#[test]
fn cheetah_measures_a_trained_network_end_to_end() {
    let _serial = common::serial();
    let host = common::host();
    let db = common::temp_dir("measure-cheetah").join("runs.db");
    let run = common::trained_run(&db, &["S3", "S4"], true);
    let report = measure(&host, &request(&db, run, Framework::Cheetah, 1)).unwrap();
    check_revealed(&report);
    assert_eq!(report["protocol"], "cheetah");
    for key in ["bytes", "rounds", "setup_bytes"] {
        assert!(report[key].as_u64().unwrap() > 0, "{key}: {report}");
    }
    assert!(report["setup_seconds"].as_f64().unwrap() > 0.0);
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
