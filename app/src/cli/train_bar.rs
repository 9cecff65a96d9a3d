//! One training's progress bar. While its first step runs it says so
//! instead of showing an ETA: on the GPU backend that step compiles the
//! kernels, minutes on a cold cache, and an ETA extrapolated from it would
//! be wrong by as much. From the first step on, the ETA follows
//! the pace after it.

use indicatif::{ProgressBar, ProgressStyle};

/// What the bar says until the first step is done.
pub const FIRST_STEP: &str = "first step (on wgpu: compiling and tuning the kernels)…";

fn style(with_eta: bool) -> ProgressStyle {
    let eta = if with_eta { " ETA {eta}" } else { "" };
    ProgressStyle::with_template(&format!(
        "{{prefix:.bold}} [{{bar:25}}] {{pos}}/{{len}} {{msg}}{eta}"
    ))
    .expect("template")
    .progress_chars("=> ")
}

pub struct TrainBar {
    pub bar: ProgressBar,
    stepped: bool,
}

impl TrainBar {
    pub fn new(bar: ProgressBar) -> Self {
        bar.set_style(style(false));
        TrainBar {
            bar,
            stepped: false,
        }
    }

    /// The training started: `steps` batches to go.
    pub fn started(&mut self, steps: u64) {
        self.bar.set_length(steps);
        self.bar.set_message(FIRST_STEP);
    }

    /// A batch is done; `message` describes it.
    pub fn batch(&mut self, message: String) {
        if !self.stepped {
            self.stepped = true;
            self.bar.set_style(style(true));
            self.bar.reset_eta();
        }
        self.bar.set_message(message);
        self.bar.inc(1);
    }
}
