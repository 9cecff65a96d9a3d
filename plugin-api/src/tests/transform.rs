use crate::ir::{Dropped, Network, Node, Op};
use crate::mask::{BitSet, Granularity, ReluMask};
use crate::poly::Polynomial;
use crate::testing::tiny;
use crate::transform::{
    activation_slots, check_stages, drop_stage_relus, record_in_meta, set_relu, stage_has_relus,
    string_list,
};
use serde_json::json;

/// `tiny` with a second ReLU layer in S1 after the first (relu2 is node 7).
fn two_slots() -> Network {
    let mut net = tiny();
    let extra = Node::new("relu3", Op::Identity, &["relu2"])
        .in_stage("S1")
        .in_block("S1.B1");
    net.nodes.insert(8, extra);
    net.nodes[9].inputs = vec!["relu3".into()]; // gap
    net
}

fn ops(net: &Network) -> Vec<&'static str> {
    net.nodes.iter().map(|n| n.op.kind()).collect()
}

#[test]
fn activation_slots_are_relus_and_identities_in_graph_order() {
    let net = two_slots();
    assert_eq!(activation_slots(&net, "stem"), [2]);
    assert_eq!(activation_slots(&net, "S1"), [7, 8]);
    assert!(activation_slots(&net, "head").is_empty());
    assert!(activation_slots(&net, "S9").is_empty());
    assert!(stage_has_relus(&net, "S1"));
    assert!(!stage_has_relus(&net, "head"));
}

#[test]
fn set_relu_only_touches_activation_slots() {
    let mut net = tiny();
    let before = net.clone();
    for i in [0, 1, 3, 6, 10] {
        set_relu(&mut net, i, false);
        set_relu(&mut net, i, true);
    }
    assert_eq!(net, before);
    set_relu(&mut net, 7, false);
    assert_eq!(net.nodes[7].op, Op::Identity);
    assert_eq!(net.nodes[7].name, "relu2");
    assert_eq!(net.nodes[7].inputs, ["add"]);
    set_relu(&mut net, 7, false);
    assert_eq!(net.nodes[7].op, Op::Identity);
    set_relu(&mut net, 7, true);
    assert_eq!(net, before);
}

#[test]
fn drop_stage_relus_leaves_other_stages_alone() {
    let mut net = two_slots();
    set_relu(&mut net, 8, true);
    drop_stage_relus(&mut net, "S1");
    assert!(!stage_has_relus(&net, "S1"));
    assert!(stage_has_relus(&net, "stem"));
    assert_eq!(
        ops(&net),
        [
            "Conv2d",
            "BatchNorm2d",
            "Relu",
            "Conv2d",
            "BatchNorm2d",
            "Conv2d",
            "Add",
            "Identity",
            "Identity",
            "GlobalAvgPool",
            "Flatten",
            "Linear"
        ]
    );
}

#[test]
fn record_in_meta_appends_without_duplicates() {
    let mut net = tiny();
    record_in_meta(&mut net, "thinned_stages", "S1");
    record_in_meta(&mut net, "thinned_stages", "S2");
    record_in_meta(&mut net, "thinned_stages", "S1");
    assert_eq!(net.meta["thinned_stages"], json!(["S1", "S2"]));
    assert_eq!(net.thinned_stages(), ["S1", "S2"]);
    // A key that holds something else is left as it is.
    net.meta.insert("note".into(), json!("keep me"));
    record_in_meta(&mut net, "note", "S1");
    assert_eq!(net.meta["note"], json!("keep me"));
}

#[test]
fn string_list_reads_optional_lists_of_strings() {
    let params = json!({"keep": ["S2", "S3"], "none": null, "empty": []});
    assert_eq!(
        string_list(&params, "keep"),
        Ok(Some(vec!["S2".to_string(), "S3".to_string()]))
    );
    assert_eq!(string_list(&params, "none"), Ok(None));
    assert_eq!(string_list(&params, "absent"), Ok(None));
    assert_eq!(string_list(&params, "empty"), Ok(Some(vec![])));
    assert_eq!(string_list(&json!(null), "keep"), Ok(None));
}

#[test]
fn string_list_errors_name_the_key_and_the_value() {
    assert_eq!(
        string_list(&json!({"keep": "S2"}), "keep"),
        Err(r#"'keep' must be a list of stage names, found "S2""#.to_string())
    );
    assert_eq!(
        string_list(&json!({"keep": ["S2", 3]}), "keep"),
        Err("'keep' must be a list of stage names, found 3".to_string())
    );
    assert_eq!(
        string_list(&json!({"stages": {"S1": true}}), "stages"),
        Err(r#"'stages' must be a list of stage names, found {"S1":true}"#.to_string())
    );
}

#[test]
fn check_stages_names_the_unknown_stage_and_the_known_ones() {
    let net = tiny();
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(check_stages(&net, &names(&["stem", "S1", "head"])), Ok(()));
    assert_eq!(check_stages(&net, &[]), Ok(()));
    assert_eq!(
        check_stages(&net, &names(&["S1", "S4", "S5"])),
        Err("'S4' is not a stage of tiny; its stages are stem, S1, head".to_string())
    );
}

#[test]
fn masked_and_polynomial_layers_are_slots_that_culling_turns_into_identity() {
    let mut net = two_slots();
    net.nodes[2].op = Op::Poly(Polynomial::delphi(8));
    net.nodes[7].op = Op::MaskedRelu {
        mask: ReluMask::new(Granularity::Channel, BitSet::from_indices(16, [3])),
        dropped: Dropped::Poly(Polynomial::delphi(16)),
    };
    assert_eq!(activation_slots(&net, "stem"), [2]);
    assert_eq!(activation_slots(&net, "S1"), [7, 8]);
    // A polynomial layer evaluates no ReLU; a masked one does.
    assert!(!stage_has_relus(&net, "stem"));
    assert!(stage_has_relus(&net, "S1"));
    drop_stage_relus(&mut net, "stem");
    drop_stage_relus(&mut net, "S1");
    assert_eq!(net.nodes[2].op, Op::Identity);
    assert_eq!(net.nodes[7].op, Op::Identity);
    assert!(!stage_has_relus(&net, "S1"));
    // Back to a whole ReLU: the mask is gone.
    set_relu(&mut net, 7, true);
    assert_eq!(net.nodes[7].op, Op::Relu);
}
