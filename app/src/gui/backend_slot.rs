//! The training backend, found on a thread: enumerating wgpu adapters can
//! take a while, and the window must open at once.

use crate::engine::backend::{Backend, BackendChoice, select};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

pub struct BackendSlot {
    choice: BackendChoice,
    pending: Option<Receiver<Backend>>,
    ready: Option<Arc<Backend>>,
}

impl BackendSlot {
    pub fn new(choice: BackendChoice) -> Self {
        let mut slot = BackendSlot {
            choice,
            pending: None,
            ready: None,
        };
        slot.detect();
        slot
    }

    fn detect(&mut self) {
        let (tx, rx) = channel();
        let choice = self.choice;
        std::thread::spawn(move || {
            let _ = tx.send(select(choice));
        });
        self.pending = Some(rx);
        self.ready = None;
    }

    /// Picks up a finished detection; starts another when the choice changed.
    pub fn poll(&mut self, choice: BackendChoice) {
        if choice != self.choice {
            self.choice = choice;
            self.detect();
        }
        if let Some(backend) = self.pending.as_ref().and_then(|rx| rx.try_recv().ok()) {
            self.ready = Some(Arc::new(backend));
            self.pending = None;
        }
    }

    pub fn get(&self) -> Option<Arc<Backend>> {
        self.ready.clone()
    }

    pub fn label(&self) -> String {
        match &self.ready {
            Some(b) => format!("backend: {}", b.label),
            None => "backend: detecting…".into(),
        }
    }
}
