//! Plugins panel: every plugin found (id, kind, version, vendor, file,
//! SHA-256, status) and every library refused with its error in words;
//! "Load plugin…" adds a library at run time.

use super::Workbench;
use super::dialogs::{DialogKind, Purpose, Request};
use crate::engine::plugin_host::{PluginHost, file_sha256};
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

#[derive(Default)]
pub struct PluginsState {
    pub rows: Vec<PluginRow>,
    path_field: String,
    /// The outcome of the last "Load plugin".
    last_load: Option<Result<String, String>>,
}

impl PluginsState {
    pub fn new(host: &PluginHost) -> Self {
        let mut state = PluginsState::default();
        state.refresh(host);
        state
    }

    /// Relists the host's plugins; a file already listed keeps its hash
    /// (hashing every library again on each load would be wasted I/O).
    fn refresh(&mut self, host: &PluginHost) {
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

fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

impl Workbench {
    /// Loads a third-party library; a broken one is listed with its error
    /// and disturbs nothing else.
    pub(super) fn load_plugin(&mut self, path: &Path) {
        self.settings.last_plugin_folder = path.parent().map(Path::to_path_buf);
        let outcome = match self.host.load(path) {
            Ok(p) => Ok(format!(
                "loaded {} {} from {}",
                p.descriptor.id,
                p.descriptor.version,
                path.display()
            )),
            Err(e) => Err(e.to_string()),
        };
        self.plugins.last_load = Some(outcome);
        self.plugins.refresh(&self.host);
        self.network.plugins_changed();
    }

    pub(super) fn plugins_panel(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let button = ui.add_enabled(!self.dialogs.busy(), egui::Button::new("Load plugin…"));
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
            if (ui.button("Load").clicked() || enter) && !self.plugins.path_field.is_empty() {
                let path = PathBuf::from(self.plugins.path_field.trim());
                self.load_plugin(&path);
            }
        });
        match &self.plugins.last_load {
            Some(Ok(message)) => {
                ui.colored_label(ui.visuals().widgets.active.fg_stroke.color, message);
            }
            Some(Err(message)) => {
                ui.colored_label(ui.visuals().error_fg_color, message);
            }
            None => {}
        }
        ui.separator();
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
        egui::ScrollArea::both().show(ui, |ui| {
            egui::Grid::new("plugins")
                .striped(true)
                .num_columns(7)
                .show(ui, |ui| {
                    for title in [
                        "Id", "Kind", "Version", "Vendor", "Status", "File", "SHA-256",
                    ] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    for row in &self.plugins.rows {
                        ui.label(&row.id)
                            .on_hover_text(format!("{}: {}", row.name, row.description));
                        ui.label(&row.kind);
                        ui.label(&row.version);
                        ui.label(&row.vendor);
                        match &row.error {
                            None => ui.label("loaded"),
                            Some(e) => ui.colored_label(ui.visuals().error_fg_color, e),
                        };
                        ui.label(file_label(&row.path))
                            .on_hover_text(row.path.display().to_string());
                        ui.monospace(&row.sha256[..row.sha256.len().min(16)])
                            .on_hover_text(&row.sha256);
                        ui.end_row();
                    }
                });
        });
    }
}
