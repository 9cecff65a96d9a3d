//! `--executor local|slurm` and the Slurm options of `deepreduce pipeline`.

use crate::engine::executor::slurm::{DEFAULT_RETRIES, SbatchOptions, SlurmRequest};
use crate::engine::executor::{Executor, ExecutorKind, ExecutorRequest};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ExecutorArgs {
    /// Where the trainings run (a resumed pipeline keeps its own).
    #[arg(long, value_enum, default_value_t)]
    executor: ExecutorKind,
    /// Slurm partition (`sbatch --partition`).
    #[arg(long, value_name = "NAME")]
    slurm_partition: Option<String>,
    /// Slurm account (`sbatch --account`).
    #[arg(long, value_name = "NAME")]
    slurm_account: Option<String>,
    /// Time limit per training (`sbatch --time`, e.g. 2:00:00).
    #[arg(long, value_name = "TIME")]
    slurm_time: Option<String>,
    /// CPUs per training (`sbatch --cpus-per-task`).
    #[arg(long, value_name = "N")]
    slurm_cpus: Option<u32>,
    /// GPUs per training (`sbatch --gpus`).
    #[arg(long, value_name = "N")]
    slurm_gpus: Option<u32>,
    /// Memory per training (`sbatch --mem`, e.g. 16G).
    #[arg(long, value_name = "SIZE")]
    slurm_mem: Option<String>,
    /// Further sbatch arguments, as one string split like a shell does (no quoting).
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    slurm_args: Option<String>,
    /// Submissions again after a job fails, times out or is preempted.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RETRIES)]
    slurm_retries: u32,
    /// A folder every node sees at the same path: specs, checkpoints and results.
    #[arg(long, value_name = "DIR")]
    shared_dir: Option<PathBuf>,
    /// The deepreduce binary nodes run (default: this one; it must be on the shared filesystem).
    #[arg(long, value_name = "PATH")]
    slurm_worker: Option<PathBuf>,
}

impl ExecutorArgs {
    /// The executor these flags ask for, checked.
    pub fn executor(&self) -> Result<Executor, String> {
        ExecutorRequest {
            kind: self.executor,
            slurm: SlurmRequest {
                sbatch: SbatchOptions {
                    partition: self.slurm_partition.clone(),
                    account: self.slurm_account.clone(),
                    time: self.slurm_time.clone(),
                    cpus_per_job: self.slurm_cpus,
                    gpus_per_job: self.slurm_gpus,
                    memory: self.slurm_mem.clone(),
                },
                extra_args: self.slurm_args.clone().unwrap_or_default(),
                shared_dir: self.shared_dir.clone(),
                worker: self.slurm_worker.clone(),
                retries: self.slurm_retries,
            },
        }
        .executor()
    }
}
