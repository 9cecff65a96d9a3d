//! Native file dialogs, off the UI thread and behind a trait so that tests
//! never open one. Every place that asks for a path also has a path field,
//! the fallback when no dialog can be shown (no desktop portal, say).

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};

/// What the chosen path is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    LoadPlugin,
    DataFile,
    DataFolder,
    ExportTo,
    SharedFolder,
}

/// A dialog to show.
#[derive(Clone, Debug)]
pub struct Request {
    pub purpose: Purpose,
    pub title: String,
    pub kind: DialogKind,
    pub start_in: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub enum DialogKind {
    OpenFile {
        filter: Option<(String, Vec<String>)>,
    },
    PickFolder,
    SaveFile {
        file_name: String,
    },
}

/// Shows dialogs; answers arrive later through [`FileDialogs::poll`]
/// (`None` when the user cancelled or no dialog could be shown).
pub trait FileDialogs {
    fn open(&mut self, request: Request);
    fn poll(&mut self) -> Option<(Purpose, Option<PathBuf>)>;
    /// A dialog is open; the button that opens one is disabled meanwhile.
    fn busy(&self) -> bool;
}

/// rfd's native dialogs (the desktop portal on Linux), one at a time, each
/// on its own thread.
pub struct NativeDialogs {
    tx: Sender<(Purpose, Option<PathBuf>)>,
    rx: Receiver<(Purpose, Option<PathBuf>)>,
    open: bool,
    repaint: egui::Context,
}

impl NativeDialogs {
    pub fn new(repaint: egui::Context) -> Self {
        let (tx, rx) = channel();
        NativeDialogs {
            tx,
            rx,
            open: false,
            repaint,
        }
    }
}

impl FileDialogs for NativeDialogs {
    fn open(&mut self, request: Request) {
        if self.open {
            return;
        }
        self.open = true;
        let tx = self.tx.clone();
        let repaint = self.repaint.clone();
        std::thread::spawn(move || {
            let mut dialog = rfd::FileDialog::new().set_title(&request.title);
            if let Some(dir) = &request.start_in {
                dialog = dialog.set_directory(dir);
            }
            let path = match request.kind {
                DialogKind::OpenFile { filter } => {
                    if let Some((name, extensions)) = filter {
                        dialog = dialog.add_filter(name, &extensions);
                    }
                    dialog.pick_file()
                }
                DialogKind::PickFolder => dialog.pick_folder(),
                DialogKind::SaveFile { file_name } => dialog.set_file_name(file_name).save_file(),
            };
            let _ = tx.send((request.purpose, path));
            repaint.request_repaint();
        });
    }

    fn poll(&mut self) -> Option<(Purpose, Option<PathBuf>)> {
        let answer = self.rx.try_recv().ok();
        if answer.is_some() {
            self.open = false;
        }
        answer
    }

    fn busy(&self) -> bool {
        self.open
    }
}

/// Answers dialogs from a script: what tests use.
#[derive(Default)]
pub struct ScriptedDialogs {
    pub answers: std::collections::VecDeque<Option<PathBuf>>,
    pub asked: Vec<Request>,
    pending: Option<(Purpose, Option<PathBuf>)>,
}

impl ScriptedDialogs {
    pub fn answering(answers: impl IntoIterator<Item = Option<PathBuf>>) -> Self {
        ScriptedDialogs {
            answers: answers.into_iter().collect(),
            ..Self::default()
        }
    }
}

impl FileDialogs for ScriptedDialogs {
    fn open(&mut self, request: Request) {
        let answer = self.answers.pop_front().flatten();
        self.pending = Some((request.purpose, answer));
        self.asked.push(request);
    }

    fn poll(&mut self) -> Option<(Purpose, Option<PathBuf>)> {
        self.pending.take()
    }

    fn busy(&self) -> bool {
        false
    }
}
