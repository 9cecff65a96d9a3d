//! The Plugins panel's log viewer: the end of one plugin library's log
//! (what its process printed and the faults the host saw), read when the
//! library is chosen and on Refresh. A refused library has a log too: its
//! process may have said why before it was refused.

use crate::engine::plugin_host::PluginHost;
use crate::engine::plugin_host::log::PluginLog;
use std::path::{Path, PathBuf};

/// How much of the end of a log is shown.
const TAIL_BYTES: u64 = 64 << 10;

/// What the log file holds.
enum LogText {
    Output(String),
    /// No file yet: the process has printed nothing and had no fault.
    NoOutputYet,
    Unreadable(String),
}

/// What the user asked of the viewer.
pub enum LogAction {
    Refresh,
    Close,
}

/// One library's log as last read.
pub struct LogView {
    /// The plugin's id, or the file name of a refused library.
    title: String,
    library: PathBuf,
    path: PathBuf,
    text: LogText,
}

impl LogView {
    pub fn read(host: &PluginHost, title: String, library: &Path) -> LogView {
        let mut view = LogView {
            title,
            library: library.to_path_buf(),
            path: PathBuf::new(),
            text: LogText::NoOutputYet,
        };
        view.refresh(host);
        view
    }

    /// The library whose log this is.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Reads the log again: the loaded plugin's, else where the host puts
    /// the library's.
    pub fn refresh(&mut self, host: &PluginHost) {
        let opened;
        let log = match host.plugins().iter().find(|p| p.path == self.library) {
            Some(plugin) => plugin.log(),
            None => {
                opened = PluginLog::open(&host.options().log_dir, &self.library);
                &opened
            }
        };
        self.path = log.path().to_path_buf();
        self.text = match log.tail(TAIL_BYTES) {
            Ok(text) => LogText::Output(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LogText::NoOutputYet,
            Err(e) => LogText::Unreadable(e.to_string()),
        };
    }

    /// Draws the log's name, path, buttons and end.
    pub fn show(&self, ui: &mut egui::Ui) -> Option<LogAction> {
        let mut action = None;
        ui.horizontal(|ui| {
            ui.strong(format!("{}'s log", self.title));
            if ui.button("Refresh").clicked() {
                action = Some(LogAction::Refresh);
            }
            if ui.button("Close").clicked() {
                action = Some(LogAction::Close);
            }
            ui.monospace(self.path.display().to_string());
        });
        match &self.text {
            LogText::Output(text) => {
                egui::ScrollArea::both()
                    .auto_shrink(false)
                    .stick_to_bottom(true)
                    .show(ui, |ui| {
                        ui.add(egui::Label::new(egui::RichText::new(text).monospace()).extend())
                    });
            }
            LogText::NoOutputYet => {
                ui.label("no output yet");
            }
            LogText::Unreadable(e) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("cannot read it: {e}"));
            }
        }
        action
    }
}
