//! The IR becomes a burn module that computes what the IR says: every
//! built-in architecture runs forward to logits of the right shape, a
//! dropped ReLU is exactly the identity, and weights survive save/load.

mod common;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use deepreduce_app::engine::network::NetworkSpec;
use deepreduce_models::IrModel;
use deepreduce_plugin_api::{InputSpec, Network, Op};

fn logits(model: &IrModel, input: Tensor<4>) -> Vec<f32> {
    model
        .forward(input)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn every_builtin_architecture_runs_forward() {
    let device = Device::flex();
    for (arch, input, classes) in [
        (
            "resnet18",
            InputSpec {
                channels: 3,
                height: 32,
                width: 32,
            },
            100,
        ),
        (
            "resnet56",
            InputSpec {
                channels: 3,
                height: 32,
                width: 32,
            },
            10,
        ),
        (
            "resnet9",
            InputSpec {
                channels: 1,
                height: 28,
                width: 28,
            },
            10,
        ),
        (
            "vgg16",
            InputSpec {
                channels: 3,
                height: 32,
                width: 32,
            },
            10,
        ),
        (
            "mobilenet_v1",
            InputSpec {
                channels: 3,
                height: 64,
                width: 64,
            },
            200,
        ),
    ] {
        let mut spec = NetworkSpec::new(arch, input, classes);
        spec.width = Some(4);
        let net = common::network(&spec);
        let model = IrModel::new(&net, &device).unwrap();
        let x = Tensor::<4>::random(
            [2, input.channels, input.height, input.width],
            Distribution::Default,
            &device,
        );
        assert_eq!(model.valid().forward(x).dims(), [2, classes], "{arch}");
    }
}

/// With every ReLU dropped and BatchNorm in inference mode (identity
/// statistics at initialisation), the network is affine:
/// f(a + b) = f(a) + f(b) - f(0). Any ReLU left active breaks this.
#[test]
fn a_dropped_relu_is_exactly_the_identity() {
    let device = Device::flex();
    let mut spec = common::small_resnet("cifar10", 4);
    spec.keep = Some(vec![]);
    let linear_net = common::network(&spec);
    assert!(linear_net.nodes.iter().all(|n| n.op != Op::Relu));
    let affine = |net: &Network| {
        let model = IrModel::new(net, &device).unwrap().valid();
        let shape = [1, 3, 32, 32];
        let a = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let sum = logits(&model, a.clone() + b.clone());
        let parts: Vec<f32> = logits(&model, a)
            .iter()
            .zip(logits(&model, b))
            .zip(logits(&model, Tensor::zeros(shape, &device)))
            .map(|((fa, fb), f0)| fa + fb - f0)
            .collect();
        max_difference(&sum, &parts)
    };
    assert!(
        affine(&linear_net) < 1e-4,
        "without ReLUs the network is affine"
    );
    let full = common::network(&common::small_resnet("cifar10", 4));
    assert!(affine(&full) > 1e-3, "with ReLUs it is not");
}

#[test]
fn weights_survive_save_and_load() {
    let device = Device::flex();
    let net = common::network(&common::small_resnet("cifar10", 4));
    let model = IrModel::new(&net, &device).unwrap();
    let path = common::temp_dir("weights").join("model.bpk");
    model.save(&path).unwrap();
    let loaded = IrModel::load(&net, &path, &device).unwrap();
    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Default, &device);
    let (a, b) = (
        logits(&model.valid(), x.clone()),
        logits(&loaded.valid(), x),
    );
    assert_eq!(a, b);
    let fresh = IrModel::new(&net, &device).unwrap();
    let c = logits(&fresh.valid(), Tensor::<4>::ones([2, 3, 32, 32], &device));
    assert_ne!(
        c,
        logits(&loaded.valid(), Tensor::<4>::ones([2, 3, 32, 32], &device))
    );
}

#[test]
fn loading_weights_of_another_network_fails_with_the_file_named() {
    let device = Device::flex();
    let small = common::network(&common::small_resnet("cifar10", 4));
    let path = common::temp_dir("mismatch").join("model.bpk");
    IrModel::new(&small, &device).unwrap().save(&path).unwrap();
    let wider = common::network(&common::small_resnet("cifar10", 8));
    let err = IrModel::load(&wider, &path, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.bpk"), "{err}");
    let missing = IrModel::load(&small, &path.with_file_name("absent.bpk"), &device).unwrap_err();
    assert!(missing.to_string().contains("absent.bpk"), "{missing}");
}
