//! Plugins panel: every plugin found (id, kind, version, vendor, state,
//! file, SHA-256) and every library refused with its error in words;
//! "Load plugin…" adds a library at run time. Each plugin runs in its own
//! process: its state (sandboxed, not sandboxed and why, crashed, disabled)
//! is read every frame, its log is shown on request, and a plugin the user
//! trusts runs without the sandbox.

use super::Workbench;
use super::dialogs::{DialogKind, Purpose, Request};
use super::pending::waiting_label;
use super::plugin_log::{LogAction, LogView};
use super::plugin_starts::PluginStarts;
use crate::engine::plugin_host::{PluginHost, PluginState, file_sha256};
use egui::accesskit::Role;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A plugin as listed: what was loaded, or why a file was refused.
pub struct PluginRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub version: String,
    pub vendor: String,
    pub description: String,
    pub path: PathBuf,
    pub sha256: String,
    /// None when loaded.
    pub error: Option<String>,
}

pub struct PluginsState {
    pub rows: Vec<PluginRow>,
    path_field: String,
    /// The outcome of the last load or restart.
    pub(super) last_outcome: Option<Result<String, String>>,
    pub(super) starts: PluginStarts,
    log: Option<LogView>,
}

impl PluginsState {
    /// The plugins `host` loaded, those the settings trust run without the
    /// sandbox (started again in the first frames).
    pub fn new(host: &mut PluginHost, trusted: &BTreeSet<String>) -> Self {
        let mut state = PluginsState {
            rows: Vec::new(),
            path_field: String::new(),
            last_outcome: None,
            starts: PluginStarts::trusting(host, trusted),
            log: None,
        };
        state.refresh(host);
        state
    }

    /// A plugin process is being started.
    pub fn busy(&self) -> bool {
        self.starts.busy()
    }

    /// Relists the host's plugins; a file already listed keeps its hash
    /// (hashing every library again on each load would be wasted I/O).
    pub(super) fn refresh(&mut self, host: &PluginHost) {
        let known: std::collections::HashMap<PathBuf, String> = self
            .rows
            .drain(..)
            .map(|row| (row.path, row.sha256))
            .collect();
        let hash = |p: &Path| {
            known
                .get(p)
                .cloned()
                .unwrap_or_else(|| file_sha256(p).unwrap_or_else(|e| format!("unreadable: {e}")))
        };
        let loaded = host.plugins().iter().map(|p| {
            let d = &p.descriptor;
            PluginRow {
                id: d.id.clone(),
                name: d.name.clone(),
                kind: d.kind.as_str().into(),
                version: d.version.clone(),
                vendor: d.vendor.clone(),
                description: d.description.clone(),
                path: p.path.clone(),
                sha256: hash(&p.path),
                error: None,
            }
        });
        let refused = host.failures().iter().map(|f| PluginRow {
            id: "?".into(),
            name: file_label(&f.error.file),
            kind: "?".into(),
            version: "?".into(),
            vendor: "?".into(),
            description: String::new(),
            path: f.error.file.clone(),
            sha256: hash(&f.error.file),
            error: Some(f.error.cause.to_string()),
        });
        self.rows = loaded.chain(refused).collect();
    }
}

/// A file's name, or its whole path if it has none.
pub(super) fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// What a click in a plugin's row asks for.
enum RowClick {
    Trust(String, bool),
    Log(String, PathBuf),
}

