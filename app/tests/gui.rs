//! The real workbench UI driven headless by egui_kittest: clicks by label,
//! assertions on what is shown, and snapshot images of each panel
//! (app/tests/snapshots; `UPDATE_SNAPSHOTS=1` rewrites them after a
//! deliberate change). Rendering uses wgpu on Mesa's software Vulkan.
//! Plugins answer on worker threads: `settle` steps frames until they did.

mod common;

use common::gui::{harness, settings, settle, step_until, workbench};

use deepreduce_app::engine::store::{NewRun, RunResult, RunRole, RunStatus, Store};
use deepreduce_app::engine::train::{EpochMetrics, TrainConfig};
use deepreduce_app::gui::Workbench;
use deepreduce_app::gui::dialogs::ScriptedDialogs;
use deepreduce_app::gui::settings::{Settings, Tab};
use egui::accesskit::Toggled;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The Runs panel with a width-4, one-block-per-stage ResNet and a training
/// budget small enough for a test.
fn tiny_training(epochs: usize, subset: usize, test_subset: usize) -> Settings {
    let mut s = settings(Tab::Runs);
    s.network.blocks = Some(vec![1, 1, 1, 1]);
    s.network.width = Some(4);
    s.training.epochs = epochs;
    s.training.subset = Some(subset);
    s.training.test_subset = Some(test_subset);
    s
}

/// Compares the window with `tests/snapshots/<name>.png`, with what differs
/// between machines, builds and runs (file hashes, timings, temporary
/// paths) masked. Timings are drawn in boxes of a fixed width, so the masked
/// area is the same however slow the machine.
fn snapshot(h: &mut Harness<'_, Workbench>, name: &str) {
    // The status line names the backend once its thread found it: on a busy
    // machine that can be after the UI first settles.
    step_until(h, Duration::from_secs(60), Workbench::backend_ready);
    let rects: Vec<_> = h
        .query_all_by(|node| {
            // Plain labels carry their text as the accessible value.
            let label = node.label().or(node.value()).unwrap_or_default();
            let hash = label.len() == 16 && label.chars().all(|c| c.is_ascii_hexdigit());
            let temp = label.contains(&*std::env::temp_dir().to_string_lossy());
            hash || temp || label.ends_with(" ms")
        })
        .map(|n| n.rect())
        .collect();
    for r in rects {
        h.mask(r);
    }
    h.snapshot(name);
}

#[test]
fn plugins_panel_lists_the_built_in_plugins() {
    let dir = common::temp_dir("gui-plugins");
    let mut h = harness(workbench(
        &dir.join("runs.db"),
        ScriptedDialogs::default(),
        settings(Tab::Plugins),
    ));
    settle(&mut h);
    for id in common::BUILT_IN_PLUGINS {
        h.get_by_label(id);
    }
    h.get_by_label_contains("plugins loaded, 0 refused");
    snapshot(&mut h, "plugins_panel");
}

#[test]
fn a_broken_plugin_shows_its_error_and_disturbs_nothing() {
    let dir = common::temp_dir("gui-broken-plugin");
    let garbage = dir.join("libgarbage.so");
    std::fs::write(&garbage, b"not a shared library").unwrap();
    let dialogs = ScriptedDialogs::answering([Some(garbage.clone())]);
    let mut h = harness(workbench(
        &dir.join("runs.db"),
        dialogs,
        settings(Tab::Plugins),
    ));
    settle(&mut h);
    h.get_by_label("Load plugin…").click();
    settle(&mut h);
    let shown = h
        .get_all_by_label_contains("cannot open the library")
        .count();
    assert!(shown >= 1, "the loader's error is shown");
    h.get_by_label_contains("plugins loaded, 1 refused");
    // A dialog that gives no file (cancelled, or none could be shown)
    // points to the path field.
    h.get_by_label("Load plugin…").click();
    settle(&mut h);
    h.get_by_label_contains("type the path in the field");
    // The built-in plugins still build networks.
    h.get_by_label("Network").click();
    settle(&mut h);
    assert_eq!(h.state().network_relus(), Some(557_056));
}

