//! Bad input and unlucky stops (issue 12): nothing lost, nothing stuck, no
//! crash. Absurd flags are refused before anything is stored; a run killed
//! between its last checkpoint and its end completes with its accuracy on
//! resume; two processes never run one pipeline; the store names its
//! damage and stops writing; stored paths work from any folder.

mod common;

use deepreduce_app::engine::backend::{BackendChoice, select};
use deepreduce_app::engine::pipeline::{PipelineConfig, Runner, create};
use deepreduce_app::engine::store::{NewRun, PipelineStatus, RunRole, RunRow, RunStatus, Store};
use deepreduce_app::engine::train::TrainConfig;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `deepreduce ARGS` fails with a message containing `expected`, without
/// a panic.
fn refused(args: &[&str], expected: &str) {
    let out = common::cli(args);
    let text = stderr(&out);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(text.contains(expected), "{args:?}: {text}");
    assert!(!text.contains("panicked"), "{args:?}: {text}");
}

#[test]
fn absurd_flags_are_refused_with_the_reason() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--alpha", "nan"],
            "alpha must be a number in (0, 1], got NaN",
        ),
        (&["--rho", "inf"], "rho must be a number in (0, 1], got inf"),
        (&["--alpha", "0"], "alpha must be a number in (0, 1], got 0"),
        (
            &["--width", "100000"],
            "width 100000 is above the maximum 65536",
        ),
        (
            &["--blocks", "1000000,1,1,1"],
            "blocks: stage S1 has 1000000 blocks; at most 1000 per stage",
        ),
    ];
    for (extra, expected) in cases {
        refused(
            &[&["count", "--arch", "resnet18"][..], extra].concat(),
            expected,
        );
    }
    // Within the plugin's limits but far beyond this machine's memory.
    refused(
        &[
            "train",
            "--arch",
            "resnet18",
            "--width",
            "60000",
            "--epochs",
            "1",
            "--backend",
            "flex",
        ],
        "training this network needs at least",
    );
}

#[test]
fn a_pipeline_with_meaningless_training_settings_is_never_stored() {
    let db = common::temp_dir("refused-settings").join("runs.db");
    let db_arg = db.to_str().unwrap();
    let cases = [
        (
            ["--lr=nan", ""],
            "the learning rate must be a positive number, got NaN",
        ),
        (
            ["--lr=-1", ""],
            "the learning rate must be a positive number, got -1",
        ),
        (["--subset=0", ""], "the subset must be at least 1 image"),
        (
            ["--test-subset=0", ""],
            "the test subset must be at least 1 image",
        ),
    ];
    for (extra, expected) in cases {
        let args = [
            &["pipeline", "--arch", "resnet18", "--db", db_arg][..],
            &extra[..1],
        ]
        .concat();
        refused(&args, expected);
    }
    assert!(Store::open(&db).unwrap().pipelines().unwrap().is_empty());
}

#[test]
fn a_stored_configuration_that_cannot_be_read_fails_its_pipeline_with_the_reason() {
    let db = common::temp_dir("bad-config").join("runs.db");
    let store = Store::open(&db).unwrap();
    // What `--lr nan` used to store: JSON has no NaN, serde wrote null.
    let mut config = serde_json::to_value(small_pipeline()).unwrap();
    config["train"]["lr"] = serde_json::Value::Null;
    let id = store
        .create_pipeline("resnet18", "synthetic", &config)
        .unwrap();
    let host = common::host();
    let backend = select(BackendChoice::Flex);
    let runner = Runner {
        host: &host,
        store_path: db.clone(),
        backend: &backend,
        events: None,
        cancel: None,
    };
    let err = runner.run(id).unwrap_err().to_string();
    assert!(err.contains("unreadable"), "{err}");
    let row = store.pipeline(id).unwrap().unwrap();
    assert_eq!(row.status, PipelineStatus::Failed);
    assert_eq!(row.error.as_deref(), Some(err.as_str()));
}

