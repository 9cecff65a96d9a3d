//! The run store keeps everything it was told across reopens, crashes and
//! concurrent connections, and refuses files it cannot read.

use deepreduce_app::engine::store::{
    NewRun, PipelineStatus, RunResult, RunRole, RunStatus, Store, rfc3339_utc, run_status,
};
use deepreduce_app::engine::train::{EpochMetrics, Status};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// A fresh folder for one test, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("deepreduce-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    /// The store's path, in a subfolder that does not exist yet, so that
    /// `open` has to create it.
    fn db(&self) -> PathBuf {
        self.0.join("runs").join("store.sqlite")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ir() -> Value {
    json!({
        "name": "resnet18-cifar",
        "input": {"channels": 3, "height": 32, "width": 32},
        "stages": [
            {"name": "S1", "blocks": [{"op": "conv", "out": 64, "kernel": 3, "relu": true}]},
            {"name": "S2", "blocks": [{"op": "conv", "out": 128, "kernel": 3, "relu": false}]}
        ],
        "head": {"classes": 10},
        "alpha": 0.5,
        "notes": null
    })
}

fn new_run(pipeline_id: Option<i64>, key: &str) -> NewRun {
    NewRun {
        pipeline_id,
        key: key.to_owned(),
        role: RunRole::Candidate,
        stage: Some("S2".to_owned()),
        description: format!("run {key}"),
        network: ir(),
        config: json!({"epochs": 3, "lr": 0.05, "schedule": "cosine"}),
        plugins: json!([{"id": "org.deepreduce.thin", "version": "0.1.0"}]),
        seed: u64::MAX - 7,
        relus: 557_056,
    }
}

fn epoch(n: usize, acc: f64) -> EpochMetrics {
    EpochMetrics {
        epoch: n,
        train_loss: 1.0 / n as f64,
        train_accuracy: acc - 5.0,
        test_accuracy: acc,
        lr: 0.05,
        seconds: 1.5,
        checkpoint: Some(PathBuf::from(format!("/ckpt/epoch-{n}"))),
    }
}

fn sql<T: rusqlite::types::FromSql>(path: &Path, query: &str) -> T {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(query, [], |r| r.get(0)).unwrap()
}

#[test]
fn pipelines_round_trip_newest_first_with_statuses() {
    let scratch = Scratch::new("pipelines");
    let path = scratch.db();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.path(), path);
    assert!(store.pipelines().unwrap().is_empty());

    let config = json!({"budget": [0.5, 0.25], "kd": {"temperature": 4.0}});
    let first = store
        .create_pipeline("resnet18", "cifar10", &config)
        .unwrap();
    let second = store
        .create_pipeline("vgg16", "fashion-mnist", &json!({}))
        .unwrap();

    let row = store.pipeline(first).unwrap().unwrap();
    assert_eq!(
        (row.id, row.arch.as_str(), row.dataset.as_str()),
        (first, "resnet18", "cifar10")
    );
    assert_eq!(row.config, config);
    assert_eq!(row.status, PipelineStatus::Running);
    assert_eq!(row.finished_at, None);
    assert!(
        row.created_at.ends_with('Z') && row.created_at.len() == 24,
        "{}",
        row.created_at
    );

    let ids: Vec<i64> = store.pipelines().unwrap().iter().map(|p| p.id).collect();
    assert_eq!(ids, [second, first]);

    store
        .set_pipeline_status(first, PipelineStatus::Completed)
        .unwrap();
    let done = store.pipeline(first).unwrap().unwrap();
    assert_eq!(done.status, PipelineStatus::Completed);
    assert!(done.finished_at.as_deref().unwrap() >= done.created_at.as_str());
    // A resumed pipeline runs again: no end time.
    store
        .set_pipeline_status(first, PipelineStatus::Running)
        .unwrap();
    assert_eq!(store.pipeline(first).unwrap().unwrap().finished_at, None);
    store
        .set_pipeline_status(second, PipelineStatus::Cancelled)
        .unwrap();
    assert!(
        store
            .pipeline(second)
            .unwrap()
            .unwrap()
            .finished_at
            .is_some()
    );

    let err = store
        .set_pipeline_status(999, PipelineStatus::Failed)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("999") && err.contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(store.pipeline(999).unwrap(), None);
}

