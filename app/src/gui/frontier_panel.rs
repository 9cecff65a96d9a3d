//! Frontier panel: every trained network as ReLU count (log axis) against
//! accuracy with the Pareto frontier drawn, accuracy per kilo-ReLU, and
//! latency against accuracy: the DELPHI estimate, or what a real framework
//! measured (seconds on loopback, over a LAN or WAN model, or bytes; the
//! networks not measured in it are left out and counted, and beside
//! measured seconds the same networks' estimate is drawn hollow); the
//! paper's published points can be overlaid; hovering names a network,
//! clicking selects it for export and measurement.
//! Networks with ReLU masks (per channel or pixel) are drawn apart from the
//! layer-level ones of culling and thinning; networks that did not learn
//! are drawn apart too (grey crosses) and never join the frontier.

use super::Workbench;
use super::latency_axis::LatencyAxis;
use super::measurements::framework_name;
use super::settings::Tab;
use crate::engine::paper::{CRYPTONAS, DEEPREDUCE_PARETO, DELPHI, PublishedPoint};
use crate::engine::pipeline::pareto::{accuracy_per_kilo_relu, frontier};
use crate::format::{compact, group};
use egui::Color32;
use egui_plot::{
    Corner, HoverPosition, Legend, Line, MarkerShape, Plot, PlotPoint, PlotPoints, Points,
};

/// Pixels within which a click picks a point.
const PICK_RADIUS: f32 = 12.0;
const OURS: &str = "this workbench";
const OURS_MASKED: &str = "this workbench, masked";
const FRONTIER: &str = "Pareto frontier";
const AT_CHANCE: &str = "did not learn";
const OURS_COLOR: Color32 = Color32::from_rgb(80, 160, 255);
const MASKED_COLOR: Color32 = Color32::from_rgb(240, 90, 150);
const AT_CHANCE_COLOR: Color32 = Color32::from_rgb(150, 150, 150);
const FRONTIER_COLOR: Color32 = Color32::from_rgb(255, 160, 60);
const ESTIMATE: &str = "DELPHI estimate, same networks";
const ESTIMATE_COLOR: Color32 = Color32::from_rgb(175, 175, 175);

/// Colours of the pipelines' series when each has its own frontier.
const PIPELINE_COLORS: [Color32; 6] = [
    Color32::from_rgb(80, 160, 255),
    Color32::from_rgb(255, 160, 60),
    Color32::from_rgb(240, 90, 150),
    Color32::from_rgb(90, 200, 120),
    Color32::from_rgb(190, 120, 230),
    Color32::from_rgb(220, 200, 90),
];

/// Networks drawn alike, with what the legend calls them.
struct Series {
    name: String,
    /// (index in the points, position).
    members: Vec<(usize, [f64; 2])>,
    shape: MarkerShape,
    color: Color32,
    radius: f32,
    filled: bool,
}

impl Series {
    fn new(
        name: String,
        members: Vec<(usize, [f64; 2])>,
        shape: MarkerShape,
        color: Color32,
    ) -> Self {
        Series {
            name,
            members,
            shape,
            color,
            radius: 4.5,
            filled: true,
        }
    }
}

/// A Pareto line: its networks by ReLUs.
struct FrontierLine {
    name: String,
    color: Color32,
    members: Vec<(usize, [f64; 2])>,
}

/// A trained network on the plots.
#[derive(Clone, Debug, PartialEq)]
pub struct FrontierPoint {
    pub run_id: i64,
    /// Its pipeline; `None` for a single training.
    pub pipeline: Option<i64>,
    pub relus: u64,
    pub accuracy: f64,
    /// The DELPHI estimate.
    pub latency_seconds: Option<f64>,
    /// The figure a measured latency axis names, of this run's latest
    /// measurement in its framework; `None` on the estimate axis or when
    /// the run was not measured in that framework.
    pub measured: Option<MeasuredFigure>,
    pub description: String,
    /// Its accuracy stayed at chance: drawn apart, never on the frontier.
    pub did_not_learn: bool,
    pub pareto: bool,
    /// Some layer keeps only part of its ReLUs.
    pub masked: bool,
}

