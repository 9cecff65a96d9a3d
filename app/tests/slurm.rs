//! The Slurm executor against a real single-node Slurm started by
//! `scripts/slurm-local.sh` (installed by `.ci/run`): a tiny DeepReDuce
//! pipeline run as Slurm jobs gives the same runs as run here, each with
//! its job, and Slurm's own job record has one finished job per training;
//! a job that fails gives a failed run with its stderr. One test runs the
//! scenarios in turn: Slurm's ports allow one cluster per machine.

mod common;

use deepreduce_app::engine::store::{RunRow, RunStatus, Store};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where the test's cluster lives (its config, state and job record).
fn cluster_dir() -> PathBuf {
    std::env::temp_dir().join("deepreduce-slurm-test-cluster")
}

fn script() -> PathBuf {
    common::workspace().join("scripts/slurm-local.sh")
}

/// The cluster, started for the test and stopped when it ends (or fails).
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        if Command::new("sbatch").arg("--version").output().is_err() {
            eprintln!(
                "SKIPPED: Slurm is not installed (run `bash scripts/slurm-local.sh install` as root)"
            );
            return None;
        }
        let dir = cluster_dir();
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "the local Slurm did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Cluster {
            conf: dir.join("slurm.conf"),
            dir,
        })
    }

    /// Slurm's record of finished jobs: (job id, state) per line.
    fn finished_jobs(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.dir.join("jobcomp.log")).unwrap_or_default();
        let field = |line: &str, key: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .map(String::from)
        };
        text.lines()
            .filter_map(|l| Some((field(l, "JobId")?, field(l, "JobState")?)))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

/// The size of a tiny DeepReDuce run: ResNet18 with two stages of one
/// block (8 trainings), at width `width` for `epochs` epochs on `subset`
/// images.
fn tiny(width: &str, epochs: &str, subset: &str) -> Vec<String> {
    [
        "--arch",
        "resnet18",
        "--blocks",
        "1,1",
        "--width",
        width,
        "--epochs",
        epochs,
        "--subset",
        subset,
        "--test-subset",
        "64",
        "--batch",
        "32",
    ]
    .map(String::from)
    .to_vec()
}

/// `deepreduce pipeline ARGS --backend flex --db DB` on the cluster.
fn pipeline_command(cluster: &Cluster, db: &Path, args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deepreduce"));
    command
        .arg("pipeline")
        .args(args)
        .args(["--backend", "flex", "--db"])
        .arg(db)
        .env("SLURM_CONF", &cluster.conf)
        .env("DEEPREDUCE_PLUGIN_DIR", common::temp_dir("no-user-plugins"));
    command
}

/// A tiny pipeline (width 2, one epoch on 64 images) with `extra` flags.
fn pipeline(cluster: &Cluster, db: &Path, extra: &[&str]) -> Output {
    let mut args = tiny("2", "1", "64");
    args.extend(extra.iter().map(|a| a.to_string()));
    pipeline_command(cluster, db, &args)
        .output()
        .expect("the deepreduce binary runs")
}

fn slurm_flags(shared: &Path) -> Vec<String> {
    vec![
        "--executor".into(),
        "slurm".into(),
        "--shared-dir".into(),
        shared.display().to_string(),
    ]
}

/// Waits (polling the store) until `ready` says so of pipeline 1's runs.
fn wait_for(db: &Path, what: &str, ready: impl Fn(&[RunRow], &Store) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        assert!(Instant::now() < deadline, "waited too long for {what}");
        if let Ok(store) = Store::open(db)
            && let Ok(runs) = store.runs(Some(1))
            && ready(&runs, &store)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Slurm's live jobs: (id, name).
fn queue(cluster: &Cluster) -> Vec<(String, String)> {
    let out = Command::new("squeue")
        .args(["-h", "-o", "%i|%j"])
        .env("SLURM_CONF", &cluster.conf)
        .output()
        .unwrap();
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (id, name) = l.split_once('|')?;
            Some((id.to_string(), name.to_string()))
        })
        .collect()
}

