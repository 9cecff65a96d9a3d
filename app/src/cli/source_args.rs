//! The trained network a command reads: a run of the store or a folder.

use crate::engine::export::Source;
use crate::engine::store::default_db;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["run", "checkpoint"])))]
pub struct SourceArgs {
    /// A run of the run store (ids as in `deepreduce results`).
    #[arg(long)]
    run: Option<i64>,
    /// A trained network: a `train --out` folder or its model.bpk.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// The run store (SQLite) for --run; default $DEEPREDUCE_DB or ~/.local/share/deepreduce/runs.db.
    #[arg(long)]
    db: Option<PathBuf>,
}

impl SourceArgs {
    pub fn source(&self) -> Source {
        match (&self.run, &self.checkpoint) {
            (Some(id), _) => Source::Run {
                id: *id,
                db: self.db.clone().unwrap_or_else(default_db),
            },
            (None, Some(path)) => Source::Checkpoint(path.clone()),
            (None, None) => unreachable!("clap requires --run or --checkpoint"),
        }
    }
}