/// A measured figure of a network: seconds or bytes, as the latency axis
/// says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeasuredFigure {
    pub value: f64,
    /// Images in the measured batch (the figure is the whole batch's).
    pub batch: u64,
}

/// Which networks a plot's Pareto line joins.
#[derive(Clone, Copy)]
enum FrontierBy {
    /// Those on the frontier of ReLUs against accuracy.
    Relus,
    /// Those on the frontier of the plot's x against accuracy.
    Plotted,
}

/// Which quantity a plot puts on its axes.
#[derive(Clone, Copy)]
enum View {
    ReluAccuracy,
    AccuracyPerKiloRelu,
    Latency(LatencyAxis),
}

impl View {
    /// (x, y) of a network, `None` when it lacks the figure.
    fn xy(self, relus: u64, accuracy: f64, latency: Option<f64>) -> Option<[f64; 2]> {
        let log_relus = (relus.max(1) as f64).log10();
        match self {
            View::ReluAccuracy => Some([log_relus, accuracy]),
            View::AccuracyPerKiloRelu => Some([log_relus, accuracy_per_kilo_relu(accuracy, relus)]),
            View::Latency(_) => latency.map(|l| [l, accuracy]),
        }
    }

    /// Where a network of ours sits on the latency axis.
    fn our_latency(self, p: &FrontierPoint) -> Option<f64> {
        match self {
            View::Latency(LatencyAxis::Measured { .. }) => p.measured.map(|m| m.value),
            _ => p.latency_seconds,
        }
    }

    /// Where a published network sits on the latency axis: only the
    /// estimate's axis compares with the paper's figures.
    fn published_latency(self, p: &PublishedPoint) -> Option<f64> {
        match self {
            View::Latency(LatencyAxis::Measured { .. }) => None,
            _ => p.latency_seconds,
        }
    }

    fn labels(self) -> (String, &'static str) {
        match self {
            View::ReluAccuracy => ("ReLUs (log scale)".into(), "top-1 accuracy (%)"),
            View::AccuracyPerKiloRelu => ("ReLUs (log scale)".into(), "accuracy per kilo-ReLU"),
            View::Latency(axis) => (axis.axis_title(), "top-1 accuracy (%)"),
        }
    }

    /// Where the legend covers no points: accuracy rises to the right.
    fn legend_corner(self) -> Corner {
        match self {
            View::AccuracyPerKiloRelu => Corner::RightTop,
            _ => Corner::RightBottom,
        }
    }

    /// A measured figure does not follow ReLUs as the estimate does (it
    /// counts MACs, layers, the machine's load): its frontier is drawn
    /// among the plotted figures.
    fn frontier_by(self) -> FrontierBy {
        match self {
            View::Latency(LatencyAxis::Measured { .. }) => FrontierBy::Plotted,
            _ => FrontierBy::Relus,
        }
    }
}

impl Workbench {
    /// The completed networks in the chosen scope, Pareto-flagged among
    /// those that learned.
    pub fn frontier_points(&self) -> Vec<FrontierPoint> {
        let scope = self.settings.frontier_pipeline;
        let mut points: Vec<FrontierPoint> = self
            .runs
            .runs
            .iter()
            .filter(|r| scope.is_none() || r.pipeline_id == scope)
            .filter_map(|r| {
                Some(FrontierPoint {
                    run_id: r.id,
                    pipeline: r.pipeline_id,
                    relus: r.relus,
                    accuracy: r.accuracy?,
                    latency_seconds: r
                        .latency
                        .as_ref()
                        .and_then(|l| l.get("online_seconds"))
                        .and_then(|v| v.as_f64()),
                    measured: self.measured(r.id),
                    description: r.description.clone(),
                    did_not_learn: self.runs.did_not_learn(r.id),
                    pareto: false,
                    masked: self.runs.is_masked(r.id),
                })
            })
            .collect();
        // One frontier, or one per pipeline.
        let group = |p: &FrontierPoint| {
            if self.per_pipeline() {
                p.pipeline
            } else {
                None
            }
        };
        let mut groups: Vec<Option<i64>> = points.iter().map(group).collect();
        groups.sort();
        groups.dedup();
        for g in groups {
            let learned: Vec<usize> = (0..points.len())
                .filter(|&i| !points[i].did_not_learn && group(&points[i]) == g)
                .collect();
            let pairs: Vec<(u64, f64)> = learned
                .iter()
                .map(|&i| (points[i].relus, points[i].accuracy))
                .collect();
            for k in frontier(&pairs) {
                points[learned[k]].pareto = true;
            }
        }
        points
    }

