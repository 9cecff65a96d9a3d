//! Frontier panel: every trained network as ReLU count (log axis) against
//! accuracy with the Pareto frontier drawn, accuracy per kilo-ReLU, and
//! estimated latency against accuracy; the paper's published points can be
//! overlaid; hovering names a network, clicking selects it for export.
//! Networks with ReLU masks (per channel or pixel) are drawn apart from the
//! layer-level ones of culling and thinning; networks that did not learn
//! are drawn apart too (grey crosses) and never join the frontier.

use super::Workbench;
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
    pub latency_seconds: Option<f64>,
    pub description: String,
    /// Its accuracy stayed at chance: drawn apart, never on the frontier.
    pub did_not_learn: bool,
    pub pareto: bool,
    /// Some layer keeps only part of its ReLUs.
    pub masked: bool,
}

/// Which quantity a plot puts on its axes.
#[derive(Clone, Copy)]
enum View {
    ReluAccuracy,
    AccuracyPerKiloRelu,
    LatencyAccuracy,
}

impl View {
    /// (x, y) of a network, `None` when it lacks the figure.
    fn xy(self, relus: u64, accuracy: f64, latency: Option<f64>) -> Option<[f64; 2]> {
        let log_relus = (relus.max(1) as f64).log10();
        match self {
            View::ReluAccuracy => Some([log_relus, accuracy]),
            View::AccuracyPerKiloRelu => Some([log_relus, accuracy_per_kilo_relu(accuracy, relus)]),
            View::LatencyAccuracy => latency.map(|l| [l, accuracy]),
        }
    }

    fn labels(self) -> (&'static str, &'static str) {
        match self {
            View::ReluAccuracy => ("ReLUs (log scale)", "top-1 accuracy (%)"),
            View::AccuracyPerKiloRelu => ("ReLUs (log scale)", "accuracy per kilo-ReLU"),
            View::LatencyAccuracy => ("estimated online latency (s)", "top-1 accuracy (%)"),
        }
    }

    /// Where the legend covers no points: accuracy rises to the right.
    fn legend_corner(self) -> Corner {
        match self {
            View::AccuracyPerKiloRelu => Corner::RightTop,
            _ => Corner::RightBottom,
        }
    }

    fn log_x(self) -> bool {
        !matches!(self, View::LatencyAccuracy)
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

    pub(super) fn frontier_panel(&mut self, ui: &mut egui::Ui) {
        self.refresh_runs(ui.ctx());
        let points = self.frontier_points();
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
                ui.label(format!("selected for export: run {id}"));
                if ui.button("Export…").clicked() {
                    self.settings.tab = Tab::Export;
                }
            });
        }
        let height = ((ui.available_height() - 30.0) / 2.0).max(160.0);
        let mut clicked = None;
        ui.columns(2, |cols| {
            clicked = clicked.or(self.plot(&mut cols[0], View::ReluAccuracy, &points, height));
            clicked =
                clicked.or(self.plot(&mut cols[1], View::AccuracyPerKiloRelu, &points, height));
        });
        clicked = clicked.or(self.plot(ui, View::LatencyAccuracy, &points, height));
        if let Some(run) = clicked {
            self.settings.export_run = Some(run);
        }
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
    ) -> (Vec<Series>, Vec<FrontierLine>) {
        let on_frontier = |members: &[(usize, [f64; 2])]| {
            let mut pareto: Vec<(usize, [f64; 2])> = members
                .iter()
                .filter(|(i, _)| points[*i].pareto)
                .copied()
                .collect();
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
                .filter_map(|(i, p)| Some((i, view.xy(p.relus, p.accuracy, p.latency_seconds)?)))
                .collect()
        };
        let ours = placed(false);
        let at_chance = placed(true);
        let (series, frontiers) = self.series(points, &ours, &at_chance);
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
                .filter_map(|p| view.xy(p.relus, p.accuracy, p.latency_seconds))
                .collect()
        };
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
                    "{}\nrun {}: {} ReLUs, {:.2}%{}{}",
                    p.description,
                    p.run_id,
                    group(p.relus),
                    p.accuracy,
                    p.latency_seconds
                        .map_or(String::new(), |l| format!(", {l:.2} s")),
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
                        .filter(|p| view.xy(p.relus, p.accuracy, p.latency_seconds).is_some())
                        .nth(*index)?;
                    format!("{plot_name}: {} ReLUs, {:.2}%", group(p.relus), p.accuracy)
                }
            })
        };
        let (x_label, y_label) = view.labels();
        let mut plot = Plot::new(x_label.to_owned() + y_label)
            .height(height)
            .legend(Legend::default().position(view.legend_corner()))
            .set_margin_fraction(egui::vec2(0.05, 0.1))
            .x_axis_label(x_label)
            .y_axis_label(y_label)
            .label_formatter(hover);
        if view.log_x() {
            plot = plot.x_axis_formatter(|mark, _| compact(10f64.powf(mark.value)));
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
                        .color(s.color),
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
