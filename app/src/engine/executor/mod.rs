//! Where a pipeline's trainings run: threads in this process (the default)
//! or jobs of a Slurm cluster (`deepreduce run-job` on a node, results back
//! as files in a shared folder; the run store stays on this machine).

pub mod slurm;

use serde::{Deserialize, Serialize};
use slurm::SlurmOptions;

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
