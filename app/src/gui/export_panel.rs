//! Export panel: the network picked on the Frontier panel (or any finished
//! run), written in a deployment format from a Save dialog.

use super::Workbench;
use std::path::Path;

#[derive(Default)]
pub struct ExportState {
    path_field: String,
    last: Option<Result<String, String>>,
}

impl Workbench {
    pub(super) fn export_to(&mut self, path: &Path) {
        self.settings.last_export_folder = path.parent().map(Path::to_path_buf);
        self.export.path_field = path.display().to_string();
        self.export.last = None;
    }

    pub(super) fn export_panel(&mut self, ui: &mut egui::Ui) {
        self.refresh_runs();
        let Some(run) = self
            .settings
            .export_run
            .and_then(|id| self.runs.runs.iter().find(|r| r.id == id))
        else {
            ui.label("Pick a network: click a point on the Frontier panel.");
            return;
        };
        ui.heading(format!("run {}: {}", run.id, run.description));
        ui.label(&self.export.path_field);
        if let Some(Err(e)) = &self.export.last {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }
}