#[test]
fn culling_s1_and_s4_with_thinning_shows_98304_relus() {
    let dir = common::temp_dir("gui-network");
    let mut s = settings(Tab::Network);
    s.dataset = "cifar100".into();
    let mut h = harness(workbench(
        &dir.join("runs.db"),
        ScriptedDialogs::default(),
        s,
    ));
    settle(&mut h);
    h.get_by_label("557,056");
    h.get_by_label("S1").click();
    settle(&mut h);
    h.get_by_label("S4").click();
    settle(&mut h);
    h.get_by_label("Thin alternate ReLU layers").click();
    settle(&mut h);
    assert_eq!(h.state().network_relus(), Some(98_304));
    h.get_by_label("98,304");
    h.get_by_label("S2^RT + S3^RT");
    snapshot(&mut h, "network_panel");

    // A single ReLU layer toggled by hand comes off the total.
    let layer = h
        .query_all_by(|n| {
            n.label().is_some_and(|l| l.contains("relu")) && n.toggled() == Some(Toggled::True)
        })
        .next()
        .expect("a ReLU layer row")
        .accesskit_node()
        .label()
        .unwrap_or_default();
    h.get_by_label(&layer).click();
    settle(&mut h);
    let relus = h.state().network_relus().expect("network builds");
    assert!(relus < 98_304, "{layer} toggled off: {relus}");
}

#[test]
fn a_relu_budget_sets_the_total_to_exactly_n_and_maps_a_masked_layer() {
    let dir = common::temp_dir("gui-budget");
    let mut s = settings(Tab::Network);
    s.dataset = "cifar100".into();
    let mut h = harness(workbench(
        &dir.join("runs.db"),
        ScriptedDialogs::default(),
        s,
    ));
    settle(&mut h);
    assert_eq!(h.state().network_relus(), Some(557_056));
    h.get_by_label("Keep a ReLU budget").click();
    settle(&mut h);
    assert_eq!(h.state().network_relus(), Some(12_900));
    h.get_by_label("12,900");
    h.get_by_label("ReLUs to keep")
        .set_value_accesskit(20_000.0);
    settle(&mut h);
    assert_eq!(h.state().network_relus(), Some(20_000));
    // Whole channels: at most N, and less than one channel (S4's 4x4) below.
    h.get_by_label("channel").click();
    settle(&mut h);
    let relus = h.state().network_relus().expect("network builds");
    assert!(relus <= 20_000 && relus > 20_000 - 16, "{relus}");
    assert!(
        h.query_by_label("mask map").is_none(),
        "no map of channel masks"
    );
    h.get_by_label("pixel").click();
    settle(&mut h);
    assert!(h.query_by_label_contains("Mask of ").is_none());
    h.get_all_by_label("mask map").next().unwrap().click();
    settle(&mut h);
    h.get_by_label_contains("Mask of stem.relu: channels keeping their ReLU");
    let budget = h.state().settings.network.budget;
    assert!(budget.enabled && budget.relus == 20_000, "{budget:?}");
    snapshot(&mut h, "network_panel_budget");
}

