//! The workbench window (eframe/egui 0.37): six panels over the engine.
//! Everything slow (training, the pipeline, loading a dataset, file
//! dialogs, finding the backend) and every plugin call (a plugin may hang
//! until its timeout) runs on other threads; each frame drains their
//! results and waits for none of them, but for a plugin's usual answer, at
//! most [`pending::FRAME_WAIT`]. Settings persist through eframe storage;
//! runtime state (workers, loaded plugins) is rebuilt on start.

mod backend_slot;
mod data_panel;
pub mod dialogs;
mod executor_form;
mod export_panel;
mod form;
mod frontier_panel;
mod jobs;
pub mod latency_axis;
mod mask_heatmap;
mod measure_panel;
mod measure_report;
mod measurements;
mod method_form;
mod network_panel;
mod network_recount;
mod pending;
mod plugin_log;
mod plugin_starts;
mod plugins_panel;
mod run_cells;
mod runs_panel;
pub mod settings;
mod store_reader;

use crate::engine::plugin_host::PluginHost;
use backend_slot::BackendSlot;
use dialogs::{FileDialogs, Purpose};
use jobs::Job;
use settings::{Settings, Tab};
use std::path::PathBuf;

pub use network_panel::NetworkState;

/// The whole workbench: settings, plugins, panels' state and workers.
pub struct Workbench {
    pub settings: Settings,
    host: PluginHost,
    plugins: plugins_panel::PluginsState,
    dialogs: Box<dyn FileDialogs>,
    network: NetworkState,
    data: data_panel::DataState,
    runs: runs_panel::RunsState,
    export: export_panel::ExportState,
    measure: measure_panel::MeasureState,
    jobs: Vec<Job>,
    backend: BackendSlot,
    store_path: PathBuf,
    /// Shown under the tabs until the next dialog: e.g. that none appeared.
    notice: Option<String>,
    /// CPU time of recent frames (UI, tessellation, painting), as eframe
    /// reports it; shown in the status line.
    frame_times: std::collections::VecDeque<f32>,
}

impl Workbench {
    /// The plugins the settings trust are started again without the
    /// sandbox in the first frames.
    pub fn new(
        mut host: PluginHost,
        settings: Settings,
        dialogs: Box<dyn FileDialogs>,
        store_path: PathBuf,
    ) -> Self {
        let backend = BackendSlot::new(settings.training.backend);
        let mut wb = Workbench {
            plugins: plugins_panel::PluginsState::new(&mut host, &settings.trusted_plugins),
            host,
            settings,
            dialogs,
            network: NetworkState::default(),
            data: data_panel::DataState::default(),
            runs: runs_panel::RunsState::default(),
            export: export_panel::ExportState::default(),
            measure: measure_panel::MeasureState::default(),
            jobs: Vec::new(),
            backend,
            store_path,
            notice: None,
            frame_times: Default::default(),
        };
        wb.network.mark_dirty();
        wb.runs.mark_dirty();
        wb
    }

