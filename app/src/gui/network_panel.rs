//! Network panel: pick an architecture and its parameters, cull stages,
//! thin, reshape, keep a ReLU budget (per-channel or per-pixel masks) and
//! toggle single ReLU layers by clicking; the ReLU count, polynomial
//! elements, max-pool comparisons, MACs, parameters and latency estimate
//! are recounted on every change. Each layer shows the fraction of its
//! ReLUs kept; a pixel-masked layer's mask can be shown as a heatmap.

use super::Workbench;
use super::mask_heatmap;
use super::network_recount::Recounts;
use super::pending::waiting_label;
use super::plugins_panel::file_label;
use super::settings::BudgetSettings;
use crate::engine::budget::DroppedAs;
use crate::engine::dataset_shape::{info_shape, known_shape};
use crate::engine::mask_map::PositionMap;
use crate::engine::network::NetworkSpec;
use crate::engine::network_view::{Draft, LayerView, NetworkView};
use crate::engine::relu_layers::ReluLayer;
use crate::format::{WIDEST_MILLISECONDS, compact, group, milliseconds};
use deepreduce_plugin_api::{Granularity, InputSpec, Op, STEM};
use std::time::Duration;

const ALPHAS: [f64; 4] = [1.0, 0.75, 0.5, 0.25];
const RHOS: [f64; 2] = [1.0, 0.5];

#[derive(Default)]
pub struct NetworkState {
    pub view: Option<Result<NetworkView, String>>,
    /// How long the last recount took.
    pub recount_time: Option<Duration>,
    /// Body stages of the architecture (from the last network built).
    stages: Vec<String>,
    blocks_field: String,
    recounts: Recounts,
    /// The pixel-masked layer whose mask map is shown.
    mask_shown: Option<String>,
}

impl NetworkState {
    pub fn mark_dirty(&mut self) {
        self.recounts.mark_dirty();
    }

    /// Plugins came or went: the architectures on offer may have changed.
    pub fn plugins_changed(&mut self) {
        self.recounts.plugins_changed();
    }

    /// A change is not recounted yet: the plugins are working on it.
    pub fn busy(&self) -> bool {
        self.recounts.busy()
    }

    /// The architecture's body stages, as last built.
    pub fn stages(&self) -> &[String] {
        &self.stages
    }

    /// The ReLU count shown, when the network builds.
    pub fn relus(&self) -> Option<u64> {
        match &self.view {
            Some(Ok(v)) => Some(v.relus()),
            _ => None,
        }
    }

    /// Shows a finished recount, if one finished.
    fn take_recount(&mut self) {
        let Some(recount) = self.recounts.finished() else {
            return;
        };
        self.recount_time = Some(recount.time);
        if let Ok(v) = &recount.view
            && recount.uncut
        {
            self.stages = v.network.body_stages();
        }
        self.view = Some(recount.view);
    }
}

impl Workbench {
    /// The input and classes of the chosen dataset: known for the named
    /// datasets, read from the Data panel for a path.
    pub(super) fn dataset_shape(&self) -> Result<(InputSpec, usize), String> {
        let name = &self.settings.dataset;
        known_shape(name)
            .or_else(|| self.data.loaded_info(name).map(info_shape))
            .ok_or_else(|| {
                format!("{name}: open it in the Data panel to read its image size and classes")
            })
    }

    /// The draft the settings describe.
    pub(super) fn draft(&self) -> Result<Draft, String> {
        let (input, classes) = self.dataset_shape()?;
        let n = &self.settings.network;
        let keep = (!n.culled.is_empty()).then(|| {
            let mut keep: Vec<String> = Vec::new();
            if n.keep_stem {
                keep.push(STEM.into());
            }
            keep.extend(
                self.network
                    .stages
                    .iter()
                    .filter(|s| !n.culled.contains(*s))
                    .cloned(),
            );
            keep
        });
        Ok(Draft {
            spec: NetworkSpec {
                blocks: n.blocks.clone(),
                width: n.width,
                keep,
                thin: n.thin,
                alpha: n.alpha,
                rho: n.rho,
                budget: n.budget.budget(),
                ..NetworkSpec::new(&n.arch, input, classes)
            },
            overrides: n.overrides.clone(),
        })
    }

    /// Rebuilds the network after a change, on a worker (every frame; free
    /// otherwise). A recount usually takes about a millisecond: the frame
    /// waits for it briefly and shows it at once.
    pub(super) fn recount_if_dirty(&mut self, ctx: &egui::Context) {
        // First the finished one: the next draft's stages come from it.
        self.network.take_recount();
        if self.network.recounts.wants_start() {
            let draft = self.draft();
            self.network.recounts.start(ctx, &self.host, draft);
            self.network.take_recount();
        }
    }

