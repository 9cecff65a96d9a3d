//! Cells of the Runs panel's table that follow a training while it runs:
//! its status with the epochs done so far (read from the store, where the
//! controller copies a cluster job's epochs file as it grows) and its
//! cluster job with Slurm's state and reason.

use crate::engine::store::{ClusterJob, RunRow, RunStatus};

/// The epochs a run was planned with (pipeline and single runs both keep
/// their training settings under `train`).
fn planned_epochs(run: &RunRow) -> Option<u64> {
    run.config.get("train")?.get("epochs")?.as_u64()
}

/// "running, epoch 3/6" for a running run with epochs done, else its status.
pub fn status_text(run: &RunRow, epochs_done: Option<usize>) -> String {
    match (run.status, epochs_done, planned_epochs(run)) {
        (RunStatus::Running, Some(done), Some(planned)) => {
            format!("{}, epoch {done}/{planned}", run.status)
        }
        _ => run.status.to_string(),
    }
}

pub fn status_cell(ui: &mut egui::Ui, run: &RunRow, epochs_done: Option<usize>) {
    ui.label(status_text(run, epochs_done))
        .on_hover_text(run.error.clone().unwrap_or_default());
}

/// "job 123: RUNNING" and, below, Slurm's reason when it gives one.
pub fn job_cell(ui: &mut egui::Ui, job: Option<&ClusterJob>) {
    let Some(job) = job else {
        ui.label("");
        return;
    };
    let state = job.state.as_deref().unwrap_or("submitted");
    let hover = format!(
        "{} submitted for this training (retries and resumes included)",
        match job.submissions {
            1 => "1 job".to_string(),
            n => format!("{n} jobs"),
        }
    );
    ui.vertical(|ui| {
        ui.label(format!("job {}: {state}", job.id))
            .on_hover_text(hover);
        if let Some(reason) = &job.reason {
            ui.small(reason.as_str());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::RunRole;
    use serde_json::json;

    fn run(status: RunStatus) -> RunRow {
        RunRow {
            id: 1,
            pipeline_id: Some(1),
            key: "baseline".into(),
            role: RunRole::Baseline,
            stage: None,
            description: "ResNet18".into(),
            network: json!({}),
            config: json!({ "train": { "epochs": 6 } }),
            plugins: json!([]),
            backend: None,
            seed: 0,
            relus: 10,
            status,
            accuracy: None,
            latency: None,
            inference_ms: None,
            checkpoint_dir: None,
            weights: None,
            error: None,
            started_at: None,
            finished_at: None,
            job: None,
        }
    }

    #[test]
    fn a_running_run_shows_its_epochs_out_of_the_planned_ones() {
        assert_eq!(
            status_text(&run(RunStatus::Running), Some(3)),
            "running, epoch 3/6"
        );
        assert_eq!(status_text(&run(RunStatus::Running), None), "running");
        assert_eq!(
            status_text(&run(RunStatus::Completed), Some(6)),
            "completed"
        );
    }
}
