//! The DeepReDuce pipeline end to end on the built-in data with tiny
//! budgets: its structure, exact ReLU counts, the Pareto set, the store, and
//! crash-safe resume after SIGKILL.

mod common;

use deepreduce_app::engine::backend::{BackendChoice, select};
use deepreduce_app::engine::pipeline::results::results;
use deepreduce_app::engine::pipeline::{PipelineConfig, Runner, create};
use deepreduce_app::engine::store::{PipelineStatus, RunRole, RunRow, RunStatus, Store};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Per-stage ReLUs of resnet18 with one block per stage and width 4 at 32x32:
/// two ReLU layers of 4x32x32, 8x16x16, 16x8x8 and 32x4x4.
const STAGE_RELUS: [(&str, u64); 4] = [("S1", 8192), ("S2", 4096), ("S3", 2048), ("S4", 1024)];

fn config(epochs: usize) -> PipelineConfig {
    common::pipeline_config(epochs)
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
        .filter(|r| r.role.as_str() == role)
        .collect()
}

fn check_complete(db: &Path, id: i64) {
    let store = Store::open(db).unwrap();
    assert_eq!(
        store.pipeline(id).unwrap().unwrap().status,
        PipelineStatus::Completed
    );
    assert_eq!(runs_of(&store, id, "baseline").len(), 1);
    let stages: Vec<String> = runs_of(&store, id, "criticality")
        .iter()
        .map(|r| r.stage.clone().unwrap())
        .collect();
    assert_eq!(stages, ["S1", "S2", "S3", "S4"], "D criticality runs");
    let candidates = runs_of(&store, id, "candidate");
    assert_eq!(candidates.len(), 5 * 3, "5 x (D-1) candidates");
    for run in store.runs(Some(id)).unwrap() {
        assert_eq!(run.status, RunStatus::Completed, "{}", run.description);
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
    // The frontier is that of the networks that learned. With these budgets
    // often none does: then every one is marked and none is on it.
    assert!(r.networks.iter().all(|n| n.learned.is_some()), "all judged");
    let learned: Vec<_> = r
        .networks
        .iter()
        .filter(|n| n.learned == Some(true))
        .collect();
    let front: Vec<_> = learned.iter().filter(|n| n.pareto).collect();
    assert_eq!(front.is_empty(), learned.is_empty());
    assert!(
        r.networks
            .iter()
            .all(|n| n.learned == Some(true) || !n.pareto)
    );
    for f in &front {
        let (relus, acc) = (f.relus, f.accuracy.unwrap());
        assert!(
            !learned.iter().any(|n| n.relus <= relus
                && n.accuracy.unwrap() >= acc
                && (n.relus < relus || n.accuracy.unwrap() > acc)),
            "{} is dominated",
            f.description
        );
    }
    for n in learned.iter().filter(|n| !n.pareto) {
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
    let least = r
        .criticality
        .iter()
        .find(|c| c.learned == Some(true))
        .unwrap_or(&r.criticality[0]);
    assert_eq!(
        least.criticality, 0.0,
        "the least critical stage that learned (of all, if none did) has C = 0"
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
            .any(|r| r.role == RunRole::Candidate && r.status == RunStatus::Completed);
        let running = runs
            .iter()
            .find(|r| r.status == RunStatus::Running && !store.epochs(r.id).unwrap().is_empty());
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
        .filter(|r| r.status == RunStatus::Completed)
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

/// Records a finished run of `pipeline` by hand, as if trained on 256
/// images of the built-in data and tested on 200, with its last epoch.
fn finished_run(
    store: &Store,
    pipeline: i64,
    (role, stage): (&str, Option<&str>),
    relus: u64,
    (test, train): (f64, f64),
) -> i64 {
    use deepreduce_app::engine::store::{NewRun, RunResult};
    use deepreduce_app::engine::train::EpochMetrics;
    use serde_json::json;
    let id = store
        .plan_run(&NewRun {
            pipeline_id: Some(pipeline),
            key: format!("{role}:{relus}"),
            role: RunRole::parse(role).unwrap(),
            stage: stage.map(Into::into),
            description: format!("{role} {relus}"),
            network: json!({}),
            config: json!({ "train": config(1).train, "kd": true }),
            plugins: json!([]),
            seed: 42,
            relus,
        })
        .unwrap();
    store
        .start_run(id, "flex (CPU)", &store.path().with_extension("runs"))
        .unwrap();
    let last = EpochMetrics {
        epoch: 1,
        train_loss: 2.3,
        train_accuracy: train,
        test_accuracy: test,
        lr: 0.05,
        seconds: 1.0,
        checkpoint: None,
    };
    store.record_epoch(id, &last).unwrap();
    let result = RunResult {
        status: RunStatus::Completed,
        accuracy: Some(test),
        latency: None,
        inference_ms: None,
        // A completed run has weights (the file is not read here).
        weights: Some(
            store
                .path()
                .with_extension("runs")
                .join(format!("{id}/model.bpk")),
        ),
        error: None,
    };
    store.finish_run(id, &result).unwrap();
    id
}

#[test]
fn results_mark_networks_at_chance_and_keep_them_out_of_frontier_and_criticality() {
    let db = common::temp_dir("pipeline-at-chance").join("runs.db");
    let store = Store::open(&db).unwrap();
    let id = create(&store, &config(1)).unwrap();
    // 10 classes; 200 test and 256 train images: chance ceilings 16.36%
    // and 15.63%. The smallest network and S3's stage-only network stayed
    // at chance.
    let at_chance = (10.1, 10.0);
    let networks = [
        ("baseline", 30_000, (60.0, 70.0)),
        ("candidate", 10_000, (50.0, 55.0)),
        ("candidate", 2_000, at_chance),
    ];
    for (role, relus, accuracy) in networks {
        finished_run(&store, id, (role, None), relus, accuracy);
    }
    let stages = [
        ("S1", 8192, (40.0, 45.0)),
        ("S2", 4096, (45.0, 50.0)),
        ("S3", 2048, at_chance),
        ("S4", 1024, (35.0, 40.0)),
    ];
    for (stage, relus, accuracy) in stages {
        finished_run(&store, id, ("criticality", Some(stage)), relus, accuracy);
    }

    let r = results(&store, id).unwrap().unwrap();
    let learned: Vec<_> = r.networks.iter().map(|n| (n.learned, n.pareto)).collect();
    assert_eq!(
        learned,
        [(Some(true), true), (Some(true), true), (Some(false), false)],
        "fewest ReLUs, yet off the frontier"
    );
    let order: Vec<_> = r
        .criticality
        .iter()
        .map(|c| (c.stage.as_str(), c.learned))
        .collect();
    assert_eq!(
        order,
        [
            ("S3", Some(false)),
            ("S4", Some(true)),
            ("S1", Some(true)),
            ("S2", Some(true))
        ]
    );
    assert!(
        r.criticality[0].criticality < 0.0,
        "below every stage that learned"
    );
    assert_eq!(
        r.criticality[1].criticality, 0.0,
        "S4 is the least critical that learned"
    );

    let id = id.to_string();
    let cli = |format: &[&str]| {
        let mut args = vec!["results", &id, "--db", db.to_str().unwrap()];
        args.extend(format);
        let out = common::cli(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&cli(&["--json"])).unwrap();
    assert_eq!(json["networks"][2]["learned"], false);
    assert_eq!(json["networks"][2]["pareto"], false);
    assert_eq!(json["criticality"][0]["learned"], false);
    let csv = cli(&["--csv"]);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "learned").unwrap();
    assert_eq!(last[column], "false", "{csv}");
    let table = cli(&[]);
    assert!(
        table.contains(
            "warning: stage-only networks that did not learn (accuracy at chance): S3; \
             their criticality is unreliable"
        ),
        "{table}"
    );
    let smallest = table
        .lines()
        .find(|l| l.starts_with("candidate 2000"))
        .unwrap();
    assert!(smallest.contains(" NO "), "{table}");
}
