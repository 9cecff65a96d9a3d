//! The window with plugins in their own processes, driven headless by
//! egui_kittest: a plugin that hangs never stops the window drawing; the
//! Plugins panel shows each plugin's state and log, and runs a plugin the
//! user trusts without the sandbox. Assertions are on states, never on
//! times: the fixtures' timeouts only bound how long a test takes.

mod common;

use common::gui::{harness, host_with, settings, settle, workbench_with};
use deepreduce_app::engine::plugin_host::{CallTimeouts, HostOptions, PluginHost};
use deepreduce_app::gui::Workbench;
use deepreduce_app::gui::dialogs::ScriptedDialogs;
use deepreduce_app::gui::settings::{Settings, Tab};
use deepreduce_plugin_api::method::{ARCHITECTURE_BUILD, ARCHITECTURE_DESCRIBE};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CULL: &str = "org.deepreduce.cull";

/// Options with the plugins' logs in `dir`.
fn logging_to(dir: &Path) -> HostOptions {
    HostOptions {
        log_dir: dir.join("plugin-logs"),
        ..HostOptions::default()
    }
}

/// The window over a fresh store in `dir`.
fn window(dir: &Path, host: PluginHost, s: Settings) -> Harness<'static, Workbench> {
    window_with(dir, host, ScriptedDialogs::default(), s)
}

/// The window over a fresh store in `dir`, its file dialogs answered by
/// `dialogs`.
fn window_with(
    dir: &Path,
    host: PluginHost,
    dialogs: ScriptedDialogs,
    s: Settings,
) -> Harness<'static, Workbench> {
    harness(workbench_with(host, &dir.join("runs.db"), dialogs, s))
}

/// The fixture's latency plugin `org.test.printing` that prints a line to
/// stdout and one to stderr when it is loaded.
fn printing_plugin(name: &str) -> PathBuf {
    common::broken_plugin(
        name,
        &["-DFAULT_STDOUT_SPAM", "-DPLUGIN_ID=\"org.test.printing\""],
    )
}

/// The window on `s` with `library` loaded from it ("Load plugin…"): its
/// process starts on a worker.
fn window_loading(dir: &Path, library: PathBuf, s: Settings) -> Harness<'static, Workbench> {
    let dialogs = ScriptedDialogs::answering([Some(library)]);
    let mut h = window_with(dir, host_with(logging_to(dir)), dialogs, s);
    settle(&mut h);
    h.get_by_label("Load plugin…").click();
    settle(&mut h);
    h
}

#[test]
fn a_plugin_that_hangs_never_stops_the_window_and_times_out() {
    let dir = common::temp_dir("gui-hang");
    let hang = common::broken_plugin("gui-hang", &["-DFAULT_LOOP_IN_CALL"]);
    // Short timeouts for the calls the Network panel makes, so the test
    // does not take the default 30 s per call.
    let mut timeouts = CallTimeouts::default();
    for method in [ARCHITECTURE_DESCRIBE, ARCHITECTURE_BUILD] {
        timeouts
            .per_method
            .insert(method.into(), Duration::from_secs(2));
    }
    let mut host = host_with(HostOptions {
        timeouts,
        ..logging_to(&dir)
    });
    host.load(&hang)
        .expect("it loads: it hangs only in its calls");
    // Its architecture: it is asked what it offers, and never answers.
    let mut s = settings(Tab::Network);
    s.network.arch = "broken".into();
    let mut h = window(&dir, host, s);

    // The frame waits for the plugins only briefly, then is drawn.
    h.step();
    assert!(h.state().plugins_busy());
    h.get_by_label_contains("waiting for plugins…");
    // A change while they hang: recounted once they return.
    h.get_by_label("Thin alternate ReLU layers").click();
    h.step();
    assert!(h.state().plugins_busy(), "still waiting");
    assert!(h.state().settings.network.thin);

    settle(&mut h);
    assert!(h.query_by_label_contains("waiting for plugins").is_none());
    // Its timeout, naming its file: under the architecture choice (it
    // could not say what it offers) and in the recount's error.
    let timed_out = format!("did not answer during {ARCHITECTURE_DESCRIBE}");
    let short = format!("libgui-hang.so: {timed_out}");
    let under_the_choice = h.query_all_by(|n| n.value().is_some_and(|v| v.starts_with(&short)));
    assert_eq!(under_the_choice.count(), 1);
    let error = h.get_by_label_contains("no architecture plugin offers 'broken'");
    let error = error.accesskit_node().value().unwrap_or_default();
    let named = format!("plugin {}: {timed_out}", hang.display());
    assert!(error.contains(&named), "{error}");
    assert_eq!(h.state().network_relus(), None);

    // The built-in plugins still work.
    h.get_by_label("architecture").click();
    settle(&mut h);
    h.get_by_label("resnet18").click();
    settle(&mut h);
    h.get_by_label("Thin alternate ReLU layers").click();
    settle(&mut h);
    assert_eq!(h.state().network_relus(), Some(557_056));
    h.get_by_label("557,056");

    // Three timeouts (what it offers; the first recount; the change made
    // while it hung, recounted after): disabled.
    h.get_by_label("Plugins").click();
    settle(&mut h);
    h.get_by_label("disabled");
}

