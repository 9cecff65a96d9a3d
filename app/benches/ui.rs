//! The workbench's responsiveness, printed as figures (not asserted: timed
//! tests are flaky on shared machines):
//! - the Network panel's recount of ResNet18 / CIFAR-100 (build through the
//!   plugins, cull, thin, hand edits, shape inference, latency estimate),
//!   against the 1 ms target; and of ResNet18 masked per pixel to 12,900
//!   ReLUs, after a hand edit (the budget's result reused) and after a
//!   change of the budget (the budget plugin called again);
//! - UI frame time (p50/p99) while a training runs on a worker, with
//!   software rendering (wgpu on Mesa's lavapipe), against 16 ms.
//!
//! Run: `cargo bench -p deepreduce-app --bench ui --profile dev`

use deepreduce_app::engine::backend::BackendChoice;
use deepreduce_app::engine::budget::{Budget, DroppedAs};
use deepreduce_app::engine::network::NetworkSpec;
use deepreduce_app::engine::network_view::{Draft, Recounter};
use deepreduce_app::engine::plugin_host::{PluginHost, plugin_dirs};
use deepreduce_app::gui::Workbench;
use deepreduce_app::gui::dialogs::ScriptedDialogs;
use deepreduce_app::gui::settings::{Settings, Tab};
use deepreduce_plugin_api::{Granularity, InputSpec};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(what: &str, mut times: Vec<Duration>, target: Duration) {
    times.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!(
        "{what}: p50 {:.3} ms, p99 {:.3} ms over {} samples; target {:.0} ms, p99/target {:.2}",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        times.len(),
        target.as_secs_f64() * 1e3,
        p99.as_secs_f64() / target.as_secs_f64()
    );
}

fn bench_recount(host: &PluginHost) {
    let input = InputSpec {
        channels: 3,
        height: 32,
        width: 32,
    };
    let mut spec = NetworkSpec::new("resnet18", input, 100);
    spec.keep = Some(vec!["S2".into(), "S3".into()]);
    spec.thin = true;
    let draft = Draft {
        spec,
        overrides: [("s2.b0.relu1".to_string(), false)].into(),
    };
    // A click after the first: the architecture's network is cached.
    let mut recounter = Recounter::default();
    let view = recounter.recount(host, &draft).expect("resnet18 builds");
    println!(
        "recount network: {} ({} ReLUs)",
        view.description,
        view.relus()
    );
    let times = time_recounts(host, &mut recounter, std::slice::from_ref(&draft));
    report(
        "recount after a click (ResNet18, CIFAR-100)",
        times,
        Duration::from_millis(1),
    );
    let times = (0..300)
        .map(|_| {
            let start = Instant::now();
            recounter.clear();
            std::hint::black_box(recounter.recount(host, &draft).expect("builds"));
            start.elapsed()
        })
        .collect();
    report(
        "recount with a new architecture (ResNet18, CIFAR-100)",
        times,
        Duration::from_millis(1),
    );
}

/// Times `recount` of each draft in turn, 300 in all.
fn time_recounts(host: &PluginHost, recounter: &mut Recounter, drafts: &[Draft]) -> Vec<Duration> {
    (0..300)
        .map(|i| {
            let draft = &drafts[i % drafts.len()];
            let start = Instant::now();
            std::hint::black_box(recounter.recount(host, draft).expect("builds"));
            start.elapsed()
        })
        .collect()
}

fn bench_masked_recount(host: &PluginHost) {
    let input = InputSpec {
        channels: 3,
        height: 32,
        width: 32,
    };
    let mut spec = NetworkSpec::new("resnet18", input, 100);
    spec.budget = Some(Budget {
        relus: 12_900,
        granularity: Granularity::Pixel,
        dropped: DroppedAs::Identity,
    });
    let draft = Draft {
        spec,
        overrides: Default::default(),
    };
    let mut edited = draft.clone();
    edited.overrides.insert("s2.b0.relu1".into(), false);
    let mut recounter = Recounter::default();
    let view = recounter.recount(host, &draft).expect("resnet18 builds");
    println!(
        "masked recount network: {} ({} ReLUs)",
        view.description,
        view.relus()
    );
    // Clicks that switch a masked layer off and on again.
    let times = time_recounts(host, &mut recounter, &[edited, draft.clone()]);
    report(
        "recount after a hand edit (ResNet18 pixel-masked to 12,900, CIFAR-100)",
        times,
        Duration::from_millis(1),
    );
    let mut more = draft.clone();
    more.spec.budget.as_mut().expect("a budget").relus += 1;
    let times = time_recounts(host, &mut recounter, &[more, draft]);
    report(
        "recount after a budget change (ResNet18 pixel-masked, CIFAR-100)",
        times,
        Duration::from_millis(1),
    );
}

/// Steps and renders `n` frames at about 60 per second; returns the UI
/// pass times and the UI pass + render times.
fn measure_frames(h: &mut Harness<'_, Workbench>, n: usize) -> (Vec<Duration>, Vec<Duration>) {
    let (mut ui_times, mut frame_times) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let start = Instant::now();
        h.step();
        ui_times.push(start.elapsed());
        h.render().expect("renders");
        frame_times.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(16));
    }
    (ui_times, frame_times)
}

fn bench_frames(host: PluginHost) {
    let dir = std::env::temp_dir().join(format!("deepreduce-ui-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut settings = Settings {
        tab: Tab::Runs,
        ..Settings::default()
    };
    settings.training.backend = BackendChoice::Flex;
    settings.training.epochs = 100;
    settings.network.width = Some(16);
    let wb = Workbench::new(
        host,
        settings,
        Box::new(ScriptedDialogs::default()),
        dir.join("runs.db"),
    );
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, wb: &mut Workbench| wb.show(ui), wb);
    // The backend found and the network recounted (plugins answer on workers).
    while !h.state().backend_ready() || h.state().plugins_busy() {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let idle = measure_frames(&mut h, 60);
    report("UI pass, idle", idle.0, Duration::from_millis(16));
    report(
        "UI pass + software render, idle",
        idle.1,
        Duration::from_millis(16),
    );
    h.get_by_label("Train this network").click();
    h.step();
    // The run is planned on a worker (it asks the plugins that built it).
    while h.state().plugins_busy() {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(h.state().jobs().0, 1, "training started");
    // Let the worker get going, then draw frames as the window would.
    std::thread::sleep(Duration::from_secs(3));
    let (ui_times, frame_times) = measure_frames(&mut h, 200);
    assert_eq!(h.state().jobs().0, 1, "training ran throughout");
    report(
        "UI pass while training (Runs panel)",
        ui_times,
        Duration::from_millis(16),
    );
    report(
        "UI pass + software render while training",
        frame_times,
        Duration::from_millis(16),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    // As the window does.
    deepreduce_app::engine::threads::lower_compute_priority();
    let host = PluginHost::discover(&plugin_dirs());
    bench_recount(&host);
    bench_masked_recount(&host);
    bench_frames(host);
}