#[test]
fn runs_round_trip_plan_is_idempotent_and_ordered() {
    let scratch = Scratch::new("runs");
    let store = Store::open(&scratch.db()).unwrap();
    let p = store
        .create_pipeline("resnet18", "cifar10", &json!({}))
        .unwrap();
    let other = store
        .create_pipeline("resnet18", "cifar10", &json!({}))
        .unwrap();

    let baseline = NewRun {
        role: RunRole::Baseline,
        stage: None,
        ..new_run(Some(p), "baseline")
    };
    let b = store.plan_run(&baseline).unwrap();
    let c = store
        .plan_run(&new_run(Some(p), "candidate:S2+S3:thin:alpha0.5"))
        .unwrap();
    let crit = store.plan_run(&new_run(Some(p), "criticality:S2")).unwrap();
    // Same key in another pipeline is another run.
    let elsewhere = store.plan_run(&new_run(Some(other), "baseline")).unwrap();
    assert!(b < c && c < crit && elsewhere != b);

    // Re-planning returns the same id and changes nothing.
    let replanned = NewRun {
        description: "changed".to_owned(),
        ..new_run(Some(p), "candidate:S2+S3:thin:alpha0.5")
    };
    let before = store.run(c).unwrap().unwrap();
    assert_eq!(store.plan_run(&replanned).unwrap(), c);
    assert_eq!(store.run(c).unwrap().unwrap(), before);

    let keys: Vec<String> = store
        .runs(Some(p))
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(
        keys,
        [
            "baseline",
            "candidate:S2+S3:thin:alpha0.5",
            "criticality:S2"
        ]
    );

    let row = store
        .run_by_key(p, "candidate:S2+S3:thin:alpha0.5")
        .unwrap()
        .unwrap();
    let want = new_run(Some(p), "candidate:S2+S3:thin:alpha0.5");
    assert_eq!(row.id, c);
    assert_eq!(row.pipeline_id, Some(p));
    assert_eq!(row.role, RunRole::Candidate);
    assert_eq!(row.stage.as_deref(), Some("S2"));
    assert_eq!(row.description, want.description);
    assert_eq!(row.network, ir());
    // Key order survives too (serde_json's preserve_order).
    assert_eq!(row.network.to_string(), ir().to_string());
    assert_eq!(row.config, want.config);
    assert_eq!(row.plugins, want.plugins);
    assert_eq!((row.seed, row.relus), (u64::MAX - 7, 557_056));
    assert_eq!(row.status, RunStatus::Planned);
    assert_eq!(row.backend, None);
    assert_eq!(
        (row.accuracy, &row.latency, row.inference_ms),
        (None, &None, None)
    );
    assert_eq!(
        (&row.checkpoint_dir, &row.weights, &row.error),
        (&None, &None, &None)
    );
    assert_eq!((&row.started_at, &row.finished_at), (&None, &None));
    assert_eq!(store.run_by_key(p, "nope").unwrap(), None);
    assert_eq!(store.run(12345).unwrap(), None);

    // Standalone runs: each plan is a new run, listed under None.
    let single = NewRun {
        role: RunRole::Single,
        ..new_run(None, "single")
    };
    let s1 = store.plan_run(&single).unwrap();
    let s2 = store.plan_run(&single).unwrap();
    assert_ne!(s1, s2);
    let ids: Vec<i64> = store.runs(None).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, [s1, s2]);

    // A run in a pipeline that does not exist violates the foreign key.
    assert!(store.plan_run(&new_run(Some(777), "x")).is_err());
}

