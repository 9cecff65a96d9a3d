//! The training flags shared by `train` and `pipeline`.

use crate::engine::backend::BackendChoice;
use crate::engine::train::TrainConfig;
use crate::engine::train::schedule::ScheduleKind;

#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    #[arg(long, default_value_t = 120)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Learning-rate schedule: step (/10 every 30 epochs, or every quarter of a shorter run), cosine, constant.
    #[arg(long, value_enum, default_value = "step")]
    schedule: ScheduleKind,
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
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            seed: self.seed,
            ..TrainConfig::with_choices(
                self.epochs,
                self.batch,
                self.lr,
                self.schedule,
                self.subset,
                self.test_subset,
            )
        }
    }
}
