//! The Slurm executor against a real single-node Slurm started by
//! `scripts/slurm-local.sh` (installed by `.ci/run`): a tiny DeepReDuce
//! pipeline run as Slurm jobs gives the same runs as run here, each with
//! its job, and Slurm's own job record has one finished job per training;
//! a job that fails gives a failed run with its stderr. One test runs the
//! scenarios in turn: Slurm's ports allow one cluster per machine.

mod common;

use deepreduce_app::engine::store::{RunStatus, Store};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// `deepreduce pipeline` for a tiny DeepReDuce run (ResNet18 with two
/// stages of one block, width 2: 8 trainings), with `extra` flags.
fn pipeline(cluster: &Cluster, db: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "pipeline",
        "--arch",
        "resnet18",
        "--blocks",
        "1,1",
        "--width",
        "2",
        "--epochs",
        "1",
        "--subset",
        "64",
        "--test-subset",
        "64",
        "--batch",
        "32",
        "--backend",
        "flex",
        "--db",
        db.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_deepreduce"))
        .args(&args)
        .env("SLURM_CONF", &cluster.conf)
        .env("DEEPREDUCE_PLUGIN_DIR", common::temp_dir("no-user-plugins"))
        .output()
        .expect("the deepreduce binary runs")
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
    let out = pipeline(
        cluster,
        &db,
        &["--executor", "slurm", "--shared-dir", shared.to_str().unwrap()],
    );
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
    assert_eq!(shown.matches("COMPLETED (1 submitted)").count(), 8, "{shown}");
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

#[test]
fn pipelines_run_as_slurm_jobs() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    same_runs_as_here(&cluster);
    a_failed_job_gives_a_failed_run_with_its_stderr(&cluster);
}
