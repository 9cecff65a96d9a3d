//! The example optimization plugin written in C (plugin-api/examples) is
//! compiled with the system C compiler, loaded by the host and applied.

mod common;

use deepreduce_app::engine::budget::{Budget, DroppedAs};
use deepreduce_app::engine::network::{NetworkSpec, build_network};
use deepreduce_app::engine::plugin_host::Cause;
use deepreduce_plugin_api::{Granularity, InputSpec, OptimizationRequest, analyze};
use std::path::Path;

#[test]
fn the_c_example_plugin_loads_and_drops_s4() {
    let source = common::workspace().join("plugin-api/examples/c-plugin/relu_budget.c");
    let out = common::temp_dir("c-example").join("librelu_budget.so");
    common::compile_c_plugin(&source, &out, &["-Wextra", "-pedantic"]);

    let mut host = common::host();
    let plugin = host.load(&out).expect("the C plugin loads");
    assert_eq!(plugin.descriptor.id, "org.example.relu-budget");
    assert_eq!(plugin.descriptor.vendor, "Example Vendor");

    let input = InputSpec {
        channels: 3,
        height: 32,
        width: 32,
    };
    let (network, _) = build_network(&host, &NetworkSpec::new("resnet18", input, 100)).unwrap();
    let plugin = host.get("org.example.relu-budget").unwrap();
    let request = OptimizationRequest {
        network,
        params: serde_json::json!({}),
        context: serde_json::Value::Null,
    };
    let candidates = plugin.apply(&request).expect("the C plugin applies");
    assert_eq!(candidates.len(), 1);
    let a = analyze(&candidates[0].network).unwrap();
    assert_eq!(a.stage("S4").unwrap().relus, 0);
    assert_eq!(a.stage("S3").unwrap().relus, 65_536);
    assert_eq!(a.total.relus, 557_056 - 32_768);
    assert!(
        candidates[0].description.contains("S4"),
        "{}",
        candidates[0].description
    );
}

/// A plugin built against ABI 1.0 is sent layer-level networks as before,
/// and is never sent one with masks: the host refuses, naming the plugin,
/// its file and both versions.
#[test]
fn a_plugin_built_against_abi_1_0_is_never_sent_a_masked_network() {
    let example = common::workspace().join("plugin-api/examples/c-plugin");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/relu_budget_abi10.c");
    let out = common::temp_dir("c-abi10").join("librelu_budget_abi10.so");
    let include = format!("-I{}", example.display());
    common::compile_c_plugin(&source, &out, &[&include]);

    let mut host = common::host();
    assert_eq!(host.load(&out).expect("a 1.0 plugin loads").abi_minor, 0);
    let dir = out.parent().unwrap().to_str().unwrap();
    let listing = common::cli(&["plugins", "--json", "--plugin-dir", dir]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&listing.stdout).unwrap();
    let row = rows.iter().find(|r| r["id"] == "org.example.relu-budget");
    assert_eq!(row.unwrap()["abi"], "1.0", "{rows:?}");
    let input = InputSpec {
        channels: 3,
        height: 32,
        width: 32,
    };
    let mut spec = NetworkSpec::new("resnet18", input, 100);
    let (network, _) = build_network(&host, &spec).unwrap();
    let plugin = host.get("org.example.relu-budget").unwrap();
    let request = |network| OptimizationRequest {
        network,
        params: serde_json::json!({}),
        context: serde_json::Value::Null,
    };
    plugin
        .apply(&request(network))
        .expect("a layer-level network is sent as before");

    spec.budget = Some(Budget {
        relus: 12_900,
        granularity: Granularity::Pixel,
        dropped: DroppedAs::Identity,
    });
    let (masked, _) = build_network(&host, &spec).unwrap();
    let error = plugin
        .apply(&request(masked))
        .expect_err("a masked network is refused");
    let message = error.to_string();
    for part in [
        "org.example.relu-budget speaks IR 1.0 and cannot read masked or polynomial layers",
        "this network needs IR 1.1",
        "apply it before the budget, or update it",
        &out.display().to_string(),
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    assert!(matches!(
        error.cause,
        Cause::OlderIr {
            plugin_minor: 0,
            needed: 1,
            ..
        }
    ));
}