#[test]
fn start_and_finish_record_the_lifecycle() {
    let scratch = Scratch::new("lifecycle");
    let store = Store::open(&scratch.db()).unwrap();
    let id = store.plan_run(&new_run(None, "single")).unwrap();
    store
        .start_run(id, "wgpu", Path::new("/runs/1/ckpt"))
        .unwrap();
    let started = store.run(id).unwrap().unwrap();
    assert_eq!(started.status, RunStatus::Running);
    assert_eq!(started.backend.as_deref(), Some("wgpu"));
    assert_eq!(started.checkpoint_dir, Some(PathBuf::from("/runs/1/ckpt")));
    let first_start = started.started_at.clone().unwrap();

    let failure = RunResult {
        status: RunStatus::Failed,
        accuracy: None,
        latency: None,
        inference_ms: None,
        weights: None,
        error: Some("out of memory".to_owned()),
    };
    store.finish_run(id, &failure).unwrap();
    let failed = store.run(id).unwrap().unwrap();
    assert_eq!(
        (failed.status.as_str(), failed.error.as_deref()),
        ("failed", Some("out of memory"))
    );
    assert!(failed.finished_at.is_some());

    // Resume: the first start time stays, the old ending is cleared.
    std::thread::sleep(Duration::from_millis(5));
    store
        .start_run(id, "flex", Path::new("/runs/1/ckpt"))
        .unwrap();
    let resumed = store.run(id).unwrap().unwrap();
    assert_eq!(resumed.started_at.as_deref(), Some(first_start.as_str()));
    assert_eq!(resumed.backend.as_deref(), Some("flex"));
    assert_eq!(
        (
            resumed.status.as_str(),
            &resumed.error,
            &resumed.finished_at
        ),
        ("running", &None, &None)
    );

    let latency = json!({"online_ms": 412.5, "communication_mb": 96.25, "per_stage": [1, 2, 3]});
    let done = RunResult {
        status: RunStatus::Completed,
        accuracy: Some(91.25),
        latency: Some(latency.clone()),
        inference_ms: Some(3.5),
        weights: Some(PathBuf::from("/runs/1/final.mpk")),
        error: None,
    };
    store.finish_run(id, &done).unwrap();
    let row = store.run(id).unwrap().unwrap();
    assert_eq!(row.status, RunStatus::Completed);
    assert_eq!(row.accuracy, Some(91.25));
    assert_eq!(row.latency, Some(latency));
    assert_eq!(row.inference_ms, Some(3.5));
    assert_eq!(row.weights, Some(PathBuf::from("/runs/1/final.mpk")));
    assert!(row.finished_at.as_deref().unwrap() >= first_start.as_str());

    let planned = RunResult {
        status: RunStatus::Planned,
        ..done.clone()
    };
    let err = store.finish_run(id, &planned).unwrap_err().to_string();
    assert!(
        err.contains("finish a run") && err.contains("cannot end as planned"),
        "{err}"
    );
    assert!(
        store
            .finish_run(4242, &done)
            .unwrap_err()
            .to_string()
            .contains("4242")
    );
    assert!(store.start_run(4242, "wgpu", Path::new("/x")).is_err());

    assert_eq!(run_status(&Status::Completed), RunStatus::Completed);
    assert_eq!(
        run_status(&Status::Cancelled { epoch: 2 }),
        RunStatus::Cancelled
    );
    let diverged = Status::Diverged {
        epoch: 1,
        batch: 3,
        loss: f64::NAN,
    };
    assert_eq!(run_status(&diverged), RunStatus::Diverged);
}

#[test]
fn epochs_are_ordered_and_replaced_by_number() {
    let scratch = Scratch::new("epochs");
    let store = Store::open(&scratch.db()).unwrap();
    let id = store.plan_run(&new_run(None, "single")).unwrap();
    let other = store.plan_run(&new_run(None, "single")).unwrap();
    assert!(store.epochs(id).unwrap().is_empty());

    for n in [2, 1, 3] {
        store.record_epoch(id, &epoch(n, 50.0 + n as f64)).unwrap();
    }
    store.record_epoch(other, &epoch(1, 10.0)).unwrap();
    // Epoch 2 trained again after a resume from the epoch-1 checkpoint.
    let retrained = EpochMetrics {
        checkpoint: None,
        ..epoch(2, 77.0)
    };
    store.record_epoch(id, &retrained).unwrap();

    let got = store.epochs(id).unwrap();
    assert_eq!(got, [epoch(1, 51.0), retrained, epoch(3, 53.0)]);
    assert_eq!(store.epochs(other).unwrap(), [epoch(1, 10.0)]);

    // SQLite stores NaN as NULL; it comes back as NaN rather than an error.
    let nan = EpochMetrics {
        train_loss: f64::NAN,
        ..epoch(4, 1.0)
    };
    store.record_epoch(id, &nan).unwrap();
    assert!(store.epochs(id).unwrap()[3].train_loss.is_nan());

    // Epochs of a run that does not exist violate the foreign key.
    let err = store
        .record_epoch(999, &epoch(1, 1.0))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("record an epoch") && err.contains("FOREIGN KEY"),
        "{err}"
    );
}

