//! The run store: an embedded SQLite database that records pipelines, runs,
//! their configs, per-epoch metrics and final results as they happen, so that
//! a crash or a `kill -9` loses at most the epoch in flight and a pipeline can
//! resume where it stopped. Weights are files next to the store, referenced
//! from it by path.
//!
//! Every write is one autocommitted statement (a schema migration is one
//! transaction), so a row is either fully there or absent. The schema is
//! versioned with `PRAGMA user_version`; `MIGRATIONS` grows by appending, so
//! later versions can add columns to old databases.
//!
//! Paths are stored relative to the store's folder when they lie under it
//! (the runs folder does), absolute otherwise, so a store works from any
//! working directory and moves with its runs folder. The store checks its
//! structure when opened (SQLite's `quick_check`) and stops writing once it
//! has read a corrupt value: a damaged file is reported, never made worse.

mod applied;
mod kinds;
mod lease;
mod measurements;
mod paths;

pub use kinds::{PipelineStatus, RunRole, RunStatus};
pub use lease::{Holder, Lease};
pub use measurements::MeasurementRow;

use crate::engine::train::{EpochMetrics, Status};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Entry `i` brings a database from `user_version` i to i + 1. Append only:
/// an edited entry would never run on databases that already passed it.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE pipelines (
    id          INTEGER PRIMARY KEY,
    arch        TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    config      TEXT NOT NULL,  -- JSON
    status      TEXT NOT NULL,  -- running|completed|failed|cancelled
    created_at  TEXT NOT NULL,  -- RFC 3339 UTC
    finished_at TEXT
);
CREATE TABLE runs (
    id             INTEGER PRIMARY KEY,
    pipeline_id    INTEGER REFERENCES pipelines(id),
    key            TEXT NOT NULL,  -- unique within a pipeline, e.g. criticality:S2
    role           TEXT NOT NULL,  -- baseline|criticality|criticality-nokd|candidate|single
    stage          TEXT,
    description    TEXT NOT NULL,
    network        TEXT NOT NULL,  -- IR JSON
    config         TEXT NOT NULL,  -- training config JSON
    plugins        TEXT NOT NULL,  -- JSON [{id, version}]
    backend        TEXT,
    seed           INTEGER NOT NULL,  -- u64 stored bit for bit as i64
    relus          INTEGER NOT NULL,
    status         TEXT NOT NULL,  -- planned|running|completed|cancelled|diverged|failed
    accuracy       REAL,
    latency        TEXT,  -- JSON of the latency plugin's estimate
    inference_ms   REAL,
    checkpoint_dir TEXT,
    weights        TEXT,
    error          TEXT,
    started_at     TEXT,
    finished_at    TEXT,
    UNIQUE (pipeline_id, key)
);
CREATE TABLE epochs (
    run_id         INTEGER NOT NULL REFERENCES runs(id),
    epoch          INTEGER NOT NULL,
    train_loss     REAL,  -- SQLite stores NaN as NULL
    train_accuracy REAL,
    test_accuracy  REAL,
    lr             REAL,
    seconds        REAL,
    checkpoint     TEXT,
    PRIMARY KEY (run_id, epoch)
);
",
    r"
ALTER TABLE pipelines ADD COLUMN error TEXT;  -- why a pipeline failed
-- Who is running a pipeline (subject pipeline:ID) or a standalone run
-- (run:ID): one process at a time, see lease.rs.
CREATE TABLE leases (
    subject      TEXT PRIMARY KEY,
    token        TEXT NOT NULL,     -- unique per acquisition
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    acquired_at  TEXT NOT NULL,     -- RFC 3339 UTC
    heartbeat_at INTEGER NOT NULL   -- seconds since 1970
);
",
    r"
