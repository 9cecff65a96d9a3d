//! The example optimization plugin written in C (plugin-api/examples) is
//! compiled with the system C compiler, loaded by the host and applied.

mod common;

use deepreduce_app::engine::network::{NetworkSpec, build_network};
use deepreduce_plugin_api::{InputSpec, OptimizationRequest, analyze};

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
