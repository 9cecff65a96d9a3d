//! The wgpu path stays tested without a GPU: on Mesa's software Vulkan
//! (lavapipe, installed by .ci/run) the same IR computes the same forward
//! as on flex, and a tiny training run completes. Kept tiny: wgpu compiles
//! its kernels on first use.

mod common;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use deepreduce_app::engine::backend::{BackendChoice, adapters, select};
use deepreduce_app::engine::train::{RunContext, Schedule, Status, TrainConfig, train};
use deepreduce_datasets::{SyntheticConfig, synthetic};
use deepreduce_models::IrModel;

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
    let data = x.to_data();
    let a = on_flex
        .valid()
        .forward(x)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let b = on_wgpu
        .valid()
        .forward(Tensor::from_data(data, &wgpu.device))
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let diff = a
        .iter()
        .zip(&b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
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
