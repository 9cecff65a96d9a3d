//! The trained network a command reads: a run of the store or a folder.

use crate::engine::export::Source;
use crate::engine::store::default_db;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
// Each command says which of these (or its own alternatives) it requires.
#[command(group(clap::ArgGroup::new("source").args(["run", "checkpoint"])))]
pub struct SourceArgs {
    /// A run of the run store (ids as in `deepreduce results`).
    #[arg(long)]
    run: Option<i64>,
    /// A trained network: a `train --out` folder or its model.bpk.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// The run store (SQLite): the runs of --run, and where measure keeps untrained networks' measurements; default $DEEPREDUCE_DB or ~/.local/share/deepreduce/runs.db.
    #[arg(long)]
    db: Option<PathBuf>,
}

impl SourceArgs {
    /// The run store: --db, else the default one.
    pub fn db(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(default_db)
    }

    pub fn source(&self) -> Source {
        match (&self.run, &self.checkpoint) {
            (Some(id), _) => Source::Run {
                id: *id,
                db: self.db(),
            },
            (None, Some(path)) => Source::Checkpoint(path.clone()),
            (None, None) => unreachable!("the command requires --run or --checkpoint"),
        }
    }
}
