use super::{Kd, SOFT_WEIGHT, TEMPERATURE};
use deepreduce_plugin_api::{OBJECTIVE, OPTIMIZATION, Plugin, PluginKind, TrainingObjective};
use serde_json::json;

fn distillation(temperature: f64, soft_weight: f64) -> TrainingObjective {
    TrainingObjective::Distillation {
        temperature,
        soft_weight,
        teacher: "baseline".into(),
    }
}

#[test]
fn default_recipe_is_the_papers() {
    assert_eq!((TEMPERATURE, SOFT_WEIGHT), (4.0, 0.9));
    for params in [
        json!({}),
        json!(null),
        json!({"temperature": null, "soft_weight": null}),
    ] {
        assert_eq!(Kd.recipe(&params), Ok(distillation(4.0, 0.9)), "{params}");
    }
    assert_eq!(
        Kd.recipe(&json!({"unrelated": 1})),
        Ok(distillation(4.0, 0.9))
    );
}

#[test]
fn the_recipe_serialises_with_its_tag() {
    let text = serde_json::to_string(&Kd.recipe(&json!({})).unwrap()).unwrap();
    assert_eq!(
        text,
        r#"{"objective":"distillation","temperature":4.0,"soft_weight":0.9,"teacher":"baseline"}"#
    );
}

#[test]
fn overrides() {
    assert_eq!(
        Kd.recipe(&json!({"temperature": 2, "soft_weight": 0.5})),
        Ok(distillation(2.0, 0.5))
    );
    assert_eq!(
        Kd.recipe(&json!({"temperature": 8.5})),
        Ok(distillation(8.5, 0.9))
    );
    assert_eq!(
        Kd.recipe(&json!({"soft_weight": 0.0})),
        Ok(distillation(4.0, 0.0))
    );
    assert_eq!(
        Kd.recipe(&json!({"soft_weight": 1})),
        Ok(distillation(4.0, 1.0))
    );
    assert_eq!(
        Kd.recipe(&json!({"temperature": 1e-3})),
        Ok(distillation(1e-3, 0.9))
    );
}

#[test]
fn invalid_values_are_refused() {
    for (params, message) in [
        (
            json!({"temperature": 0}),
            "temperature must be positive, got 0",
        ),
        (
            json!({"temperature": -1.5}),
            "temperature must be positive, got -1.5",
        ),
        (
            json!({"temperature": "hot"}),
            r#"temperature must be a number, got "hot""#,
        ),
        (
            json!({"temperature": [4]}),
            "temperature must be a number, got [4]",
        ),
        (
            json!({"soft_weight": 1.5}),
            "soft_weight must be in [0, 1], got 1.5",
        ),
        (
            json!({"soft_weight": -0.1}),
            "soft_weight must be in [0, 1], got -0.1",
        ),
        (
            json!({"soft_weight": true}),
            "soft_weight must be a number, got true",
        ),
    ] {
        assert_eq!(Kd.recipe(&params), Err(message.to_string()), "{params}");
    }
}

#[test]
fn descriptor_offers_the_objective_capability_only() {
    let d = Kd.descriptor();
    assert_eq!(d.id, "org.deepreduce.kd");
    assert_eq!(d.kind, PluginKind::Optimization);
    assert_eq!(d.capabilities, [OBJECTIVE]);
    assert!(!d.has_capability(OPTIMIZATION));
}

#[test]
fn other_methods_are_unsupported() {
    let net: deepreduce_plugin_api::Network = serde_json::from_value(json!({
        "name": "n", "input": {"channels": 1, "height": 1, "width": 1},
        "nodes": [{"name": "r", "op": "Relu", "inputs": ["input"]}], "output": "r"
    }))
    .unwrap();
    assert_eq!(
        Kd.estimate(&net).unwrap_err(),
        "this plugin does not implement that method"
    );
}
