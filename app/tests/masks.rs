//! `count` and `train` with a ReLU budget (`--budget N --granularity
//! channel|pixel --dropped identity|poly`), applied through the budget
//! plugin after culling, thinning and reshaping.

mod common;

use serde_json::Value;

const RESNET18_CIFAR100: [&str; 4] = ["--arch", "resnet18", "--dataset", "cifar100"];

fn count_with(extra: &[&str]) -> Value {
    let mut args = RESNET18_CIFAR100.to_vec();
    args.extend_from_slice(extra);
    common::count_json(&args)
}

fn layers(v: &Value) -> &Vec<Value> {
    v["layers"].as_array().expect("a list of layers")
}

fn sum(v: &Value, field: &str) -> u64 {
    layers(v).iter().map(|l| l[field].as_u64().unwrap()).sum()
}

#[test]
fn a_pixel_budget_keeps_exactly_n_relus() {
    let v = count_with(&["--budget", "12900", "--granularity", "pixel"]);
    assert_eq!(v["relus"], 12_900, "{v}");
    let stages: u64 = v["stages"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r.as_u64().unwrap())
        .sum();
    assert_eq!(stages, 12_900);
    assert_eq!(sum(&v, "relus"), 12_900, "the layers add up");
    assert_eq!(sum(&v, "elements"), 557_056, "every ReLU layer is listed");
    assert_eq!(
        (v["polys"].as_u64(), v["comparisons"].as_u64()),
        (Some(0), Some(0))
    );
    for layer in layers(&v) {
        assert_eq!(layer["granularity"], "pixel", "{layer}");
        assert_eq!(layer["dropped"], "identity", "{layer}");
        assert!(
            layer["relus"].as_u64().unwrap() > 0,
            "every layer keeps a share: {layer}"
        );
    }
    let first = &layers(&v)[0];
    assert_eq!(first["node"], "stem.relu");
    assert_eq!(first["shape"], serde_json::json!([64, 32, 32]));
}

#[test]
fn a_channel_budget_keeps_whole_channels_within_one_channel_of_n() {
    let v = count_with(&["--budget", "12900", "--granularity", "channel"]);
    let relus = v["relus"].as_u64().unwrap();
    // The smallest channel of a masked layer: one channel of S4's 4x4 maps.
    let smallest = layers(&v)
        .iter()
        .map(|l| {
            let shape = l["shape"].as_array().unwrap();
            shape[1].as_u64().unwrap() * shape[2].as_u64().unwrap()
        })
        .min()
        .unwrap();
    assert!(
        relus <= 12_900 && 12_900 - relus < smallest,
        "{relus} ReLUs, channels of {smallest}"
    );
    for layer in layers(&v) {
        let plane = layer["elements"].as_u64().unwrap() / layer["shape"][0].as_u64().unwrap();
        assert_eq!(
            layer["relus"].as_u64().unwrap() % plane,
            0,
            "whole channels: {layer}"
        );
        assert_eq!(layer["granularity"], "channel");
    }
}

#[test]
fn dropped_elements_can_become_polynomials() {
    let v = count_with(&["--budget", "12900", "--dropped", "poly"]);
    assert_eq!(v["relus"], 12_900);
    assert_eq!(v["polys"], 557_056 - 12_900, "every dropped element: {v}");
    let stage_polys: u64 = v["stage_polys"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_u64().unwrap())
        .sum();
    assert_eq!(stage_polys, 557_056 - 12_900);
    assert!(layers(&v).iter().all(|l| l["dropped"] == "poly"));
    assert!(
        v["description"].as_str().unwrap().contains("poly"),
        "{}",
        v["description"]
    );
}

#[test]
fn the_budget_applies_after_culling_and_thinning() {
    let v = count_with(&["--keep", "S2,S3", "--thin", "--budget", "5000"]);
    assert_eq!(v["relus"], 5_000);
    assert_eq!(v["stages"]["S1"], 0);
    assert_eq!(v["stages"]["S4"], 0);
    let s2_s3 = v["stages"]["S2"].as_u64().unwrap() + v["stages"]["S3"].as_u64().unwrap();
    assert_eq!(s2_s3, 5_000, "{v}");
    // Culled and thinned layers stay dropped whole: no mask on them.
    let whole_drops = layers(&v)
        .iter()
        .filter(|l| l["granularity"].is_null() && l["dropped"] == "identity")
        .count();
    assert!(whole_drops > 0, "{v}");
    assert_eq!(
        v["description"], "S2^RT (pixel 5%) + S3^RT (pixel 5%)",
        "{}",
        v["description"]
    );
}

#[test]
fn layer_level_networks_list_whole_and_dropped_layers() {
    let v = count_with(&["--keep", "S3"]);
    let s3 = layers(&v).iter().find(|l| l["stage"] == "S3").unwrap();
    assert_eq!(s3["relus"], s3["elements"]);
    assert!(
        s3["granularity"].is_null() && s3["dropped"].is_null(),
        "{s3}"
    );
    let s1 = layers(&v).iter().find(|l| l["stage"] == "S1").unwrap();
    assert_eq!(
        (s1["relus"].as_u64(), &s1["dropped"]),
        (Some(0), &"identity".into())
    );
}

fn count_error(extra: &[&str]) -> String {
    let mut args = vec!["count"];
    args.extend_from_slice(&RESNET18_CIFAR100);
    args.extend_from_slice(extra);
    let out = common::cli(&args);
    assert!(!out.status.success(), "{extra:?} is refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_budget_flags_are_refused_clearly() {
    let above = count_error(&["--budget", "600000"]);
    assert!(
        above.contains("a budget of 600,000 ReLUs is more than the 557,056 the network has"),
        "{above}"
    );
    let culled = count_error(&["--keep", "S3", "--budget", "70000"]);
    assert!(culled.contains("more than the 65,536"), "{culled}");
    for flag in [["--granularity", "channel"], ["--dropped", "poly"]] {
        let alone = count_error(&flag);
        assert!(
            alone.contains("required arguments were not provided") && alone.contains("--budget"),
            "{flag:?}: {alone}"
        );
    }
    let unknown = count_error(&["--budget", "100", "--granularity", "voxel"]);
    assert!(
        unknown.contains("[possible values: channel, pixel]"),
        "{unknown}"
    );
}

#[test]
fn train_records_the_masked_network() {
    let out_dir = common::temp_dir("train-masked").join("run");
    let out = common::cli(&[
        "train",
        "--arch",
        "resnet18",
        "--blocks",
        "1,1,1,1",
        "--width",
        "4",
        "--dataset",
        "synthetic",
        "--epochs",
        "1",
        "--subset",
        "64",
        "--test-subset",
        "64",
        "--batch",
        "32",
        "--backend",
        "flex",
        "--budget",
        "1000",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(out.stdout.trim_ascii_end()).unwrap();
    assert_eq!(summary["relus"], 1_000);
    let text = std::fs::read_to_string(out_dir.join("network.json")).unwrap();
    let network: deepreduce_plugin_api::Network = serde_json::from_str(&text).unwrap();
    assert_eq!(
        deepreduce_plugin_api::analyze(&network)
            .unwrap()
            .total
            .relus,
        1_000
    );
    assert!(
        deepreduce_app::engine::relu_layers::is_masked(&network),
        "network.json carries the masks"
    );
}