impl Workbench {
    pub(super) fn plugins_panel(&mut self, ui: &mut egui::Ui) {
        if let Some(log) = &self.plugins.log {
            let action = egui::Panel::bottom("plugin-log")
                .resizable(true)
                .default_size(280.0)
                .show(ui, |ui| log.show(ui))
                .inner;
            match action {
                Some(LogAction::Refresh) => {
                    if let Some(log) = &mut self.plugins.log {
                        log.refresh(&self.host);
                    }
                }
                Some(LogAction::Close) => self.plugins.log = None,
                None => {}
            }
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.load_controls(ui);
            ui.separator();
            let click = self.plugin_list(ui);
            match click {
                Some(RowClick::Trust(id, trusted)) => self.set_trusted(ui.ctx(), &id, trusted),
                Some(RowClick::Log(title, library)) => {
                    let shown = self.plugins.log.as_ref().map(LogView::library);
                    self.plugins.log = (shown != Some(library.as_path()))
                        .then(|| LogView::read(&self.host, title, &library));
                }
                None => {}
            }
        });
    }

    /// "Load plugin…", the path field and the outcome of the last load.
    fn load_controls(&mut self, ui: &mut egui::Ui) {
        let loading = self.plugins.starts.loading();
        ui.horizontal(|ui| {
            let button = ui.add_enabled(
                !self.dialogs.busy() && !loading,
                egui::Button::new("Load plugin…"),
            );
            if button.clicked() {
                self.dialogs.open(Request {
                    purpose: Purpose::LoadPlugin,
                    title: "Load a DeepReDuce plugin".into(),
                    kind: DialogKind::OpenFile {
                        filter: Some((
                            "Plugin library".into(),
                            vec![std::env::consts::DLL_EXTENSION.into()],
                        )),
                    },
                    start_in: self.settings.last_plugin_folder.clone(),
                });
            }
            ui.label("or path:");
            let field = ui.add(
                egui::TextEdit::singleline(&mut self.plugins.path_field)
                    .hint_text("/path/to/libmy_plugin.so")
                    .desired_width(360.0),
            );
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let load = ui.add_enabled(!loading, egui::Button::new("Load"));
            if (load.clicked() || enter) && !loading && !self.plugins.path_field.is_empty() {
                let path = PathBuf::from(self.plugins.path_field.trim());
                self.load_plugin(ui.ctx(), &path);
            }
            if loading {
                ui.spinner();
                ui.label("starting its process…");
            }
        });
        match &self.plugins.last_outcome {
            Some(Ok(message)) => {
                ui.colored_label(ui.visuals().widgets.active.fg_stroke.color, message);
            }
            Some(Err(message)) => {
                ui.colored_label(ui.visuals().error_fg_color, message);
            }
            None => {}
        }
    }

    /// The table of plugins; returns what a click in a row asked for.
    fn plugin_list(&self, ui: &mut egui::Ui) -> Option<RowClick> {
        let loaded = self
            .plugins
            .rows
            .iter()
            .filter(|r| r.error.is_none())
            .count();
        ui.label(format!(
            "{loaded} plugins loaded, {} refused",
            self.plugins.rows.len() - loaded
        ));
        let shown_log = self.plugins.log.as_ref().map(LogView::library);
        let mut click = None;
        egui::ScrollArea::both().show(ui, |ui| {
            egui::Grid::new("plugins")
                .striped(true)
                .num_columns(9)
                .show(ui, |ui| {
                    for title in [
                        "Id",
                        "Kind",
                        "Version",
                        "Vendor",
                        "State",
                        "Trusted (no sandbox)",
                        "Log",
                        "File",
                        "SHA-256",
                    ] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    for row in &self.plugins.rows {
                        let showing = shown_log == Some(row.path.as_path());
                        if let Some(c) = self.plugin_row(ui, row, showing) {
                            click = Some(c);
                        }
                        ui.end_row();
                    }
                });
        });
        click
    }

    fn plugin_row(&self, ui: &mut egui::Ui, row: &PluginRow, showing: bool) -> Option<RowClick> {
        ui.label(&row.id)
            .on_hover_text(format!("{}: {}", row.name, row.description));
        ui.label(&row.kind);
        ui.label(&row.version);
        ui.label(&row.vendor);
        // A refused library has no process: no state to show, nothing to trust.
        let plugin = row
            .error
            .is_none()
            .then(|| self.host.get(&row.id))
            .flatten();
        let mut click = None;
        match plugin {
            None => {
                let error = row.error.as_deref().unwrap_or_default();
                ui.colored_label(ui.visuals().error_fg_color, error);
                ui.label("");
            }
            Some(plugin) => {
                if self.plugins.starts.restarting(&row.id) {
                    waiting_label(ui, "restarting…");
                } else {
                    state_label(ui, &plugin.state());
                }
                click = self.trust_box(ui, &row.id);
            }
        }
        let title = match plugin {
            Some(_) => row.id.clone(),
            None => file_label(&row.path),
        };
        let log = ui
            .add(egui::Button::new("log").selected(showing))
            .on_hover_text("what its process printed, and its crashes and timeouts");
        name_widget(&log, Role::Button, showing, format!("Log of {title}"));
        if log.clicked() {
            click = Some(RowClick::Log(title, row.path.clone()));
        }
        ui.label(file_label(&row.path))
            .on_hover_text(row.path.display().to_string());
        ui.monospace(&row.sha256[..row.sha256.len().min(16)])
            .on_hover_text(&row.sha256);
        click
    }

    /// Whether plugin `id` runs without the sandbox, as a checkbox.
    fn trust_box(&self, ui: &mut egui::Ui, id: &str) -> Option<RowClick> {
        let mut trusted = self.host.options().trusted.contains(id);
        let response = ui
            .add(egui::Checkbox::without_text(&mut trusted))
            .on_hover_text(
                "Trust (run without sandbox): it may then read and write your files and use \
                 the network, still in its own process",
            );
        name_widget(&response, Role::CheckBox, trusted, format!("Trust {id}"));
        response
            .changed()
            .then(|| RowClick::Trust(id.to_string(), trusted))
    }
}

/// One word, the detail on hover; a crashed or disabled plugin in the
/// error colour.
fn state_label(ui: &mut egui::Ui, state: &PluginState) {
    let label = match state {
        PluginState::Crashed { .. } | PluginState::Disabled { .. } => {
            ui.colored_label(ui.visuals().error_fg_color, state.label())
        }
        PluginState::Running(_) => ui.label(state.label()),
    };
    label.on_hover_text(state.to_string());
}

/// Names a widget whose text is short or absent (a bare checkbox, "log")
/// by the plugin it acts on, for screen readers (and tests).
fn name_widget(response: &egui::Response, role: Role, selected: bool, name: String) {
    let enabled = response.enabled();
    response.widget_info(|| egui::WidgetInfo::selected(role, enabled, selected, &name));
}