    /// One frame: take in what the workers and dialogs sent, then draw.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.poll(ui.ctx());
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("DeepReDuce");
                ui.separator();
                for tab in Tab::ALL {
                    ui.selectable_value(&mut self.settings.tab, tab, tab.label());
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    self.status_line(ui);
                });
            });
            if let Some(notice) = &self.notice {
                ui.colored_label(ui.visuals().warn_fg_color, notice);
            }
        });
        egui::CentralPanel::default().show(ui, |ui| match self.settings.tab {
            Tab::Plugins => self.plugins_panel(ui),
            Tab::Network => self.network_panel(ui),
            Tab::Data => self.data_panel(ui),
            Tab::Runs => self.runs_panel(ui),
            Tab::Frontier => self.frontier_panel(ui),
            Tab::Export => self.export_panel(ui),
        });
        if self.measure.is_running() {
            // The seconds a measurement has taken, shown beside it.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_secs(1));
        }
        if self.jobs().0 > 0 {
            // Progress arrives continuously; a bounded redraw rate keeps the
            // UI responsive without spinning on every batch event.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    /// Keeps the last 120 frame times (seconds).
    fn record_frame_time(&mut self, seconds: f32) {
        if self.frame_times.len() == 120 {
            self.frame_times.pop_front();
        }
        self.frame_times.push_back(seconds);
    }

    fn status_line(&mut self, ui: &mut egui::Ui) {
        if let Some(worst) = self.frame_times.iter().copied().reduce(f32::max) {
            ui.label(format!("frame ≤ {:.1} ms", worst * 1e3))
                .on_hover_text("the slowest of the last 120 frames: UI, tessellation and painting");
            ui.separator();
        }
        let (running, _) = self.jobs();
        if running > 0 {
            ui.label(format!("{running} running"));
            ui.spinner();
            ui.separator();
        }
        if self.measure.is_running() {
            ui.label("measuring");
            ui.spinner();
            ui.separator();
        }
        ui.label(self.backend.label());
    }

    fn poll(&mut self, ctx: &egui::Context) {
        self.backend.poll(self.settings.training.backend);
        while let Some((purpose, path)) = self.dialogs.poll() {
            let Some(path) = path else {
                self.notice = Some(
                    "No file was chosen. If no dialog appeared (no desktop portal on this \
                     system), type the path in the field instead."
                        .into(),
                );
                continue;
            };
            self.notice = None;
            match purpose {
                Purpose::LoadPlugin => self.load_plugin(ctx, &path),
                Purpose::DataFile | Purpose::DataFolder => self.choose_dataset_path(&path),
                Purpose::ExportTo => self.export_to(&path),
                Purpose::SharedFolder => self.settings.executor.slurm.shared_dir = Some(path),
            }
        }
        let (running, _) = self.jobs();
        let mut store_changed = false;
        for job in &mut self.jobs {
            store_changed |= job.drain();
        }
        let measured = self.measure.poll();
        if self.jobs().0 < running || measured {
            // A worker ended: show its final results now, not in 2 s.
            self.runs.refresh_now();
        } else if store_changed {
            self.runs.mark_dirty();
        }
        self.data.poll(ctx);
        if self.data.shape_changed() {
            self.network.mark_dirty();
        }
        // Plugins started first: a new one changes what the recount uses.
        self.poll_plugin_starts(ctx);
        self.poll_run_workers(ctx);
        self.recount_if_dirty(ctx);
    }

    /// Workers started from this window that are still running, and all.
    pub fn jobs(&self) -> (usize, usize) {
        let running = self.jobs.iter().filter(|j| j.is_running()).count();
        (running, self.jobs.len())
    }

    /// The Network panel's ReLU count, when its network builds.
    pub fn network_relus(&self) -> Option<u64> {
        self.network.relus()
    }

    /// Whether plugin work the window asked for is under way or about to
    /// start (a recount, a method's form, a plugin's process starting):
    /// tests step frames until it is done.
    pub fn plugins_busy(&self) -> bool {
        self.network.busy() || self.runs.plugins_busy() || self.plugins.busy()
    }

    pub fn backend_ready(&self) -> bool {
        self.backend.get().is_some()
    }

    /// Whether the panels show the run store as last asked for (it is read
    /// off the UI thread).
    pub fn store_read(&self) -> bool {
        self.runs.is_current()
    }
}

/// eframe's side: persistence, the frame loop and, when
/// `$DEEPREDUCE_FRAME_LOG` names a file, one line per frame with its CPU
/// time in seconds (what `scripts/frame-bench.sh` reads).
struct WorkbenchApp {
    workbench: Workbench,
    frame_log: Option<std::fs::File>,
}

impl eframe::App for WorkbenchApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        if let Some(seconds) = frame.info().cpu_usage {
            self.workbench.record_frame_time(seconds);
            if let Some(log) = &mut self.frame_log {
                use std::io::Write;
                let _ = writeln!(log, "{seconds}");
            }
        }
        self.workbench.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, settings::STORAGE_KEY, &self.workbench.settings);
    }

    fn on_exit(&mut self) {
        // Running workers stop between batches; their finished epochs are
        // already in the run store and resume later.
        for job in &self.workbench.jobs {
            job.cancel();
        }
    }
}

/// Opens the workbench window with every plugin `host` found, on `panel`
/// or the one open when it last closed.
pub fn run(host: PluginHost, panel: Option<Tab>) -> Result<(), String> {
    crate::engine::threads::lower_compute_priority();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("DeepReDuce Workbench")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([800.0, 500.0]),
        persist_window: true,
        ..Default::default()
    };
    let store_path = crate::engine::store::default_db();
    eframe::run_native(
        "DeepReDuce Workbench",
        options,
        Box::new(move |cc| {
            let mut settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, settings::STORAGE_KEY))
                .unwrap_or_default();
            if let Some(tab) = panel {
                settings.tab = tab;
            }
            let dialogs = Box::new(dialogs::NativeDialogs::new(cc.egui_ctx.clone()));
            let frame_log = std::env::var_os("DEEPREDUCE_FRAME_LOG").and_then(|path| {
                std::fs::File::create(&path)
                    .map_err(|e| eprintln!("DEEPREDUCE_FRAME_LOG {}: {e}", path.to_string_lossy()))
                    .ok()
            });
            Ok(Box::new(WorkbenchApp {
                workbench: Workbench::new(host, settings, dialogs, store_path),
                frame_log,
            }))
        }),
    )
    .map_err(|e| format!("cannot open the workbench window: {e}"))
}