-- A method plugin's pipeline (engine/method): the optimizations it asked
-- the host for with the candidates they gave, in the order asked (rowid),
-- and its final answer. Its trainings are runs; their requests are in the
-- runs' config.
CREATE TABLE applied (
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    key         TEXT NOT NULL,
    request     TEXT NOT NULL,  -- ApplyRequest JSON
    candidates  TEXT NOT NULL,  -- [Candidate] JSON
    PRIMARY KEY (pipeline_id, key)
);
ALTER TABLE pipelines ADD COLUMN candidates TEXT;  -- [{key, description}] JSON
",
    r"
-- A run's private inference measured in a two-party framework (engine/measure),
-- any number per run and framework, newest last.
CREATE TABLE measurements (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    framework   TEXT NOT NULL,   -- cheetah | crypten
    batch       INTEGER NOT NULL,
    report      TEXT NOT NULL,   -- the runner's JSON report
    measured_at TEXT NOT NULL
);
",
    r"
-- Untrained networks are measured too (their cost, for calibration): such a
-- measurement has no run and keeps its network's IR itself.
CREATE TABLE measurements_5 (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER REFERENCES runs(id),
    network     TEXT,            -- IR JSON, when there is no run
    framework   TEXT NOT NULL,   -- cheetah | crypten
    batch       INTEGER NOT NULL,
    report      TEXT NOT NULL,   -- the runner's JSON report
    measured_at TEXT NOT NULL,
    CHECK ((run_id IS NULL) <> (network IS NULL))
);
INSERT INTO measurements_5 (id, run_id, framework, batch, report, measured_at)
    SELECT id, run_id, framework, batch, report, measured_at FROM measurements;
DROP TABLE measurements;
ALTER TABLE measurements_5 RENAME TO measurements;
",
    r"
-- A run handed to a cluster (engine/executor): its latest job, the
-- scheduler's state and reason for it, and how many jobs it has had.
ALTER TABLE runs ADD COLUMN job_id TEXT;
ALTER TABLE runs ADD COLUMN job_state TEXT;
ALTER TABLE runs ADD COLUMN job_reason TEXT;
ALTER TABLE runs ADD COLUMN job_submissions INTEGER NOT NULL DEFAULT 0;
",
];

/// The run store used when none is named: `$DEEPREDUCE_DB`, else
/// `runs.db` in the user data folder.
pub fn default_db() -> PathBuf {
    if let Some(path) = std::env::var_os("DEEPREDUCE_DB") {
        return PathBuf::from(path);
    }
    super::plugin_host::user_data_dir().join("runs.db")
}

/// What went wrong, with the database file and the operation.
#[derive(Debug, thiserror::Error)]
#[error("run store {}: {op}: {cause}", path.display())]
pub struct StoreError {
    pub path: PathBuf,
    pub op: &'static str,
    pub cause: StoreErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreErrorKind {
    /// Also what a file that is not SQLite gives: "file is not a database".
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create its folder: {0}")]
    Folder(std::io::Error),
    #[error(
        "schema version {found} is not one this program knows (it knows versions up to {supported}); was it written by a newer DeepReDuce Workbench?"
    )]
    Version { found: i64, supported: i64 },
    #[error("no {table} row with id {id}")]
    NotFound { table: &'static str, id: i64 },
    #[error("a run cannot end as {0}")]
    NotAnEnd(RunStatus),
    #[error("path {} is not valid UTF-8", .0.display())]
    NonUtf8Path(PathBuf),
    #[error(
        "the database is corrupt ({0}); nothing more is written to it. Keep a copy, then try `sqlite3 FILE .recover`"
    )]
    Corrupt(String),
    #[error("a run is `completed` only with its accuracy and weights")]
    CompletedWithoutResult,
    #[error(
        "{subject} is being run by process {} on {} (since {}, last heartbeat {} s ago); wait for it to end or stop it",
        holder.pid, holder.host, holder.acquired_at, holder.heartbeat_age_secs
    )]
    Busy {
        subject: String,
        holder: Box<Holder>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineRow {
    pub id: i64,
    pub arch: String,
    pub dataset: String,
    pub config: Value,
    pub status: PipelineStatus,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// A run to plan; it starts with status "planned".
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    /// None for a standalone run (role "single").
    pub pipeline_id: Option<i64>,
    pub key: String,
    pub role: RunRole,
    pub stage: Option<String>,
    pub description: String,
    pub network: Value,
    pub config: Value,
    /// `[{"id": ..., "version": ...}]` of the plugins that shaped the run.
    pub plugins: Value,
    pub seed: u64,
    pub relus: u64,
}

/// How a run ended; `status` is an end state.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub status: RunStatus,
    pub accuracy: Option<f64>,
    pub latency: Option<Value>,
    pub inference_ms: Option<f64>,
    pub weights: Option<PathBuf>,
    pub error: Option<String>,
}