/// The Plugins panel's state column: how many plugins show `label`.
fn shown_as(h: &Harness<'_, Workbench>, label: &str) -> usize {
    h.query_all_by_label(label).count()
}

#[test]
fn the_plugins_panel_shows_each_state_and_runs_a_trusted_plugin_unsandboxed() {
    let dir = common::temp_dir("gui-trust");
    let host = host_with(logging_to(&dir));
    let plugins = host.plugins().len();
    assert_eq!(plugins, common::BUILT_IN_PLUGINS.len());
    let mut h = window(&dir, host, settings(Tab::Plugins));
    settle(&mut h);
    assert_eq!(
        shown_as(&h, "sandboxed"),
        plugins,
        "every built-in plugin runs sandboxed (this kernel has Landlock)"
    );

    h.get_by_label(&format!("Trust {CULL}")).click();
    settle(&mut h);
    assert_eq!(shown_as(&h, "not sandboxed"), 1);
    assert_eq!(shown_as(&h, "sandboxed"), plugins - 1);
    h.get_by_label_contains(&format!(
        "started {CULL} again: not sandboxed: trusted by the user"
    ));
    let trusted = h.state().settings.trusted_plugins.clone();
    assert_eq!(trusted, [CULL.to_string()].into());
    // Culling still works through the plugin started again: S1 culled
    // (and Conv1, as the method does) leaves S2, S3 and S4's ReLUs.
    h.get_by_label("Network").click();
    settle(&mut h);
    h.get_by_label("S1").click();
    settle(&mut h);
    assert_eq!(h.state().network_relus(), Some(131_072 + 65_536 + 32_768));

    // Remembered: a new window with these settings runs it unsandboxed.
    let remembered = h.state().settings.clone();
    drop(h);
    let mut h = window(&dir, host_with(logging_to(&dir)), remembered);
    settle(&mut h);
    h.get_by_label("Plugins").click();
    settle(&mut h);
    assert_eq!(shown_as(&h, "not sandboxed"), 1);

    // Untrusted: sandboxed again, and forgotten.
    h.get_by_label(&format!("Trust {CULL}")).click();
    settle(&mut h);
    assert_eq!(shown_as(&h, "sandboxed"), plugins);
    assert!(h.state().settings.trusted_plugins.is_empty());
}

#[test]
fn the_log_viewer_shows_what_a_plugin_printed() {
    let dir = common::temp_dir("gui-log");
    let library = printing_plugin("gui-print");
    let mut h = window_loading(&dir, library, settings(Tab::Plugins));
    h.get_by_label_contains("loaded org.test.printing 0.0.1 from");

    h.get_by_label("Log of org.test.printing").click();
    settle(&mut h);
    h.get_by_label("org.test.printing's log");
    // Where the file is: in the log folder, named after the library.
    let logs = dir.join("plugin-logs").display().to_string();
    let shown = h.get_by_label_contains(&logs);
    // A plain label carries its text as its value.
    let path = shown.accesskit_node().value().unwrap_or_default();
    assert!(path.contains("libgui-print.so"), "{path}");
    // The end of its log: what its constructor printed, on both outputs.
    const PRINTED: &str = "a line on stdout from the constructor";
    h.get_by_label_contains(PRINTED);
    h.get_by_label_contains("a line on stderr from the constructor");
    h.get_by_label("Refresh").click();
    settle(&mut h);
    h.get_by_label_contains(PRINTED);
    h.get_by_label("Close").click();
    settle(&mut h);
    assert!(h.query_by_label_contains(PRINTED).is_none());
}

#[test]
fn a_library_loaded_from_the_window_runs_unsandboxed_if_its_id_is_trusted() {
    let dir = common::temp_dir("gui-load-trusted");
    let library = printing_plugin("gui-print-trusted");
    let mut s = settings(Tab::Plugins);
    s.trusted_plugins.insert("org.test.printing".into());
    let h = window_loading(&dir, library, s);
    // Started sandboxed, as every library is, then again without it.
    h.get_by_label("started org.test.printing again: not sandboxed: trusted by the user");
    assert_eq!(shown_as(&h, "not sandboxed"), 1);
}
