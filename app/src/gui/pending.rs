//! A value computed on a worker thread that the UI polls each frame, so
//! that the window never waits on a plugin (a plugin call may hang until
//! its timeout). The frames may wait for the value briefly, [`FRAME_WAIT`]
//! in all: a plugin usually answers in about a millisecond, and its answer
//! then shows in the frame that asked, with no flicker of "waiting".

use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the frames may wait for one worker, in all, before they show
/// that they are waiting and go on without its value.
pub const FRAME_WAIT: Duration = Duration::from_millis(50);

/// The worker ended without a value: it panicked (the message is on
/// stderr).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the worker thread panicked (see the terminal's output)")]
pub struct Panicked;

/// Idle, or waiting for a worker's value.
pub struct Pending<T> {
    running: Option<Running<T>>,
}

struct Running<T> {
    value: Receiver<T>,
    worker: JoinHandle<()>,
    started: Instant,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending { running: None }
    }
}

impl<T: Send + 'static> Pending<T> {
    /// A worker computing `work`, repainting `ctx` when it is done.
    pub fn spawn(ctx: &egui::Context, work: impl FnOnce() -> T + Send + 'static) -> Self {
        let mut pending = Pending::default();
        pending.start(ctx, work);
        pending
    }

    /// Computes `work` on a new thread; a value still pending is dropped
    /// (its worker ends on its own).
    pub fn start(&mut self, ctx: &egui::Context, work: impl FnOnce() -> T + Send + 'static) {
        let (sender, value) = channel();
        let ctx = ctx.clone();
        let worker = std::thread::Builder::new()
            .name("gui-worker".into())
            .spawn(move || {
                // Not sent when the UI dropped its side: nobody wants it.
                if sender.send(work()).is_ok() {
                    ctx.request_repaint();
                }
            })
            .expect("a thread for a worker");
        self.running = Some(Running {
            value,
            worker,
            started: Instant::now(),
        });
    }
}

impl<T> Pending<T> {
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// How long the worker has run, once the frames no longer wait for
    /// it: time to show that it is running.
    pub fn waiting(&self) -> Option<Duration> {
        let elapsed = self.running.as_ref()?.started.elapsed();
        (elapsed >= FRAME_WAIT).then_some(elapsed)
    }

    /// The value once the worker is done (then idle again), waiting for it
    /// until [`FRAME_WAIT`] after it started.
    pub fn poll(&mut self) -> Option<Result<T, Panicked>> {
        let running = self.running.as_ref()?;
        let wait = FRAME_WAIT.saturating_sub(running.started.elapsed());
        let result = match running.value.recv_timeout(wait) {
            Ok(value) => Ok(value),
            Err(RecvTimeoutError::Timeout) => return None,
            Err(RecvTimeoutError::Disconnected) => Err(Panicked),
        };
        // The worker asks for a repaint right after it sends: joined, that
        // request is in before this frame ends, not a stray repaint later.
        let finished = self.running.take().expect("running above");
        let _ = finished.worker.join();
        Some(result)
    }
}

/// A spinner and what the window waits for, wrapped to the width there
/// is: a wait must not widen a side panel for good.
pub fn waiting_label(ui: &mut egui::Ui, text: impl Into<egui::WidgetText>) {
    ui.horizontal_wrapped(|ui| {
        ui.spinner();
        ui.label(text);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    /// Polls until the worker is done: whether that is within the frame
    /// wait depends on how busy the machine is.
    fn value<T>(pending: &mut Pending<T>) -> Result<T, Panicked> {
        loop {
            if let Some(value) = pending.poll() {
                return value;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_value_is_taken_once_and_the_pending_is_idle_again() {
        let ctx = egui::Context::default();
        let mut pending = Pending::spawn(&ctx, || 42);
        assert_eq!(value(&mut pending), Ok(42));
        assert!(!pending.is_running());
        assert_eq!(pending.poll(), None, "idle");
        assert_eq!(pending.waiting(), None);
    }

    #[test]
    fn a_slow_value_is_waited_for_briefly_then_polled() {
        let ctx = egui::Context::default();
        let (release, released) = sync_channel::<()>(0);
        let mut pending = Pending::spawn(&ctx, move || released.recv().map(|_| "done"));
        assert_eq!(pending.poll(), None, "not released yet");
        assert!(pending.waiting().is_some(), "past the frame wait");
        release.send(()).unwrap();
        assert_eq!(value(&mut pending), Ok(Ok("done")));
    }

    #[test]
    fn a_worker_that_panics_is_reported() {
        let ctx = egui::Context::default();
        let mut pending: Pending<()> = Pending::spawn(&ctx, || panic!("a bug in a worker"));
        assert_eq!(value(&mut pending), Err(Panicked));
    }
}