/// A standalone run that cannot train: the error is returned and the run
/// is recorded `failed` with it, never left planned or running.
fn fails_with_its_reason(db: &Path, id: i64, expected: &str) {
    let host = common::host();
    let backend = select(BackendChoice::Flex);
    let runner = Runner {
        host: &host,
        store_path: db.to_path_buf(),
        backend: &backend,
        events: None,
        cancel: None,
    };
    let err = runner.run_single(id).unwrap_err().to_string();
    assert!(err.contains(expected), "{err}");
    let row = Store::open(db).unwrap().run(id).unwrap().unwrap();
    assert_eq!(row.status, RunStatus::Failed);
    assert_eq!(row.error.as_deref(), Some(err.as_str()));
    assert_eq!((row.accuracy, row.weights), (None, None));
}

#[test]
fn a_run_that_cannot_train_is_failed_with_the_reason() {
    use deepreduce_app::engine::network::build_network;
    use deepreduce_app::engine::pipeline::single::{SingleRun, plan_single};
    let db = common::temp_dir("failed-runs").join("runs.db");
    let store = Store::open(&db).unwrap();
    let host = common::host();
    let single = SingleRun {
        dataset: "synthetic".into(),
        train: TrainConfig {
            epochs: 1,
            subset: Some(64),
            test_subset: Some(64),
            ..TrainConfig::default()
        },
        teacher: None,
    };
    // Refused by the memory estimate once training starts (after the run
    // was recorded running).
    let (huge, _) = build_network(&host, &common::small_resnet("synthetic", 60_000)).unwrap();
    let id = plan_single(&store, &huge, "huge", &[], &single).unwrap();
    fails_with_its_reason(&db, id, "training this network needs at least");
    // A stored configuration that cannot be read.
    let (small, _) = build_network(&host, &common::small_resnet("synthetic", 2)).unwrap();
    let id = plan_single(&store, &small, "small", &[], &single).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE runs SET config = '{\"dataset\": 5}' WHERE id = ?1",
        [id],
    )
    .unwrap();
    fails_with_its_reason(&db, id, "configuration");
}

/// Two stages of one block at width 2: a baseline, two stage-only networks
/// and five candidates, each one epoch on 64 images.
fn small_pipeline() -> PipelineConfig {
    let base = common::pipeline_config(1);
    PipelineConfig {
        blocks: Some(vec![1, 1]),
        width: Some(2),
        train: TrainConfig {
            batch_size: 32,
            subset: Some(64),
            test_subset: Some(64),
            ..base.train.clone()
        },
        ..base
    }
}

/// `deepreduce pipeline --resume ID --db runs.db` started in `dir`: the
/// store named by a relative path.
fn resume_in(dir: &Path, id: i64) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deepreduce"));
    command
        .current_dir(dir)
        .args(["pipeline", "--resume", &id.to_string(), "--backend", "flex"])
        .args(["--db", "runs.db"])
        .env("DEEPREDUCE_PLUGIN_DIR", dir.join("no-plugins"));
    command
}

/// The epoch of the checkpoint index of run `run`, if written.
fn checkpoint_epoch(dir: &Path, run: i64) -> Option<u64> {
    let index = dir.join(format!("runs.runs/{run}/checkpoints/checkpoint.json"));
    let text = std::fs::read(index).ok()?;
    serde_json::from_slice::<serde_json::Value>(&text).ok()?["epoch"].as_u64()
}

