//! The training flags shared by `train` and `pipeline`.

use crate::engine::backend::BackendChoice;
use crate::engine::train::TrainConfig;
use crate::engine::train::schedule::ScheduleKind;

#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Default: the paper's, 150 on CIFAR-10, else 120.
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Learning-rate schedule: step (/10 every 30 epochs, or every quarter of a shorter run), cosine, constant.
    /// Default: the paper's, cosine on CIFAR-10, else step.
    #[arg(long, value_enum)]
    schedule: Option<ScheduleKind>,
    /// Train on this many images (class-balanced subset).
    #[arg(long)]
    subset: Option<usize>,
    /// Evaluate on this many test images.
    #[arg(long)]
    test_subset: Option<usize>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
}

impl TrainArgs {
    /// The training configuration for `dataset` (a name or a path), whose
    /// recipe gives the epochs and schedule not given on the command line.
    pub fn config(&self, dataset: &str) -> TrainConfig {
        let (epochs, schedule) = TrainConfig::paper_schedule(dataset);
        TrainConfig {
            seed: self.seed,
            ..TrainConfig::with_choices(
                self.epochs.unwrap_or(epochs),
                self.batch,
                self.lr,
                self.schedule.unwrap_or(schedule),
                self.subset,
                self.test_subset,
            )
        }
    }
}
