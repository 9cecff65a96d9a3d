//! The test networks of [`crate::testing`] are what they say.

use crate::analysis::analyze;
use crate::testing::{per_stage, relus, resnet_like, resnet18_cifar100};

#[test]
fn resnet18_for_cifar100_has_the_papers_relu_counts() {
    // shared/SPEC.md, "Reference ReLU counts".
    let net = resnet18_cifar100();
    assert_eq!(
        relus(&net),
        (
            per_stage(&[
                ("stem", 65_536),
                ("S1", 262_144),
                ("S2", 131_072),
                ("S3", 65_536),
                ("S4", 32_768),
                ("head", 0)
            ]),
            557_056
        )
    );
    let a = analyze(&net).unwrap();
    let layers: Vec<String> = a
        .nodes
        .iter()
        .filter(|n| n.relus > 0)
        .map(|n| n.output.to_string())
        .collect();
    let expected: Vec<&str> = [
        ("64x32x32", 5),
        ("128x16x16", 4),
        ("256x8x8", 4),
        ("512x4x4", 4),
    ]
    .iter()
    .flat_map(|&(shape, n)| std::iter::repeat_n(shape, n))
    .collect();
    assert_eq!(layers, expected);
    assert_eq!(net.meta_str("family"), Some("resnet"));
}

#[test]
fn resnet_like_has_its_documented_relus() {
    assert_eq!(
        relus(&resnet_like()),
        (
            per_stage(&[
                ("stem", 256),
                ("S1", 1_024),
                ("S2", 256),
                ("S3", 128),
                ("head", 0)
            ]),
            1_664
        )
    );
}
