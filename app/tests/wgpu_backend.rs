//! The wgpu path stays tested without a GPU: on Mesa's software Vulkan
//! (lavapipe, installed by .ci/run) the same IR computes the same forward
//! as on flex, and a tiny training run completes; a network with masked
//! ReLUs and polynomials computes the same forward and the same training
//! step. Kept tiny: wgpu compiles its kernels on first use.

mod common;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use deepreduce_app::engine::backend::{BackendChoice, adapters, select};
use deepreduce_app::engine::network::{apply_one, plugin};
use deepreduce_app::engine::train::{
    RunContext, Schedule, Status, TrainConfig, sgd, sgd_step, train,
};
use deepreduce_datasets::{SyntheticConfig, synthetic};
use deepreduce_models::IrModel;
use deepreduce_plugin_api::{Network, Op, analyze};

#[test]
fn auto_prefers_flex_over_a_software_adapter() {
    let has_gpu = adapters().iter().any(|a| a.is_gpu());
    let chosen = select(BackendChoice::Auto);
    assert_eq!(chosen.is_wgpu, has_gpu, "{}", chosen.label);
    assert!(select(BackendChoice::Flex).label.starts_with("flex (CPU"));
}

#[test]
fn wgpu_computes_the_same_forward_and_trains() {
    let wgpu = select(BackendChoice::Wgpu);
    assert!(
        wgpu.is_wgpu && wgpu.label.starts_with("wgpu: "),
        "{}",
        wgpu.label
    );
    let flex = Device::flex();
    let net = common::network(&common::small_resnet("cifar10", 4));
    let on_flex = IrModel::new(&net, &flex).unwrap();
    let path = common::temp_dir("wgpu").join("model.bpk");
    on_flex.save(&path).unwrap();
    let on_wgpu = IrModel::load(&net, &path, &wgpu.device).unwrap();

    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Default, &flex);
    let diff = max_diff(
        &logits(&on_flex, x.clone()),
        &logits(&on_wgpu, Tensor::from_data(x.to_data(), &wgpu.device)),
    );
    assert!(
        diff < 1e-4,
        "flex and wgpu differ by {diff} ({})",
        wgpu.label
    );

    let data = synthetic(&SyntheticConfig {
        train: 64,
        test: 32,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 32,
        lr: 0.05,
        schedule: Schedule::Constant,
        ..TrainConfig::default()
    };
    let ctx = RunContext {
        device: &wgpu.device,
        events: None,
        cancel: None,
        checkpoint_dir: None,
        resume: None,
    };
    let out = train(&net, &data, &cfg, None, &ctx).unwrap();
    assert_eq!(out.status, Status::Completed);
    assert!(out.test_accuracy.is_some());
}

