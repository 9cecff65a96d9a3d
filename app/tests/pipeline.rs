//! The DeepReDuce pipeline end to end on the built-in data with tiny
//! budgets: its structure, exact ReLU counts, the Pareto set, the store, and
//! crash-safe resume after SIGKILL.

mod common;

use deepreduce_app::engine::backend::{BackendChoice, select};
use deepreduce_app::engine::pipeline::results::results;
use deepreduce_app::engine::pipeline::{PipelineConfig, Runner, create};
use deepreduce_app::engine::store::{RunRow, Store};
use deepreduce_app::engine::train::{Schedule, TrainConfig};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Per-stage ReLUs of resnet18 with one block per stage and width 4 at 32x32:
/// two ReLU layers of 4x32x32, 8x16x16, 16x8x8 and 32x4x4.
const STAGE_RELUS: [(&str, u64); 4] = [("S1", 8192), ("S2", 4096), ("S3", 2048), ("S4", 1024)];

fn config(epochs: usize) -> PipelineConfig {
    PipelineConfig {
        arch: "resnet18".into(),
        dataset: "synthetic".into(),
        blocks: Some(vec![1, 1, 1, 1]),
        width: Some(4),
        train: TrainConfig {
            epochs,
            batch_size: 64,
            lr: 0.05,
            schedule: Schedule::Constant,
            subset: Some(256),
            test_subset: Some(200),
            ..TrainConfig::default()
        },
        criticality_without_kd: false,
        extra_plugins: vec![],
        kd: true,
        jobs: 1,
    }
}

/// The ReLUs a description such as "S2*^RT + S3*^RT, alpha 0.5, rho 0.5" implies.
fn implied_relus(description: &str) -> u64 {
    let mut parts = description.split(", ");
    let stages = parts.next().unwrap();
    let mut total: u64 = stages
        .split(" + ")
        .map(|s| {
            let thinned = s.contains("^RT");
            let name = s.trim_end_matches("^RT").trim_end_matches('*');
            let relus = STAGE_RELUS
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{s}"))
                .1;
            if thinned { relus / 2 } else { relus }
        })
        .sum();
    for part in parts {
        match part {
            "alpha 0.5" => total /= 2,
            "rho 0.5" => total /= 4,
            other => panic!("unexpected '{other}' in '{description}'"),
        }
    }
    total
}

fn runs_of(store: &Store, id: i64, role: &str) -> Vec<RunRow> {
    store
        .runs(Some(id))
        .unwrap()
        .into_iter()
        .filter(|r| r.role == role)
        .collect()
}

fn check_complete(db: &Path, id: i64) {
    let store = Store::open(db).unwrap();
    assert_eq!(store.pipeline(id).unwrap().unwrap().status, "completed");
    assert_eq!(runs_of(&store, id, "baseline").len(), 1);
    let stages: Vec<String> = runs_of(&store, id, "criticality")
        .iter()
        .map(|r| r.stage.clone().unwrap())
        .collect();
    assert_eq!(stages, ["S1", "S2", "S3", "S4"], "D criticality runs");
    let candidates = runs_of(&store, id, "candidate");
    assert_eq!(candidates.len(), 5 * 3, "5 x (D-1) candidates");
    for run in store.runs(Some(id)).unwrap() {
        assert_eq!(run.status, "completed", "{}", run.description);
        assert!(
            run.accuracy.is_some() && run.weights.as_ref().is_some_and(|w| w.exists()),
            "{}",
            run.description
        );
        assert!(!store.epochs(run.id).unwrap().is_empty());
    }
    for c in &candidates {
        assert_eq!(c.relus, implied_relus(&c.description), "{}", c.description);
    }
    let r = results(&store, id).unwrap().unwrap();
    let front: Vec<_> = r.networks.iter().filter(|n| n.pareto).collect();
    assert!(!front.is_empty());
    for f in &front {
        let (relus, acc) = (f.relus, f.accuracy.unwrap());
        assert!(
            !r.networks.iter().any(|n| n.relus <= relus
                && n.accuracy.unwrap() >= acc
                && (n.relus < relus || n.accuracy.unwrap() > acc)),
            "{} is dominated",
            f.description
        );
    }
    for n in r.networks.iter().filter(|n| !n.pareto) {
        assert!(
            front
                .iter()
                .any(|f| f.relus <= n.relus && f.accuracy >= n.accuracy),
            "{} is not dominated",
            n.description
        );
    }
    assert!(
        r.networks
            .iter()
            .all(|n| n.latency_seconds.is_some() && n.inference_ms_per_image.is_some())
    );
    assert_eq!(r.criticality.len(), 4);
    assert_eq!(
        r.criticality[0].criticality, 0.0,
        "the least critical stage has C = 0"
    );
}