impl RunResult {
    /// A run that could not train, and why.
    pub fn failed(reason: String) -> Self {
        RunResult {
            status: RunStatus::Failed,
            accuracy: None,
            latency: None,
            inference_ms: None,
            weights: None,
            error: Some(reason),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: i64,
    pub pipeline_id: Option<i64>,
    pub key: String,
    pub role: RunRole,
    pub stage: Option<String>,
    pub description: String,
    pub network: Value,
    pub config: Value,
    pub plugins: Value,
    /// Set by `start_run`.
    pub backend: Option<String>,
    pub seed: u64,
    pub relus: u64,
    pub status: RunStatus,
    pub accuracy: Option<f64>,
    pub latency: Option<Value>,
    pub inference_ms: Option<f64>,
    pub checkpoint_dir: Option<PathBuf>,
    pub weights: Option<PathBuf>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The cluster job that runs (or ran) it, for a cluster executor.
    #[serde(default)]
    pub job: Option<ClusterJob>,
}

/// A run's latest cluster job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterJob {
    pub id: String,
    /// The scheduler's name for its state (Slurm's `RUNNING`, `PREEMPTED`...).
    pub state: Option<String>,
    pub reason: Option<String>,
    /// Jobs submitted for the run so far (retries and resumes included).
    pub submissions: u32,
}

/// The run state a training's end is recorded as.
pub fn run_status(status: &Status) -> RunStatus {
    match status {
        Status::Completed => RunStatus::Completed,
        Status::Cancelled { .. } => RunStatus::Cancelled,
        Status::Diverged { .. } | Status::DivergedInEvaluation { .. } => RunStatus::Diverged,
    }
}

/// `t` as RFC 3339 UTC with milliseconds, e.g. `2026-11-24T05:03:17.123Z`
/// (times before 1970 clamp to the epoch).
pub fn rfc3339_utc(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (days, secs) = (since.as_secs() / 86_400, since.as_secs() % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm,
    // eras of 400 years starting on 0000-03-01).
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since.subsec_millis()
    )
}

fn now() -> String {
    rfc3339_utc(SystemTime::now())
}

/// One connection to a run store, behind a mutex so that threads can share
/// it (`&Store`, `Arc<Store>`); their statements then take turns. A thread
/// that should not wait for another's statements (the GUI while a worker
/// trains) opens its own `Store` on the same path instead: WAL mode lets
/// connections read while another writes, and the busy timeout makes
/// concurrent writers wait for each other rather than fail.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The absolute folder of the store: stored paths are relative to it.
    dir: PathBuf,
    /// Set once a corrupt value has been read: later writes are refused.
    corrupt: AtomicBool,
}

const PIPELINE_COLUMNS: &str = "id, arch, dataset, config, status, created_at, finished_at, error";

const RUN_COLUMNS: &str = "id, pipeline_id, key, role, stage, description, network, config, \
     plugins, backend, seed, relus, status, accuracy, latency, inference_ms, checkpoint_dir, \
     weights, error, started_at, finished_at, job_id, job_state, job_reason, job_submissions";

