//! The Measure control of the Export & measure panel: the selected trained
//! network's private inference measured in a real two-party framework on a
//! worker thread. The runner says nothing until it ends, so the panel shows
//! only the time spent; then the report (recorded in the store with the
//! run), or the run's stored measurement, as [`measure_report`] draws it.
//!
//! [`measure_report`]: super::measure_report

use super::Workbench;
use super::measure_report;
use super::measurements::{framework_name, frameworks};
use crate::engine::export::Source;
use crate::engine::measure::{Framework, MeasureRequest, Measured, Report, measure};
use egui::RichText;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// Online forwards whose median is reported (as `deepreduce measure`).
const REPEAT: usize = 3;
/// The whole measurement is stopped after this (as `deepreduce measure`).
const TIMEOUT: Duration = Duration::from_secs(3600);
/// The largest batch offered.
const MAX_BATCH: usize = 64;

pub struct MeasureState {
    framework: Framework,
    batch: usize,
    running: Option<Measuring>,
    /// The last measurement started here, once it ended.
    finished: Option<Finished>,
    /// Bars the chart drew in the last frame that showed one.
    drawn_bars: Option<usize>,
}

impl Default for MeasureState {
    fn default() -> Self {
        MeasureState {
            framework: Framework::Cheetah,
            batch: 1,
            running: None,
            finished: None,
            drawn_bars: None,
        }
    }
}

/// A measurement under way on its thread.
struct Measuring {
    run: i64,
    framework: Framework,
    started: Instant,
    result: Receiver<Result<Report, String>>,
}

struct Finished {
    run: i64,
    framework: Framework,
    result: Result<Report, String>,
}

impl MeasureState {
    /// Takes the result of a measurement that ended; true when one did
    /// (the store has its report).
    pub fn poll(&mut self) -> bool {
        let Some(m) = &self.running else {
            return false;
        };
        let result = match m.result.try_recv() {
            Ok(result) => result,
            Err(std::sync::mpsc::TryRecvError::Empty) => return false,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                Err("the measuring thread stopped without a result".into())
            }
        };
        self.finished = Some(Finished {
            run: m.run,
            framework: m.framework,
            result,
        });
        self.running = None;
        true
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// What was measured here of `run` in `framework`, if anything.
    fn finished(&self, run: i64, framework: Framework) -> Option<&Result<Report, String>> {
        self.finished
            .as_ref()
            .filter(|f| f.run == run && f.framework == framework)
            .map(|f| &f.result)
    }
}

impl Workbench {
    /// Whether a measurement is running.
    pub fn measuring(&self) -> bool {
        self.measure.is_running()
    }

    /// The bars of the per-node chart, as last drawn.
    pub fn measure_bars(&self) -> Option<usize> {
        self.measure.drawn_bars
    }

    /// Why the last measurement started here failed, if it did.
    pub fn measure_error(&self) -> Option<&str> {
        match &self.measure.finished.as_ref()?.result {
            Err(e) => Some(e),
            Ok(_) => None,
        }
    }

    fn start_measure(&mut self, run: i64, ctx: &egui::Context) {
        let m = &mut self.measure;
        let request = MeasureRequest {
            measured: Measured::Trained(Source::Run {
                id: run,
                db: self.store_path.clone(),
            }),
            framework: m.framework,
            batch: m.batch,
            repeat: REPEAT,
            test_images: None,
            timeout: TIMEOUT,
        };
        let host = self.host.clone();
        let (tx, rx) = channel();
        let repaint = ctx.clone();
        std::thread::Builder::new()
            .name("measure".into())
            .spawn(move || {
                let _ = tx.send(measure(&host, &request).map_err(|e| e.to_string()));
                repaint.request_repaint();
            })
            .expect("the measuring thread starts");
        m.running = Some(Measuring {
            run,
            framework: m.framework,
            started: Instant::now(),
            result: rx,
        });
        m.finished = None;
    }

    /// The Measure control for trained run `run` and what is known of its
    /// measurement in the chosen framework.
    pub(super) fn measure_section(&mut self, ui: &mut egui::Ui, run: i64) {
        ui.heading("Measure private inference");
        ui.weak(
            "Runs the network in a real two-party framework: each party its own process, \
             talking over TCP on this machine, the first test images of its dataset as the \
             private input. CrypTen takes seconds, Cheetah a minute or two; the report is kept \
             with the run.",
        );
        let m = &mut self.measure;
        let mut start = false;
        ui.horizontal(|ui| {
            ui.label("framework:");
            for &framework in frameworks() {
                ui.radio_value(&mut m.framework, framework, framework_name(framework))
                    .on_hover_text(match framework {
                        Framework::Cheetah => "SecretFlow SPU's Cheetah protocol: no third party",
                        Framework::Crypten => {
                            "CrypTen: a trusted dealer makes the triples; online cost only"
                        }
                    });
            }
            ui.separator();
            let label = ui.label("batch");
            ui.add(egui::DragValue::new(&mut m.batch).range(1..=MAX_BATCH))
                .labelled_by(label.id)
                .on_hover_text("test images in the input owner's batch");
            ui.separator();
            start = ui
                .add_enabled(m.running.is_none(), egui::Button::new("Measure"))
                .on_disabled_hover_text("one measurement at a time")
                .clicked();
        });
        if start {
            self.start_measure(run, ui.ctx());
        }
        let m = &self.measure;
        if let Some(running) = &m.running {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!(
                    "measuring run {} in {}… {} s",
                    running.run,
                    framework_name(running.framework),
                    running.started.elapsed().as_secs()
                ));
            });
        }
        let (framework, name) = (m.framework, framework_name(m.framework));
        let finished = m.finished(run, framework);
        if let Some(Err(e)) = finished {
            ui.add(
                egui::Label::new(RichText::new(e).color(ui.visuals().error_fg_color))
                    .selectable(true)
                    .wrap(),
            );
        }
        let stored = self.runs.measurements.get(run, framework);
        // The store has a report measured here once the reader caught up.
        let shown = match (finished, stored) {
            (Some(Ok(report)), Some(row)) if row.report != *report => Some((report, "just now")),
            (_, Some(row)) => Some((&row.report, row.measured_at.as_str())),
            (Some(Ok(report)), None) => Some((report, "just now")),
            _ => None,
        };
        ui.separator();
        let Some((report, when)) = shown else {
            self.measure.drawn_bars = None;
            let elsewhere: Vec<&str> = frameworks()
                .iter()
                .filter(|&&f| self.runs.measurements.get(run, f).is_some())
                .map(|&f| framework_name(f))
                .collect();
            let mut text = format!("Run {run} has not been measured in {name}.");
            if !elsewhere.is_empty() {
                text.push_str(&format!(
                    " It has a measurement in {}.",
                    elsewhere.join(", ")
                ));
            }
            ui.label(text);
            return;
        };
        ui.strong(format!("Run {run} in {name}, measured {when}"));
        let bars = measure_report::show(ui, report, run);
        self.measure.drawn_bars = Some(bars);
    }
}