    pub(super) fn network_panel(&mut self, ui: &mut egui::Ui) {
        let before = self.settings.network.clone();
        let dataset_before = self.settings.dataset.clone();
        egui::Panel::left("network-controls")
            .resizable(true)
            .default_size(280.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.network_controls(ui));
            });
        egui::CentralPanel::default().show(ui, |ui| self.network_summary(ui));
        if self.settings.network != before || self.settings.dataset != dataset_before {
            self.network.mark_dirty();
        }
    }

    fn network_controls(&mut self, ui: &mut egui::Ui) {
        ui.heading("Architecture");
        let n = &mut self.settings.network;
        let arch_before = n.arch.clone();
        egui::ComboBox::from_label("architecture")
            .selected_text(&n.arch)
            .show_ui(ui, |ui| {
                for v in self.network.recounts.variants() {
                    ui.selectable_value(&mut n.arch, v.name.clone(), &v.name)
                        .on_hover_text(&v.description);
                }
            });
        for error in self.network.recounts.unanswered() {
            // The file's name here (the panel is narrow), its path on hover.
            let short = format!("{}: {}", file_label(&error.file), error.cause);
            ui.colored_label(ui.visuals().error_fg_color, short)
                .on_hover_text(error.to_string());
        }
        if n.arch != arch_before {
            // Another architecture has other stages and layers.
            n.culled.clear();
            n.overrides.clear();
            (n.width, n.blocks) = (None, None);
            self.network.blocks_field.clear();
        }
        let variant = self
            .network
            .recounts
            .variants()
            .iter()
            .find(|v| v.name == n.arch);
        egui::ComboBox::from_label("dataset")
            .selected_text(&self.settings.dataset)
            .show_ui(ui, |ui| {
                for name in deepreduce_datasets::DatasetKind::names() {
                    ui.selectable_value(&mut self.settings.dataset, name.into(), name);
                }
            });
        let mut custom_width = n.width.is_some();
        ui.horizontal(|ui| {
            let checkbox = ui.checkbox(&mut custom_width, "width");
            let default = variant.map_or(64, |v| v.width);
            let mut width = n.width.unwrap_or(default);
            ui.add_enabled(
                custom_width,
                egui::DragValue::new(&mut width).range(1..=1024),
            )
            .labelled_by(checkbox.id);
            n.width = custom_width.then_some(width);
        });
        ui.horizontal(|ui| {
            let label = ui.label("blocks");
            let hint = variant.map(|v| join(&v.blocks)).unwrap_or_default();
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.network.blocks_field)
                        .hint_text(hint)
                        .desired_width(100.0),
                )
                .labelled_by(label.id);
            if field.changed() {
                n.blocks = parse_blocks(&self.network.blocks_field);
            }
        });

        ui.separator();
        ui.heading("Culling");
        ui.label("Stages whose ReLUs remain:");
        let mut stem = n.keep_stem || n.culled.is_empty();
        let stem_box = ui.add_enabled(
            !n.culled.is_empty(),
            egui::Checkbox::new(&mut stem, "Conv1"),
        );
        stem_box.on_hover_text(
            "The method drops Conv1's ReLU in every culled network; tick to keep it",
        );
        if !n.culled.is_empty() {
            n.keep_stem = stem;
        }
        for stage in &self.network.stages {
            let mut kept = !n.culled.contains(stage);
            if ui.checkbox(&mut kept, stage.as_str()).changed() {
                if kept {
                    n.culled.remove(stage);
                } else {
                    if n.culled.is_empty() {
                        n.keep_stem = false;
                    }
                    n.culled.insert(stage.clone());
                }
            }
        }
        ui.separator();
        ui.heading("Thinning and reshaping");
        ui.checkbox(&mut n.thin, "Thin alternate ReLU layers");
        choice(ui, "alpha (channels)", &mut n.alpha, &ALPHAS);
        choice(ui, "rho (resolution)", &mut n.rho, &RHOS);
        ui.separator();
        ui.heading("ReLU budget");
        budget_controls(ui, &mut n.budget);
        ui.separator();
        let edits = n.overrides.len();
        if ui
            .add_enabled(
                edits > 0,
                egui::Button::new(format!("Undo {edits} hand edits")),
            )
            .clicked()
        {
            n.overrides.clear();
        }
    }

    fn network_summary(&mut self, ui: &mut egui::Ui) {
        if let Some(waited) = self.network.recounts.waiting() {
            // The last result stays below until the plugins answer.
            waiting_label(ui, format!("waiting for plugins… {} s", waited.as_secs()));
        }
        let view = match &self.network.view {
            Some(Ok(view)) => view,
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                return;
            }
            None => return,
        };
        ui.heading(&view.description);
        let t = &view.analysis.total;
        let shown = self.network.mask_shown.as_deref();
        ui.horizontal_top(|ui| {
            totals_grid(ui, view, self.network.recount_time);
            if let Some((node, map)) = shown_mask(view, shown) {
                // Space, not a separator: in a row that would fill the panel's height.
                ui.add_space(32.0);
                ui.vertical(|ui| mask_heatmap::show(ui, node, &map));
            }
        });
        ui.separator();
        let total = t.relus.max(1) as f64;
        let mut clicked: Option<RowClick> = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (stage, totals) in &view.analysis.stages {
                let layers: Vec<&LayerView> = view
                    .layers
                    .iter()
                    .filter(|l| l.layer.stage.as_deref() == Some(stage.as_str()))
                    .collect();
                if layers.is_empty() {
                    continue;
                }
                let header = format!(
                    "{stage}: {} ReLUs ({:.1}%)",
                    group(totals.relus),
                    100.0 * totals.relus as f64 / total
                );
                egui::CollapsingHeader::new(header)
                    .id_salt(stage)
                    .default_open(true)
                    .show(ui, |ui| {
                        egui::Grid::new(("layers", stage))
                            .striped(true)
                            .num_columns(6)
                            .show(ui, |ui| {
                                for layer in layers {
                                    let showing = shown == Some(layer.layer.node.as_str());
                                    if let Some(click) = layer_row(ui, layer, total, showing) {
                                        clicked = Some(click);
                                    }
                                    ui.end_row();
                                }
                            });
                    });
            }
        });
        match clicked {
            Some(RowClick::Toggle(node, active)) => self.toggle_layer(node, active),
            Some(RowClick::Map(node)) => {
                let hide = self.network.mask_shown.as_ref() == Some(&node);
                self.network.mask_shown = (!hide).then_some(node);
            }
            None => {}
        }
    }

    /// A hand edit; toggling a layer back to what the plugins built removes
    /// the edit.
    fn toggle_layer(&mut self, node: String, active: bool) {
        let built = match &self.network.view {
            Some(Ok(v)) => v
                .layers
                .iter()
                .find(|l| l.layer.node == node)
                .map(|l| l.active() != l.edited),
            _ => None,
        };
        let overrides = &mut self.settings.network.overrides;
        if built == Some(active) {
            overrides.remove(&node);
        } else {
            overrides.insert(node, active);
        }
        self.network.mark_dirty();
    }
}

