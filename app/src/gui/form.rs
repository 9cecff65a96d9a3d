//! Grid rows of the settings forms: each a label and the widget it names
//! (for screen readers and tests), with optional values as a checkbox or a
//! blank field.

use egui::emath::Numeric;
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// A grid row: a label and the widget it names.
pub fn labelled(ui: &mut egui::Ui, label: &str, widget: impl egui::Widget) {
    let label = ui.label(label);
    ui.add(widget).labelled_by(label.id);
    ui.end_row();
}

/// A number that may be left unset: a checkbox, and the value (`default`
/// until first set) when ticked.
pub fn optional_number<T: Numeric>(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut Option<T>,
    default: T,
    range: RangeInclusive<T>,
) {
    let mut on = value.is_some();
    let checkbox = ui.checkbox(&mut on, label);
    let mut n = value.unwrap_or(default);
    ui.add_enabled(on, egui::DragValue::new(&mut n).range(range))
        .labelled_by(checkbox.id);
    *value = on.then_some(n);
    ui.end_row();
}

/// Text that may be left blank (`None`); `hint` shows in the empty field.
/// Whether the user edited it.
pub fn optional_text(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut Option<String>,
    hint: &str,
) -> bool {
    let mut text = value.clone().unwrap_or_default();
    let label = ui.label(label);
    let field = egui::TextEdit::singleline(&mut text).hint_text(hint);
    let changed = ui.add(field).labelled_by(label.id).changed();
    if changed {
        *value = (!text.is_empty()).then_some(text);
    }
    ui.end_row();
    changed
}

/// A path that may be left blank (`None`). Shown as text, but written
/// back only when edited: a path that is not UTF-8 (picked in a dialog)
/// stays intact.
pub fn optional_path(ui: &mut egui::Ui, label: &str, value: &mut Option<PathBuf>, hint: &str) {
    let mut text = value.as_ref().map(|p| p.display().to_string());
    if optional_text(ui, label, &mut text, hint) {
        *value = text.map(PathBuf::from);
    }
}