#[test]
fn data_panel_shows_the_built_in_dataset() {
    let dir = common::temp_dir("gui-data");
    let mut h = harness(workbench(
        &dir.join("runs.db"),
        ScriptedDialogs::default(),
        settings(Tab::Data),
    ));
    let limit = Instant::now() + Duration::from_secs(60);
    while h.query_by_label_contains("training and").is_none() {
        assert!(Instant::now() < limit, "the dataset never loaded");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    settle(&mut h);
    snapshot(&mut h, "data_panel");
}

#[test]
fn a_dataset_that_fails_to_load_shows_the_loaders_error() {
    let dir = common::temp_dir("gui-bad-data");
    let bad = dir.join("data_batch_1.bin");
    std::fs::write(&bad, vec![7u8; 1000]).unwrap();
    let dialogs = ScriptedDialogs::answering([Some(bad.clone())]);
    let mut h = harness(workbench(
        &dir.join("runs.db"),
        dialogs,
        settings(Tab::Data),
    ));
    h.step();
    h.get_by_label("Open file…").click();
    let limit = Instant::now() + Duration::from_secs(60);
    while h
        .query_by_label_contains(&bad.display().to_string())
        .is_none()
    {
        assert!(Instant::now() < limit, "no error shown");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A finished network: role, description, ReLUs, test accuracy (%),
/// latency (s).
type Network = (&'static str, &'static str, u64, f64, f64);

/// One baseline and four candidates, all on the Pareto frontier.
const NETWORKS: [Network; 5] = [
    ("baseline", "all ReLUs", 557_056, 76.0, 11.3),
    ("candidate", "S2 + S3", 196_608, 75.0, 4.0),
    ("candidate", "S2^RT + S3^RT", 98_304, 73.0, 2.1),
    ("candidate", "S3^RT", 32_768, 66.0, 0.8),
    ("candidate", "S3^RT, alpha 0.5", 16_384, 60.0, 0.4),
];

/// A store with one pipeline on the built-in data (10 classes) and
/// `networks`; those given a final train accuracy also get their training
/// settings (256 train and 200 test images) and last epoch, and can be
/// judged whether they learned.
fn store_with(path: &Path, networks: &[(Network, Option<f64>)]) -> PathBuf {
    let store = Store::open(path).unwrap();
    let pipeline = store
        .create_pipeline("resnet18", "synthetic", &json!({}))
        .unwrap();
    let train = TrainConfig {
        subset: Some(256),
        test_subset: Some(200),
        ..TrainConfig::default()
    };
    for (i, ((role, description, relus, accuracy, latency), train_accuracy)) in
        networks.iter().copied().enumerate()
    {
        let config = match train_accuracy {
            Some(_) => json!({ "train": train }),
            None => json!({}),
        };
        let id = store
            .plan_run(&NewRun {
                pipeline_id: Some(pipeline),
                key: format!("run{i}"),
                role: RunRole::parse(role).unwrap(),
                stage: None,
                description: description.into(),
                network: json!({}),
                config,
                plugins: json!([]),
                seed: 42,
                relus,
            })
            .unwrap();
        store
            .start_run(id, "flex (CPU)", &path.with_extension("runs"))
            .unwrap();
        if let Some(train_accuracy) = train_accuracy {
            let last = EpochMetrics {
                epoch: 1,
                train_loss: 2.3,
                train_accuracy,
                test_accuracy: accuracy,
                lr: 0.1,
                seconds: 1.0,
                checkpoint: None,
            };
            store.record_epoch(id, &last).unwrap();
        }
        store
            .finish_run(
                id,
                &RunResult {
                    status: RunStatus::Completed,
                    accuracy: Some(accuracy),
                    latency: Some(json!({ "online_seconds": latency })),
                    inference_ms: None,
                    // A completed run has weights (the file is not read here).
                    weights: Some(path.with_extension("runs").join(format!("{id}/model.bpk"))),
                    error: None,
                },
            )
            .unwrap();
    }
    path.to_path_buf()
}

/// [`NETWORKS`], not judged.
fn filled_store(path: &Path) -> PathBuf {
    store_with(path, &NETWORKS.map(|n| (n, None)))
}

#[test]
fn frontier_panel_plots_runs_with_their_pareto_frontier() {
    let dir = common::temp_dir("gui-frontier");
    let store = filled_store(&dir.join("runs.db"));
    let mut h = harness(workbench(
        &store,
        ScriptedDialogs::default(),
        settings(Tab::Frontier),
    ));
    step_until(&mut h, Duration::from_secs(60), Workbench::store_read);
    h.get_by_label("5 trained networks, 5 on the Pareto frontier");
    let points = h.state().frontier_points();
    assert_eq!(points.len(), 5);
    snapshot(&mut h, "frontier_panel");
}

#[test]
fn the_frontier_draws_masked_networks_apart() {
    use deepreduce_app::engine::budget::{Budget, DroppedAs};
    let dir = common::temp_dir("gui-frontier-masked");
    let path = filled_store(&dir.join("runs.db"));
    let mut spec = common::small_resnet("synthetic", 4);
    spec.budget = Some(Budget {
        relus: 1_000,
        granularity: deepreduce_plugin_api::Granularity::Pixel,
        dropped: DroppedAs::Identity,
    });
    let masked = common::network(&spec);
    let store = Store::open(&path).unwrap();
    let id = store
        .plan_run(&NewRun {
            pipeline_id: None,
            key: "single".into(),
            role: RunRole::Single,
            stage: None,
            description: "pixel-masked".into(),
            network: serde_json::to_value(&masked).unwrap(),
            config: json!({}),
            plugins: json!([]),
            seed: 42,
            relus: 1_000,
        })
        .unwrap();
    store
        .start_run(id, "flex (CPU)", &path.with_extension("runs"))
        .unwrap();
    store
        .finish_run(
            id,
            &RunResult {
                status: RunStatus::Completed,
                accuracy: Some(55.0),
                latency: None,
                inference_ms: None,
                weights: Some(path.with_extension("runs").join(format!("{id}/model.bpk"))),
                error: None,
            },
        )
        .unwrap();
    let mut h = harness(workbench(
        &path,
        ScriptedDialogs::default(),
        settings(Tab::Frontier),
    ));
    step_until(&mut h, Duration::from_secs(60), Workbench::store_read);
    let points = h.state().frontier_points();
    let flagged: Vec<i64> = points
        .iter()
        .filter(|p| p.masked)
        .map(|p| p.run_id)
        .collect();
    assert_eq!(flagged, [id], "only the masked run: {points:?}");
    assert!(h.query_all_by_label("this workbench, masked").count() >= 1);
}

#[test]
fn a_network_that_did_not_learn_is_marked_and_kept_off_the_frontier() {
    let dir = common::temp_dir("gui-at-chance");
    // Every network learned (train accuracy 10 points above test) but one
    // with the fewest ReLUs: 10.1% test and 10.0% train accuracy, within
    // noise of 10% chance (ceilings 16.4% over 200 images, 15.6% over 256).
    let mut networks: Vec<(Network, Option<f64>)> =
        NETWORKS.iter().map(|&n| (n, Some(n.3 + 10.0))).collect();
    networks.push((
        ("candidate", "S3^RT, alpha 0.25", 8_192, 10.1, 0.2),
        Some(10.0),
    ));
    let store = store_with(&dir.join("runs.db"), &networks);
    let mut h = harness(workbench(
        &store,
        ScriptedDialogs::default(),
        settings(Tab::Runs),
    ));
    step_until(&mut h, Duration::from_secs(60), Workbench::backend_ready);
    step_until(&mut h, Duration::from_secs(60), Workbench::store_read);
    h.get_by_label_contains("pipeline 1: resnet18 on synthetic")
        .click();
    settle(&mut h);
    assert_eq!(h.get_all_by_label("did not learn").count(), 1);
    snapshot(&mut h, "runs_panel_did_not_learn");

    h.get_by_label("Frontier").click();
    settle(&mut h);
    let points = h.state().frontier_points();
    let at_chance: Vec<_> = points.iter().filter(|p| p.did_not_learn).collect();
    assert_eq!(at_chance.len(), 1);
    assert_eq!(at_chance[0].relus, 8_192);
    assert!(
        !at_chance[0].pareto,
        "fewest ReLUs, yet not on the frontier"
    );
    assert_eq!(points.iter().filter(|p| p.pareto).count(), 5);
    h.get_by_label(
        "6 trained networks, 5 on the Pareto frontier, 1 did not learn (at chance, drawn apart)",
    );
    snapshot(&mut h, "frontier_panel_did_not_learn");
}

#[test]
fn runs_panel_lists_the_store() {
    let dir = common::temp_dir("gui-runs");
    let store = filled_store(&dir.join("runs.db"));
    let mut h = harness(workbench(
        &store,
        ScriptedDialogs::default(),
        settings(Tab::Runs),
    ));
    step_until(&mut h, Duration::from_secs(60), Workbench::backend_ready);
    step_until(&mut h, Duration::from_secs(60), Workbench::store_read);
    h.get_by_label_contains("pipeline 1: resnet18 on synthetic")
        .click();
    settle(&mut h);
    h.get_by_label("S2^RT + S3^RT");
    snapshot(&mut h, "runs_panel");
}

#[test]
fn a_tiny_pipeline_started_from_the_runs_panel_ends_on_the_frontier() {
    let dir = common::temp_dir("gui-pipeline");
    let mut s = tiny_training(1, 256, 200);
    s.training.batch = 64;
    let mut h = harness(workbench(
        &dir.join("runs.db"),
        ScriptedDialogs::default(),
        s,
    ));
    step_until(&mut h, Duration::from_secs(60), Workbench::backend_ready);
    h.get_by_label("Run DeepReDuce pipeline").click();
    // Not `settle`: the spinner of a working job never lets the UI settle.
    h.step();
    assert_eq!(h.state().jobs(), (1, 1), "the pipeline runs on a worker");
    step_until(&mut h, Duration::from_secs(900), |wb| wb.jobs().0 == 0);
    h.get_by_label_contains("pipeline 1 completed");

    h.get_by_label("Frontier").click();
    step_until(&mut h, Duration::from_secs(10), |wb| {
        wb.store_read() && !wb.frontier_points().is_empty()
    });
    let points = h.state().frontier_points();
    // Every network the pipeline trained: baseline, criticality, candidates.
    let runs = Store::open(&dir.join("runs.db"))
        .unwrap()
        .runs(Some(1))
        .unwrap();
    assert!(runs.len() > 10 && runs.iter().all(|r| r.status == RunStatus::Completed));
    assert_eq!(points.len(), runs.len(), "{points:?}");
    // One epoch on 256 images may teach nothing: a frontier exactly when
    // some network learned, the others drawn apart.
    let learned = points.iter().any(|p| !p.did_not_learn);
    assert_eq!(points.iter().any(|p| p.pareto), learned, "{points:?}");
    h.get_by_label_contains(&format!("{} trained networks", runs.len()));
}

#[test]
fn the_export_panel_saves_onnx_with_its_manifest() {
    let dir = common::temp_dir("gui-export");
    let store = dir.join("runs.db");
    let run = common::trained_run(&store, &["S2", "S3"], true);
    let out = dir.join("exported.onnx");
    let mut s = settings(Tab::Export);
    s.export_run = Some(run);
    let dialogs = ScriptedDialogs::answering([Some(out.clone())]);
    let mut h = harness(workbench(&store, dialogs, s));
    step_until(&mut h, Duration::from_secs(60), Workbench::store_read);
    h.get_by_label("Fold BatchNorm into the convolutions")
        .click();
    h.get_by_label("Save as…").click();
    settle(&mut h);
    h.get_by_label("Export network").click();
    h.step();
    let limit = Instant::now() + Duration::from_secs(60);
    while h.query_by_label_contains("exported ").is_none() {
        assert!(Instant::now() < limit, "the export never finished");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    settle(&mut h);
    assert!(out.is_file(), "{} written", out.display());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("exported.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["dataset"]["name"], "synthetic");
    h.get_by_label_contains("BatchNorms folded");
    snapshot(&mut h, "export_panel");
}

#[test]
fn a_training_cancelled_from_the_runs_panel_resumes_to_the_end() {
    let dir = common::temp_dir("gui-cancel-resume");
    let store = dir.join("runs.db");
    let mut s = tiny_training(3, 1000, 100);
    s.training.batch = 32;
    s.training.kd = false;
    let mut h = harness(workbench(&store, ScriptedDialogs::default(), s));
    step_until(&mut h, Duration::from_secs(60), Workbench::backend_ready);
    h.get_by_label("Train this network").click();
    h.step();
    // Cancel once the first epoch is in the store.
    let epochs_done = || {
        let runs = Store::open(&store).unwrap().runs(None).unwrap();
        let id = runs.first().map(|r| r.id);
        id.map_or(0, |id| {
            Store::open(&store).unwrap().epochs(id).unwrap().len()
        })
    };
    let limit = Instant::now() + Duration::from_secs(300);
    while epochs_done() < 1 {
        assert!(Instant::now() < limit, "no epoch finished");
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    h.get_by_label("Cancel").click();
    step_until(&mut h, Duration::from_secs(120), |wb| wb.jobs().0 == 0);
    let run = &Store::open(&store).unwrap().runs(None).unwrap()[0];
    assert_eq!(run.status, RunStatus::Cancelled);
    // The run records the plugins that built its network.
    assert_eq!(run.plugins[0]["id"], "org.deepreduce.resnet");
    let kept = epochs_done();
    assert!((1..3).contains(&kept), "{kept} epochs before the cancel");

    h.get_by_label("Resume").click();
    h.step();
    step_until(&mut h, Duration::from_secs(300), |wb| wb.jobs().0 == 0);
    let run = &Store::open(&store).unwrap().runs(None).unwrap()[0];
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(epochs_done(), 3);
    assert!(run.accuracy.is_some() && run.weights.is_some());
}

#[test]
fn a_single_training_distils_from_the_teacher_the_runs_panel_offers() {
    let dir = common::temp_dir("gui-kd");
    let store = dir.join("runs.db");
    let teacher = common::trained_run(&store, &["S2", "S3"], true);
    let s = tiny_training(1, 128, 64);
    let mut h = harness(workbench(&store, ScriptedDialogs::default(), s));
    step_until(&mut h, Duration::from_secs(60), Workbench::backend_ready);
    step_until(&mut h, Duration::from_secs(60), Workbench::store_read);
    let offered = format!("run {teacher}:");
    let choice = h.get_by_label("teacher").accesskit_node().value();
    assert!(
        choice.as_deref().is_some_and(|v| v.starts_with(&offered)),
        "the trained run is offered as the teacher: {choice:?}"
    );
    h.get_by_label("Train this network").click();
    h.step();
    step_until(&mut h, Duration::from_secs(300), |wb| wb.jobs() == (0, 1));
    let runs = Store::open(&store).unwrap().runs(None).unwrap();
    let student = runs.iter().find(|r| r.id != teacher).expect("the new run");
    assert_eq!(student.status, RunStatus::Completed, "{:?}", student.error);
    assert_eq!(student.config["kd"], true);
    let weights = runs[0].weights.as_ref().unwrap();
    assert_eq!(
        student.config["teacher"],
        weights.to_string_lossy().as_ref()
    );
}

#[test]
fn a_method_plugin_is_chosen_in_the_runs_panel_and_its_pipeline_reaches_the_budgets() {
    const SNL: &str = "org.deepreduce.method.snl";
    let dir = common::temp_dir("gui-method");
    let mut s = tiny_training(1, 256, 200);
    s.training.batch = 64;
    // The form's values as last set (remembered in the settings).
    s.method.params.insert(
        SNL.into(),
        json!({"budgets": [1000, 3000]})
            .as_object()
            .unwrap()
            .clone(),
    );
    let mut h = harness(workbench(
        &dir.join("runs.db"),
        ScriptedDialogs::default(),
        s,
    ));
    step_until(&mut h, Duration::from_secs(60), Workbench::backend_ready);
    h.get_by_label("Run DeepReDuce pipeline");
    h.get_by_label("method").click();
    settle(&mut h);
    h.get_by_label("SNL (selective linearization)").click();
    settle(&mut h);
    assert_eq!(h.state().settings.method.chosen.as_deref(), Some(SNL));
    // The form the plugin describes, with the remembered budgets.
    h.get_by_label("budgets");
    assert!(h.query_all_by_value("1000, 3000").next().is_some());
    h.get_by_label("granularity");
    h.get_by_label("dropped");
    h.get_by_label_contains("the method decides how many trainings");
    snapshot(&mut h, "runs_panel_method");

    h.get_by_label("Run SNL (selective linearization) pipeline")
        .click();
    h.step();
    step_until(&mut h, Duration::from_secs(900), |wb| wb.jobs().0 == 0);
    h.get_by_label_contains("pipeline 1 completed");
    let store = Store::open(&dir.join("runs.db")).unwrap();
    let pipeline = store.pipeline(1).unwrap().unwrap();
    assert_eq!(pipeline.config["method"]["id"], SNL);
    let relus: Vec<u64> = ["finetune:1000", "finetune:3000"]
        .iter()
        .map(|key| store.run_by_key(1, key).unwrap().unwrap().relus)
        .collect();
    assert_eq!(relus, [1000, 3000]);
}

#[test]
fn the_frontier_overlays_pipelines_each_with_its_own_frontier() {
    let dir = common::temp_dir("gui-frontier-overlay");
    let path = filled_store(&dir.join("runs.db"));
    // A second pipeline, by the SNL method, whose baseline beats the first's.
    let snl: [(Network, Option<f64>); 3] = [
        (("baseline", "all ReLUs", 557_056, 76.5, 11.3), None),
        (("candidate", "SNL 3,000 ReLUs", 3_000, 58.0, 0.2), None),
        (("candidate", "SNL 1,000 ReLUs", 1_000, 50.0, 0.1), None),
    ];
    store_with(&path, &snl);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE pipelines SET config = ?1 WHERE id = 2",
            [json!({"method": {"id": "org.deepreduce.method.snl"}}).to_string()],
        )
        .unwrap();
    let mut s = settings(Tab::Frontier);
    s.frontier_per_pipeline = true;
    let mut h = harness(workbench(&path, ScriptedDialogs::default(), s));
    step_until(&mut h, Duration::from_secs(60), Workbench::store_read);
    let pareto = |h: &Harness<'_, Workbench>| -> Vec<(Option<i64>, u64)> {
        h.state()
            .frontier_points()
            .iter()
            .filter(|p| p.pareto)
            .map(|p| (p.pipeline, p.relus))
            .collect()
    };
    // Each pipeline's own frontier: the first pipeline's baseline is on its.
    assert_eq!(pareto(&h).len(), 8);
    assert!(pareto(&h).contains(&(Some(1), 557_056)));
    assert!(h.query_all_by_label("pipeline 1: DeepReDuce").count() >= 1);
    assert!(
        h.query_all_by_label("pipeline 2: SNL (selective linearization)")
            .count()
            >= 1
    );
    h.get_by_label("8 trained networks, 8 on their pipelines' Pareto frontiers");
    snapshot(&mut h, "frontier_panel_per_pipeline");

    // One frontier over both: the second baseline dominates the first.
    h.get_by_label("one frontier per pipeline").click();
    settle(&mut h);
    assert!(!pareto(&h).contains(&(Some(1), 557_056)));
    assert!(pareto(&h).contains(&(Some(2), 557_056)));
}

/// A Cheetah report of six ONNX nodes: 35 MB in them (30 MB in the ReLUs),
/// 5 MB outside any node.
fn cheetah_report() -> deepreduce_app::engine::measure::Report {
    serde_json::from_value(json!({
        "framework": "spu", "version": "0.9.5", "protocol": "SEMI2K_CHEETAH",
        "security": "semi-honest, two parties, no trusted third party",
        "batch": 1, "repeat": 3, "online_seconds": 0.84, "setup_seconds": 12.5,
        "bytes": 40_000_000u64, "rounds": 120, "rounds_named": "messages",
        "max_abs_diff": 2.5e-4, "top1_agreement": 1.0,
        "weights": "trained (run 3)", "input": "the first 1 test images of synthetic",
        "layers": [
            {"node": "stem.conv1", "op": "Conv", "bytes": 3_000_000u64, "rounds": 4},
            {"node": "stem.relu", "op": "Relu", "bytes": 20_000_000u64, "rounds": 40},
            {"node": "s1.b0.conv1", "op": "Conv", "bytes": 1_000_000u64, "rounds": 4},
            {"node": "s1.b0.relu1", "op": "Relu", "bytes": 10_000_000u64, "rounds": 40},
            {"node": "s1.b0.add", "op": "Add", "bytes": 0, "rounds": 0},
            {"node": "head.fc", "op": "Gemm", "bytes": 1_000_000u64, "rounds": 2},
        ],
    }))
    .unwrap()
}

#[test]
fn a_stored_measurement_is_shown_with_its_chart_and_plotted_on_the_measured_frontier() {
    use deepreduce_app::engine::measure::Framework;
    use deepreduce_app::engine::measure::link::WAN;
    use deepreduce_app::gui::latency_axis::{Figure, LatencyAxis};
    let dir = common::temp_dir("gui-measured");
    let path = filled_store(&dir.join("runs.db"));
    let report = cheetah_report();
    Store::open(&path)
        .unwrap()
        .record_measurement(3, "cheetah", 1, &report)
        .unwrap();
    // A fixed date for the snapshot.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE measurements SET measured_at = '2025-06-01T12:00:00Z'",
            [],
        )
        .unwrap();
    let mut s = settings(Tab::Export);
    s.export_run = Some(3);
    let mut h = harness(workbench(&path, ScriptedDialogs::default(), s));
    step_until(&mut h, Duration::from_secs(60), |wb| {
        wb.store_read() && wb.measure_bars().is_some()
    });
    h.get_by_label_contains("online 0.84 s on loopback (median of 3), one-time setup 12.5 s; 40 MB sent in 120 messages");
    h.get_by_label_contains("max |diff| 2.50e-4, top-1 agreement 100.0%");
    h.get_by_label("security: semi-honest, two parties, no trusted third party");
    // One bar per node, the legend naming the op types present.
    assert_eq!(h.state().measure_bars(), Some(6));
    for op in ["Conv", "Relu", "Gemm", "other"] {
        assert!(h.query_all_by_label(op).count() >= 1, "{op} in the legend");
    }
    // Bytes by op: the ReLUs' share, and what no node took.
    h.get_by_label("75.0%");
    h.get_by_label("outside any node");
    h.get_by_label("12.5%");
    snapshot(&mut h, "export_panel_measured");

    h.get_by_label("CrypTen").click();
    settle(&mut h);
    h.get_by_label("Run 3 has not been measured in CrypTen. It has a measurement in Cheetah.");
    assert_eq!(h.state().measure_bars(), None);

    // The frontier's latency axis measured in Cheetah: run 3 only.
    h.get_by_label("Frontier").click();
    settle(&mut h);
    h.get_by_label("latency axis:").click();
    settle(&mut h);
    h.get_by_label("measured in Cheetah: online s on loopback")
        .click();
    // The pointer off the plot: no crosshair in the snapshot.
    h.get_by_label("5 trained networks, 5 on the Pareto frontier")
        .hover();
    settle(&mut h);
    let axis = |figure| LatencyAxis::Measured {
        framework: Framework::Cheetah,
        figure,
    };
    assert_eq!(h.state().settings.frontier_latency, axis(Figure::Loopback));
    let measured = |h: &Harness<'_, Workbench>| -> Vec<(i64, f64)> {
        h.state()
            .frontier_points()
            .iter()
            .filter_map(|p| Some((p.run_id, p.measured?.value)))
            .collect()
    };
    assert_eq!(measured(&h), [(3, 0.84)]);
    h.get_by_label(
        "4 networks not measured in Cheetah: select one and press Measure (measured with batch 1)",
    );
    assert!(
        h.query_all_by_label("DELPHI estimate, same networks")
            .count()
            >= 1
    );
    snapshot(&mut h, "frontier_panel_measured");

    h.state_mut().settings.frontier_latency = axis(Figure::Wan);
    settle(&mut h);
    assert_eq!(measured(&h), [(3, WAN.online_seconds(&report))]);
    h.state_mut().settings.frontier_latency = axis(Figure::Bytes);
    settle(&mut h);
    assert_eq!(measured(&h), [(3, 40e6)]);
    // Bytes are not seconds: no estimate beside them.
    assert_eq!(
        h.query_all_by_label("DELPHI estimate, same networks")
            .count(),
        0
    );
}

#[test]
fn measuring_a_trained_run_in_crypten_records_its_report_and_charts_every_node() {
    let dir = common::temp_dir("gui-measure-crypten");
    let store = dir.join("runs.db");
    let run = common::trained_run(&store, &["S3"], false);
    let mut s = settings(Tab::Export);
    s.export_run = Some(run);
    let mut h = harness(workbench(&store, ScriptedDialogs::default(), s));
    step_until(&mut h, Duration::from_secs(60), Workbench::store_read);
    h.get_by_label(&format!("Run {run} has not been measured in Cheetah."));
    h.get_by_label("CrypTen").click();
    settle(&mut h);
    h.get_by_label("Measure").click();
    // Not `settle`: the spinner never lets the UI settle.
    h.step();
    h.step();
    assert!(h.state().measuring());
    h.get_by_label_contains(&format!("measuring run {run} in CrypTen…"));
    assert!(
        h.get_by_label("Measure").accesskit_node().is_disabled(),
        "one measurement at a time"
    );
    step_until(&mut h, Duration::from_secs(900), |wb| !wb.measuring());
    assert_eq!(h.state().measure_error(), None);
    let rows = Store::open(&store).unwrap().measurements(run).unwrap();
    assert_eq!(rows.len(), 1, "the report is recorded with the run");
    assert_eq!(rows[0].framework, "crypten");
    let layers = rows[0].report.layers.len();
    assert!(layers > 5, "{:?}", rows[0].report.layers);
    step_until(&mut h, Duration::from_secs(60), |wb| {
        wb.store_read() && wb.measure_bars().is_some()
    });
    assert_eq!(h.state().measure_bars(), Some(layers));
    h.get_by_label_contains("on loopback (median of 3)");
    // Shown as stored, with the time it was recorded.
    h.get_by_label(&format!(
        "Run {run} in CrypTen, measured {}",
        rows[0].measured_at
    ));
}