/// ReLUs, polynomial elements, comparisons, MACs, parameters, latency and
/// how long the recount took.
fn totals_grid(ui: &mut egui::Ui, view: &NetworkView, recount_time: Option<Duration>) {
    let t = &view.analysis.total;
    egui::Grid::new("totals").num_columns(2).show(ui, |ui| {
        ui.label("ReLUs");
        ui.strong(group(t.relus));
        ui.end_row();
        ui.label("Polynomial elements");
        ui.label(group(t.polys))
            .on_hover_text("one secure multiplication each: dropped ReLUs replaced by a quadratic");
        ui.end_row();
        ui.label("Max-pool comparisons");
        ui.label(group(t.comparisons))
            .on_hover_text("k x k - 1 per output element, each a garbled circuit like a ReLU's");
        ui.end_row();
        ui.label("FLOPs (multiply-accumulates)");
        ui.label(compact(t.macs as f64));
        ui.end_row();
        ui.label("Parameters");
        ui.label(compact(t.params as f64));
        ui.end_row();
        ui.label("Latency");
        match &view.latency {
            Ok(l) => ui.label(format!(
                "{:.2} s online, {:.1} MB ({})",
                l.online_seconds,
                l.communication_bytes / 1e6,
                l.model.name
            )),
            Err(e) => ui.label(e),
        };
        ui.end_row();
        if let Some(d) = recount_time {
            ui.label("Recount");
            timing_label(ui, d);
            ui.end_row();
        }
    });
}

/// What a click on a layer's row asks for.
enum RowClick {
    /// Switch the layer's ReLUs on or off by hand.
    Toggle(String, bool),
    /// Show or hide its mask map.
    Map(String),
}

/// One layer: its switch, block, kept ReLUs, the kept fraction as a bar,
/// its share of the total and, for a pixel mask, the button of its map.
fn layer_row(ui: &mut egui::Ui, row: &LayerView, total: f64, showing: bool) -> Option<RowClick> {
    let layer = &row.layer;
    let mut clicked = None;
    let mut active = row.active();
    let label = if row.edited {
        format!("{} (edited)", layer.node)
    } else {
        layer.node.clone()
    };
    if ui.checkbox(&mut active, label).changed() {
        clicked = Some(RowClick::Toggle(layer.node.clone(), active));
    }
    ui.label(layer.block.as_deref().unwrap_or(""));
    ui.label(group(layer.relus));
    ui.add(
        egui::ProgressBar::new(layer.kept_fraction() as f32)
            .desired_width(150.0)
            // Square ends: a rounded bar is never narrower than its height,
            // and a dropped layer would look as if it kept something.
            .corner_radius(0.0)
            .text(kept_text(layer)),
    );
    ui.label(if layer.relus > 0 {
        format!("{:.1}% of all", 100.0 * layer.relus as f64 / total)
    } else {
        String::new()
    });
    if layer.granularity == Some(Granularity::Pixel) {
        if ui
            .selectable_label(showing, "mask map")
            .on_hover_text("show which positions keep their ReLU, across the channels")
            .clicked()
        {
            clicked = Some(RowClick::Map(layer.node.clone()));
        }
    } else {
        ui.label("");
    }
    clicked
}