#[test]
fn wal_schema_version_and_reopen() {
    let scratch = Scratch::new("reopen");
    let path = scratch.db();
    let (p, r) = {
        let store = Store::open(&path).unwrap();
        let p = store
            .create_pipeline("resnet18", "cifar10", &json!({"a": 1}))
            .unwrap();
        let r = store.plan_run(&new_run(Some(p), "baseline")).unwrap();
        store.record_epoch(r, &epoch(1, 40.0)).unwrap();
        (p, r)
    };
    assert_eq!(sql::<String>(&path, "PRAGMA journal_mode"), "wal");
    assert_eq!(sql::<i64>(&path, "PRAGMA user_version"), 6);

    let store = Store::open(&path).unwrap();
    assert_eq!(store.pipeline(p).unwrap().unwrap().config, json!({"a": 1}));
    assert_eq!(store.run_by_key(p, "baseline").unwrap().unwrap().id, r);
    assert_eq!(store.epochs(r).unwrap(), [epoch(1, 40.0)]);
    assert_eq!(sql::<i64>(&path, "PRAGMA user_version"), 6);
}

#[test]
fn a_second_connection_reads_while_the_first_writes() {
    let scratch = Scratch::new("readers");
    let path = scratch.db();
    let worker = Store::open(&path).unwrap();
    let p = worker
        .create_pipeline("resnet18", "cifar10", &json!({}))
        .unwrap();
    let r = worker.plan_run(&new_run(Some(p), "baseline")).unwrap();
    worker.start_run(r, "wgpu", Path::new("/ckpt")).unwrap();
    worker.record_epoch(r, &epoch(1, 30.0)).unwrap();

    let gui = Store::open(&path).unwrap();
    assert_eq!(gui.runs(Some(p)).unwrap()[0].status, RunStatus::Running);
    assert_eq!(gui.epochs(r).unwrap().len(), 1);
    worker.record_epoch(r, &epoch(2, 35.0)).unwrap();
    assert_eq!(gui.epochs(r).unwrap().len(), 2);

    // Several writers on their own connections at once: the busy timeout
    // makes them wait for each other instead of failing.
    let runs: Vec<i64> = (0..4)
        .map(|i| {
            worker
                .plan_run(&new_run(Some(p), &format!("candidate:{i}")))
                .unwrap()
        })
        .collect();
    let threads: Vec<_> = runs
        .iter()
        .map(|&run| {
            let path = path.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path).unwrap();
                for n in 1..=40 {
                    store.record_epoch(run, &epoch(n, 1.0)).unwrap();
                    store.runs(Some(p)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for &run in &runs {
        assert_eq!(gui.epochs(run).unwrap().len(), 40);
    }

    // One Store shared by threads: its statements take turns.
    std::thread::scope(|scope| {
        for &run in &runs {
            let worker = &worker;
            scope.spawn(move || {
                for n in 41..=60 {
                    worker.record_epoch(run, &epoch(n, 2.0)).unwrap();
                }
            });
        }
    });
    for run in runs {
        assert_eq!(gui.epochs(run).unwrap().len(), 60);
    }
}

const WRITER_ENV: &str = "DEEPREDUCE_STORE_WRITER_DB";

/// Not a test on its own: the child process of `a_killed_writer_loses_no_committed_epoch`.
/// It records epochs as fast as it can and reports each one once committed.
#[test]
fn writer_child() {
    let Some(path) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&path)).unwrap();
    let p = store
        .create_pipeline("resnet18", "cifar10", &json!({}))
        .unwrap();
    let r = store.plan_run(&new_run(Some(p), "baseline")).unwrap();
    store.start_run(r, "flex", Path::new("/ckpt")).unwrap();
    let start = Instant::now();
    // Bounded so that an orphan (a parent that died first) ends by itself.
    for n in 1.. {
        if start.elapsed() > Duration::from_secs(60) {
            break;
        }
        store.record_epoch(r, &epoch(n, n as f64)).unwrap();
        println!("committed {n}");
    }
}

#[test]
fn a_killed_writer_loses_no_committed_epoch() {
    use std::os::unix::process::ExitStatusExt;
    const N: usize = 25;
    let scratch = Scratch::new("crash");
    let path = scratch.db();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut committed = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // libtest may print "test writer_child ... " before the first line.
        if let Some((_, n)) = line.split_once("committed ") {
            committed = n.parse().unwrap();
            if committed >= N {
                break;
            }
        }
    }
    // SIGKILL while the child is in the middle of writing more epochs.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        committed >= N,
        "the writer stopped after {committed} epochs: {status}"
    );
    assert_eq!(status.signal(), Some(9), "{status}");

    let store = Store::open(&path).unwrap();
    let pipeline = store.pipelines().unwrap()[0].id;
    let run = store.run_by_key(pipeline, "baseline").unwrap().unwrap().id;
    let epochs = store.epochs(run).unwrap();
    assert!(epochs.len() >= N, "{} epochs survived", epochs.len());
    for (i, e) in epochs.iter().enumerate() {
        assert_eq!(*e, epoch(i + 1, (i + 1) as f64));
    }
    // The crash leaves the run "running": that is how a resume finds it.
    assert_eq!(store.run(run).unwrap().unwrap().status, RunStatus::Running);
    assert_eq!(sql::<String>(&path, "PRAGMA integrity_check"), "ok");
}