impl Store {
    /// Opens (creating it, its parent folders and its schema if needed) the
    /// store at `path`. A file that is not SQLite, a damaged one, or a store
    /// written by a newer schema version, is refused with an error.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let fail = |cause| StoreError {
            path: path.to_owned(),
            op: "open",
            cause,
        };
        let sqlite = |e: rusqlite::Error| fail(e.into());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(StoreErrorKind::Folder(e)))?;
        }
        // A file that is not SQLite is found out by the first pragma that
        // reads it: "file is not a database".
        let conn = Connection::open(path).map_err(sqlite)?;
        // A GUI reading while a worker writes waits for the lock instead of failing.
        conn.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
        // synchronous=NORMAL in WAL mode keeps every commit across a process
        // crash; only a power loss may drop the latest commits, and the file
        // stays consistent either way.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sqlite)?;
        let dir = std::path::absolute(path)
            .map_err(|e| fail(StoreErrorKind::Folder(e)))?
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let store = Store {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            dir,
            corrupt: AtomicBool::new(false),
        };
        // Before any write, so that a refused file is left untouched.
        store.check_integrity()?;
        store.migrate()?;
        // WAL: readers never block the writer nor see half a transaction.
        store
            .conn()
            .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get::<_, String>(0))
            .map_err(store.err("enable the WAL journal"))?;
        Ok(store)
    }

    /// The connection. A thread that panicked holding it left no statement
    /// half done (each is atomic, a dropped transaction rolls back), so a
    /// poisoned lock is still a usable connection.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| self.fail(op, classify(e))
    }

    /// An error of `op`; a corrupt database also stops every later write.
    fn fail(&self, op: &'static str, cause: StoreErrorKind) -> StoreError {
        if matches!(cause, StoreErrorKind::Corrupt(_)) {
            self.corrupt.store(true, Ordering::Relaxed);
        }
        StoreError {
            path: self.path.clone(),
            op,
            cause,
        }
    }

    /// Refuses `op`, a write, once the database is known to be corrupt.
    fn writable(&self, op: &'static str) -> Result<(), StoreError> {
        if self.corrupt.load(Ordering::Relaxed) {
            let what = "a corrupt value was read earlier".to_string();
            return Err(self.fail(op, StoreErrorKind::Corrupt(what)));
        }
        Ok(())
    }

    /// SQLite's structural check (b-trees, pages, indexes; linear in the
    /// file's size: 50-200 ms for a 44 MB store of 2,000 runs with 20 KB
    /// networks on a busy 2-core machine, once per open). It is what finds
    /// the damage an unclean stop or a bad disk leaves.
    fn check_integrity(&self) -> Result<(), StoreError> {
        let op = "check the database";
        let conn = self.conn();
        let mut stmt = conn
            .prepare("PRAGMA quick_check(5)")
            .map_err(self.err(op))?;
        let problems: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.err(op))?
            .collect::<Result<_, _>>()
            .map_err(self.err(op))?;
        if problems == ["ok"] {
            return Ok(());
        }
        Err(self.fail(op, StoreErrorKind::Corrupt(problems.join("; "))))
    }

    /// Brings the schema to the newest version, refusing newer ones.
    fn migrate(&self) -> Result<(), StoreError> {
        const READ: &str = "open";
        const OP: &str = "migrate the schema";
        let supported = MIGRATIONS.len() as i64;
        // IMMEDIATE takes the write lock before reading the version, so that
        // two processes opening a new file do not both create the schema.
        let conn = self.conn();
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
            .map_err(self.err(READ))?;
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.err(READ))?;
        let done = usize::try_from(found)
            .ok()
            .filter(|&v| v <= MIGRATIONS.len())
            .ok_or_else(|| self.fail(READ, StoreErrorKind::Version { found, supported }))?;
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(done) {
            tx.execute_batch(sql).map_err(self.err(OP))?;
            tx.pragma_update(None, "user_version", version as i64 + 1)
                .map_err(self.err(OP))?;
        }
        tx.commit().map_err(self.err(OP))
    }

    /// A path as column text, relative to the store's folder when under it;
    /// refusing non-UTF-8 beats storing a lossy path that would not find the
    /// file again.
    fn stored_path(&self, op: &'static str, path: &Path) -> Result<String, StoreError> {
        let path = paths::to_stored(path, &self.dir)
            .map_err(|e| self.fail(op, StoreErrorKind::Folder(e)))?;
        path.to_str()
            .map(str::to_string)
            .ok_or_else(|| self.fail(op, StoreErrorKind::NonUtf8Path(path.clone())))
    }

    /// An UPDATE of one row by id: an unknown id is an error, not a no-op.
    fn update(
        &self,
        op: &'static str,
        table: &'static str,
        id: i64,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), StoreError> {
        self.writable(op)?;
        match self.conn().execute(sql, params).map_err(self.err(op))? {
            0 => Err(self.fail(op, StoreErrorKind::NotFound { table, id })),
            _ => Ok(()),
        }
    }

    /// A new pipeline with status "running".
    pub fn create_pipeline(
        &self,
        arch: &str,
        dataset: &str,
        config: &Value,
    ) -> Result<i64, StoreError> {
        self.insert_returning_id(
            "create a pipeline",
            "INSERT INTO pipelines (arch, dataset, config, status, created_at)
             VALUES (?1, ?2, ?3, 'running', ?4) RETURNING id",
            params![arch, dataset, config.to_string(), now()],
        )
    }

    /// Runs an `INSERT ... RETURNING id` in an explicit transaction whose
    /// commit is checked. (In autocommit mode the commit happens when the
    /// statement is reset, and `query_row` does not report that reset's
    /// error: on a full disk the id came back while the row was rolled back.)
    fn insert_returning_id(
        &self,
        op: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<i64, StoreError> {
        self.writable(op)?;
        let conn = self.conn();
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
            .map_err(self.err(op))?;
        let id = tx
            .query_row(sql, params, |r| r.get(0))
            .map_err(self.err(op))?;
        tx.commit().map_err(self.err(op))?;
        Ok(id)
    }

    pub fn pipeline(&self, id: i64) -> Result<Option<PipelineRow>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE id = ?1"),
                [id],
                pipeline_row,
            )
            .optional()
            .map_err(self.err("read a pipeline"))
    }

    /// All pipelines, newest first.
    pub fn pipelines(&self) -> Result<Vec<PipelineRow>, StoreError> {
        let op = "list pipelines";
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {PIPELINE_COLUMNS} FROM pipelines ORDER BY id DESC"
            ))
            .map_err(self.err(op))?;
        let rows = stmt.query_map([], pipeline_row).map_err(self.err(op))?;
        rows.collect::<Result<_, _>>().map_err(self.err(op))
    }

    /// Sets finished_at for the end statuses and clears it for "running";
    /// clears the error of an earlier failure.
    pub fn set_pipeline_status(&self, id: i64, status: PipelineStatus) -> Result<(), StoreError> {
        self.end_pipeline(id, status, None)
    }

    /// Marks the pipeline failed with the reason.
    pub fn fail_pipeline(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        self.end_pipeline(id, PipelineStatus::Failed, Some(reason))
    }

    fn end_pipeline(
        &self,
        id: i64,
        status: PipelineStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let op = "set a pipeline's status";
        let finished = (status != PipelineStatus::Running).then(now);
        self.update(
            op,
            "pipelines",
            id,
            "UPDATE pipelines SET status = ?2, finished_at = ?3, error = ?4 WHERE id = ?1",
            params![id, status, finished, error],
        )
    }

    /// Inserts the run with status "planned" and returns its id. A run whose
    /// (pipeline, key) already exists is left unchanged and its id returned,
    /// so a resumed pipeline can plan again. Standalone runs (no pipeline)
    /// are always new rows.
    pub fn plan_run(&self, run: &NewRun) -> Result<i64, StoreError> {
        // The no-op DO UPDATE makes RETURNING yield the existing row's id in
        // the same statement (DO NOTHING would return no row). SQLite treats
        // NULL pipeline ids as distinct, hence standalone runs never conflict.
        self.insert_returning_id(
            "plan a run",
            "INSERT INTO runs (pipeline_id, key, role, stage, description, network, config,
                                   plugins, seed, relus, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'planned')
                 ON CONFLICT (pipeline_id, key) DO UPDATE SET key = key
                 RETURNING id",
            params![
                run.pipeline_id,
                run.key,
                run.role,
                run.stage,
                run.description,
                run.network.to_string(),
                run.config.to_string(),
                run.plugins.to_string(),
                run.seed as i64,
                run.relus as i64,
            ],
        )
    }

    pub fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                |r| run_row(r, &self.dir),
            )
            .optional()
            .map_err(self.err("read a run"))
    }

    pub fn run_by_key(&self, pipeline_id: i64, key: &str) -> Result<Option<RunRow>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE pipeline_id = ?1 AND key = ?2"),
                params![pipeline_id, key],
                |r| run_row(r, &self.dir),
            )
            .optional()
            .map_err(self.err("read a run by key"))
    }

    /// A pipeline's runs in the order they were planned; `None`: the
    /// standalone runs.
    pub fn runs(&self, pipeline_id: Option<i64>) -> Result<Vec<RunRow>, StoreError> {
        let op = "list runs";
        // `IS` (unlike `=`) also matches NULL with NULL.
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE pipeline_id IS ?1 ORDER BY id"
            ))
            .map_err(self.err(op))?;
        let rows = stmt
            .query_map([pipeline_id], |r| run_row(r, &self.dir))
            .map_err(self.err(op))?;
        rows.collect::<Result<_, _>>().map_err(self.err(op))
    }

    /// Marks the run running. On a resume the first started_at is kept and
    /// the previous ending (status, results, error) is cleared; recorded
    /// epochs stay, and `record_epoch` replaces those trained again.
    pub fn start_run(
        &self,
        id: i64,
        backend: &str,
        checkpoint_dir: &Path,
    ) -> Result<(), StoreError> {
        let op = "start a run";
        let dir = self.stored_path(op, checkpoint_dir)?;
        self.update(
            op,
            "runs",
            id,
            "UPDATE runs SET status = 'running', backend = ?2, checkpoint_dir = ?3,
                 started_at = COALESCE(started_at, ?4), finished_at = NULL, accuracy = NULL,
                 latency = NULL, inference_ms = NULL, weights = NULL, error = NULL
             WHERE id = ?1",
            params![id, backend, dir, now()],
        )
    }

    /// Records an epoch, replacing one of the same number (a resumed run
    /// trains again the epochs after its last checkpoint).
    /// Records that job `job_id` now runs run `run_id` (one more submission).
    pub fn set_run_job(&self, run_id: i64, job_id: &str) -> Result<(), StoreError> {
        let op = "record a run's cluster job";
        self.writable(op)?;
        self.conn()
            .execute(
                "UPDATE runs SET job_id = ?2, job_state = NULL, job_reason = NULL,
                        job_submissions = job_submissions + 1 WHERE id = ?1",
                params![run_id, job_id],
            )
            .map_err(self.err(op))?;
        Ok(())
    }

    /// Records where the scheduler says a run's job is, and why.
    pub fn set_run_job_state(
        &self,
        run_id: i64,
        state: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let op = "record a cluster job's state";
        self.writable(op)?;
        self.conn()
            .execute(
                "UPDATE runs SET job_state = ?2, job_reason = ?3 WHERE id = ?1",
                params![run_id, state, reason],
            )
            .map_err(self.err(op))?;
        Ok(())
    }

    pub fn record_epoch(&self, run_id: i64, m: &EpochMetrics) -> Result<(), StoreError> {
        let op = "record an epoch";
        self.writable(op)?;
        let checkpoint = m
            .checkpoint
            .as_deref()
            .map(|p| self.stored_path(op, p))
            .transpose()?;
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, train_loss, train_accuracy,
                                                test_accuracy, lr, seconds, checkpoint)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    run_id,
                    m.epoch as i64,
                    m.train_loss,
                    m.train_accuracy,
                    m.test_accuracy,
                    m.lr,
                    m.seconds,
                    checkpoint,
                ],
            )
            .map_err(self.err(op))?;
        Ok(())
    }

    /// The run's epochs in order.
    pub fn epochs(&self, run_id: i64) -> Result<Vec<EpochMetrics>, StoreError> {
        let op = "read epochs";
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT epoch, train_loss, train_accuracy, test_accuracy, lr, seconds, checkpoint
                 FROM epochs WHERE run_id = ?1 ORDER BY epoch",
            )
            .map_err(self.err(op))?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(EpochMetrics {
                    epoch: unsigned(r, 0)? as usize,
                    train_loss: real(r, 1)?,
                    train_accuracy: real(r, 2)?,
                    test_accuracy: real(r, 3)?,
                    lr: real(r, 4)?,
                    seconds: real(r, 5)?,
                    checkpoint: paths::read(r, 6, &self.dir)?,
                })
            })
            .map_err(self.err(op))?;
        rows.collect::<Result<_, _>>().map_err(self.err(op))
    }

    /// Replaces run `id`'s network and ReLU count by the one it trained
    /// into (gate learning chooses its mask while it trains).
    pub fn set_run_network(&self, id: i64, network: &Value, relus: u64) -> Result<(), StoreError> {
        self.update(
            "record a run's learned network",
            "runs",
            id,
            "UPDATE runs SET network = ?2, relus = ?3 WHERE id = ?1",
            params![id, network.to_string(), relus as i64],
        )
    }

    /// Records the method's request with a run stored before methods were
    /// plugins (its configuration had none).
    pub fn set_run_request(&self, id: i64, request: &Value) -> Result<(), StoreError> {
        self.update(
            "record a run's request",
            "runs",
            id,
            "UPDATE runs SET config = json_set(config, '$.request', json(?2)) WHERE id = ?1",
            params![id, request.to_string()],
        )
    }

    /// Records how the run ended and sets finished_at, in one statement. A
    /// run is "completed" only with its accuracy and weights.
    pub fn finish_run(&self, id: i64, result: &RunResult) -> Result<(), StoreError> {
        let op = "finish a run";
        if !result.status.is_end() {
            return Err(self.fail(op, StoreErrorKind::NotAnEnd(result.status)));
        }
        let completed = result.status == RunStatus::Completed;
        if completed && (result.accuracy.is_none() || result.weights.is_none()) {
            return Err(self.fail(op, StoreErrorKind::CompletedWithoutResult));
        }
        let weights = result
            .weights
            .as_deref()
            .map(|p| self.stored_path(op, p))
            .transpose()?;
        self.update(
            op,
            "runs",
            id,
            "UPDATE runs SET status = ?2, accuracy = ?3, latency = ?4, inference_ms = ?5,
                 weights = ?6, error = ?7, finished_at = ?8
             WHERE id = ?1",
            params![
                id,
                result.status,
                result.accuracy,
                result.latency.as_ref().map(Value::to_string),
                result.inference_ms,
                weights,
                result.error,
                now(),
            ],
        )
    }
}

