//! Training and pipeline workers. Each runs on its own thread with a
//! snapshot of the plugin host, reports pipeline events over a channel and
//! stops between batches when cancelled. The UI drains the events each
//! frame and never waits for a worker.

use crate::engine::backend::Backend;
use crate::engine::pipeline::{PipelineError, PipelineEvent, Runner};
use crate::engine::plugin_host::PluginHost;
use crate::engine::store::RunRole;
use crate::engine::train::TrainEvent;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Single { run_id: i64 },
    Pipeline { id: i64 },
}

#[derive(Clone, Debug, PartialEq)]
pub enum JobState {
    Running,
    Completed(String),
    Cancelled,
    Failed(String),
}

/// One run's live curves: loss per batch (x in epochs) and test accuracy
/// per epoch.
#[derive(Clone, Debug, Default)]
pub struct Curves {
    pub description: String,
    pub loss: Vec<[f64; 2]>,
    pub test_accuracy: Vec<[f64; 2]>,
}

/// Where the current run is.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// The role of the trainings the method asked for last.
    pub step: Option<RunRole>,
    pub run: Option<String>,
    pub run_index: usize,
    pub runs: usize,
    pub epoch: usize,
    pub epochs: usize,
    pub start_epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: Option<f64>,
    pub images_per_second: f64,
}

impl Progress {
    fn fraction(&self) -> f32 {
        let total = (self.epochs.saturating_sub(self.start_epoch) * self.batches) as f32;
        if total == 0.0 {
            return 0.0;
        }
        let done =
            (self.epoch.saturating_sub(self.start_epoch + 1) * self.batches + self.batch) as f32;
        (done / total).clamp(0.0, 1.0)
    }
}

pub struct Job {
    pub kind: JobKind,
    pub title: String,
    pub state: JobState,
    pub progress: Progress,
    /// Per run, in the order they started.
    pub curves: Vec<Curves>,
    pub finished_runs: usize,
    /// Trains on wgpu, whose first step compiles the kernels.
    pub on_wgpu: bool,
    /// The current run's first step ended then, at this fraction: the pace
    /// the ETA extrapolates is the one after it.
    paced_from: Option<(Instant, f32)>,
    cancel: Arc<AtomicBool>,
    events: Receiver<PipelineEvent>,
    done: Receiver<JobState>,
}

/// What a worker needs besides its task.
#[derive(Clone)]
pub struct WorkerContext {
    pub host: PluginHost,
    pub backend: Arc<Backend>,
    pub store_path: PathBuf,
    pub repaint: egui::Context,
}

impl Job {
    /// Starts `task` on a worker thread.
    pub fn spawn(
        kind: JobKind,
        title: String,
        ctx: WorkerContext,
        task: impl FnOnce(&Runner) -> Result<String, PipelineError> + Send + 'static,
    ) -> Job {
        let (events_tx, events) = channel();
        let (done_tx, done) = channel();
        let on_wgpu = ctx.backend.is_wgpu;
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        std::thread::spawn(move || {
            let runner = Runner {
                host: &ctx.host,
                store_path: ctx.store_path.clone(),
                backend: &ctx.backend,
                events: Some(events_tx),
                cancel: Some(&flag),
            };
            let state = match task(&runner) {
                Ok(summary) => JobState::Completed(summary),
                Err(PipelineError::Cancelled) => JobState::Cancelled,
                Err(e) => JobState::Failed(e.to_string()),
            };
            drop(runner);
            let _ = done_tx.send(state);
            ctx.repaint.request_repaint();
        });
        Job {
            kind,
            title,
            state: JobState::Running,
            progress: Progress::default(),
            curves: Vec::new(),
            finished_runs: 0,
            on_wgpu,
            paced_from: None,
            cancel,
            events,
            done,
        }
    }

    pub fn is_running(&self) -> bool {
        self.state == JobState::Running
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn cancelling(&self) -> bool {
        self.is_running() && self.cancel.load(Ordering::Relaxed)
    }

    /// Fraction of the current run done.
    pub fn fraction(&self) -> f32 {
        self.progress.fraction()
    }

    /// Time left in the current run, extrapolated from its pace since its
    /// first step.
    pub fn eta(&self) -> Option<Duration> {
        let (since, start) = self.paced_from?;
        let (f, start) = (self.fraction() as f64, start as f64);
        (f > start).then(|| since.elapsed().mul_f64((1.0 - f) / (f - start)))
    }

    /// The current run trains but has not finished its first step yet.
    pub fn in_first_step(&self) -> bool {
        let p = &self.progress;
        self.is_running() && p.epochs > 0 && p.loss.is_none()
    }

    /// Applies the events that arrived; true when a run started or finished
    /// (the store has news).
    pub fn drain(&mut self) -> bool {
        let mut store_changed = false;
        while let Ok(event) = self.events.try_recv() {
            store_changed |= self.apply(event);
        }
        if let Ok(state) = self.done.try_recv() {
            self.state = state;
            store_changed = true;
        }
        store_changed
    }

    fn apply(&mut self, event: PipelineEvent) -> bool {
        let p = &mut self.progress;
        match event {
            PipelineEvent::Step { role, .. } => {
                p.step = Some(role);
                false
            }
            PipelineEvent::RunStarted {
                description,
                index,
                total,
                ..
            } => {
                p.run = Some(description.clone());
                (p.run_index, p.runs) = (index, total);
                (p.epoch, p.batch, p.loss, p.epochs) = (0, 0, None, 0);
                self.paced_from = None;
                self.curves.push(Curves {
                    description,
                    ..Curves::default()
                });
                true
            }
            // Epochs and job states are in the store: the table shows them.
            PipelineEvent::Train { event, .. } => {
                let epoch = matches!(event, TrainEvent::Epoch(_));
                self.apply_train(event);
                epoch
            }
            PipelineEvent::Job { .. } => true,
            PipelineEvent::RunFinished { .. } => {
                self.finished_runs += 1;
                true
            }
            PipelineEvent::Criticality { .. } => false,
        }
    }

    fn apply_train(&mut self, event: TrainEvent) {
        let p = &mut self.progress;
        let curves = self.curves.last_mut();
        match event {
            TrainEvent::Started {
                epochs,
                batches_per_epoch,
                start_epoch,
            } => {
                (p.epochs, p.batches, p.start_epoch) = (epochs, batches_per_epoch, start_epoch);
                p.epoch = start_epoch + 1;
            }
            TrainEvent::Batch {
                epoch,
                batch,
                loss,
                images_per_second,
            } => {
                (p.epoch, p.batch, p.loss) = (epoch, batch, Some(loss));
                if self.paced_from.is_none() {
                    self.paced_from = Some((Instant::now(), p.fraction()));
                }
                p.images_per_second = images_per_second;
                if let Some(c) = curves {
                    let x = (epoch - 1) as f64 + batch as f64 / p.batches.max(1) as f64;
                    c.loss.push([x, loss]);
                }
            }
            TrainEvent::Epoch(m) => {
                if let Some(c) = curves {
                    c.test_accuracy.push([m.epoch as f64, m.test_accuracy]);
                }
            }
        }
    }
}
