//! The Network panel's model with a ReLU budget: masked layers show their
//! kept fraction, hand edits act on the masked network, and a hand edit
//! reuses the budget's result instead of calling its plugin again.

mod common;

use deepreduce_app::engine::budget::{Budget, DroppedAs};
use deepreduce_app::engine::network::{NetworkSpec, ids};
use deepreduce_app::engine::network_view::{Draft, NetworkView, Recounter};
use deepreduce_app::engine::plugin_host::PluginHost;
use deepreduce_plugin_api::{Granularity, InputSpec, Op};

const CIFAR: InputSpec = InputSpec {
    channels: 3,
    height: 32,
    width: 32,
};

fn budgeted(keep: Option<&[&str]>) -> Draft {
    let mut spec = NetworkSpec::new("resnet18", CIFAR, 100);
    spec.keep = keep.map(|k| k.iter().map(|s| s.to_string()).collect());
    spec.budget = Some(Budget {
        relus: 12_900,
        granularity: Granularity::Pixel,
        dropped: DroppedAs::Identity,
    });
    Draft {
        spec,
        overrides: Default::default(),
    }
}

fn layer<'v>(
    view: &'v NetworkView,
    node: &str,
) -> &'v deepreduce_app::engine::network_view::LayerView {
    view.layers
        .iter()
        .find(|l| l.layer.node == node)
        .expect(node)
}

#[test]
fn masked_layers_show_their_kept_fraction() {
    let host = common::host();
    let view = Recounter::default()
        .recount(&host, &budgeted(None))
        .unwrap();
    assert_eq!(view.relus(), 12_900);
    for row in &view.layers {
        let fraction = row.layer.kept_fraction();
        assert!(row.active() && !row.edited, "{row:?}");
        assert!(
            fraction > 0.02 && fraction < 0.025,
            "{}: {fraction}",
            row.layer.node
        );
        assert_eq!(row.layer.granularity, Some(Granularity::Pixel));
    }
}

#[test]
fn a_masked_layer_switched_off_is_dropped_and_switched_on_again_keeps_its_mask() {
    let host = common::host();
    let mut recounter = Recounter::default();
    let draft = budgeted(None);
    let before = recounter.recount(&host, &draft).unwrap();
    let kept = layer(&before, "s2.b0.relu1").layer.relus;

    let mut off = draft.clone();
    off.overrides.insert("s2.b0.relu1".into(), false);
    let view = recounter.recount(&host, &off).unwrap();
    assert_eq!(
        view.relus(),
        12_900 - kept,
        "the budget is not rerun around an edit"
    );
    let row = layer(&view, "s2.b0.relu1");
    assert!(!row.active() && row.edited && row.layer.relus == 0);
    assert!(view.description.ends_with(", 1 ReLU layer edited by hand"));
    assert_eq!(view.network.node("s2.b0.relu1").unwrap().op, Op::Identity);

    // "On" for a layer the budget masked changes nothing: it keeps its mask.
    let mut on = draft.clone();
    on.overrides.insert("s2.b0.relu1".into(), true);
    let view = recounter.recount(&host, &on).unwrap();
    assert_eq!(view.relus(), 12_900);
    assert!(!layer(&view, "s2.b0.relu1").edited);
    assert_eq!(view.network, before.network);
}

#[test]
fn a_culled_layer_switched_on_is_a_whole_relu_beside_the_budget() {
    let host = common::host();
    let mut draft = budgeted(Some(&["S2", "S3"]));
    draft.overrides.insert("s4.b0.relu1".into(), true);
    let view = Recounter::default().recount(&host, &draft).unwrap();
    let row = layer(&view, "s4.b0.relu1");
    assert!(row.active() && row.edited);
    assert_eq!(row.layer.relus, row.layer.elements, "whole: 512x4x4");
    assert_eq!(view.relus(), 12_900 + 8_192);
}

/// The built-in plugins but the budget.
fn host_without_budget() -> PluginHost {
    let mut host = PluginHost::default();
    for plugin in common::host().plugins() {
        if plugin.descriptor.id != ids::BUDGET {
            host.load(&plugin.path).expect("loaded before");
        }
    }
    host
}

#[test]
fn a_hand_edit_reuses_the_budgets_result() {
    let mut recounter = Recounter::default();
    let draft = budgeted(None);
    recounter.recount(&common::host(), &draft).unwrap();
    let mut edited = draft.clone();
    edited.overrides.insert("s3.b1.relu2".into(), false);
    let without = host_without_budget();
    let view = recounter
        .recount(&without, &edited)
        .expect("no call to the budget plugin");
    assert!(view.relus() < 12_900);
    let mut changed = draft.clone();
    changed.spec.budget.as_mut().unwrap().relus = 10_000;
    let error = recounter.recount(&without, &changed).unwrap_err();
    assert!(error.to_string().contains(ids::BUDGET), "{error}");
}