    /// Run `run`'s figure on the latency axis, when the axis is a measured
    /// one and the run was measured in its framework.
    fn measured(&self, run: i64) -> Option<MeasuredFigure> {
        let LatencyAxis::Measured { framework, figure } = self.settings.frontier_latency else {
            return None;
        };
        let row = self.runs.measurements.get(run, framework)?;
        Some(MeasuredFigure {
            value: figure.of(&row.report),
            batch: row.batch,
        })
    }

    pub(super) fn frontier_panel(&mut self, ui: &mut egui::Ui) {
        self.refresh_runs(ui.ctx());
        let mut points = self.frontier_points();
        ui.horizontal(|ui| {
            let scope = match self.settings.frontier_pipeline {
                Some(id) => format!("pipeline {id}"),
                None => "every run".into(),
            };
            egui::ComboBox::from_label("networks from")
                .selected_text(scope)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.settings.frontier_pipeline, None, "every run");
                    for p in &self.runs.pipelines {
                        ui.selectable_value(
                            &mut self.settings.frontier_pipeline,
                            Some(p.id),
                            format!("pipeline {}: {} on {}", p.id, p.arch, p.dataset),
                        );
                    }
                });
            ui.add_enabled(
                self.settings.frontier_pipeline.is_none(),
                egui::Checkbox::new(
                    &mut self.settings.frontier_per_pipeline,
                    "one frontier per pipeline",
                ),
            )
            .on_hover_text("each pipeline (method) in its own colour, with its own Pareto line");
            ui.checkbox(
                &mut self.settings.show_paper_points,
                "paper's points (ResNet18, CIFAR-100)",
            );
        });
        ui.label(summary(&points, self.per_pipeline()));
        if let Some(id) = self.settings.export_run {
            ui.horizontal(|ui| {
                ui.label(format!("selected: run {id}"));
                if ui.button("Export or measure…").clicked() {
                    self.settings.tab = Tab::Export;
                }
            });
        }
        // Less the latency axis' row.
        let height = ((ui.available_height() - 48.0) / 2.0).max(160.0);
        let mut clicked = None;
        ui.columns(2, |cols| {
            clicked = clicked.or(self.plot(&mut cols[0], View::ReluAccuracy, &points, height));
            clicked =
                clicked.or(self.plot(&mut cols[1], View::AccuracyPerKiloRelu, &points, height));
        });
        if self.latency_axis_choice(ui, &points) {
            points = self.frontier_points();
        }
        let axis = self.settings.frontier_latency;
        clicked = clicked.or(self.plot(ui, View::Latency(axis), &points, height));
        if let Some(run) = clicked {
            self.settings.export_run = Some(run);
        }
    }

    /// The latency axis' choice and, on a measured axis, how many networks
    /// it leaves out; true when the choice changed.
    fn latency_axis_choice(&mut self, ui: &mut egui::Ui, points: &[FrontierPoint]) -> bool {
        let before = self.settings.frontier_latency;
        ui.horizontal(|ui| {
            let label = ui.label("latency axis:");
            let axis = &mut self.settings.frontier_latency;
            egui::ComboBox::from_id_salt("latency-axis")
                .selected_text(axis.label())
                .show_ui(ui, |ui| {
                    for choice in LatencyAxis::all() {
                        ui.selectable_value(axis, choice, choice.label());
                    }
                })
                .response
                .labelled_by(label.id);
            if let Some(note) = measured_note(points, before) {
                ui.label(note);
            }
        });
        self.settings.frontier_latency != before
    }

    /// The point series of one plot and its Pareto lines (name, colour,
    /// members by ReLUs): this workbench's networks (layer-level and masked
    /// apart) with one frontier, or, one frontier per pipeline, each
    /// pipeline's networks in its own colour with its own frontier; the
    /// networks that did not learn apart either way. A series is drawn
    /// only when it has networks (no empty legend entries).
    fn series(
        &self,
        points: &[FrontierPoint],
        ours: &[(usize, [f64; 2])],
        at_chance: &[(usize, [f64; 2])],
        frontier_by: FrontierBy,
    ) -> (Vec<Series>, Vec<FrontierLine>) {
        let on_frontier = |members: &[(usize, [f64; 2])]| {
            let mut pareto: Vec<(usize, [f64; 2])> = match frontier_by {
                FrontierBy::Relus => members
                    .iter()
                    .filter(|(i, _)| points[*i].pareto)
                    .copied()
                    .collect(),
                FrontierBy::Plotted => {
                    // Non-negative floats order as their bits do.
                    let pairs: Vec<(u64, f64)> = members
                        .iter()
                        .map(|(_, [x, y])| (x.max(0.0).to_bits(), *y))
                        .collect();
                    frontier(&pairs).into_iter().map(|k| members[k]).collect()
                }
            };
            pareto.sort_by(|a, b| a.1[0].total_cmp(&b.1[0]));
            pareto
        };
        let mut series = Vec::new();
        let mut frontiers = Vec::new();
        if self.per_pipeline() {
            let mut pipelines: Vec<Option<i64>> =
                ours.iter().map(|(i, _)| points[*i].pipeline).collect();
            pipelines.sort();
            pipelines.dedup();
            for (k, pipeline) in pipelines.into_iter().enumerate() {
                let members: Vec<(usize, [f64; 2])> = ours
                    .iter()
                    .filter(|(i, _)| points[*i].pipeline == pipeline)
                    .copied()
                    .collect();
                let name = self.pipeline_name(pipeline);
                let color = PIPELINE_COLORS[k % PIPELINE_COLORS.len()];
                frontiers.push(FrontierLine {
                    name: name.clone(),
                    color,
                    members: on_frontier(&members),
                });
                series.push(Series::new(name, members, MarkerShape::Circle, color));
            }
        } else {
            frontiers.push(FrontierLine {
                name: FRONTIER.into(),
                color: FRONTIER_COLOR,
                members: on_frontier(ours),
            });
            let (masked, layer_level): (Vec<_>, Vec<_>) =
                ours.iter().copied().partition(|(i, _)| points[*i].masked);
            series.push(Series::new(
                OURS.into(),
                layer_level,
                MarkerShape::Circle,
                OURS_COLOR,
            ));
            series.push(Series::new(
                OURS_MASKED.into(),
                masked,
                MarkerShape::Up,
                MASKED_COLOR,
            ));
        }
        let mut crosses = Series::new(
            AT_CHANCE.into(),
            at_chance.to_vec(),
            MarkerShape::Cross,
            AT_CHANCE_COLOR,
        );
        crosses.radius = 5.0;
        series.push(crosses);
        // The first series keeps its legend entry even when empty.
        let first = series.first().map(|s| s.name.clone());
        series.retain(|s| !s.members.is_empty() || Some(&s.name) == first.as_ref());
        (series, frontiers)
    }

    /// Whether each pipeline gets its own colour and frontier.
    fn per_pipeline(&self) -> bool {
        self.settings.frontier_per_pipeline && self.settings.frontier_pipeline.is_none()
    }

    /// "pipeline 3: SNL" (its method) or "single runs".
    fn pipeline_name(&self, pipeline: Option<i64>) -> String {
        let Some(id) = pipeline else {
            return "single runs".into();
        };
        let method = self
            .runs
            .pipelines
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| {
                p.config
                    .get("method")?
                    .get("id")?
                    .as_str()
                    .map(str::to_string)
            });
        let method = match method {
            Some(id) => self
                .host
                .get(&id)
                .map_or(id.clone(), |p| p.descriptor.name.clone()),
            None => super::method_form::BUILT_IN.to_string(),
        };
        format!("pipeline {id}: {method}")
    }

    /// Draws one plot; returns the run clicked, if any.
    fn plot(
        &self,
        ui: &mut egui::Ui,
        view: View,
        points: &[FrontierPoint],
        height: f32,
    ) -> Option<i64> {
        // (index in `points`, position) of the networks that learned, or not.
        let placed = |at_chance: bool| -> Vec<(usize, [f64; 2])> {
            points
                .iter()
                .enumerate()
                .filter(|(_, p)| p.did_not_learn == at_chance)
                .filter_map(|(i, p)| Some((i, view.xy(p.relus, p.accuracy, view.our_latency(p))?)))
                .collect()
        };
        let ours = placed(false);
        let at_chance = placed(true);
        let (mut series, frontiers) = self.series(points, &ours, &at_chance, view.frontier_by());
        if let View::Latency(axis @ LatencyAxis::Measured { .. }) = view
            && axis.is_seconds()
        {
            // The estimate beside each measured network, not picked by a click.
            let estimated = points
                .iter()
                .enumerate()
                .filter(|(_, p)| p.measured.is_some())
                .filter_map(|(i, p)| Some((i, [p.latency_seconds?, p.accuracy])))
                .collect();
            let mut estimate = Series::new(
                ESTIMATE.into(),
                estimated,
                MarkerShape::Circle,
                ESTIMATE_COLOR,
            );
            estimate.filled = false;
            series.push(estimate);
        }
        let paper = self.settings.show_paper_points;
        let published: [(&str, &[PublishedPoint], MarkerShape, Color32); 3] = [
            (
                "DeepReDuce (paper)",
                &DEEPREDUCE_PARETO,
                MarkerShape::Diamond,
                Color32::from_rgb(90, 200, 120),
            ),
            (
                "CryptoNAS (paper)",
                &CRYPTONAS,
                MarkerShape::Square,
                Color32::from_rgb(190, 120, 230),
            ),
            (
                "DELPHI (paper)",
                &DELPHI,
                MarkerShape::Asterisk,
                Color32::from_rgb(220, 200, 90),
            ),
        ];
        let published_xy = |set: &[PublishedPoint]| -> Vec<[f64; 2]> {
            set.iter()
                .filter_map(|p| view.xy(p.relus, p.accuracy, view.published_latency(p)))
                .collect()
        };
        let axis = self.settings.frontier_latency;
        let hover = |pos: &HoverPosition<'_>| -> Option<String> {
            let HoverPosition::NearDataPoint {
                plot_name, index, ..
            } = pos
            else {
                return None;
            };
            let point = series
                .iter()
                .find(|s| s.name == *plot_name)
                .and_then(|s| points.get(s.members.get(*index)?.0));
            Some(match point {
                Some(p) => format!(
                    "{}\nrun {}: {} ReLUs, {:.2}%{}{}{}",
                    p.description,
                    p.run_id,
                    group(p.relus),
                    p.accuracy,
                    p.latency_seconds
                        .map_or(String::new(), |l| format!(", DELPHI estimate {l:.2} s")),
                    p.measured.map_or(String::new(), |m| format!(
                        "\n{}: {} (batch {})",
                        axis.label(),
                        axis.format(m.value),
                        m.batch
                    )),
                    if p.did_not_learn {
                        "\ndid not learn: accuracy at chance"
                    } else {
                        ""
                    }
                ),
                None => {
                    let (_, set, _, _) = published.iter().find(|(n, ..)| n == plot_name)?;
                    let p = set
                        .iter()
                        .filter(|p| {
                            view.xy(p.relus, p.accuracy, view.published_latency(p))
                                .is_some()
                        })
                        .nth(*index)?;
                    format!("{plot_name}: {} ReLUs, {:.2}%", group(p.relus), p.accuracy)
                }
            })
        };
        let (x_label, y_label) = view.labels();
        let mut plot = Plot::new(x_label.clone() + y_label)
            .height(height)
            .legend(Legend::default().position(view.legend_corner()))
            .set_margin_fraction(egui::vec2(0.05, 0.1))
            .x_axis_label(x_label)
            .y_axis_label(y_label)
            .label_formatter(hover);
        match view {
            View::Latency(axis) => {
                if !axis.is_seconds() {
                    plot = plot.x_axis_formatter(move |mark, _| axis.format(mark.value));
                }
            }
            _ => plot = plot.x_axis_formatter(|mark, _| compact(10f64.powf(mark.value))),
        }
        let response = plot.show(ui, |plot_ui| {
            // Lines are not hovered: their corners are points of a series.
            for f in &frontiers {
                let line: Vec<[f64; 2]> = f.members.iter().map(|(_, xy)| *xy).collect();
                plot_ui.line(
                    Line::new(f.name.as_str(), PlotPoints::from(line))
                        .width(2.0)
                        .color(f.color)
                        .allow_hover(false),
                );
            }
            for s in &series {
                let xy: Vec<[f64; 2]> = s.members.iter().map(|(_, xy)| *xy).collect();
                plot_ui.add(
                    Points::new(s.name.as_str(), PlotPoints::from(xy))
                        .radius(s.radius)
                        .shape(s.shape)
                        .color(s.color)
                        .filled(s.filled),
                );
            }
            if paper {
                for (name, set, shape, color) in published {
                    let xy = published_xy(set);
                    if !xy.is_empty() {
                        plot_ui.add(
                            Points::new(name, PlotPoints::from(xy))
                                .radius(4.0)
                                .shape(shape)
                                .color(color),
                        );
                    }
                }
            }
        });
        if !response.response.clicked() {
            return None;
        }
        let click = response.response.interact_pointer_pos()?;
        ours.iter()
            .chain(&at_chance)
            .map(|(i, xy)| {
                let at = response
                    .transform
                    .position_from_point(&PlotPoint::new(xy[0], xy[1]));
                (*i, at.distance(click))
            })
            .filter(|(_, d)| *d <= PICK_RADIUS)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| points[i].run_id)
    }
}

