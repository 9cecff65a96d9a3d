//! `deepreduce count` reproduces the paper's ReLU table exactly, through the
//! plugins loaded as dynamic libraries.

mod common;

use deepreduce_app::engine::paper::{
    RELU_TABLE, RESNET18_CIFAR100_BASELINE_RELUS, RESNET18_CIFAR100_STAGE_RELUS,
};

#[test]
fn baseline_resnet18_cifar100_per_stage() {
    let v = common::count_json(&["--arch", "resnet18", "--dataset", "cifar100"]);
    assert_eq!(v["relus"], RESNET18_CIFAR100_BASELINE_RELUS);
    for (stage, relus) in RESNET18_CIFAR100_STAGE_RELUS {
        assert_eq!(v["stages"][stage], relus, "stage {stage}");
    }
    assert_eq!(v["params"], 11_220_132);
    assert_eq!(v["flops"], 555_468_800);
    assert_eq!(v["description"], "all ReLUs");
}

#[test]
fn every_row_of_the_paper_table() {
    for row in RELU_TABLE {
        let keep = row.keep.join(",");
        let (alpha, rho) = (row.alpha.to_string(), row.rho.to_string());
        let mut args = vec!["--arch", row.arch, "--dataset", "cifar100", "--keep", &keep];
        args.extend(["--alpha", &alpha, "--rho", &rho]);
        if row.thin {
            args.push("--thin");
        }
        let v = common::count_json(&args);
        assert_eq!(v["relus"], row.relus, "row {row:?}: {v}");
        let kept_sum: u64 = row
            .keep
            .iter()
            .map(|s| v["stages"][s].as_u64().unwrap())
            .sum();
        assert_eq!(kept_sum, row.relus, "only the kept stages have ReLUs: {v}");
    }
}

#[test]
fn keep_names_exactly_the_stages_that_remain() {
    let only_s1 = common::count_json(&[
        "--arch",
        "resnet18",
        "--dataset",
        "cifar100",
        "--keep",
        "S1",
    ]);
    assert_eq!(only_s1["relus"], 262_144);
    assert_eq!(only_s1["stages"]["stem"], 0);
    assert_eq!(only_s1["description"], "S1");
    let with_stem = common::count_json(&[
        "--arch",
        "resnet18",
        "--dataset",
        "cifar100",
        "--keep",
        "stem,S1",
    ]);
    assert_eq!(with_stem["relus"], 65_536 + 262_144);
    assert_eq!(with_stem["description"], "Conv1 + S1");
}

#[test]
fn descriptions_follow_the_paper_notation() {
    let v = common::count_json(&[
        "--arch",
        "resnet18",
        "--dataset",
        "cifar100",
        "--keep",
        "S2,S3",
        "--thin",
        "--alpha",
        "0.5",
    ]);
    assert_eq!(v["description"], "S2^RT + S3^RT, alpha 0.5");
    let star = common::count_json(&[
        "--arch",
        "resnet10",
        "--dataset",
        "cifar100",
        "--keep",
        "S2,S3,S4",
        "--thin",
    ]);
    assert_eq!(star["description"], "S2*^RT + S3*^RT + S4*^RT");
}

#[test]
fn the_dataset_sets_input_size_and_classes() {
    let tiny = common::count_json(&["--arch", "resnet18", "--dataset", "tinyimagenet"]);
    assert_eq!(tiny["relus"], 4 * RESNET18_CIFAR100_BASELINE_RELUS);
    assert_eq!(tiny["input"], serde_json::json!([3, 64, 64]));
    assert_eq!(tiny["classes"], 200);
    let c10 = common::count_json(&["--arch", "resnet18", "--dataset", "cifar10"]);
    assert_eq!(c10["params"], 11_173_962);
    let blocks = common::count_json(&[
        "--arch",
        "resnet18",
        "--dataset",
        "cifar10",
        "--blocks",
        "1,1,1,1",
    ]);
    assert_eq!(blocks["relus"], 65_536 + 131_072 + 65_536 + 32_768 + 16_384);
}

#[test]
fn bad_requests_fail_with_a_message() {
    let unknown = common::cli(&["count", "--arch", "resnet99", "--dataset", "cifar10"]);
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("no architecture plugin offers 'resnet99'") && err.contains("resnet18"),
        "{err}"
    );
    let stage = common::cli(&[
        "count",
        "--arch",
        "resnet18",
        "--dataset",
        "cifar10",
        "--keep",
        "S9",
    ]);
    let err = String::from_utf8_lossy(&stage.stderr);
    assert!(err.contains("'S9' is not a stage of resnet18"), "{err}");
    let rho = common::cli(&[
        "count",
        "--arch",
        "resnet18",
        "--dataset",
        "cifar10",
        "--rho",
        "0.3",
    ]);
    let err = String::from_utf8_lossy(&rho.stderr);
    assert!(err.contains("rho must be 1/n"), "{err}");
}