#[test]
fn refuses_files_it_cannot_read() {
    let scratch = Scratch::new("foreign");
    let dir = &scratch.0;
    std::fs::create_dir_all(dir).unwrap();

    let garbage = dir.join("garbage.sqlite");
    let bytes: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, &bytes).unwrap();
    let err = Store::open(&garbage)
        .err()
        .expect("garbage opened")
        .to_string();
    assert!(err.contains(&garbage.display().to_string()), "{err}");
    assert!(err.contains("not a database"), "{err}");
    // Left as it was.
    assert_eq!(std::fs::read(&garbage).unwrap(), bytes);

    let newer = dir.join("newer.sqlite");
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&newer)
        .err()
        .expect("newer schema opened")
        .to_string();
    assert!(err.contains(&newer.display().to_string()), "{err}");
    assert!(err.contains("99") && err.contains("up to 6"), "{err}");
    // Refused untouched: still version 99, not switched to WAL.
    assert_eq!(sql::<i64>(&newer, "PRAGMA user_version"), 99);
    assert_eq!(sql::<String>(&newer, "PRAGMA journal_mode"), "delete");

    // Its folder cannot be created because a file is in the way.
    let blocked = garbage.join("store.sqlite");
    let err = Store::open(&blocked)
        .err()
        .expect("opened under a file")
        .to_string();
    assert!(err.contains("cannot create its folder"), "{err}");
}

#[test]
fn timestamps_are_rfc3339_utc() {
    let at = |secs: u64, ms: u64| {
        rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms))
    };
    assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
    assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
    assert_eq!(at(1_700_000_000, 999), "2023-11-14T22:13:20.999Z");
    assert_eq!(at(4_102_444_799, 0), "2099-12-31T23:59:59.000Z");
    assert_eq!(at(1_709_251_199, 0), "2024-02-29T23:59:59.000Z");
}

/// A store written before pipelines recorded their error and leases
/// existed (schema version 1) is brought up to date when opened.
#[test]
fn a_version_1_store_is_migrated_and_keeps_its_rows() {
    let scratch = Scratch::new("v1");
    let path = scratch.db();
    let p = {
        let store = Store::open(&path).unwrap();
        store
            .create_pipeline("resnet18", "cifar10", &json!({"a": 1}))
            .unwrap()
    };
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE runs DROP COLUMN job_id; ALTER TABLE runs DROP COLUMN job_state;
         ALTER TABLE runs DROP COLUMN job_reason; ALTER TABLE runs DROP COLUMN job_submissions;
         ALTER TABLE pipelines DROP COLUMN error; DROP TABLE leases;
         ALTER TABLE pipelines DROP COLUMN candidates; DROP TABLE applied;
         DROP TABLE measurements; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    assert_eq!(sql::<i64>(&path, "PRAGMA user_version"), 6);
    let row = store.pipeline(p).unwrap().unwrap();
    assert_eq!((row.config, row.error), (json!({"a": 1}), None));
    store.fail_pipeline(p, "why").unwrap();
    assert_eq!(
        store.pipeline(p).unwrap().unwrap().error.as_deref(),
        Some("why")
    );
    drop(store.acquire_lease("pipeline:1").unwrap());
}