#[test]
fn the_full_pipeline_has_the_structure_of_the_method() {
    let db = common::temp_dir("pipeline").join("runs.db");
    let store = Store::open(&db).unwrap();
    let id = create(&store, &config(1)).unwrap();
    let host = common::host();
    let backend = select(BackendChoice::Flex);
    let runner = Runner {
        host: &host,
        store_path: db.clone(),
        backend: &backend,
        events: None,
        cancel: None,
    };
    runner.run(id).unwrap();
    check_complete(&db, id);

    // Running it again retrains nothing.
    let before: Vec<_> = store
        .runs(Some(id))
        .unwrap()
        .iter()
        .map(|r| r.finished_at.clone())
        .collect();
    runner.run(id).unwrap();
    let after: Vec<_> = store
        .runs(Some(id))
        .unwrap()
        .iter()
        .map(|r| r.finished_at.clone())
        .collect();
    assert_eq!(before, after);

    let out = common::cli(&[
        "results",
        &id.to_string(),
        "--db",
        db.to_str().unwrap(),
        "--csv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        csv.lines().count(),
        1 + 1 + 15,
        "header, baseline, candidates:\n{csv}"
    );
    assert!(
        csv.contains("\"S2^RT + S3^RT + S4^RT, alpha 0.5\"") || csv.contains("^RT"),
        "{csv}"
    );
}

/// `deepreduce pipeline --resume ID --db DB --backend flex`, not yet started.
fn resume(id: i64, db: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deepreduce"));
    command
        .args([
            "pipeline",
            "--resume",
            &id.to_string(),
            "--backend",
            "flex",
            "--db",
        ])
        .arg(db);
    command
}

#[test]
fn a_killed_pipeline_resumes_without_retraining_finished_runs() {
    let db = common::temp_dir("pipeline-kill").join("runs.db");
    let id = create(&Store::open(&db).unwrap(), &config(2)).unwrap();
    let mut child = resume(id, &db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a candidate has finished and another is between epochs.
    let store = Store::open(&db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    let interrupted = loop {
        assert!(Instant::now() < deadline, "the pipeline made no progress");
        std::thread::sleep(Duration::from_millis(100));
        let runs = store.runs(Some(id)).unwrap();
        let done = runs
            .iter()
            .any(|r| r.role == "candidate" && r.status == "completed");
        let running = runs
            .iter()
            .find(|r| r.status == "running" && !store.epochs(r.id).unwrap().is_empty());
        if let (true, Some(r)) = (done, running) {
            break r.clone();
        }
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let finished: Vec<(i64, Option<String>, usize)> = store
        .runs(Some(id))
        .unwrap()
        .iter()
        .filter(|r| r.status == "completed")
        .map(|r| {
            (
                r.id,
                r.finished_at.clone(),
                store.epochs(r.id).unwrap().len(),
            )
        })
        .collect();
    let epochs_before = store.epochs(interrupted.id).unwrap();

    let out = resume(id, &db).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: resuming after epoch {}",
            interrupted.description,
            epochs_before.len()
        )),
        "{stderr}"
    );
    for (run, finished_at, epochs) in finished {
        let row = store.run(run).unwrap().unwrap();
        assert_eq!(
            row.finished_at, finished_at,
            "{} was retrained",
            row.description
        );
        assert_eq!(store.epochs(run).unwrap().len(), epochs);
    }
    assert_eq!(
        store.epochs(interrupted.id).unwrap()[..epochs_before.len()],
        epochs_before[..],
        "kept epochs"
    );
    check_complete(&db, id);
}
