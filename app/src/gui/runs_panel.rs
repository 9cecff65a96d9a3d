//! Runs panel: training settings, starting a single training of the Network
//! panel's network or the whole pipeline, live progress with loss and
//! accuracy curves, cancel and resume, and the past runs from the store,
//! comparable side by side.

use super::Workbench;
use super::form::{labelled, optional_number};
use super::jobs::{Job, JobKind, JobState, WorkerContext};
use super::measurements::LatestMeasurements;
use super::method_form::follows_deepreduce;
use super::pending::{Pending, waiting_label};
use super::run_cells::{job_cell, status_cell};
use super::store_reader::{StoreReader, StoreSnapshot};
use crate::engine::backend::BackendChoice;
use crate::engine::executor::{Executor, ExecutorKind};
use crate::engine::network::plugins_used;
use crate::engine::pipeline::single::{SingleRun, plan_single};
use crate::engine::pipeline::{PipelineConfig, create};
use crate::engine::store::{PipelineRow, PipelineStatus, RunRow, RunStatus, Store};
use crate::engine::train::EpochMetrics;
use crate::engine::train::schedule::ScheduleKind;
use crate::format::{duration, group};
use deepreduce_plugin_api::InputSpec;
use egui_plot::{Legend, Line, Plot, PlotPoints};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How often the store is reread while workers run.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// A start prepared on a worker, ready to train.
enum Planned {
    Single { run_id: i64, title: String },
    Pipeline { id: i64, title: String },
}

#[derive(Default)]
pub struct RunsState {
    dirty: bool,
    refreshed: Option<Instant>,
    reader: Option<StoreReader>,
    pub error: Option<String>,
    pub pipelines: Vec<PipelineRow>,
    /// Every run: the pipelines' and the standalone ones.
    pub runs: Vec<RunRow>,
    /// Each run's network input and output size (which teacher fits whom).
    shapes: BTreeMap<i64, (InputSpec, u64)>,
    /// Runs whose network masks single channels or pixels.
    masked: BTreeSet<i64>,
    /// Finished runs whose accuracy stayed at chance.
    did_not_learn: BTreeSet<i64>,
    /// The epochs each running run has recorded.
    epochs_done: BTreeMap<i64, usize>,
    /// The latest measurement of each run in each framework.
    pub measurements: LatestMeasurements,
    /// Runs ticked for side-by-side comparison, with their epochs (empty
    /// until the reader has read them).
    compare: BTreeMap<i64, Vec<EpochMetrics>>,
    /// The KD teacher for a single training (a completed run).
    teacher: Option<i64>,
    /// The method plugins' parameter forms.
    methods: super::method_form::MethodForms,
    /// A start being prepared on a worker (plugins asked, the store
    /// written, a Slurm shared folder created): the job to spawn, or why
    /// not.
    planning: Pending<Result<Planned, String>>,
    /// What that worker is doing, while it takes long enough to show.
    planning_what: &'static str,
    start_error: Option<String>,
}

impl RunsState {
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Rereads the store as soon as possible, whenever it was last read.
    pub fn refresh_now(&mut self) {
        self.dirty = true;
        self.refreshed = None;
    }

    /// A start is being prepared, or a method plugin asked for its form:
    /// plugins may be working for the panel.
    pub fn plugins_busy(&self) -> bool {
        self.planning.is_running() || self.methods.busy()
    }

    /// Whether what the panels show is the store as last asked for: no
    /// read waiting or under way.
    pub fn is_current(&self) -> bool {
        !self.dirty && !self.reader.as_ref().is_some_and(StoreReader::busy)
    }

    /// Takes a snapshot the reader finished, and asks for a new one when
    /// the store changed (at most every [`REFRESH_EVERY`]).
    fn refresh(&mut self, path: &std::path::Path, ctx: &egui::Context) {
        let reader = self.reader.get_or_insert_with(|| {
            let ctx = ctx.clone();
            StoreReader::start(path.to_path_buf(), move || ctx.request_repaint())
        });
        match reader.take() {
            Some(Ok(snapshot)) => self.show(snapshot),
            Some(Err(e)) => self.error = Some(e),
            None => {}
        }
        let reader = self.reader.as_mut().expect("started above");
        let due = self.refreshed.is_none_or(|t| t.elapsed() >= REFRESH_EVERY);
        if self.dirty && due && !reader.busy() {
            self.dirty = false;
            self.refreshed = Some(Instant::now());
            reader.request(self.compare.keys().copied().collect());
        }
    }

