//! The heatmap of a pixel-masked layer: one cell per position of its
//! feature map, brighter where more of its channels keep their ReLU.

use crate::engine::mask_map::PositionMap;
use egui::{Color32, Rect, Sense, Vec2, vec2};

/// Largest side of the map in points; cells stay between these sizes.
const SIDE: f32 = 160.0;
const CELL: std::ops::RangeInclusive<f32> = 4.0..=16.0;
const NONE_KEPT: Color32 = Color32::from_rgb(25, 30, 45);
const MOST_KEPT: Color32 = Color32::from_rgb(255, 200, 60);

/// Draws the map of `node`; hovering a cell names its count.
pub fn show(ui: &mut egui::Ui, node: &str, map: &PositionMap) {
    let (min, max) = (map.min_kept(), map.max_kept());
    let c = map.channels;
    ui.label(format!(
        "Mask of {node}: channels keeping their ReLU at each of its {}x{} positions",
        map.height, map.width
    ));
    ui.label(format!(
        "{min} to {max} of {c} ({} to {}); colour from 0 (dark) to {max} (bright)",
        percent(min, c),
        percent(max, c)
    ));
    let cell = (SIDE / map.height.max(map.width) as f32).clamp(*CELL.start(), *CELL.end());
    let size = vec2(map.width as f32, map.height as f32) * cell;
    let (response, painter) = ui.allocate_painter(size, Sense::hover());
    let origin = response.rect.min;
    for row in 0..map.height {
        for col in 0..map.width {
            let at = origin + vec2(col as f32, row as f32) * cell;
            let shade = map.kept(row, col) as f32 / max.max(1) as f32;
            painter.rect_filled(
                Rect::from_min_size(at, Vec2::splat(cell)),
                0.0,
                NONE_KEPT.lerp_to_gamma(MOST_KEPT, shade),
            );
        }
    }
    if let Some(pointer) = response.hover_pos() {
        let offset = (pointer - origin) / cell;
        let (col, row) = (offset.x as usize, offset.y as usize);
        if row < map.height && col < map.width {
            let kept = map.kept(row, col);
            response.on_hover_text_at_pointer(format!(
                "row {row}, column {col}: {kept} of {c} channels keep their ReLU"
            ));
        }
    }
}

fn percent(kept: u32, channels: usize) -> String {
    format!("{:.1}%", 100.0 * kept as f64 / channels.max(1) as f64)
}
