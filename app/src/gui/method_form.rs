//! The Runs panel's method choice: a method plugin (DeepReDuce's unless the
//! user picks another), with the parameter form the plugin describes
//! (`describe`, asked once per plugin, on a worker). The values are
//! remembered per method in the settings.

use super::pending::{Pending, waiting_label};
use super::settings::MethodSettings;
use crate::engine::pipeline::method::{DEEPREDUCE, MethodChoice};
use crate::engine::plugin_host::PluginHost;
use deepreduce_plugin_api::PluginKind;
use deepreduce_plugin_api::reduction::{MethodInfo, ParamKind, ParamSpec};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What a pipeline stored before methods were plugins followed.
pub const BUILT_IN: &str = "DeepReDuce";

/// A method plugin's form, or why it has none.
type Described = Result<MethodInfo, String>;

/// Asked, or answered.
enum Form {
    Asking(Pending<Described>),
    Answered(Described),
}

#[derive(Default)]
pub struct MethodForms {
    /// Each method plugin's form, by id.
    described: BTreeMap<String, Form>,
    /// The text of list fields as typed, by (method, parameter): "1000, 3000"
    /// may be half-typed and not yet a list.
    texts: BTreeMap<(String, String), String>,
}

impl MethodForms {
    /// The form of method `id`, once the plugin described it; asks it the
    /// first time.
    fn info(&mut self, ctx: &egui::Context, host: &PluginHost, id: &str) -> Option<&Described> {
        let form = self.described.entry(id.to_string()).or_insert_with(|| {
            let plugin = host.get(id).cloned();
            let id = id.to_string();
            Form::Asking(Pending::spawn(ctx, move || {
                plugin
                    .ok_or_else(|| format!("method plugin {id} is not loaded"))?
                    .describe_method()
                    .map_err(|e| e.to_string())
            }))
        });
        answer(form);
        match form {
            Form::Asking(_) => None,
            Form::Answered(described) => Some(described),
        }
    }

    /// Takes in the forms the plugins described (every frame).
    pub fn poll(&mut self) {
        self.described.values_mut().for_each(answer);
    }

    /// Some method plugin has not described its form yet.
    pub fn busy(&self) -> bool {
        self.described
            .values()
            .any(|form| matches!(form, Form::Asking(_)))
    }

    /// The chosen method with its parameters; an error when the form does
    /// not hold valid parameters.
    pub fn choice(
        &mut self,
        ctx: &egui::Context,
        host: &PluginHost,
        settings: &MethodSettings,
    ) -> Result<MethodChoice, String> {
        let id = chosen(settings);
        let params = Value::Object(settings.params.get(&id).cloned().unwrap_or_default());
        let info = self
            .info(ctx, host, &id)
            .ok_or_else(|| format!("{id} has not described its parameters yet"))?
            .as_ref()
            .map_err(Clone::clone)?;
        info.resolve_params(&params)?;
        Ok(MethodChoice { id, params })
    }

    /// Draws the choice and the chosen method's form; returns the chosen
    /// method's name.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        host: &PluginHost,
        settings: &mut MethodSettings,
    ) -> String {
        let methods: Vec<(String, String)> = host
            .of_kind(PluginKind::Method)
            .map(|p| (p.descriptor.id.clone(), p.descriptor.name.clone()))
            .collect();
        if settings
            .chosen
            .as_ref()
            .is_some_and(|id| !methods.iter().any(|(m, _)| m == id))
        {
            settings.chosen = None;
        }
        let id = chosen(settings);
        let name = methods
            .iter()
            .find(|(m, _)| *m == id)
            .map_or(id.clone(), |(_, name)| name.clone());
        let label = ui.label("method");
        let mut picked = id.clone();
        egui::ComboBox::from_id_salt("method")
            .selected_text(&name)
            .show_ui(ui, |ui| {
                for (id, name) in &methods {
                    ui.selectable_value(&mut picked, id.clone(), name);
                }
            })
            .response
            .labelled_by(label.id);
        if picked != id {
            settings.chosen = Some(picked);
        }
        {
            let id = chosen(settings);
            match self.info(ui.ctx(), host, &id).cloned() {
                None => waiting_label(ui, "asking the method plugin for its parameters…"),
                Some(Ok(info)) => {
                    let values = settings.params.entry(id.clone()).or_default();
                    egui::Grid::new(("method-form", &id))
                        .num_columns(2)
                        .show(ui, |ui| {
                            for spec in &info.params {
                                let text = self
                                    .texts
                                    .entry((id.clone(), spec.name.clone()))
                                    .or_default();
                                param_field(ui, spec, values, text);
                                ui.end_row();
                            }
                        });
                }
                Some(Err(e)) => {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
            }
        }
        name
    }
}