#[test]
fn a_methods_optimizations_and_candidates_are_kept_in_order() {
    let scratch = Scratch::new("applied");
    let store = Store::open(&scratch.db()).unwrap();
    let p = store
        .create_pipeline("resnet18", "synthetic", &json!({}))
        .unwrap();
    let other = store
        .create_pipeline("resnet18", "synthetic", &json!({}))
        .unwrap();
    assert!(store.applied(p).unwrap().is_empty());
    store
        .record_applied(p, "thin", &json!({"key": "thin"}), &json!([1]))
        .unwrap();
    store
        .record_applied(p, "cull", &json!({"key": "cull"}), &json!([2]))
        .unwrap();
    // A replay records the same key again: the first answer stays.
    store
        .record_applied(p, "thin", &json!({"key": "thin"}), &json!([3]))
        .unwrap();
    store
        .record_applied(other, "thin", &json!({"key": "thin"}), &json!([4]))
        .unwrap();
    assert_eq!(
        store.applied(p).unwrap(),
        [
            (json!({"key": "thin"}), json!([1])),
            (json!({"key": "cull"}), json!([2]))
        ]
    );
    assert_eq!(store.pipeline_candidates(p).unwrap(), None);
    let answer = json!([{"key": "finetune:100", "description": "SNL"}]);
    store.set_pipeline_candidates(p, &answer).unwrap();
    assert_eq!(store.pipeline_candidates(p).unwrap(), Some(answer));
    assert!(store.set_pipeline_candidates(99, &json!([])).is_err());
}

/// A store of schema version 4 (measurements of runs only) keeps its
/// measurements when it is brought to version 5, where untrained networks
/// are measured too.
#[test]
fn a_version_4_store_keeps_its_measurements() {
    let scratch = Scratch::new("v4");
    let path = scratch.db();
    let run = {
        let store = Store::open(&path).unwrap();
        let p = store
            .create_pipeline("resnet18", "cifar10", &json!({"a": 1}))
            .unwrap();
        store.plan_run(&new_run(Some(p), "baseline")).unwrap()
    };
    let report = json!({
        "framework": "crypten", "version": "0.4.1", "protocol": "p", "security": "s",
        "batch": 2, "repeat": 1, "online_seconds": 0.5, "setup_seconds": 1.0, "bytes": 928,
        "rounds": 9, "rounds_named": "rounds", "max_abs_diff": 1e-6, "top1_agreement": 1.0,
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE runs DROP COLUMN job_id; ALTER TABLE runs DROP COLUMN job_state;
         ALTER TABLE runs DROP COLUMN job_reason; ALTER TABLE runs DROP COLUMN job_submissions;
         DROP TABLE measurements;
         CREATE TABLE measurements (
             id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
             framework TEXT NOT NULL, batch INTEGER NOT NULL, report TEXT NOT NULL,
             measured_at TEXT NOT NULL);
         PRAGMA user_version = 4;",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO measurements (run_id, framework, batch, report, measured_at)
         VALUES (?1, 'crypten', 2, ?2, '2026-11-30T00:00:00.000Z')",
        rusqlite::params![run, report.to_string()],
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    assert_eq!(sql::<i64>(&path, "PRAGMA user_version"), 6);
    let kept = store.measurements(run).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].run_id, kept[0].batch), (Some(run), 2));
    assert_eq!(kept[0].report.bytes, 928);
    assert_eq!(kept[0].network, store.run(run).unwrap().unwrap().network);
    // An untrained network's measurement keeps its own network.
    let network = json!({"name": "n"});
    store
        .record_untrained_measurement(&network, "crypten", 1, &kept[0].report)
        .unwrap();
    let all = store.measurements_in("crypten").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[1].run_id, &all[1].network), (None, &network));
}