fn logits(model: &IrModel, x: Tensor<4>) -> Vec<f32> {
    model.valid().forward(x).into_data().try_to_vec().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// The small ResNet with the budget plugin's pixel masks keeping a third
/// of its ReLUs, the dropped ones becoming trainable polynomials.
fn masked_network() -> Network {
    let host = common::host();
    let net = common::network(&common::small_resnet("cifar10", 4));
    let budget = analyze(&net).unwrap().total.relus / 3;
    let params = serde_json::json!({ "budget": budget, "granularity": "pixel", "dropped": "poly" });
    let budget = plugin(&host, "org.deepreduce.budget").unwrap();
    let net = apply_one(budget, net, params).unwrap();
    assert!(
        net.nodes
            .iter()
            .any(|n| matches!(n.op, Op::MaskedRelu { .. }))
    );
    net
}

#[test]
fn wgpu_runs_masked_relus_and_polynomials_like_flex() {
    let wgpu = select(BackendChoice::Wgpu);
    let flex = Device::flex();
    let net = masked_network();
    let path = common::temp_dir("wgpu-masked").join("model.bpk");
    IrModel::new(&net, &flex).unwrap().save(&path).unwrap();
    let x = Tensor::<4>::random([4, 3, 32, 32], Distribution::Default, &flex).to_data();
    let labels = TensorData::new(vec![0i64, 3, 5, 9], [4]);

    // The same weights on each device: the same logits, and after one SGD
    // step (batch statistics, gradients through masks and polynomials into
    // their coefficients) the same coefficients.
    let run = |device: &Device| {
        let model = IrModel::load(&net, &path, device).unwrap();
        let before = logits(&model, Tensor::from_data(x.clone(), device));
        let train_device = device.clone().autodiff();
        let model = IrModel::load(&net, &path, &train_device).unwrap();
        let cfg = TrainConfig::default();
        let (model, loss, _) = sgd_step(
            model,
            &mut sgd(&cfg),
            Tensor::from_data(x.clone(), &train_device),
            Tensor::<1, Int>::from_data(labels.clone(), &train_device),
            0.01,
            None,
        );
        assert!(loss.is_finite());
        let coefficients: Vec<f32> = model
            .polynomials()
            .into_iter()
            .flat_map(|p| [p.a, p.b, p.c].concat())
            .collect();
        (before, coefficients)
    };
    let (flex_logits, flex_coefficients) = run(&flex);
    let (wgpu_logits, wgpu_coefficients) = run(&wgpu.device);
    let logits_diff = max_diff(&flex_logits, &wgpu_logits);
    let coefficients_diff = max_diff(&flex_coefficients, &wgpu_coefficients);
    let initial: Vec<f32> = IrModel::new(&net, &flex)
        .unwrap()
        .polynomials()
        .into_iter()
        .flat_map(|p| [p.a, p.b, p.c].concat())
        .collect();
    let update = max_diff(&flex_coefficients, &initial);
    println!(
        "flex vs wgpu: logits max |diff| {logits_diff:e}, coefficients after one step \
         {coefficients_diff:e} (largest update {update:e})"
    );
    assert!(
        logits_diff < 1e-4,
        "logits differ by {logits_diff} ({})",
        wgpu.label
    );
    assert!(
        update > 1e-3,
        "the step barely moved the coefficients: {update}"
    );
    assert!(
        coefficients_diff < 1e-3 * update,
        "coefficients differ by {coefficients_diff} after a step of {update} ({})",
        wgpu.label
    );
}

/// Trains the small ResNet for one tiny epoch on wgpu in a new
/// `deepreduce` process whose user cache folder is `cache` (written to
/// `log`); returns how many kernels CubeCL tuned (benchmarked) on the way.
fn kernels_tuned_by_a_training(cache: &std::path::Path, log: &std::path::Path) -> usize {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deepreduce"))
        .args([
            "train", "--arch", "resnet18", "--blocks", "1,1,1,1", "--width", "4",
        ])
        .args([
            "--epochs",
            "1",
            "--subset",
            "32",
            "--test-subset",
            "32",
            "--batch",
            "16",
        ])
        .args(["--backend", "wgpu"])
        .env("DEEPREDUCE_PLUGIN_DIR", common::temp_dir("no-user-plugins"))
        .env("XDG_CACHE_HOME", cache)
        .env("CUBECL_DEBUG_LOG", log)
        .output()
        .expect("the deepreduce binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(TUNED_MARK))
        .count()
}

/// How CubeCL's autotune log starts the line of a key it benchmarked.
const TUNED_MARK: &str = "Fastest result";

#[test]
fn kernel_tuning_survives_a_restart() {
    let cache = common::temp_dir("kernel-tuning");
    let first = kernels_tuned_by_a_training(&cache, &cache.join("first.log"));
    let second = kernels_tuned_by_a_training(&cache, &cache.join("second.log"));
    println!("kernels tuned: {first} by the first training, {second} after the restart");
    assert!(first > 0, "the first training tuned no kernel");
    assert_eq!(
        second, 0,
        "the second training tuned {second} kernels again"
    );
    let kept = cache.join("deepreduce").join("kernel-tuning");
    assert!(
        std::fs::read_dir(&kept).is_ok_and(|mut d| d.next().is_some()),
        "nothing kept in {}",
        kept.display()
    );
}

#[test]
fn a_cache_folder_that_cannot_be_made_costs_the_tuning_not_the_training() {
    let dir = common::temp_dir("kernel-tuning-blocked");
    // The user cache "folder" is a file: nothing can be created under it.
    let not_a_folder = dir.join("cache");
    std::fs::write(&not_a_folder, "a file").unwrap();
    let tuned = kernels_tuned_by_a_training(&not_a_folder, &dir.join("tuning.log"));
    assert!(tuned > 0, "the training tuned no kernel");
}
