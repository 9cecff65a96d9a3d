//! The Runs panel's choice of where a pipeline's trainings run, and the
//! Slurm form, remembered with the settings. Checked when a pipeline
//! starts (the shared folder is created then, not while typing).

use super::Workbench;
use super::dialogs::{DialogKind, Purpose, Request};
use super::form::{labelled, optional_number, optional_path, optional_text};
use crate::engine::executor::ExecutorKind;
use std::sync::LazyLock;

/// This binary, the worker's hint: asked of the OS once, not every frame.
static THIS_BINARY: LazyLock<String> = LazyLock::new(|| {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
});

impl Workbench {
    pub(super) fn executor_form(&mut self, ui: &mut egui::Ui) {
        let request = &mut self.settings.executor;
        ui.horizontal(|ui| {
            let label = ui.label("trainings run");
            egui::ComboBox::from_id_salt("executor")
                .selected_text(request.kind.label())
                .show_ui(ui, |ui| {
                    for kind in ExecutorKind::ALL {
                        ui.selectable_value(&mut request.kind, kind, kind.label());
                    }
                })
                .response
                .labelled_by(label.id);
        });
        if request.kind == ExecutorKind::Local {
            return;
        }
        let slurm = &mut request.slurm;
        egui::Grid::new("slurm-form").num_columns(2).show(ui, |ui| {
            optional_path(
                ui,
                "shared folder",
                &mut slurm.shared_dir,
                "/shared/deepreduce",
            );
            optional_text(ui, "partition", &mut slurm.sbatch.partition, "the default");
            optional_text(ui, "account", &mut slurm.sbatch.account, "the default");
            optional_text(ui, "time limit", &mut slurm.sbatch.time, "2:00:00");
            optional_number(
                ui,
                "CPUs per job",
                &mut slurm.sbatch.cpus_per_job,
                4,
                1..=1024,
            );
            optional_number(
                ui,
                "GPUs per job",
                &mut slurm.sbatch.gpus_per_job,
                1,
                1..=64,
            );
            optional_text(ui, "memory", &mut slurm.sbatch.memory, "16G");
            let mut extra = Some(slurm.extra_args.clone()).filter(|a| !a.is_empty());
            optional_text(ui, "more sbatch arguments", &mut extra, "--qos=low");
            slurm.extra_args = extra.unwrap_or_default();
            optional_path(ui, "worker", &mut slurm.worker, &THIS_BINARY);
            labelled(
                ui,
                "retries",
                egui::DragValue::new(&mut slurm.retries).range(0..=20),
            );
        });
        let idle = !self.dialogs.busy();
        let pick = ui
            .add_enabled(idle, egui::Button::new("Pick shared folder…"))
            .on_hover_text(
                "Every node must see it at the same path: specs, checkpoints, epochs and \
                 results of each training go there. The run store stays on this machine.",
            );
        if pick.clicked() {
            self.dialogs.open(Request {
                purpose: Purpose::SharedFolder,
                title: "A folder every node sees".into(),
                kind: DialogKind::PickFolder,
                start_in: self.settings.executor.slurm.shared_dir.clone(),
            });
        }
        ui.small(
            "The worker is the deepreduce binary the nodes start; it must be on the shared \
             filesystem too.",
        );
    }
}
