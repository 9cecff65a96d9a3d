//! Export & measure panel: the network picked on the Frontier panel (or any
//! finished run), written as ONNX, safetensors or burn's record with its
//! ReLU manifest, to a file chosen in a Save dialog, and measured in a real
//! two-party framework (the Measure section, [`super::measure_panel`]).
//! Export runs on a thread. An existing file is replaced only when it was
//! chosen in the Save dialog (which asked first); a typed path never
//! replaces one.

use super::Workbench;
use super::dialogs::{DialogKind, Purpose, Request};
use crate::engine::export::{ExportReport, ExportRequest, Format, Source, export};
use crate::format::{compact, group};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};

pub struct ExportState {
    format: Format,
    fold_bn: bool,
    merge_convs: bool,
    path_field: String,
    /// The path the Save dialog returned: it asked the user before choosing
    /// an existing file, so that export may replace it (once).
    confirmed: Option<PathBuf>,
    running: Option<Receiver<Result<ExportReport, String>>>,
    last: Option<Result<ExportReport, String>>,
}

impl Default for ExportState {
    fn default() -> Self {
        ExportState {
            format: Format::Onnx,
            fold_bn: false,
            merge_convs: false,
            path_field: String::new(),
            confirmed: None,
            running: None,
            last: None,
        }
    }
}

fn extension(format: Format) -> &'static str {
    match format {
        Format::Onnx => "onnx",
        Format::Safetensors => "safetensors",
        // A folder.
        Format::Burn => "burn",
    }
}

impl Workbench {
    pub(super) fn export_to(&mut self, path: &Path) {
        self.settings.last_export_folder = path.parent().map(Path::to_path_buf);
        self.export.path_field = path.display().to_string();
        self.export.confirmed = Some(path.to_path_buf());
    }

    fn start_export(&mut self, run: i64, ctx: &egui::Context) {
        let out = PathBuf::from(self.export.path_field.trim());
        // A path typed or edited after the dialog was not confirmed.
        let force = self.export.confirmed.take().is_some_and(|c| c == out);
        let e = &self.export;
        let request = ExportRequest {
            source: Source::Run {
                id: run,
                db: self.store_path.clone(),
            },
            format: e.format,
            out,
            fold_bn: e.fold_bn && e.format != Format::Burn,
            merge_convs: e.merge_convs && e.format != Format::Burn,
            dataset: None,
            force,
        };
        let host = self.host.clone();
        let (tx, rx) = channel();
        let repaint = ctx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(export(&host, &request).map_err(|e| e.to_string()));
            repaint.request_repaint();
        });
        self.export.running = Some(rx);
        self.export.last = None;
    }

    pub(super) fn export_panel(&mut self, ui: &mut egui::Ui) {
        self.refresh_runs(ui.ctx());
        egui::ScrollArea::vertical().show(ui, |ui| self.export_and_measure(ui));
    }

    fn export_and_measure(&mut self, ui: &mut egui::Ui) {
        if let Some(result) = self
            .export
            .running
            .as_ref()
            .and_then(|rx| rx.try_recv().ok())
        {
            self.export.last = Some(result);
            self.export.running = None;
        }
        let completed: Vec<(i64, String)> = self
            .runs
            .runs
            .iter()
            .filter(|r| r.weights.is_some())
            .map(|r| {
                (
                    r.id,
                    format!("run {}: {} ({} ReLUs)", r.id, r.description, group(r.relus)),
                )
            })
            .collect();
        if completed.is_empty() {
            ui.label("No trained network yet: train one on the Runs panel.");
            return;
        }
        let selected = self.settings.export_run.and_then(|id| {
            completed
                .iter()
                .find(|(run, _)| *run == id)
                .map(|(_, label)| label.clone())
        });
        let label = ui.label("Network (or click a point on the Frontier panel):");
        egui::ComboBox::from_id_salt("export-run")
            .selected_text(selected.as_deref().unwrap_or("pick one"))
            .width(520.0)
            .show_ui(ui, |ui| {
                for (id, text) in &completed {
                    ui.selectable_value(&mut self.settings.export_run, Some(*id), text);
                }
            })
            .response
            .labelled_by(label.id);
        let Some(run) = self.settings.export_run.filter(|_| selected.is_some()) else {
            ui.weak("Pick a network to export it or measure its private inference.");
            return;
        };
        ui.separator();
        ui.heading("Export");
        let e = &mut self.export;
        ui.horizontal(|ui| {
            ui.label("Format:");
            ui.radio_value(&mut e.format, Format::Onnx, "ONNX (opset 17)");
            ui.radio_value(
                &mut e.format,
                Format::Safetensors,
                "safetensors (PyTorch names)",
            );
            ui.radio_value(&mut e.format, Format::Burn, "burn record");
        });
        let simplify = e.format != Format::Burn;
        ui.add_enabled(
            simplify,
            egui::Checkbox::new(&mut e.fold_bn, "Fold BatchNorm into the convolutions"),
        );
        ui.add_enabled(
            simplify,
            egui::Checkbox::new(
                &mut e.merge_convs,
                "Merge convolutions left adjacent by a dropped ReLU (exact)",
            ),
        );
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!self.dialogs.busy(), egui::Button::new("Save as…"))
                .clicked()
            {
                self.dialogs.open(Request {
                    purpose: Purpose::ExportTo,
                    title: "Export the network".into(),
                    kind: DialogKind::SaveFile {
                        file_name: format!("run{run}.{}", extension(self.export.format)),
                    },
                    start_in: self.settings.last_export_folder.clone(),
                });
            }
            let label = ui.label("to");
            ui.add(
                egui::TextEdit::singleline(&mut self.export.path_field)
                    .hint_text("/path/to/model.onnx")
                    .desired_width(420.0),
            )
            .labelled_by(label.id);
            let ready = !self.export.path_field.trim().is_empty() && self.export.running.is_none();
            if ui
                .add_enabled(ready, egui::Button::new("Export network"))
                .clicked()
            {
                self.start_export(run, ui.ctx());
            }
        });
        if self.export.running.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("exporting…");
            });
        }
        match &self.export.last {
            Some(Ok(report)) => show_report(ui, report),
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
        ui.separator();
        self.measure_section(ui, run);
    }
}

fn show_report(ui: &mut egui::Ui, r: &ExportReport) {
    ui.separator();
    ui.strong(format!("exported {}", r.model.display()));
    ui.label(format!("manifest {}", r.manifest.display()));
    ui.label(format!(
        "{} ReLUs per image; {} nodes before, {} after; {} BatchNorms folded, {} convolutions merged; {} MACs before, {} after",
        group(r.relus),
        r.nodes_before,
        r.nodes_after,
        r.batch_norms_folded,
        r.convs_merged.len(),
        compact(r.macs_before as f64),
        compact(r.macs_after as f64),
    ));
    for w in &r.warnings {
        ui.colored_label(ui.visuals().warn_fg_color, w);
    }
}