/// On a measured latency axis: how many networks it leaves out (not
/// measured in its framework) and the batches measured.
fn measured_note(points: &[FrontierPoint], axis: LatencyAxis) -> Option<String> {
    let framework = framework_name(axis.framework()?);
    if points.is_empty() {
        return None;
    }
    let unmeasured = points.iter().filter(|p| p.measured.is_none()).count();
    let mut text = match unmeasured {
        0 => format!("every network measured in {framework}"),
        1 => format!("1 network not measured in {framework}: select it and press Measure"),
        n => format!("{n} networks not measured in {framework}: select one and press Measure"),
    };
    let mut batches: Vec<u64> = points
        .iter()
        .filter_map(|p| Some(p.measured?.batch))
        .collect();
    batches.sort_unstable();
    batches.dedup();
    match batches.as_slice() {
        [] => {}
        [batch] => text.push_str(&format!(" (measured with batch {batch})")),
        many => {
            let many: Vec<String> = many.iter().map(u64::to_string).collect();
            text.push_str(&format!(
                "; measured with batches {}: each figure is its whole batch's",
                many.join(", ")
            ))
        }
    }
    Some(text)
}

/// "12 trained networks, 4 on the Pareto frontier" (or on their
/// pipelines' frontiers), and how many did not learn.
fn summary(points: &[FrontierPoint], per_pipeline: bool) -> String {
    let on_frontier = points.iter().filter(|p| p.pareto).count();
    let frontier = if per_pipeline {
        "their pipelines' Pareto frontiers"
    } else {
        "the Pareto frontier"
    };
    let mut text = format!(
        "{} trained networks, {on_frontier} on {frontier}",
        points.len()
    );
    let at_chance = points.iter().filter(|p| p.did_not_learn).count();
    if at_chance > 0 {
        text.push_str(&format!(
            ", {at_chance} did not learn (at chance, drawn apart)"
        ));
    }
    text
}