fn resume(cluster: &Cluster, db: &Path) -> Command {
    pipeline_command(cluster, db, &["--resume".to_string(), "1".to_string()])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// (key, ReLUs, status, accuracy) of pipeline 1's runs, in plan order.
fn runs(db: &Path) -> Vec<(String, u64, RunStatus, Option<f64>)> {
    Store::open(db)
        .unwrap()
        .runs(Some(1))
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.relus, r.status, r.accuracy))
        .collect()
}

fn same_runs_as_here(cluster: &Cluster) {
    let dir = common::temp_dir("slurm-same-runs");
    let here = dir.join("local.db");
    let out = pipeline(cluster, &here, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let db = dir.join("slurm.db");
    let shared = dir.join("shared");
    let flags = slurm_flags(&shared);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let out = pipeline(cluster, &db, &flags);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The same trainings from the same seeds: the same networks, and the
    // same accuracies.
    let local = runs(&here);
    assert_eq!(local.len(), 8);
    assert_eq!(runs(&db), local);

    let store = Store::open(&db).unwrap();
    let finished = cluster.finished_jobs();
    for run in store.runs(Some(1)).unwrap() {
        let job = run.job.unwrap_or_else(|| panic!("{} has no job", run.key));
        assert_eq!(job.submissions, 1, "{}", run.key);
        assert_eq!(job.state.as_deref(), Some("COMPLETED"), "{}", run.key);
        let recorded: Vec<_> = finished.iter().filter(|(id, _)| *id == job.id).collect();
        assert_eq!(
            recorded,
            [&(job.id.clone(), "COMPLETED".to_string())],
            "Slurm's record of {}",
            run.key
        );
        let weights = run.weights.expect("final weights");
        assert!(weights.starts_with(&shared), "{}", weights.display());
        assert!(!store.epochs(run.id).unwrap().is_empty(), "{}", run.key);
    }
    let results = Command::new(env!("CARGO_BIN_EXE_deepreduce"))
        .args(["results", "1", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    let shown = text(&results.stdout);
    assert!(shown.contains("cluster jobs:"), "{shown}");
    assert_eq!(
        shown.matches("COMPLETED (1 submitted)").count(),
        8,
        "{shown}"
    );
}

fn a_failed_job_gives_a_failed_run_with_its_stderr(cluster: &Cluster) {
    let dir = common::temp_dir("slurm-failing-job");
    // A worker that fails on the node as a missing dataset would.
    let worker = dir.join("worker.sh");
    std::fs::write(
        &worker,
        "#!/bin/sh\necho \"cannot open /data/cifar10 on $(hostname): no such file\" >&2\nexit 3\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.join("runs.db");
    let shared = dir.join("shared");
    let out = pipeline(
        cluster,
        &db,
        &[
            "--executor",
            "slurm",
            "--shared-dir",
            shared.to_str().unwrap(),
            "--slurm-worker",
            worker.to_str().unwrap(),
            "--slurm-retries",
            "1",
        ],
    );
    assert!(!out.status.success());
    let baseline = Store::open(&db).unwrap().runs(Some(1)).unwrap().remove(0);
    assert_eq!(baseline.status, RunStatus::Failed);
    let error = baseline.error.unwrap();
    assert!(error.contains("ended FAILED (NonZeroExitCode)"), "{error}");
    assert!(error.contains("cannot open /data/cifar10"), "{error}");
    let job = baseline.job.unwrap();
    assert_eq!(job.submissions, 2, "submitted again once");
    assert_eq!(job.state.as_deref(), Some("FAILED"));
}

/// Trainings long enough to be caught running: width 8, 6 epochs of 1024
/// images.
fn slow_pipeline(cluster: &Cluster, db: &Path, shared: &Path) -> std::process::Child {
    let mut args = tiny("8", "6", "1024");
    args.extend(slurm_flags(shared));
    pipeline_command(cluster, db, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn a_cancelled_job_is_resubmitted_on_resume_and_continues(cluster: &Cluster) {
    let dir = common::temp_dir("slurm-scancel");
    let (db, shared) = (dir.join("runs.db"), dir.join("shared"));
    let mut controller = slow_pipeline(cluster, &db, &shared);
    wait_for(&db, "the baseline's first epoch", |runs, store| {
        runs.first().is_some_and(|r| {
            r.job.as_ref().and_then(|j| j.state.as_deref()) == Some("RUNNING")
                && !store.epochs(r.id).unwrap().is_empty()
        })
    });
    let baseline = Store::open(&db).unwrap().runs(Some(1)).unwrap().remove(0);
    let job = baseline.job.unwrap().id;
    let cancelled = Command::new("scancel")
        .arg(&job)
        .env("SLURM_CONF", &cluster.conf)
        .status()
        .unwrap();
    assert!(cancelled.success());
    let status = controller.wait().unwrap();
    assert!(
        !status.success(),
        "the pipeline stops: its baseline was cancelled"
    );
    let baseline = Store::open(&db).unwrap().runs(Some(1)).unwrap().remove(0);
    assert_eq!(baseline.status, RunStatus::Cancelled);
    assert_eq!(
        baseline.job.as_ref().unwrap().state.as_deref(),
        Some("CANCELLED")
    );

    let out = resume(cluster, &db).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let runs = Store::open(&db).unwrap().runs(Some(1)).unwrap();
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
    assert_eq!(runs[0].job.as_ref().unwrap().submissions, 2);
    // Continued from its checkpoint: no epoch was trained twice.
    let epochs_file = shared.join("pipeline-1/run-1/epochs.jsonl");
    let epochs: Vec<u64> = std::fs::read_to_string(epochs_file)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(epochs, (1..=6).collect::<Vec<_>>());
}

fn a_killed_controller_reattaches_to_its_jobs(cluster: &Cluster) {
    let dir = common::temp_dir("slurm-kill");
    let (db, shared) = (dir.join("runs.db"), dir.join("shared"));
    let mut controller = slow_pipeline(cluster, &db, &shared);
    // The baseline done, the criticality networks submitted.
    wait_for(&db, "the criticality jobs", |runs, _| {
        runs.len() > 1 && runs[1..].iter().all(|r| r.job.is_some())
    });
    controller.kill().unwrap(); // SIGKILL
    controller.wait().unwrap();
    let alive: Vec<(String, String)> = queue(cluster);
    assert!(!alive.is_empty(), "jobs outlive their controller");

    let mut resumed = resume(cluster, &db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Never two live jobs for one training.
    while resumed.try_wait().unwrap().is_none() {
        let jobs = queue(cluster);
        let mut names: Vec<&str> = jobs.iter().map(|(_, n)| n.as_str()).collect();
        names.sort();
        let count = names.len();
        names.dedup();
        assert_eq!(
            names.len(),
            count,
            "a training with two live jobs: {jobs:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(resumed.wait().unwrap().success());
    let runs = Store::open(&db).unwrap().runs(Some(1)).unwrap();
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
    for (id, name) in alive {
        let run = runs
            .iter()
            .find(|r| r.job.as_ref().is_some_and(|j| j.id == id))
            .unwrap_or_else(|| panic!("job {id} ({name}) was re-attached to"));
        assert_eq!(run.job.as_ref().unwrap().submissions, 1, "{name}");
    }
}

/// The Runs panel on the Slurm executor: the remembered form submits the
/// pipeline's trainings as jobs, the running baseline shows its job, state
/// and epochs, and Cancel cancels its job in Slurm (scancel).
#[cfg(feature = "gui")]
fn the_runs_panel_follows_and_cancels_slurm_jobs(cluster: &Cluster) {
    use common::gui::{harness, settings, step_until, workbench};
    use deepreduce_app::engine::executor::ExecutorKind;
    use deepreduce_app::gui::Workbench;
    use deepreduce_app::gui::dialogs::ScriptedDialogs;
    use deepreduce_app::gui::settings::Tab;
    use egui_kittest::kittest::Queryable;

    let dir = common::temp_dir("slurm-gui");
    let (db, shared) = (dir.join("runs.db"), dir.join("shared"));
    let mut s = settings(Tab::Runs);
    s.network.blocks = Some(vec![1, 1]);
    s.network.width = Some(16);
    // Minutes per training, far longer than the seconds the panel takes to
    // show a job running: Cancel always finds it running.
    s.training.epochs = 100;
    s.training.batch = 32;
    s.training.subset = Some(2048);
    s.training.test_subset = Some(64);
    s.executor.kind = ExecutorKind::Slurm;
    s.executor.slurm.shared_dir = Some(shared.clone());
    s.executor.slurm.worker = Some(env!("CARGO_BIN_EXE_deepreduce").into());
    let mut h = harness(workbench(&db, ScriptedDialogs::default(), s));
    step_until(&mut h, Duration::from_secs(60), Workbench::backend_ready);
    h.get_by_label("shared folder");
    h.get_by_label("Run DeepReDuce pipeline").click();
    h.step();
    assert_eq!(h.state().jobs(), (1, 1), "the pipeline runs on a worker");

    // A running training's row: its job running, with the epochs its node
    // wrote.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut expanded = false;
    let (run, job) = loop {
        assert!(Instant::now() < deadline, "no training showed running");
        h.step();
        std::thread::sleep(Duration::from_millis(50));
        // The pipeline's runs, once listed: opened once (a second click
        // while it opens would close it).
        if !expanded && let Some(header) = h.query_by_label_contains("on synthetic (") {
            header.click();
            expanded = true;
        }
        let Ok(store) = Store::open(&db) else {
            continue;
        };
        let running = store.runs(Some(1)).unwrap().into_iter().find(|r| {
            r.job.as_ref().and_then(|j| j.state.as_deref()) == Some("RUNNING")
                && !store.epochs(r.id).unwrap().is_empty()
        });
        let Some(run) = running else {
            continue;
        };
        let job = run.job.clone().unwrap();
        if h.query_by_label(&format!("job {}: RUNNING", job.id))
            .is_some()
            && h.query_all_by_label_contains("running, epoch")
                .next()
                .is_some()
        {
            break (run.id, job);
        }
    };
    h.get_by_label("Cancel").click();
    step_until(&mut h, Duration::from_secs(120), |wb| wb.jobs().0 == 0);
    // Gone from the queue once Slurm has signalled its processes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !queue(cluster).is_empty() {
        assert!(
            Instant::now() < deadline,
            "still queued: {:?}",
            queue(cluster)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let cancelled = Store::open(&db).unwrap().run(run).unwrap().unwrap();
    assert_eq!(
        cancelled.status,
        RunStatus::Cancelled,
        "{:?}",
        cancelled.error
    );
    let recorded = cancelled.job.unwrap();
    assert_eq!(recorded.id, job.id);
    assert_eq!(recorded.state.as_deref(), Some("CANCELLED"));
    let finished = cluster.finished_jobs();
    assert!(
        finished.contains(&(job.id.clone(), "CANCELLED".to_string())),
        "Slurm's record: {finished:?}"
    );
}

#[test]
fn pipelines_run_as_slurm_jobs() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // The workbench submits from this process: it finds the test's cluster
    // as the CLI does. SAFETY: this binary's only test, before any thread
    // of its own reads the environment.
    unsafe {
        std::env::set_var("SLURM_CONF", &cluster.conf);
        std::env::set_var("DEEPREDUCE_PLUGIN_DIR", common::temp_dir("no-user-plugins"));
    }
    #[cfg(feature = "gui")]
    the_runs_panel_follows_and_cancels_slurm_jobs(&cluster);
    same_runs_as_here(&cluster);
    a_failed_job_gives_a_failed_run_with_its_stderr(&cluster);
    a_cancelled_job_is_resubmitted_on_resume_and_continues(&cluster);
    a_killed_controller_reattaches_to_its_jobs(&cluster);
}