/// Waits until some run that is not completed has written the checkpoint of
/// its last epoch, then kills `child` with SIGKILL at once; returns that run.
fn kill_after_a_last_checkpoint(child: &mut Child, store: &Store, dir: &Path, id: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        assert!(
            Instant::now() < deadline,
            "no run reached its last checkpoint"
        );
        assert!(child.try_wait().unwrap().is_none(), "the pipeline ended");
        let open: Vec<RunRow> = store
            .runs(Some(id))
            .unwrap()
            .into_iter()
            .filter(|r| r.status != RunStatus::Completed)
            .collect();
        if let Some(run) = open.iter().find(|r| checkpoint_epoch(dir, r.id) == Some(1)) {
            child.kill().unwrap();
            child.wait().unwrap();
            return run.id;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Kill -9 between a run's last checkpoint and its end, a second process on
/// the same pipeline, and a store named by a relative path.
#[test]
fn killed_after_its_last_checkpoint_a_run_completes_on_resume_and_one_process_runs_a_pipeline() {
    let _serial = common::serial();
    let dir = common::temp_dir("last-checkpoint");
    std::fs::create_dir_all(dir.join("no-plugins")).unwrap();
    let db = dir.join("runs.db");
    let store = Store::open(&db).unwrap();
    let id = create(&store, &small_pipeline()).unwrap();

    let mut first = resume_in(&dir, id)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let holder = loop {
        if let Some(holder) = store.lease_holder(&format!("pipeline:{id}")).unwrap() {
            break holder;
        }
        assert!(first.try_wait().unwrap().is_none(), "the pipeline ended");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(holder.pid, first.id());
    let second = resume_in(&dir, id).output().unwrap();
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains(&format!(
            "pipeline:{id} is being run by process {}",
            first.id()
        )),
        "{}",
        stderr(&second)
    );

    // The kill must land between the checkpoint and the run's end; when the
    // run ended first, the next run gets its chance.
    let caught = loop {
        let run = kill_after_a_last_checkpoint(&mut first, &store, &dir, id);
        if store.run(run).unwrap().unwrap().status == RunStatus::Running {
            break run;
        }
        first = resume_in(&dir, id)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    };
    // The kill may also have come before the store recorded the epoch.
    let recorded = store.epochs(caught).unwrap();

    // The killed process's lease is taken over.
    let out = resume_in(&dir, id).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let run = store.run(caught).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    let epochs = store.epochs(caught).unwrap();
    assert_eq!(epochs.len(), 1, "the checkpoint's epoch is recorded");
    assert_eq!(run.accuracy, Some(epochs[0].test_accuracy));
    if !recorded.is_empty() {
        assert_eq!(epochs, recorded, "not retrained");
    }
    assert_eq!(
        store.pipeline(id).unwrap().unwrap().status,
        PipelineStatus::Completed
    );
    assert_eq!(store.lease_holder(&format!("pipeline:{id}")).unwrap(), None);

    // Stored paths are relative to the store: every run's weights are found
    // from another working directory, and from a moved copy of the store.
    for run in store.runs(Some(id)).unwrap() {
        let weights = run.weights.unwrap();
        assert!(
            weights.is_absolute() && weights.exists(),
            "{}",
            weights.display()
        );
    }
    let moved = common::temp_dir("last-checkpoint-moved");
    copy_dir(&dir, &moved.join("store"));
    std::fs::remove_dir_all(&dir).unwrap();
    let db = moved.join("store/runs.db");
    let out = common::cli(&[
        "export",
        "--run",
        &caught.to_string(),
        "--db",
        db.to_str().unwrap(),
        "--format",
        "safetensors",
        "--out",
        moved.join("exported.safetensors").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn new_run(pipeline: i64, description: &str) -> NewRun {
    NewRun {
        pipeline_id: Some(pipeline),
        key: "baseline".into(),
        role: RunRole::Baseline,
        stage: None,
        description: description.into(),
        network: json!({}),
        config: json!({}),
        plugins: json!([]),
        seed: 1,
        relus: 10,
    }
}

/// Flips the first occurrence of `marker` in `file` to invalid UTF-8.
fn damage_text(file: &Path, marker: &[u8]) {
    let mut bytes = std::fs::read(file).unwrap();
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("the marker is in the file");
    bytes[at] = 0xFF;
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn a_corrupt_value_names_its_run_and_stops_every_write() {
    let db = common::temp_dir("corrupt-value").join("runs.db");
    let (pipeline, run) = {
        let store = Store::open(&db).unwrap();
        let p = store
            .create_pipeline("resnet18", "synthetic", &json!({}))
            .unwrap();
        (
            p,
            store.plan_run(&new_run(p, "MARKER-DESCRIPTION")).unwrap(),
        )
    };
    // Closed: the WAL is checkpointed into the file.
    damage_text(&db, b"MARKER-DESCRIPTION");

    let store = Store::open(&db).unwrap();
    let err = store.runs(Some(pipeline)).unwrap_err().to_string();
    assert!(
        err.contains(&format!("the database is corrupt (run row {run}:")),
        "{err}"
    );
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    let err = store
        .create_pipeline("resnet18", "synthetic", &json!({}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("create a pipeline: the database is corrupt"),
        "{err}"
    );
    // The CLI says the same.
    refused(
        &[
            "results",
            &pipeline.to_string(),
            "--db",
            db.to_str().unwrap(),
        ],
        &format!("run row {run}"),
    );
}

#[test]
fn a_damaged_page_is_found_when_the_store_is_opened() {
    let db = common::temp_dir("corrupt-page").join("runs.db");
    {
        let store = Store::open(&db).unwrap();
        let p = store
            .create_pipeline("resnet18", "synthetic", &json!({}))
            .unwrap();
        for i in 0..50 {
            let run = NewRun {
                key: format!("run{i}"),
                ..new_run(p, &"x".repeat(500))
            };
            store.plan_run(&run).unwrap();
        }
    }
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    assert!(bytes.len() > 4 * page);
    // The b-tree header of page 3: an invalid page type and cell count.
    bytes[2 * page..2 * page + 8].copy_from_slice(&[0x55; 8]);
    std::fs::write(&db, &bytes).unwrap();
    let err = Store::open(&db).err().expect("refused").to_string();
    assert!(
        err.contains("check the database: the database is corrupt"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "left untouched");
}

/// Where `unshare -rm` works (unprivileged user and mount namespaces), a
/// real full disk: a small tmpfs holding the store and its runs folder.
fn full_disk_available() -> bool {
    Command::new("unshare")
        .args(["-rm", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_full_disk_is_an_error_naming_the_file_and_the_store_survives_it() {
    if !full_disk_available() {
        eprintln!("skipped: `unshare -rm` (user namespaces) is not available here");
        return;
    }
    let dir = common::temp_dir("full-disk");
    let mount = dir.join("disk");
    std::fs::create_dir_all(&mount).unwrap();
    let db = Store::open(&dir.join("seed.db")).unwrap();
    let id = create(&db, &small_pipeline()).unwrap();
    drop(db);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_deepreduce"));
    // Inside the namespace: a 1 MiB disk holding a copy of the store; the
    // pipeline fills it; then space is freed and the pipeline resumes.
    let script = format!(
        r#"set -u
mount -t tmpfs -o size=1m tmpfs "{disk}"
cp "{seed}" "{disk}/runs.db"
head -c 600000 /dev/zero > "{disk}/filler"
run() {{ "{bin}" "$@" --db "{disk}/runs.db"; }}
run pipeline --resume {id} --backend flex > "{out}/first.out" 2> "{out}/first.err"; echo $? > "{out}/first.rc"
run results {id} --json > "{out}/after-full.json" 2> "{out}/after-full.err"
rm "{disk}/filler"
run pipeline --resume {id} --backend flex > /dev/null 2> "{out}/second.err"; echo $? > "{out}/second.rc"
run results {id} --json > "{out}/final.json"
"#,
        disk = mount.display(),
        seed = dir.join("seed.db").display(),
        bin = bin.display(),
        out = dir.display(),
    );
    let status = Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .env("DEEPREDUCE_PLUGIN_DIR", dir.join("none"))
        .status()
        .unwrap();
    assert!(status.success());
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let first = read("first.err");
    assert_eq!(read("first.rc").trim(), "1", "{first}");
    assert!(!first.contains("panicked"), "{first}");
    assert!(
        first.contains("No space left on device") || first.contains("database or disk is full"),
        "{first}"
    );
    // What was recorded before the disk filled is still readable.
    let after: serde_json::Value = serde_json::from_str(&read("after-full.json"))
        .unwrap_or_else(|e| panic!("{e}: {}", read("after-full.err")));
    assert_eq!(after["pipeline"]["id"], id);
    assert_eq!(read("second.rc").trim(), "0", "{}", read("second.err"));
    let done: serde_json::Value = serde_json::from_str(&read("final.json")).unwrap();
    assert_eq!(done["pipeline"]["status"], "completed");
    let networks = done["networks"].as_array().unwrap();
    assert!(!networks.is_empty());
    assert!(networks.iter().all(|n| n["accuracy"].is_number()));
}