/// A value of row `id` of `table` that is not what the schema says: the
/// file was damaged (or edited by hand).
#[derive(Debug, thiserror::Error)]
#[error("{table} row {id}: {cause}")]
struct CorruptRow {
    table: &'static str,
    id: i64,
    cause: rusqlite::Error,
}

/// Reads row `id` of `table` with `read`; a value that cannot be read names
/// the row (see [`classify`]).
fn named_row<T>(
    table: &'static str,
    r: &Row,
    read: impl FnOnce(&Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let id: i64 = r.get(0)?;
    read(r).map_err(|cause| match cause {
        rusqlite::Error::FromSqlConversionFailure(i, ty, _)
        | rusqlite::Error::InvalidColumnType(i, _, ty) => {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                ty,
                Box::new(CorruptRow { table, id, cause }),
            )
        }
        rusqlite::Error::IntegralValueOutOfRange(i, _) | rusqlite::Error::Utf8Error(i, _) => {
            let corrupt = CorruptRow { table, id, cause };
            rusqlite::Error::FromSqlConversionFailure(i, Type::Null, Box::new(corrupt))
        }
        other => other,
    })
}

/// A SQLite error as the store reports it: damage is `Corrupt`, naming the
/// row when a row could not be read.
fn classify(e: rusqlite::Error) -> StoreErrorKind {
    match e {
        rusqlite::Error::FromSqlConversionFailure(_, _, cause) => {
            match cause.downcast::<CorruptRow>() {
                Ok(row) => StoreErrorKind::Corrupt(row.to_string()),
                Err(other) => StoreErrorKind::Corrupt(other.to_string()),
            }
        }
        rusqlite::Error::SqliteFailure(f, message)
            if f.code == rusqlite::ErrorCode::DatabaseCorrupt =>
        {
            StoreErrorKind::Corrupt(message.unwrap_or_else(|| f.to_string()))
        }
        other => StoreErrorKind::Sqlite(other),
    }
}

