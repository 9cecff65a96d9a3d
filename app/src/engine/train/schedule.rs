//! Learning-rate schedules as pure functions of the position in training,
//! so a resumed run continues on exactly the same curve.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// lr x gamma every `every` epochs (the paper's CIFAR-100 recipe: /10 every 30).
    Step {
        every: usize,
        gamma: f64,
    },
    /// Cosine annealing from lr to 0 over the whole run, per batch (CIFAR-10 recipe).
    Cosine,
    Constant,
}

/// A schedule named without its numbers, as the CLI and the GUI offer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// /10 every 30 epochs (the paper's 120), or every quarter of a shorter run.
    Step,
    Cosine,
    Constant,
}

impl ScheduleKind {
    pub const ALL: [ScheduleKind; 3] = [
        ScheduleKind::Step,
        ScheduleKind::Cosine,
        ScheduleKind::Constant,
    ];

    pub fn for_epochs(self, epochs: usize) -> Schedule {
        match self {
            // The paper divides by 10 at epochs 30, 60, 90 of 120; shorter runs keep the proportions.
            ScheduleKind::Step => Schedule::Step {
                every: (epochs / 4).clamp(1, 30),
                gamma: 0.1,
            },
            ScheduleKind::Cosine => Schedule::Cosine,
            ScheduleKind::Constant => Schedule::Constant,
        }
    }
}

impl Schedule {
    /// A step schedule needs a whole period and a finite factor in (0, 1].
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Schedule::Step { every: 0, .. } => {
                Err("a step schedule's period must be at least 1 epoch".into())
            }
            Schedule::Step { gamma, .. } if !(gamma.is_finite() && gamma > 0.0 && gamma <= 1.0) => {
                Err(format!(
                    "a step schedule's factor must be in (0, 1], got {gamma}"
                ))
            }
            _ => Ok(()),
        }
    }

    /// The learning rate at `epoch` (0-based) after `batch` of `batches` batches.
    pub fn lr(&self, base: f64, epoch: usize, epochs: usize, batch: usize, batches: usize) -> f64 {
        match *self {
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Cosine => {
                let total = (epochs * batches).max(1) as f64;
                let done = (epoch * batches + batch) as f64;
                0.5 * base * (1.0 + (std::f64::consts::PI * done / total).cos())
            }
            Schedule::Constant => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_divides_by_ten_every_thirty_epochs() {
        let s = Schedule::Step {
            every: 30,
            gamma: 0.1,
        };
        assert_eq!(s.lr(0.1, 0, 120, 0, 10), 0.1);
        assert!((s.lr(0.1, 29, 120, 9, 10) - 0.1).abs() < 1e-15);
        assert!((s.lr(0.1, 30, 120, 0, 10) - 0.01).abs() < 1e-15);
        assert!((s.lr(0.1, 119, 120, 0, 10) - 1e-4).abs() < 1e-15);
    }

    #[test]
    fn cosine_starts_at_lr_halves_midway_and_ends_near_zero() {
        let s = Schedule::Cosine;
        assert_eq!(s.lr(0.1, 0, 10, 0, 100), 0.1);
        assert!((s.lr(0.1, 5, 10, 0, 100) - 0.05).abs() < 1e-12);
        assert!(s.lr(0.1, 9, 10, 99, 100) < 1e-5);
    }
}