    fn show(&mut self, snapshot: StoreSnapshot) {
        self.pipelines = snapshot.pipelines;
        self.runs = snapshot.runs;
        self.shapes = snapshot.shapes;
        self.masked = snapshot.masked;
        self.did_not_learn = snapshot.did_not_learn;
        self.epochs_done = snapshot.epochs_done;
        self.measurements = snapshot.measurements;
        for (id, epochs) in snapshot.epochs {
            // A run unticked while it was read stays unticked.
            if let Some(shown) = self.compare.get_mut(&id) {
                *shown = epochs;
            }
        }
        self.error = None;
    }

    /// Whether run `id`'s network has ReLU masks.
    pub fn is_masked(&self, id: i64) -> bool {
        self.masked.contains(&id)
    }

    /// Whether run `id` finished without rising above chance.
    pub fn did_not_learn(&self, id: i64) -> bool {
        self.did_not_learn.contains(&id)
    }

    /// Ticks or unticks run `id`; a ticked run's epochs come with the next
    /// read, asked for now.
    fn toggle_compare(&mut self, id: i64, on: bool) {
        if on {
            self.compare.insert(id, Vec::new());
            self.refresh_now();
        } else {
            self.compare.remove(&id);
        }
    }
}

/// Runs a worker may pick up again: stopped before the end.
fn resumable(status: RunStatus) -> bool {
    matches!(
        status,
        RunStatus::Planned | RunStatus::Running | RunStatus::Cancelled | RunStatus::Failed
    )
}

/// Pipelines a worker may pick up again: stopped before the end.
fn pipeline_resumable(status: PipelineStatus) -> bool {
    status != PipelineStatus::Completed
}

impl Workbench {
    /// Shows the store as last read, and rereads it when something changed
    /// (at most every 2 s), off the UI thread.
    pub(super) fn refresh_runs(&mut self, ctx: &egui::Context) {
        self.runs.refresh(&self.store_path, ctx);
    }

    fn worker_context(&self, ctx: &egui::Context) -> Option<WorkerContext> {
        Some(WorkerContext {
            host: self.host.clone(),
            backend: self.backend.get()?,
            store_path: self.store_path.clone(),
            repaint: ctx.clone(),
        })
    }

    fn running(&self, kind: JobKind) -> bool {
        self.jobs.iter().any(|j| j.kind == kind && j.is_running())
    }

    fn spawn_single(&mut self, ctx: &egui::Context, run_id: i64, title: String) {
        let Some(worker) = self.worker_context(ctx) else {
            return;
        };
        let job = Job::spawn(JobKind::Single { run_id }, title, worker, move |runner| {
            let accuracy = runner.run_single(run_id)?;
            Ok(match accuracy {
                Some(a) => format!("test accuracy {a:.2}%"),
                None => "no accuracy (diverged)".into(),
            })
        });
        self.jobs.push(job);
        self.runs.mark_dirty();
    }

    fn spawn_pipeline(&mut self, ctx: &egui::Context, id: i64, title: String) {
        let Some(worker) = self.worker_context(ctx) else {
            return;
        };
        let job = Job::spawn(JobKind::Pipeline { id }, title, worker, move |runner| {
            runner.run(id)?;
            Ok(format!("pipeline {id} completed"))
        });
        self.jobs.push(job);
        self.runs.mark_dirty();
    }