/// An asked form becomes answered once its worker is done.
fn answer(form: &mut Form) {
    if let Form::Asking(pending) = form
        && let Some(done) = pending.poll()
    {
        *form = Form::Answered(done.unwrap_or_else(|panicked| Err(panicked.to_string())));
    }
}

/// Whether the pipeline the panel starts follows the DeepReDuce method.
pub fn follows_deepreduce(settings: &MethodSettings) -> bool {
    chosen(settings) == DEEPREDUCE
}

/// The method chosen, DeepReDuce's until the user picks another.
fn chosen(settings: &MethodSettings) -> String {
    settings.chosen.clone().unwrap_or_else(|| DEEPREDUCE.into())
}

/// One parameter's label and field, editing `values[spec.name]` (its
/// default until edited).
fn param_field(
    ui: &mut egui::Ui,
    spec: &ParamSpec,
    values: &mut Map<String, Value>,
    text: &mut String,
) {
    let label = ui.label(&spec.name).on_hover_text(&spec.help);
    let value = values
        .entry(spec.name.clone())
        .or_insert_with(|| spec.default.clone());
    let response = match &spec.kind {
        ParamKind::Integer { min } => {
            let mut n = value.as_i64().unwrap_or(*min);
            let r = ui.add(egui::DragValue::new(&mut n).range(*min..=i64::MAX));
            *value = json!(n);
            r
        }
        ParamKind::Number => {
            let mut x = value.as_f64().unwrap_or(0.0);
            let r = ui.add(egui::DragValue::new(&mut x).speed(0.01));
            *value = json!(x);
            r
        }
        ParamKind::Boolean => {
            let mut b = value.as_bool().unwrap_or(false);
            let r = ui.checkbox(&mut b, "");
            *value = json!(b);
            r
        }
        ParamKind::Choice { options } => {
            let mut chosen = value.as_str().unwrap_or_default().to_string();
            let r = egui::ComboBox::from_id_salt(("param", &spec.name))
                .selected_text(&chosen)
                .show_ui(ui, |ui| {
                    for option in options {
                        ui.selectable_value(&mut chosen, option.clone(), option);
                    }
                })
                .response;
            *value = json!(chosen);
            r
        }
        ParamKind::IntegerList { min } => {
            if text.is_empty() {
                *text = list_text(value);
            }
            let r = ui.add(egui::TextEdit::singleline(text).desired_width(120.0));
            match parse_list(text, *min) {
                Ok(list) => *value = json!(list),
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
            }
            r
        }
        ParamKind::TextList => {
            if text.is_empty() {
                *text = list_text(value);
            }
            let r = ui.add(egui::TextEdit::singleline(text).desired_width(200.0));
            *value = json!(parse_texts(text));
            r
        }
    };
    response.labelled_by(label.id).on_hover_text(&spec.help);
}

/// "1000, 3000" for `[1000, 3000]`, "a, b" for `["a", "b"]`.
fn list_text(value: &Value) -> String {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Texts separated by commas or spaces (none is an empty list).
fn parse_texts(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whole numbers of at least `min`, separated by commas or spaces.
fn parse_list(text: &str, min: i64) -> Result<Vec<i64>, String> {
    let list = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .ok()
                .filter(|n| *n >= min)
                .ok_or_else(|| format!("'{s}' is not a whole number of at least {min}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if list.is_empty() {
        return Err("give at least one".into());
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::{parse_list, parse_texts};

    #[test]
    fn text_lists_are_read_with_commas_or_spaces() {
        assert_eq!(
            parse_texts("org.a, org.b org.c"),
            ["org.a", "org.b", "org.c"]
        );
        assert!(parse_texts(" , ").is_empty());
    }

    #[test]
    fn lists_are_read_with_commas_or_spaces_and_checked() {
        assert_eq!(parse_list("1000, 3000", 0), Ok(vec![1000, 3000]));
        assert_eq!(parse_list(" 5 6 ", 0), Ok(vec![5, 6]));
        assert_eq!(
            parse_list("5, x", 0),
            Err("'x' is not a whole number of at least 0".into())
        );
        assert_eq!(
            parse_list("-1", 0),
            Err("'-1' is not a whole number of at least 0".into())
        );
        assert_eq!(parse_list(" ", 0), Err("give at least one".into()));
    }
}
