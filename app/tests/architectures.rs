//! The built-in architectures build through the dynamically loaded plugins,
//! pass shape inference, and have the well-known parameter counts of their
//! CIFAR variants (PyTorch convention: BN affine counted, running stats not).

mod common;

use deepreduce_app::engine::network::{NetworkSpec, build_network};
use deepreduce_plugin_api::{InputSpec, Shape, analyze};

const CIFAR: InputSpec = InputSpec {
    channels: 3,
    height: 32,
    width: 32,
};

fn params_and_relus(arch: &str, classes: usize) -> (u64, u64) {
    let host = common::host();
    let (net, _) = build_network(&host, &NetworkSpec::new(arch, CIFAR, classes)).unwrap();
    let a = analyze(&net).unwrap();
    assert_eq!(a.output, Shape::Vector(classes));
    (a.total.params, a.total.relus)
}

#[test]
fn resnets_match_the_references() {
    // kuangliu/pytorch-cifar ResNet18 and ResNet34.
    assert_eq!(params_and_relus("resnet18", 100).0, 11_220_132);
    assert_eq!(params_and_relus("resnet34", 10).0, 21_282_122);
    // akamaster/pytorch_resnet_cifar10 ResNet56 (853,018 with parameter-free
    // shortcuts) plus our two 1x1 conv + BN projection shortcuts.
    assert_eq!(params_and_relus("resnet56", 10).0, 853_018 + 576 + 2_176);
}

#[test]
fn vgg16_matches_pytorch_cifar() {
    assert_eq!(params_and_relus("vgg16", 10), (14_728_266, 276_480));
}

#[test]
fn mobilenet_v1_matches_pytorch_cifar() {
    assert_eq!(params_and_relus("mobilenet_v1", 10), (3_217_226, 411_648));
}
