//! One measured private inference as the workbench shows it: a summary
//! (online and setup time, bytes, rounds, how the revealed logits agree),
//! the framework's security setting, and where the cost goes: the bytes of
//! each ONNX node as a bar chart in graph order, coloured by op type, and
//! the bytes of each op type with their share.

use super::latency_axis::{bytes, seconds};
use crate::engine::measure::Report;
use crate::engine::measure::link::{LAN, WAN};
use crate::format::group;
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, Legend, Plot};

/// The op types the chart tells apart; the rest are "other".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpClass {
    Conv,
    Relu,
    Gemm,
    MaxPool,
    Mul,
    Other,
}

impl OpClass {
    const ALL: [OpClass; 6] = [
        OpClass::Conv,
        OpClass::Relu,
        OpClass::Gemm,
        OpClass::MaxPool,
        OpClass::Mul,
        OpClass::Other,
    ];

    fn of(op: &str) -> OpClass {
        OpClass::ALL
            .into_iter()
            .find(|class| class.label() == op)
            .unwrap_or(OpClass::Other)
    }

    /// The ONNX op type, or "other".
    fn label(self) -> &'static str {
        match self {
            OpClass::Conv => "Conv",
            OpClass::Relu => "Relu",
            OpClass::Gemm => "Gemm",
            OpClass::MaxPool => "MaxPool",
            OpClass::Mul => "Mul",
            OpClass::Other => "other",
        }
    }

    fn color(self) -> Color32 {
        match self {
            OpClass::Conv => Color32::from_rgb(80, 160, 255),
            OpClass::Relu => Color32::from_rgb(240, 90, 150),
            OpClass::Gemm => Color32::from_rgb(90, 200, 120),
            OpClass::MaxPool => Color32::from_rgb(255, 160, 60),
            OpClass::Mul => Color32::from_rgb(190, 120, 230),
            OpClass::Other => Color32::from_rgb(150, 150, 150),
        }
    }
}

/// Shows `report`; returns the number of bars its chart drew.
pub fn show(ui: &mut egui::Ui, report: &Report, id: i64) -> usize {
    summary(ui, report);
    if report.layers.is_empty() {
        ui.label("The framework reported no cost per node.");
        return 0;
    }
    ui.strong("Where the cost goes: bytes sent per ONNX node");
    let mut drawn = 0;
    ui.horizontal_top(|ui| {
        let list_width = 250.0;
        let chart_width = (ui.available_width() - list_width - 16.0).max(300.0);
        ui.allocate_ui(egui::vec2(chart_width, 260.0), |ui| {
            drawn = chart(ui, report, id);
        });
        ui.vertical(|ui| by_op(ui, report));
    });
    drawn
}

fn summary(ui: &mut egui::Ui, r: &Report) {
    let repeat = format!(" (median of {})", r.repeat);
    ui.strong(format!(
        "online {} on loopback{repeat}, one-time setup {}; {} sent in {} {}",
        seconds(r.online_seconds),
        seconds(r.setup_seconds),
        bytes(r.bytes as f64),
        group(r.rounds),
        r.rounds_named,
    ));
    ui.label(format!(
        "modelled online time over {}: {}; over {}: {}",
        LAN.name,
        seconds(LAN.online_seconds(r)),
        WAN.name,
        seconds(WAN.online_seconds(r)),
    ));
    ui.label(format!(
        "revealed logits against the plaintext forward: max |diff| {:.2e}, top-1 agreement {:.1}%",
        r.max_abs_diff,
        100.0 * r.top1_agreement
    ));
    let mut about = format!(
        "{} {}, {}; batch {}",
        r.framework, r.version, r.protocol, r.batch
    );
    if !r.weights.is_empty() {
        about.push_str(&format!("; weights: {}", r.weights));
    }
    if !r.input.is_empty() {
        about.push_str(&format!("; input: {}", r.input));
    }
    ui.weak(about);
    ui.label(RichText::new(format!("security: {}", r.security)).small());
}

/// The bars of each op class present, one per node at its place in the
/// graph; returns how many were drawn.
fn chart(ui: &mut egui::Ui, r: &Report, id: i64) -> usize {
    let classes: Vec<(OpClass, Vec<Bar>)> = OpClass::ALL
        .into_iter()
        .map(|class| {
            let bars = r
                .layers
                .iter()
                .enumerate()
                .filter(|(_, l)| OpClass::of(&l.op) == class)
                .map(|(i, l)| {
                    Bar::new(i as f64, l.bytes as f64)
                        .name(format!(
                            "{} ({}): {}, {} rounds",
                            l.node,
                            l.op,
                            bytes(l.bytes as f64),
                            l.rounds
                        ))
                        .fill(class.color())
                        .width(0.8)
                })
                .collect();
            (class, bars)
        })
        .filter(|(_, bars): &(OpClass, Vec<Bar>)| !bars.is_empty())
        .collect();
    let drawn = classes.iter().map(|(_, bars)| bars.len()).sum();
    let tallest = r.layers.iter().map(|l| l.bytes).max().unwrap_or(0) as f64;
    Plot::new(("measured-bytes", id))
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .x_axis_label("ONNX node in graph order (hover a bar for its name)")
        .y_axis_formatter(|mark, _| bytes(mark.value))
        .y_axis_min_width(56.0)
        .include_y(0.0)
        // Room above the tallest bar for its hover text and the legend.
        .include_y(tallest * 1.3)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_boxed_zoom(false)
        .show(ui, |plot| {
            for (class, bars) in classes {
                plot.bar_chart(
                    BarChart::new(class.label(), bars)
                        .color(class.color())
                        .element_formatter(Box::new(|bar, _| bar.name.clone())),
                );
            }
        });
    drawn
}

/// Each op type that sent bytes, with its share, largest first, and what
/// no node took.
fn by_op(ui: &mut egui::Ui, r: &Report) {
    ui.strong("bytes by op");
    let total = r.bytes.max(1) as f64;
    let by_op = r.bytes_by_op();
    let in_nodes: u64 = by_op.iter().map(|(_, b)| b).sum();
    let outside = r.bytes.saturating_sub(in_nodes);
    egui::Grid::new("bytes-by-op")
        .num_columns(3)
        .show(ui, |ui| {
            let rows = by_op
                .iter()
                .filter(|(_, b)| *b > 0)
                .map(|(op, b)| (op.as_str(), OpClass::of(op).color(), *b))
                .chain((outside > 0).then_some((
                    "outside any node",
                    ui.visuals().text_color(),
                    outside,
                )));
            for (op, color, b) in rows {
                ui.label(RichText::new(op).color(color));
                ui.label(bytes(b as f64));
                ui.label(format!("{:.1}%", 100.0 * b as f64 / total));
                ui.end_row();
            }
        });
}
