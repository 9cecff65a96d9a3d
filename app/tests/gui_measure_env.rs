//! The Measure control when the framework's Python environment is missing:
//! the setup command is shown. Its own test binary, since it points
//! DEEPREDUCE_CRYPTEN_PYTHON (process-wide) at a file that does not exist.
#![cfg(feature = "gui")]

mod common;

use common::gui::{harness, settings, settle, step_until, workbench};
use deepreduce_app::gui::dialogs::ScriptedDialogs;
use deepreduce_app::gui::settings::Tab;
use egui_kittest::kittest::Queryable;
use std::time::Duration;

#[test]
fn measuring_without_the_environment_names_the_setup_command() {
    let dir = common::temp_dir("gui-measure-no-env");
    let missing = dir.join("no-such-venv/bin/python");
    // SAFETY: the only test of this binary, set before any thread reads it.
    unsafe { std::env::set_var("DEEPREDUCE_CRYPTEN_PYTHON", &missing) };
    let store = dir.join("runs.db");
    let run = common::trained_run(&store, &["S3"], false);
    let mut s = settings(Tab::Export);
    s.export_run = Some(run);
    let mut h = harness(workbench(&store, ScriptedDialogs::default(), s));
    step_until(&mut h, Duration::from_secs(60), |wb| wb.store_read());
    h.get_by_label("CrypTen").click();
    settle(&mut h);
    h.get_by_label("Measure").click();
    h.step();
    step_until(&mut h, Duration::from_secs(60), |wb| !wb.measuring());
    let error = h
        .state()
        .measure_error()
        .expect("the measurement failed")
        .to_string();
    for part in [
        "no crypten environment",
        &missing.display().to_string(),
        "measure/setup-crypten.sh",
        "DEEPREDUCE_CRYPTEN_PYTHON",
    ] {
        assert!(error.contains(part), "{part} in {error}");
    }
    // Shown as it is, in full.
    h.get_by_label(&error);
    h.get_by_label(&format!("Run {run} has not been measured in CrypTen."));
}