    /// Trains the Network panel's network as a standalone run, planned on
    /// a worker first: the run records the plugins that built it, and
    /// finding the architecture's asks the plugins.
    /// [`take_planned`](Self::take_planned) starts the training.
    fn start_single(&mut self, ctx: &egui::Context) -> Result<(), String> {
        let view = match &self.network.view {
            Some(Ok(v)) => v.clone(),
            Some(Err(e)) => return Err(e.clone()),
            None => return Err("no network yet".into()),
        };
        let teacher = match (self.settings.training.kd, self.runs.teacher) {
            (true, Some(id)) => self
                .runs
                .runs
                .iter()
                .find(|r| r.id == id)
                .and_then(|r| r.weights.clone()),
            _ => None,
        };
        let run = SingleRun {
            dataset: self.settings.dataset.clone(),
            train: self.settings.training.config(),
            teacher,
        };
        let draft = self.draft()?;
        let (host, store_path) = (self.host.clone(), self.store_path.clone());
        self.runs.planning_what = "asking the plugins that built the network…";
        self.runs.planning.start(ctx, move || {
            let plugins = plugins_used(&host, &draft.spec).map_err(|e| e.to_string())?;
            let store = Store::open(&store_path).map_err(|e| e.to_string())?;
            let run_id = plan_single(&store, &view.network, &view.description, &plugins, &run)
                .map_err(|e| e.to_string())?;
            let title = format!("run {run_id}: {}", view.description);
            Ok(Planned::Single { run_id, title })
        });
        Ok(())
    }

    /// Takes in what the panel's plugin workers finished (every frame).
    pub(super) fn poll_run_workers(&mut self, ctx: &egui::Context) {
        self.runs.methods.poll();
        self.take_planned(ctx);
    }

    /// Starts what [`start_single`](Self::start_single) or
    /// [`start_pipeline`](Self::start_pipeline) prepared, once it is.
    fn take_planned(&mut self, ctx: &egui::Context) {
        let Some(planned) = self.runs.planning.poll() else {
            return;
        };
        match planned.unwrap_or_else(|panicked| Err(panicked.to_string())) {
            Ok(Planned::Single { run_id, title }) => self.spawn_single(ctx, run_id, title),
            Ok(Planned::Pipeline { id, title }) => self.spawn_pipeline(ctx, id, title),
            Err(e) => self.runs.start_error = Some(e),
        }
    }

    /// Runs the whole method on the Network panel's architecture, created
    /// in the store on a worker: checking a Slurm executor creates its
    /// shared folder, often on a network filesystem that may be slow.
    fn start_pipeline(&mut self, ctx: &egui::Context) -> Result<(), String> {
        let method = self
            .runs
            .methods
            .choice(ctx, &self.host, &self.settings.method)?;
        let n = &self.settings.network;
        let cfg = PipelineConfig {
            arch: n.arch.clone(),
            dataset: self.settings.dataset.clone(),
            blocks: n.blocks.clone(),
            width: n.width,
            train: self.settings.training.config(),
            criticality_without_kd: false,
            extra_plugins: Vec::new(),
            kd: self.settings.training.kd,
            jobs: 1,
            method: Some(method),
            executor: Executor::Local,
        };
        let (request, store_path) = (self.settings.executor.clone(), self.store_path.clone());
        self.runs.planning_what = match request.kind {
            ExecutorKind::Local => "creating the pipeline…",
            ExecutorKind::Slurm => "checking the shared folder and the worker…",
        };
        self.runs.planning.start(ctx, move || {
            let cfg = PipelineConfig {
                executor: request.executor()?,
                ..cfg
            };
            let store = Store::open(&store_path).map_err(|e| e.to_string())?;
            let id = create(&store, &cfg).map_err(|e| e.to_string())?;
            let title = format!("pipeline {id}: {} on {}", cfg.arch, cfg.dataset);
            Ok(Planned::Pipeline { id, title })
        });
        Ok(())
    }

