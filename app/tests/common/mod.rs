//! Shared by the integration tests: the built-in plugins, the CLI binary,
//! temporary folders and the system C compiler.
#![allow(dead_code)] // each test file uses its own subset

use deepreduce_app::engine::plugin_host::{PluginDir, PluginHost, build_output_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The ids of the plugins the workspace builds.
pub const BUILT_IN_PLUGINS: [&str; 13] = [
    "org.deepreduce.resnet",
    "org.deepreduce.vgg",
    "org.deepreduce.mobilenet",
    "org.deepreduce.cull",
    "org.deepreduce.thin",
    "org.deepreduce.reshape",
    "org.deepreduce.kd",
    "org.deepreduce.delphi",
    "org.deepreduce.latency.cheetah",
    "org.deepreduce.latency.crypten",
    "org.deepreduce.budget",
    "org.deepreduce.method.snl",
    "org.deepreduce.method.deepreduce",
];

/// The folder holding the built plugins (target/<profile>).
pub fn build_dir() -> PathBuf {
    build_output_dir().expect("the test binary has a folder")
}

/// A host with only the built-in plugins (no user folder), all loaded.
pub fn host() -> PluginHost {
    let host = PluginHost::discover(&[PluginDir {
        path: build_dir(),
        built_in_only: true,
    }]);
    assert!(
        host.get("org.deepreduce.resnet").is_some(),
        "the built-in plugins are not in {}: run `cargo build --workspace` before the tests",
        build_dir().display()
    );
    assert!(
        host.failures().is_empty(),
        "built-in plugins failed: {:?}",
        host.failures()
    );
    host
}

/// Runs the `deepreduce` binary with an empty user plugin folder.
pub fn cli(args: &[&str]) -> std::process::Output {
    let empty = temp_dir("no-user-plugins");
    Command::new(env!("CARGO_BIN_EXE_deepreduce"))
        .args(args)
        .env("DEEPREDUCE_PLUGIN_DIR", &empty)
        .output()
        .expect("the deepreduce binary runs")
}

/// `deepreduce count ... --json`, parsed.
pub fn count_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["count"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = cli(&all);
    assert!(
        out.status.success(),
        "count {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("count prints one JSON object")
}

/// A fresh, empty folder unique to this test process and `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    // Fixed width: GUI snapshots mask paths by their drawn size.
    let dir =
        std::env::temp_dir().join(format!("deepreduce-test-{:010}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The workspace root (this crate is `app/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Compiles a C file into a shared library with the system C compiler,
/// against the published plugin header.
pub fn compile_c_plugin(source: &Path, out: &Path, defines: &[&str]) {
    let include = workspace().join("plugin-api/include");
    let status = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Werror", "-shared", "-fPIC", "-o"])
        .arg(out)
        .arg(source)
        .arg("-I")
        .arg(include)
        .args(defines)
        .status()
        .expect("the system C compiler (cc) runs");
    assert!(status.success(), "cc failed on {}", source.display());
}

/// Every built-in plugin still answers: ResNet18 for CIFAR-100 culled to S2
/// and S3 and thinned, through the architecture and optimization plugins.
pub fn built_ins_still_work(host: &PluginHost) {
    use deepreduce_app::engine::network::{NetworkSpec, build_network};
    let input = deepreduce_plugin_api::InputSpec {
        channels: 3,
        height: 32,
        width: 32,
    };
    let mut spec = NetworkSpec::new("resnet18", input, 100);
    spec.keep = Some(vec!["S2".into(), "S3".into()]);
    spec.thin = true;
    let (_, description) = build_network(host, &spec).expect("built-in plugins still work");
    assert_eq!(description, "S2^RT + S3^RT");
}

/// A broken C plugin (`tests/fixtures/broken_plugin.c`) compiled for this
/// test with one fault switched on, alone in its folder.
pub fn broken_plugin(name: &str, defines: &[&str]) -> PathBuf {
    let dir = temp_dir(&format!("broken-{name}"));
    let out = dir.join(format!("lib{name}.so"));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken_plugin.c");
    compile_c_plugin(&source, &out, defines);
    out
}

/// A network built through the plugins, e.g. `network("resnet18", &["--width", "8"])`
/// style options given as a spec.
pub fn network(
    spec: &deepreduce_app::engine::network::NetworkSpec,
) -> deepreduce_plugin_api::Network {
    deepreduce_app::engine::network::build_network(&host(), spec)
        .expect("network builds")
        .0
}

/// A small ResNet (one block per stage, base width `width`) for `dataset`.
pub fn small_resnet(dataset: &str, width: usize) -> deepreduce_app::engine::network::NetworkSpec {
    let (input, classes) =
        deepreduce_app::engine::dataset_shape::dataset_shape(dataset).expect("dataset shape");
    let mut spec = deepreduce_app::engine::network::NetworkSpec::new("resnet18", input, classes);
    spec.blocks = Some(vec![1, 1, 1, 1]);
    spec.width = Some(width);
    spec
}

/// The real Fashion-MNIST that Debian's `dataset-fashion-mnist` installs.
pub fn fashion_mnist() -> deepreduce_datasets::Dataset {
    deepreduce_datasets::open("fashion-mnist")
        .expect("Fashion-MNIST: install Debian's dataset-fashion-mnist (.ci/run does)")
}

/// Serialises the tests of one binary that train: they would share the
/// same cores (burn's CPU backend uses every one), so one at a time keeps
/// each test's time predictable. (Seeding no longer needs it: a seeded
/// model draws all its weights under the engine's own lock.)
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Trains `net` on the flex CPU backend, without events, checkpoints or
/// cancellation.
pub fn train_flex(
    net: &deepreduce_plugin_api::Network,
    data: &deepreduce_datasets::Dataset,
    cfg: &deepreduce_app::engine::train::TrainConfig,
    teacher: Option<deepreduce_app::engine::train::Teacher<'_>>,
) -> deepreduce_app::engine::train::TrainOutcome {
    let device = burn::tensor::Device::flex();
    let ctx = deepreduce_app::engine::train::RunContext {
        device: &device,
        events: None,
        cancel: None,
        checkpoint_dir: None,
        resume: None,
    };
    deepreduce_app::engine::train::train(net, data, cfg, teacher, &ctx).expect("training runs")
}

/// A pipeline of ResNet18 with one block per stage at width 4 on the
/// built-in data, each training `epochs` short epochs on 256 images (the
/// DeepReDuce phases; set `method` for a method plugin's).
pub fn pipeline_config(epochs: usize) -> deepreduce_app::engine::pipeline::PipelineConfig {
    deepreduce_app::engine::pipeline::PipelineConfig {
        arch: "resnet18".into(),
        dataset: "synthetic".into(),
        blocks: Some(vec![1, 1, 1, 1]),
        width: Some(4),
        train: deepreduce_app::engine::train::TrainConfig {
            epochs,
            batch_size: 64,
            lr: 0.05,
            schedule: deepreduce_app::engine::train::Schedule::Constant,
            subset: Some(256),
            test_subset: Some(200),
            ..Default::default()
        },
        criticality_without_kd: false,
        extra_plugins: vec![],
        kd: true,
        jobs: 1,
        method: None,
        executor: Default::default(),
    }
}

/// Trains a tiny ResNet18 (width 4, one block per stage, the ReLUs of
/// `keep` only, `thin` for DeepReDuce's thinning) one epoch on 64 images of
/// the built-in data, as a standalone run in `store`; returns its id.
pub fn trained_run(store: &Path, keep: &[&str], thin: bool) -> i64 {
    let mut spec = small_resnet("synthetic", 4);
    spec.keep = Some(keep.iter().map(|s| s.to_string()).collect());
    spec.thin = thin;
    trained_run_of(store, &spec)
}

/// Trains the network of `spec` as [`trained_run`] does; returns its id.
pub fn trained_run_of(store: &Path, spec: &deepreduce_app::engine::network::NetworkSpec) -> i64 {
    use deepreduce_app::engine::backend::{BackendChoice, select};
    use deepreduce_app::engine::pipeline::Runner;
    use deepreduce_app::engine::pipeline::single::{SingleRun, plan_single};
    use deepreduce_app::engine::store::Store;
    use deepreduce_app::engine::train::TrainConfig;
    let host = host();
    let (net, description) = deepreduce_app::engine::network::build_network(&host, spec).unwrap();
    let run = SingleRun {
        dataset: "synthetic".into(),
        train: TrainConfig {
            epochs: 1,
            batch_size: 32,
            subset: Some(64),
            test_subset: Some(64),
            ..TrainConfig::default()
        },
        teacher: None,
    };
    let id = plan_single(&Store::open(store).unwrap(), &net, &description, &[], &run).unwrap();
    let backend = select(BackendChoice::Flex);
    let runner = Runner {
        host: &host,
        store_path: store.to_path_buf(),
        backend: &backend,
        events: None,
        cancel: None,
    };
    runner.run_single(id).unwrap();
    id
}

/// The workbench window driven headless by egui_kittest, shared by the GUI
/// test binaries.
#[cfg(feature = "gui")]
pub mod gui {
    use deepreduce_app::engine::backend::BackendChoice;
    use deepreduce_app::engine::plugin_host::{HostOptions, PluginDir, PluginHost};
    use deepreduce_app::gui::Workbench;
    use deepreduce_app::gui::dialogs::ScriptedDialogs;
    use deepreduce_app::gui::settings::{Settings, Tab};
    use egui_kittest::Harness;
    use std::path::Path;
    use std::time::{Duration, Instant};

    /// How long plugin work may take before a test gives up: far above a
    /// plugin's answer (milliseconds) or a test's timeouts (seconds).
    const PLUGIN_WORK_LIMIT: Duration = Duration::from_secs(120);

    /// A workbench over the store at `store` with the built-in plugins.
    pub fn workbench(store: &Path, dialogs: ScriptedDialogs, settings: Settings) -> Workbench {
        workbench_with(super::host(), store, dialogs, settings)
    }

    /// A workbench over the store at `store` with the plugins of `host`.
    pub fn workbench_with(
        host: PluginHost,
        store: &Path,
        dialogs: ScriptedDialogs,
        settings: Settings,
    ) -> Workbench {
        Workbench::new(host, settings, Box::new(dialogs), store.to_path_buf())
    }

    /// The built-in plugins started with `options` (timeouts, a log folder).
    pub fn host_with(options: HostOptions) -> PluginHost {
        let host = PluginHost::discover_with(
            &[PluginDir {
                path: super::build_dir(),
                built_in_only: true,
            }],
            options,
        );
        assert!(host.failures().is_empty(), "{:?}", host.failures());
        host
    }

    /// Default settings on panel `tab`, training on the CPU.
    pub fn settings(tab: Tab) -> Settings {
        let mut s = Settings {
            tab,
            ..Settings::default()
        };
        s.training.backend = BackendChoice::Flex;
        s
    }

    /// The window at 1280 x 800.
    pub fn harness(wb: Workbench) -> Harness<'static, Workbench> {
        Harness::builder()
            .with_size([1280.0, 800.0])
            .build_ui_state(|ui, wb: &mut Workbench| wb.show(ui), wb)
    }

    /// Steps the UI until `done` holds (workers run on their own threads)
    /// and the plugin work the window asked for is done, then until it
    /// settles.
    pub fn step_until(
        h: &mut Harness<'_, Workbench>,
        limit: Duration,
        done: impl Fn(&Workbench) -> bool,
    ) {
        let start = Instant::now();
        loop {
            while !done(h.state()) || h.state().plugins_busy() {
                assert!(start.elapsed() < limit, "timed out after {limit:?}");
                h.step();
                std::thread::sleep(Duration::from_millis(20));
            }
            // Queued input, or a dialog's answer, may start more plugin
            // work in the next frames: step on while it does.
            let _ = h.run_ok();
            if !h.state().plugins_busy() {
                h.run();
                return;
            }
        }
    }

    /// `Harness::run` once the plugins answered what the last frames asked
    /// (recounts, method forms and plugin processes start on workers).
    pub fn settle(h: &mut Harness<'_, Workbench>) {
        step_until(h, PLUGIN_WORK_LIMIT, |_| true);
    }
}

/// A row of the paper's ReLU table (ResNet18, CIFAR-100, 32x32) built
/// through the plugins.
pub fn paper_network(
    host: &PluginHost,
    row: &deepreduce_app::engine::paper::ReluTableRow,
) -> deepreduce_plugin_api::Network {
    use deepreduce_app::engine::network::{NetworkSpec, build_network};
    let input = deepreduce_plugin_api::InputSpec {
        channels: 3,
        height: 32,
        width: 32,
    };
    let spec = NetworkSpec {
        keep: Some(row.keep.iter().map(|s| s.to_string()).collect()),
        thin: row.thin,
        alpha: row.alpha,
        rho: row.rho,
        ..NetworkSpec::new(row.arch, input, 100)
    };
    build_network(host, &spec).unwrap().0
}