fn pipeline_row(r: &Row) -> rusqlite::Result<PipelineRow> {
    named_row("pipeline", r, read_pipeline)
}

fn read_pipeline(r: &Row) -> rusqlite::Result<PipelineRow> {
    Ok(PipelineRow {
        id: r.get(0)?,
        arch: r.get(1)?,
        dataset: r.get(2)?,
        config: json(r, 3)?,
        status: r.get(4)?,
        created_at: r.get(5)?,
        finished_at: r.get(6)?,
        error: r.get(7)?,
    })
}

/// Reads a row selected with `RUN_COLUMNS`; relative paths are resolved
/// against the store's folder `dir`.
fn run_row(r: &Row, dir: &Path) -> rusqlite::Result<RunRow> {
    named_row("run", r, |r| read_run(r, dir))
}

fn read_run(r: &Row, dir: &Path) -> rusqlite::Result<RunRow> {
    let path = |i| paths::read(r, i, dir);
    Ok(RunRow {
        id: r.get(0)?,
        pipeline_id: r.get(1)?,
        key: r.get(2)?,
        role: r.get(3)?,
        stage: r.get(4)?,
        description: r.get(5)?,
        network: json(r, 6)?,
        config: json(r, 7)?,
        plugins: json(r, 8)?,
        backend: r.get(9)?,
        seed: r.get::<_, i64>(10)? as u64,
        relus: unsigned(r, 11)?,
        status: r.get(12)?,
        accuracy: r.get(13)?,
        latency: r
            .get::<_, Option<String>>(14)?
            .map(|text| parse_json(14, &text))
            .transpose()?,
        inference_ms: r.get(15)?,
        checkpoint_dir: path(16)?,
        weights: path(17)?,
        error: r.get(18)?,
        started_at: r.get(19)?,
        finished_at: r.get(20)?,
        job: match r.get::<_, Option<String>>(21)? {
            None => None,
            Some(id) => Some(ClusterJob {
                id,
                state: r.get(22)?,
                reason: r.get(23)?,
                submissions: r.get::<_, i64>(24)? as u32,
            }),
        },
    })
}

fn json(r: &Row, i: usize) -> rusqlite::Result<Value> {
    parse_json(i, &r.get::<_, String>(i)?)
}

/// Column `i`'s text that is not JSON is a conversion error, not a panic.
fn parse_json(i: usize, text: &str) -> rusqlite::Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}

fn unsigned(r: &Row, i: usize) -> rusqlite::Result<u64> {
    let v: i64 = r.get(i)?;
    u64::try_from(v)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Integer, Box::new(e)))
}

/// A metric column: SQLite stores NaN (a diverged loss) as NULL, read it back as NaN.
fn real(r: &Row, i: usize) -> rusqlite::Result<f64> {
    Ok(r.get::<_, Option<f64>>(i)?.unwrap_or(f64::NAN))
}
