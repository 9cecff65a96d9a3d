//! Where a pipeline's trainings run: threads in this process (the default)
//! or jobs of a Slurm cluster (`deepreduce run-job` on a node, results back
//! as files in a shared folder; the run store stays on this machine).

pub mod slurm;

use serde::{Deserialize, Serialize};
use slurm::{SlurmOptions, SlurmRequest};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Executor {
    #[default]
    Local,
    Slurm(SlurmOptions),
}

impl Executor {
    pub fn is_local(&self) -> bool {
        matches!(self, Executor::Local)
    }
}

/// Which executor a user picks (`--executor`, the Runs panel's choice).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// Threads in this process.
    #[default]
    Local,
    /// One Slurm job per training (sbatch), followed with squeue/scontrol.
    Slurm,
}

impl ExecutorKind {
    pub const ALL: [ExecutorKind; 2] = [ExecutorKind::Local, ExecutorKind::Slurm];

    pub fn label(self) -> &'static str {
        match self {
            ExecutorKind::Local => "here (threads in this process)",
            ExecutorKind::Slurm => "on a Slurm cluster (one job per training)",
        }
    }
}

/// What the user asked for, as typed: the Slurm form is kept while the
/// local executor is chosen, so switching back brings it back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecutorRequest {
    pub kind: ExecutorKind,
    pub slurm: SlurmRequest,
}

impl ExecutorRequest {
    /// The executor asked for, checked (the shared folder is created).
    pub fn executor(&self) -> Result<Executor, String> {
        match self.kind {
            ExecutorKind::Local => Ok(Executor::Local),
            ExecutorKind::Slurm => self.slurm.options().map(Executor::Slurm),
        }
    }
}