    pub(super) fn runs_panel(&mut self, ui: &mut egui::Ui) {
        self.refresh_runs(ui.ctx());
        egui::Panel::left("training-settings")
            .resizable(true)
            .default_size(260.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.training_controls(ui));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                self.jobs_view(ui);
                ui.separator();
                self.past_runs(ui);
            });
        });
    }

    fn training_controls(&mut self, ui: &mut egui::Ui) {
        ui.heading("Training");
        let t = &mut self.settings.training;
        egui::Grid::new("training").num_columns(2).show(ui, |ui| {
            labelled(
                ui,
                "epochs",
                egui::DragValue::new(&mut t.epochs).range(1..=1000),
            );
            labelled(
                ui,
                "batch",
                egui::DragValue::new(&mut t.batch).range(1..=4096),
            );
            labelled(
                ui,
                "learning rate",
                egui::DragValue::new(&mut t.lr)
                    .range(1e-5..=10.0)
                    .speed(0.001),
            );
            let label = ui.label("schedule");
            egui::ComboBox::from_id_salt("schedule")
                .selected_text(format!("{:?}", t.schedule))
                .show_ui(ui, |ui| {
                    for kind in ScheduleKind::ALL {
                        ui.selectable_value(&mut t.schedule, kind, format!("{kind:?}"));
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            optional_number(ui, "train subset", &mut t.subset, 2000, 1..=10_000_000);
            optional_number(ui, "test subset", &mut t.test_subset, 1000, 1..=10_000_000);
            let label = ui.label("backend");
            egui::ComboBox::from_id_salt("backend")
                .selected_text(format!("{:?}", t.backend))
                .show_ui(ui, |ui| {
                    for choice in [
                        BackendChoice::Auto,
                        BackendChoice::Wgpu,
                        BackendChoice::Flex,
                    ] {
                        ui.selectable_value(&mut t.backend, choice, format!("{choice:?}"));
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
        });
        ui.label(self.backend.label());
        ui.checkbox(&mut t.kd, "Knowledge distillation");
        if t.kd {
            self.teacher_choice(ui);
        }
        ui.separator();
        let ready = self.backend.get().is_some();
        let relus = self.network.relus();
        let planning = self.runs.planning.is_running();
        let single = ui.add_enabled(
            ready && relus.is_some() && !planning,
            egui::Button::new("Train this network"),
        );
        let single = match (relus, &self.network.view) {
            (Some(r), Some(Ok(v))) => {
                single.on_hover_text(format!("{}: {} ReLUs", v.description, group(r)))
            }
            _ => single.on_hover_text("build a network in the Network panel first"),
        };
        let ctx = ui.ctx().clone();
        if single.clicked() {
            self.runs.start_error = self.start_single(&ctx).err();
            // Planned in a moment as a rule: trained from this frame.
            self.take_planned(&ctx);
        }
        ui.separator();
        let method = self
            .runs
            .methods
            .show(ui, &self.host, &mut self.settings.method);
        let hover = if follows_deepreduce(&self.settings.method) {
            "baseline, stage criticality, culling, thinning, reshaping, retraining: \
             the Network panel's architecture on the chosen dataset"
        } else {
            "the method's trainings, from the Network panel's architecture on the chosen dataset"
        };
        self.executor_form(ui);
        let pipeline = ui
            .add_enabled(
                ready && !planning,
                egui::Button::new(format!("Run {method} pipeline")),
            )
            .on_hover_text(hover);
        if pipeline.clicked() {
            self.runs.start_error = self.start_pipeline(&ctx).err();
            self.take_planned(&ctx);
        }
        ui.label(self.workload());
        if self.runs.planning.waiting().is_some() {
            waiting_label(ui, self.runs.planning_what);
        }
        if let Some(e) = &self.runs.start_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }

    /// How much a start trains, so nobody starts a two-hour pipeline by
    /// surprise: images per training, and the pipeline's trainings
    /// (baseline, one per stage, five variants of each culled network).
    fn workload(&self) -> String {
        let t = &self.settings.training;
        let images = match t.subset {
            Some(n) => group((n * t.epochs) as u64),
            None => format!("{} x the training set", t.epochs),
        };
        let stages = self.network.stages().len();
        let trainings = 1 + stages + stages.saturating_sub(1) * 5;
        let width = match self.settings.network.width {
            Some(w) => format!("width {w}"),
            None => "full width".into(),
        };
        if follows_deepreduce(&self.settings.method) {
            format!(
                "Each training sees {images} images ({width}); the pipeline runs up to {trainings} trainings."
            )
        } else {
            format!(
                "Each training sees {images} images ({width}); the method decides how many trainings."
            )
        }
    }

    /// Completed runs whose network takes the same input and classes.
    fn teacher_choice(&mut self, ui: &mut egui::Ui) {
        let input = match &self.network.view {
            Some(Ok(v)) => Some((v.network.input, v.analysis.output.elements())),
            _ => None,
        };
        let candidates: Vec<&RunRow> = self
            .runs
            .runs
            .iter()
            .filter(|r| r.status == RunStatus::Completed && r.weights.is_some())
            .filter(|r| input.is_some() && self.runs.shapes.get(&r.id).copied() == input)
            .collect();
        if candidates.is_empty() {
            ui.label("no trained teacher for this input yet: train the full network first");
            self.runs.teacher = None;
            return;
        }
        // The full-ReLU network (most ReLUs) trained best.
        let best = candidates
            .iter()
            .max_by(|a, b| {
                let accuracy = |r: &RunRow| r.accuracy.unwrap_or(0.0);
                a.relus
                    .cmp(&b.relus)
                    .then(accuracy(a).total_cmp(&accuracy(b)))
            })
            .map(|r| r.id);
        let chosen = self
            .runs
            .teacher
            .filter(|id| candidates.iter().any(|r| r.id == *id));
        let mut teacher = chosen.or(best).expect("candidates is not empty");
        let label = |r: &RunRow| {
            format!(
                "run {}: {} ({:.1}%)",
                r.id,
                r.description,
                r.accuracy.unwrap_or(0.0)
            )
        };
        let selected = candidates
            .iter()
            .find(|r| r.id == teacher)
            .map(|r| label(r))
            .unwrap_or_default();
        egui::ComboBox::from_label("teacher")
            .selected_text(selected)
            .show_ui(ui, |ui| {
                for r in &candidates {
                    ui.selectable_value(&mut teacher, r.id, label(r));
                }
            });
        self.runs.teacher = Some(teacher);
    }

    fn jobs_view(&mut self, ui: &mut egui::Ui) {
        ui.heading("Running here");
        if self.jobs.is_empty() {
            ui.label("Nothing yet: start a training or the pipeline on the left.");
        }
        let mut resume = None;
        for (i, job) in self.jobs.iter().enumerate().rev() {
            ui.group(|ui| {
                ui.horizontal(|ui| {
                    ui.strong(&job.title);
                    match &job.state {
                        JobState::Running if job.cancelling() => {
                            ui.label("cancelling…").on_hover_text(
                                "Trainings here stop after their batch; Slurm jobs are \
                                 cancelled with scancel.",
                            );
                        }
                        JobState::Running => {
                            if ui.button("Cancel").clicked() {
                                job.cancel();
                            }
                        }
                        JobState::Completed(summary) => {
                            ui.label(summary);
                        }
                        JobState::Cancelled | JobState::Failed(_) => {
                            if let JobState::Failed(e) = &job.state {
                                ui.colored_label(ui.visuals().error_fg_color, e);
                            } else {
                                ui.label("cancelled");
                            }
                            if ui.button("Resume").clicked() {
                                resume = Some(i);
                            }
                        }
                    }
                });
                job_progress(ui, job);
                job_curves(ui, job, i);
            });
        }
        if let Some(i) = resume {
            let (kind, title) = (self.jobs[i].kind, self.jobs[i].title.clone());
            self.jobs.remove(i);
            self.resume(ui.ctx(), kind, title);
        }
    }

    fn resume(&mut self, ctx: &egui::Context, kind: JobKind, title: String) {
        match kind {
            JobKind::Single { run_id } => self.spawn_single(ctx, run_id, title),
            JobKind::Pipeline { id } => self.spawn_pipeline(ctx, id, title),
        }
    }

    fn past_runs(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("Run store");
            ui.label(self.store_path.display().to_string());
            if ui.button("Refresh").clicked() {
                self.runs.refresh_now();
            }
        });
        if let Some(e) = &self.runs.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        let mut resume: Option<(JobKind, String)> = None;
        let mut compare: Option<(i64, bool)> = None;
        let groups: Vec<(Option<&PipelineRow>, Vec<&RunRow>)> = self
            .runs
            .pipelines
            .iter()
            .rev()
            .map(|p| {
                let runs = self
                    .runs
                    .runs
                    .iter()
                    .filter(|r| r.pipeline_id == Some(p.id));
                (Some(p), runs.collect::<Vec<_>>())
            })
            .chain(std::iter::once((
                None,
                self.runs
                    .runs
                    .iter()
                    .filter(|r| r.pipeline_id.is_none())
                    .collect(),
            )))
            .filter(|(_, runs)| !runs.is_empty())
            .collect();
        for (pipeline, runs) in groups {
            let title = match pipeline {
                Some(p) => format!(
                    "pipeline {}: {} on {} ({}, {} runs)",
                    p.id,
                    p.arch,
                    p.dataset,
                    p.status,
                    runs.len()
                ),
                None => format!("single trainings ({} runs)", runs.len()),
            };
            let id = pipeline.map_or(0, |p| p.id);
            egui::CollapsingHeader::new(title)
                .id_salt(("pipeline", id))
                .show(ui, |ui| {
                    if let Some(p) = pipeline
                        && pipeline_resumable(p.status)
                        && !self.running(JobKind::Pipeline { id: p.id })
                        && ui.button("Resume pipeline").clicked()
                    {
                        let title = format!("pipeline {}: {} on {}", p.id, p.arch, p.dataset);
                        resume = Some((JobKind::Pipeline { id: p.id }, title));
                    }
                    // Runs of a cluster executor show their jobs.
                    let on_cluster = runs.iter().any(|r| r.job.is_some());
                    let mut headers = vec!["run (tick to compare)", "network", "ReLUs", "status"];
                    if on_cluster {
                        headers.push("Slurm job");
                    }
                    headers.extend(["accuracy", ""]);
                    egui::Grid::new(("runs", id))
                        .striped(true)
                        .num_columns(headers.len())
                        .show(ui, |ui| {
                            for h in headers {
                                ui.strong(h);
                            }
                            ui.end_row();
                            for r in runs {
                                let mut on = self.runs.compare.contains_key(&r.id);
                                let label = format!("{} {}", r.id, r.role);
                                if ui.checkbox(&mut on, label).changed() {
                                    compare = Some((r.id, on));
                                }
                                ui.label(&r.description);
                                ui.label(group(r.relus));
                                status_cell(ui, r, self.runs.epochs_done.get(&r.id).copied());
                                if on_cluster {
                                    job_cell(ui, r.job.as_ref());
                                }
                                let accuracy =
                                    r.accuracy.map_or("–".into(), |a| format!("{a:.2}%"));
                                if self.runs.did_not_learn(r.id) {
                                    ui.horizontal(|ui| {
                                        ui.label(accuracy);
                                        did_not_learn_badge(ui);
                                    });
                                } else {
                                    ui.label(accuracy);
                                }
                                let single = JobKind::Single { run_id: r.id };
                                if r.pipeline_id.is_none()
                                    && resumable(r.status)
                                    && !self.running(single)
                                    && ui.button("Resume").clicked()
                                {
                                    resume =
                                        Some((single, format!("run {}: {}", r.id, r.description)));
                                } else {
                                    ui.label("");
                                }
                                ui.end_row();
                            }
                        });
                });
        }
        if let Some((id, on)) = compare {
            self.runs.toggle_compare(id, on);
        }
        if let Some((kind, title)) = resume {
            self.resume(ui.ctx(), kind, title);
        }
        self.comparison(ui);
    }

    /// The ticked runs side by side: test accuracy per epoch and a table.
    fn comparison(&self, ui: &mut egui::Ui) {
        if self.runs.compare.is_empty() {
            return;
        }
        ui.separator();
        ui.heading("Comparison");
        let runs: Vec<&RunRow> = self
            .runs
            .compare
            .keys()
            .filter_map(|id| self.runs.runs.iter().find(|r| r.id == *id))
            .collect();
        Plot::new("compare-accuracy")
            .height(220.0)
            .legend(Legend::default())
            .x_axis_label("epoch")
            .y_axis_label("test accuracy (%)")
            .show(ui, |plot| {
                for r in &runs {
                    let points: Vec<[f64; 2]> = self.runs.compare[&r.id]
                        .iter()
                        .map(|m| [m.epoch as f64, m.test_accuracy])
                        .collect();
                    plot.line(Line::new(format!("run {}", r.id), PlotPoints::from(points)));
                }
            });
        egui::Grid::new("compare-table")
            .striped(true)
            .num_columns(runs.len() + 1)
            .show(ui, |ui| {
                let rows: [(&str, &RunField); 6] = [
                    ("run", &|r| r.id.to_string()),
                    ("network", &|r| r.description.clone()),
                    ("ReLUs", &|r| group(r.relus)),
                    ("accuracy", &|r| {
                        r.accuracy.map_or("–".into(), |a| format!("{a:.2}%"))
                    }),
                    ("backend", &|r| r.backend.clone().unwrap_or_default()),
                    ("status", &|r| r.status.to_string()),
                ];
                for (name, value) in rows {
                    ui.strong(name);
                    for r in &runs {
                        ui.label(value(r));
                    }
                    ui.end_row();
                }
            });
    }
}

/// Marks a run whose final test and train accuracy stayed at chance.
fn did_not_learn_badge(ui: &mut egui::Ui) {
    let text = egui::RichText::new("did not learn")
        .small()
        .color(ui.visuals().warn_fg_color);
    ui.label(text).on_hover_text(
        "Its final test and train accuracy are within noise of chance (3 standard errors \
         of guessing over the images counted): its accuracy means nothing. It is left off \
         the Pareto frontier, and a stage-only network like it gives no criticality.",
    );
}

/// One row of the comparison table: a run's figure as text.
type RunField = dyn Fn(&RunRow) -> String;

fn job_progress(ui: &mut egui::Ui, job: &Job) {
    let p = &job.progress;
    let Some(run) = &p.run else {
        if job.is_running() {
            ui.label("starting…");
        }
        return;
    };
    let mut text = format!("run {}/{}: {run}", p.run_index, p.runs);
    if p.epochs > 0 {
        text.push_str(&format!(", epoch {}/{}", p.epoch, p.epochs));
    }
    if job.in_first_step() {
        text.push_str(if job.on_wgpu {
            ", first step: compiling and tuning GPU kernels (minutes the first time)…"
        } else {
            ", first step…"
        });
    }
    if let Some(loss) = p.loss {
        text.push_str(&format!(
            ", loss {loss:.3}, {:.0} img/s",
            p.images_per_second
        ));
    }
    if job.is_running()
        && let Some(eta) = job.eta()
    {
        text.push_str(&format!(", ETA {}", duration(eta)));
    }
    let fraction = if job.is_running() {
        job.fraction()
    } else {
        1.0
    };
    ui.add(egui::ProgressBar::new(fraction).text(text));
    if let Some(role) = p.step {
        ui.label(format!(
            "training {} runs, {} runs finished",
            role, job.finished_runs
        ));
    }
}

fn job_curves(ui: &mut egui::Ui, job: &Job, index: usize) {
    let Some(last) = job.curves.last() else {
        return;
    };
    ui.columns(2, |columns| {
        Plot::new(("loss", index))
            .height(140.0)
            .x_axis_label("epoch")
            .y_axis_label("training loss")
            .show(&mut columns[0], |plot| {
                plot.line(Line::new("loss", PlotPoints::from(last.loss.clone())));
            });
        Plot::new(("accuracy", index))
            .height(140.0)
            .x_axis_label("epoch")
            .y_axis_label("test accuracy (%)")
            .show(&mut columns[1], |plot| {
                for c in &job.curves {
                    plot.line(Line::new(
                        c.description.clone(),
                        PlotPoints::from(c.test_accuracy.clone()),
                    ));
                }
            });
    });
}
