//! Method plugins (`deepreduce.method/1`) through the C ABI: the form they
//! describe and their steps, as the method host sees them.

mod common;

use deepreduce_app::engine::plugin_host::Cause;
use deepreduce_plugin_api::reduction::{Role, StepInput, StepOutput, check_step};
use deepreduce_plugin_api::testing::resnet_like;
use serde_json::json;

const SNL: &str = "org.deepreduce.method.snl";

#[test]
fn the_snl_method_describes_its_form_and_plans_its_first_step_through_the_abi() {
    let host = common::host();
    let snl = host.get(SNL).expect("the SNL method is built in");
    let info = snl.describe_method().unwrap();
    let names: Vec<&str> = info.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["budgets", "granularity", "dropped"]);
    let params = info
        .resolve_params(&json!({"budgets": [100, 200]}))
        .unwrap();

    let input = StepInput {
        params: params.clone(),
        baseline: resnet_like(),
        history: vec![],
        applied: vec![],
    };
    let output = snl.step(&input).unwrap();
    check_step(&output, &[], &[]).unwrap();
    let StepOutput::Train { requests } = output else {
        panic!("the baseline first");
    };
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].role, Role::Baseline);
    assert_eq!(requests[0].network, resnet_like());

    // The plugin's own refusal comes back as its message.
    let too_many = StepInput {
        params: info.resolve_params(&json!({"budgets": [5000]})).unwrap(),
        ..input
    };
    let error = snl.step(&too_many).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("a budget of 5000 ReLUs is more than the baseline's 1664"),
        "{error}"
    );
}

#[test]
fn a_plugin_of_another_kind_is_not_asked_for_a_step() {
    let host = common::host();
    let cull = host.get("org.deepreduce.cull").unwrap();
    let error = cull.describe_method().unwrap_err();
    assert!(
        matches!(error.cause, Cause::WrongKind("optimization")),
        "{error}"
    );
}
