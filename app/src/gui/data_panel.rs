//! Data panel: the built-in dataset, a named one, or a file or folder
//! picked by the user; shows what the loader found (sizes, classes, sample
//! images) or its error. Loading runs on a thread.

use super::Workbench;
use super::dialogs::{DialogKind, Purpose, Request};
use crate::engine::dataset_preview::{DatasetPreview, preview};
use deepreduce_datasets::{DatasetInfo, DatasetKind};
use std::path::Path;
use std::sync::mpsc::{Receiver, channel};

/// Sample images shown per class, and classes shown.
const PER_CLASS: usize = 4;
const CLASSES_SHOWN: usize = 10;

#[derive(Default)]
pub struct DataState {
    path_field: String,
    loading: Option<(String, Receiver<Result<DatasetPreview, String>>)>,
    loaded: Option<(String, Result<DatasetPreview, String>)>,
    textures: Vec<egui::TextureHandle>,
    shape_changed: bool,
}

impl DataState {
    fn start(&mut self, spec: &str, repaint: &egui::Context) {
        let (tx, rx) = channel();
        let owned = spec.to_string();
        let repaint = repaint.clone();
        std::thread::spawn(move || {
            let result = deepreduce_datasets::open(&owned)
                .map(|data| preview(&data, CLASSES_SHOWN, PER_CLASS))
                .map_err(|e| e.to_string());
            let _ = tx.send(result);
            repaint.request_repaint();
        });
        self.loading = Some((spec.to_string(), rx));
    }

    pub fn poll(&mut self, ctx: &egui::Context) {
        let Some((spec, rx)) = &self.loading else {
            return;
        };
        let Ok(result) = rx.try_recv() else { return };
        self.textures = match &result {
            Ok(p) => p
                .samples
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let image =
                        egui::ColorImage::from_rgba_unmultiplied([s.width, s.height], &s.rgba);
                    ctx.load_texture(format!("sample-{i}"), image, egui::TextureOptions::NEAREST)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        self.shape_changed = result.is_ok();
        self.loaded = Some((spec.clone(), result));
        self.loading = None;
    }

    /// True once after a dataset finished loading (its shape may differ).
    pub fn shape_changed(&mut self) -> bool {
        std::mem::take(&mut self.shape_changed)
    }

    pub fn loaded_info(&self, spec: &str) -> Option<&DatasetInfo> {
        match &self.loaded {
            Some((s, Ok(p))) if s == spec => Some(&p.info),
            _ => None,
        }
    }

    fn is_current(&self, spec: &str) -> bool {
        let loading = self.loading.as_ref().is_some_and(|(s, _)| s == spec);
        let loaded = self.loaded.as_ref().is_some_and(|(s, _)| s == spec);
        loading || loaded
    }
}

impl Workbench {
    pub(super) fn choose_dataset_path(&mut self, path: &Path) {
        self.settings.last_data_folder = if path.is_dir() {
            path.parent().map(Path::to_path_buf)
        } else {
            path.parent().and_then(Path::parent).map(Path::to_path_buf)
        };
        self.settings.dataset = path.display().to_string();
        self.network.mark_dirty();
    }

    pub(super) fn data_panel(&mut self, ui: &mut egui::Ui) {
        let spec = self.settings.dataset.clone();
        if !self.data.is_current(&spec) {
            self.data.start(&spec, ui.ctx());
        }
        ui.horizontal(|ui| {
            ui.label("Dataset:");
            for kind in DatasetKind::ALL {
                if ui
                    .selectable_label(spec == kind.name(), kind.name())
                    .clicked()
                {
                    self.settings.dataset = kind.name().into();
                    self.network.mark_dirty();
                }
            }
        });
        ui.horizontal(|ui| {
            let idle = !self.dialogs.busy();
            let start_in = self.settings.last_data_folder.clone();
            if ui
                .add_enabled(idle, egui::Button::new("Open file…"))
                .on_hover_text("CIFAR-10/100 binary batch, or an IDX file (Fashion-MNIST)")
                .clicked()
            {
                self.dialogs.open(Request {
                    purpose: Purpose::DataFile,
                    title: "Open a dataset file".into(),
                    kind: DialogKind::OpenFile { filter: None },
                    start_in: start_in.clone(),
                });
            }
            if ui
                .add_enabled(idle, egui::Button::new("Open folder…"))
                .on_hover_text("A CIFAR, tiny-imagenet-200 or Fashion-MNIST folder")
                .clicked()
            {
                self.dialogs.open(Request {
                    purpose: Purpose::DataFolder,
                    title: "Open a dataset folder".into(),
                    kind: DialogKind::PickFolder,
                    start_in,
                });
            }
            ui.label("or path:");
            ui.add(
                egui::TextEdit::singleline(&mut self.data.path_field)
                    .hint_text("/data/cifar-100-binary")
                    .desired_width(320.0),
            );
            if ui.button("Open").clicked() && !self.data.path_field.trim().is_empty() {
                let path = self.data.path_field.trim().to_string();
                self.choose_dataset_path(Path::new(&path));
            }
        });
        ui.separator();
        if self.data.loading.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("loading {spec}…"));
            });
            return;
        }
        match &self.data.loaded {
            Some((_, Ok(p))) => show_preview(ui, p, &self.data.textures),
            Some((_, Err(e))) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
    }
}

fn show_preview(ui: &mut egui::Ui, p: &DatasetPreview, textures: &[egui::TextureHandle]) {
    let info = &p.info;
    ui.heading(&info.name);
    ui.label(format!(
        "{} training and {} test images, {}x{} with {} channel{}, {} classes",
        p.train_images,
        p.test_images,
        info.width,
        info.height,
        info.channels,
        if info.channels == 1 { "" } else { "s" },
        info.classes
    ));
    let list = |v: &[f32]| {
        let items: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
        items.join(", ")
    };
    ui.label(format!(
        "normalisation: mean ({}), std ({}); horizontal flips {}",
        list(&info.mean),
        list(&info.std),
        if info.hflip { "on" } else { "off" }
    ));
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("samples").num_columns(2).show(ui, |ui| {
            // A whole multiple of the image's size near 48 px: at a
            // fractional scale, nearest-neighbour sampling lands between
            // texels and the drawn pixels depend on rounding.
            let scale = (48.0 / info.width.max(1) as f32).round().max(1.0);
            let size = egui::vec2(info.width as f32, info.height as f32) * scale;
            let mut first = 0;
            for same_class in p.samples.chunk_by(|a, b| a.label == b.label) {
                let label = same_class[0].label;
                let name = info.class_names.get(label).map_or("?", String::as_str);
                ui.label(format!("{name} ({})", p.class_counts[label]));
                ui.horizontal(|ui| {
                    for texture in &textures[first..first + same_class.len()] {
                        ui.image((texture.id(), size));
                    }
                });
                ui.end_row();
                first += same_class.len();
            }
        });
        if info.classes > CLASSES_SHOWN {
            ui.label(format!(
                "… and {} more classes",
                info.classes - CLASSES_SHOWN
            ));
        }
    });
}