/// What a layer's bar says: how much it keeps, and how.
fn kept_text(layer: &ReluLayer) -> String {
    let kept = layer.kept_fraction();
    match (layer.granularity, layer.dropped) {
        (None, None) => "all kept".into(),
        (None, Some(DroppedAs::Identity)) => "dropped".into(),
        (None, Some(DroppedAs::Poly)) => "polynomial".into(),
        (Some(g), Some(DroppedAs::Poly)) => format!("{} {}, rest poly", percent(kept), g.as_str()),
        (Some(g), _) => format!("{} {}", percent(kept), g.as_str()),
    }
}

/// A fraction in [0, 1] as a percentage with two significant digits below 10%.
fn percent(fraction: f64) -> String {
    let p = 100.0 * fraction;
    if p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// The map of the layer named `node`, when it is pixel-masked in `view`.
fn shown_mask<'v>(view: &'v NetworkView, node: Option<&str>) -> Option<(&'v str, PositionMap)> {
    let layer = &view
        .layers
        .iter()
        .find(|l| Some(l.layer.node.as_str()) == node)?
        .layer;
    let Op::MaskedRelu { mask, .. } = &view.network.node(&layer.node)?.op else {
        return None;
    };
    Some((&layer.node, PositionMap::of(mask, layer.shape)?))
}

/// Switch, size, granularity and what dropped elements become.
fn budget_controls(ui: &mut egui::Ui, b: &mut BudgetSettings) {
    ui.checkbox(&mut b.enabled, "Keep a ReLU budget").on_hover_text(
        "mask single channels or pixels (org.deepreduce.budget) after culling, thinning and \
         reshaping: exactly this many ReLUs per pixel, the most whole channels within it per channel",
    );
    ui.add_enabled_ui(b.enabled, |ui| {
        ui.horizontal(|ui| {
            let label = ui.label("ReLUs to keep");
            ui.add(
                egui::DragValue::new(&mut b.relus)
                    .speed(100.0)
                    .custom_formatter(|n, _| group(n as u64))
                    .custom_parser(|text| text.replace(',', "").trim().parse().ok()),
            )
            .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            ui.label("granularity");
            ui.selectable_value(&mut b.granularity, Granularity::Pixel, "pixel");
            ui.selectable_value(&mut b.granularity, Granularity::Channel, "channel");
        });
        ui.horizontal(|ui| {
            ui.label("dropped as");
            ui.selectable_value(&mut b.dropped, DroppedAs::Identity, "identity");
            ui.selectable_value(&mut b.dropped, DroppedAs::Poly, "polynomial");
        });
    });
}

fn choice(ui: &mut egui::Ui, label: &str, value: &mut f64, options: &[f64]) {
    ui.horizontal(|ui| {
        ui.label(label);
        for &o in options {
            ui.selectable_value(value, o, format!("{o}"));
        }
    });
}

fn join(blocks: &[usize]) -> String {
    blocks
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// "2,2,2,2" -> Some([2,2,2,2]); empty or malformed -> None (the default).
fn parse_blocks(text: &str) -> Option<Vec<usize>> {
    let blocks: Option<Vec<usize>> = text
        .split(',')
        .map(|s| s.trim().parse().ok().filter(|&b| b > 0))
        .collect();
    blocks.filter(|b| !b.is_empty())
}

/// A timing in a box as wide as the widest one below ten seconds: a slower
/// machine changes the digits, never the layout (nor what a test masks).
fn timing_label(ui: &mut egui::Ui, d: Duration) {
    let text = milliseconds(d);
    let font = egui::TextStyle::Body.resolve(ui.style());
    let color = ui.visuals().text_color();
    let painter = ui.painter();
    let widest = painter.layout_no_wrap(WIDEST_MILLISECONDS.into(), font.clone(), color);
    let galley = painter.layout_no_wrap(text.clone(), font, color);
    let size = egui::vec2(widest.size().x.max(galley.size().x), galley.size().y);
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    ui.painter().galley(rect.left_top(), galley, color);
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::accesskit::Role::Label, ui.is_enabled(), &text)
    });
}
