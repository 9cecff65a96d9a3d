//! Method plugins (`deepreduce.method/1`) through the C ABI: the form they
//! describe and their steps, as the method host sees them.

mod common;

use deepreduce_app::engine::backend::{BackendChoice, select};
use deepreduce_app::engine::pipeline::method::MethodChoice;
use deepreduce_app::engine::pipeline::{
    PipelineConfig, PipelineError, PipelineEvent, Runner, create,
};
use deepreduce_app::engine::plugin_host::{Cause, PluginHost};
use deepreduce_app::engine::store::{PipelineStatus, RunRole, RunStatus, Store};
use deepreduce_plugin_api::reduction::{Role, StepInput, StepOutput, check_step};
use deepreduce_plugin_api::testing::resnet_like;
use deepreduce_plugin_api::{Network, analyze};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

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

/// A small ResNet18 on the built-in data, trained one short epoch, by
/// `method`.
fn config(method: &str, params: serde_json::Value) -> PipelineConfig {
    PipelineConfig {
        method: Some(MethodChoice {
            id: method.into(),
            params,
        }),
        ..common::pipeline_config(1)
    }
}

/// Runs pipeline `id`, cancelling it when `stop_at` says so of an event;
/// returns how it ended and the keys of the runs it trained (not those it
/// found finished).
fn run(
    host: &PluginHost,
    db: &Path,
    id: i64,
    stop_at: impl Fn(&PipelineEvent) -> bool + Send + 'static,
) -> (Result<(), PipelineError>, Vec<String>) {
    let backend = select(BackendChoice::Flex);
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let listener = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            let mut trained = Vec::new();
            for event in rx {
                if stop_at(&event) {
                    cancel.store(true, Ordering::Relaxed);
                }
                if let PipelineEvent::RunFinished {
                    key,
                    retrained: true,
                    ..
                } = event
                {
                    trained.push(key);
                }
            }
            trained
        })
    };
    let runner = Runner {
        host,
        store_path: db.to_path_buf(),
        backend: &backend,
        events: Some(tx),
        cancel: Some(&cancel),
    };
    let result = runner.run(id);
    drop(runner);
    (result, listener.join().unwrap())
}

fn finished(key: &str) -> impl Fn(&PipelineEvent) -> bool + Send + 'static {
    let key = key.to_string();
    move |e| matches!(e, PipelineEvent::RunFinished { key: k, .. } if *k == key)
}

#[test]
fn the_snl_method_reaches_its_budgets_exactly_and_resumes_without_retraining() {
    let _serial = common::serial();
    let host = common::host();
    let dir = common::temp_dir("snl-pipeline");
    let db = dir.join("runs.db");
    let cfg = config(SNL, json!({"budgets": [1000, 3000]}));
    let id = create(&Store::open(&db).unwrap(), &cfg).unwrap();

    // Stopped once the first gate learning finished.
    let (stopped, first) = run(&host, &db, id, finished("gates:1000"));
    assert!(
        matches!(stopped, Err(PipelineError::Cancelled)),
        "{stopped:?}"
    );
    assert_eq!(first[..2], ["baseline", "gates:1000"]);
    let store = Store::open(&db).unwrap();
    assert_eq!(
        store.pipeline(id).unwrap().unwrap().status,
        PipelineStatus::Cancelled
    );

    // The replay trains only what was not finished.
    let (resumed, second) = run(&host, &db, id, |_| false);
    resumed.unwrap();
    assert!(!second.contains(&"baseline".to_string()), "{second:?}");
    assert!(!second.contains(&"gates:1000".to_string()), "{second:?}");
    let mut all: Vec<String> = first.into_iter().chain(second).collect();
    all.sort();
    assert_eq!(
        all,
        [
            "baseline",
            "finetune:1000",
            "finetune:3000",
            "gates:1000",
            "gates:3000"
        ],
        "each run trained once"
    );

    let row = store.pipeline(id).unwrap().unwrap();
    assert_eq!(row.status, PipelineStatus::Completed);
    let candidates = store.pipeline_candidates(id).unwrap().unwrap();
    let keys: Vec<&str> = candidates
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["finetune:1000", "finetune:3000"]);
    for (key, budget) in [
        ("gates:1000", 1000),
        ("finetune:1000", 1000),
        ("finetune:3000", 3000),
    ] {
        let run = store.run_by_key(id, key).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Completed, "{key}");
        let network: Network = serde_json::from_value(run.network).unwrap();
        assert_eq!(analyze(&network).unwrap().total.relus, budget, "{key}");
        assert_eq!(run.relus, budget, "{key}");
    }
    // The fine-tuning trained the mask the gates learned.
    let gates = store.run_by_key(id, "gates:1000").unwrap().unwrap();
    let finetune = store.run_by_key(id, "finetune:1000").unwrap().unwrap();
    assert_eq!(gates.network, finetune.network);

    // `results --json` names the method and lists the candidates.
    let out = common::cli(&[
        "results",
        &id.to_string(),
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results["method"], SNL);
    let candidates: Vec<(u64, &str)> = results["networks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "candidate")
        .map(|n| (n["relus"].as_u64().unwrap(), n["status"].as_str().unwrap()))
        .collect();
    assert_eq!(candidates, [(1000, "completed"), (3000, "completed")]);
}

fn hostile_host() -> PluginHost {
    let mut host = common::host();
    let file = common::build_dir().join(format!(
        "libhostile_method.{}",
        std::env::consts::DLL_EXTENSION
    ));
    host.load(&file)
        .expect("the hostile method fixture is built");
    host
}

/// Runs the hostile method in `mode` to its end; returns the pipeline's
/// error as the store recorded it.
fn hostile(mode: &str, stop_at: impl Fn(&PipelineEvent) -> bool + Send + Copy + 'static) -> String {
    let host = hostile_host();
    let dir = common::temp_dir(&format!("hostile-{mode}"));
    let db = dir.join("runs.db");
    let id = create(
        &Store::open(&db).unwrap(),
        &config("org.test.hostile-method", json!({ "mode": mode })),
    )
    .unwrap();
    let mut result = run(&host, &db, id, stop_at).0;
    if matches!(result, Err(PipelineError::Cancelled)) {
        result = run(&host, &db, id, |_| false).0;
    }
    let error = result.expect_err("a hostile method fails").to_string();
    let row = Store::open(&db).unwrap().pipeline(id).unwrap().unwrap();
    assert_eq!(row.status, PipelineStatus::Failed);
    assert_eq!(row.error.as_deref(), Some(error.as_str()));
    error
}

#[test]
fn a_method_that_misbehaves_stops_its_pipeline_with_the_reason() {
    let _serial = common::serial();
    let never = |_: &PipelineEvent| false;
    assert_eq!(
        hostile("loop", never),
        "method org.test.hostile-method: asks again for 'baseline', which it already asked \
         for: a method must move on"
    );
    assert_eq!(
        hostile("unknown-init", never),
        "method org.test.hostile-method: request 'warm': init_from 'nowhere' is not a \
         completed run of this pipeline"
    );
    let garbage = hostile("garbage", never);
    assert!(
        garbage.starts_with("method org.test.hostile-method: request 'broken': invalid network"),
        "{garbage}"
    );
    // Stopped during its baseline, it asks for the baseline differently.
    let started = |e: &PipelineEvent| matches!(e, PipelineEvent::RunStarted { .. });
    assert_eq!(
        hostile("fickle", started),
        "method org.test.hostile-method: asked for 'baseline' differently than before the \
         stop: a method must give the same answer to the same history"
    );
}

#[test]
fn a_method_and_its_parameters_are_checked_before_anything_is_stored() {
    let host = common::host();
    let choice = |id: &str, params| MethodChoice {
        id: id.into(),
        params,
    };
    assert!(choice(SNL, json!({"budgets": [10]})).check(&host).is_ok());
    let refused = |c: MethodChoice| c.check(&host).unwrap_err().to_string();
    assert_eq!(
        refused(choice(SNL, json!({"budget": 10}))),
        "SNL has no parameter 'budget' (it has: budgets, granularity, dropped)"
    );
    assert!(refused(choice("org.deepreduce.cull", json!(null))).contains("optimization"));
    assert!(refused(choice("org.nowhere", json!(null))).contains("org.nowhere"));
}

#[test]
fn the_plugins_command_shows_a_methods_parameters() {
    let out = common::cli(&["plugins"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("budgets: a list of whole numbers >= 0, default [1000]"),
        "{text}"
    );
    let out = common::cli(&["plugins", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let snl = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == SNL)
        .expect("listed");
    assert_eq!(snl["kind"], "method");
    assert_eq!(
        snl["method"]["params"][1]["options"],
        json!(["pixel", "channel"])
    );
}

const DEEPREDUCE: &str = "org.deepreduce.method.deepreduce";

/// The runs the hard-coded DeepReDuce pipeline planned, with the results it
/// recorded (written by that code path before the method was a plugin).
fn hard_coded_plan() -> (PipelineConfig, Vec<serde_json::Value>) {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/deepreduce-pipeline-plan.json")).unwrap();
    let cfg = serde_json::from_value(fixture["pipeline_config"].clone()).unwrap();
    (cfg, fixture["runs"].as_array().unwrap().clone())
}

/// The full-ReLU network of `cfg` on the built-in data.
fn baseline_of(cfg: &PipelineConfig) -> Network {
    let spec = deepreduce_app::engine::network::NetworkSpec {
        blocks: cfg.blocks.clone(),
        width: cfg.width,
        ..common::small_resnet(&cfg.dataset, cfg.width.unwrap())
    };
    common::network(&spec)
}

#[test]
fn the_deepreduce_method_plans_the_runs_the_hard_coded_pipeline_planned() {
    use deepreduce_plugin_api::OptimizationRequest;
    use deepreduce_plugin_api::reduction::{
        Applied, Exchange, Objective, ResultStatus, TrainingResult,
    };
    let (cfg, expected) = hard_coded_plan();
    assert_eq!(
        cfg.method, None,
        "a pipeline stored before methods were plugins"
    );
    let host = common::host();
    let method = host
        .get(DEEPREDUCE)
        .expect("the DeepReDuce method is built in");
    let choice = cfg.method_choice();
    assert_eq!(choice.id, DEEPREDUCE);
    let params = method
        .describe_method()
        .unwrap()
        .resolve_params(&choice.params)
        .unwrap();
    let baseline = baseline_of(&cfg);
    let (mut history, mut applied) = (Vec::<Exchange>::new(), Vec::<Applied>::new());
    let mut planned = Vec::new();
    let candidates = loop {
        let input = StepInput {
            params: params.clone(),
            baseline: baseline.clone(),
            history: history.clone(),
            applied: applied.clone(),
        };
        let output = method.step(&input).unwrap();
        check_step(&output, &history, &applied).unwrap();
        match output {
            StepOutput::Train { requests } => {
                for request in requests {
                    let key = &request.key;
                    let old = expected
                        .iter()
                        .find(|r| r["key"] == json!(key))
                        .unwrap_or_else(|| panic!("'{key}' was not planned before"));
                    let network = serde_json::to_value(&request.network).unwrap();
                    assert_eq!(network, old["network"], "{key}");
                    let relus = analyze(&request.network).unwrap().total.relus;
                    assert_eq!(json!(relus), old["relus"], "{key}");
                    assert_eq!(json!(RunRole::from(request.role)), old["role"], "{key}");
                    assert_eq!(json!(request.stage), old["stage"], "{key}");
                    let kd = matches!(request.recipe.objective, Objective::Distillation { .. });
                    assert_eq!(json!(kd), old["kd"], "{key}");
                    let status: ResultStatus =
                        serde_json::from_value(old["status"].clone()).unwrap();
                    history.push(Exchange {
                        result: TrainingResult {
                            key: key.clone(),
                            status,
                            epoch_accuracies: vec![old["accuracy"].as_f64().unwrap()],
                            accuracy: old["accuracy"].as_f64(),
                            relus,
                            polys: 0,
                            network: request.network.clone(),
                            learned: None,
                            error: None,
                        },
                        request: request.clone(),
                    });
                    planned.push(request.key);
                }
            }
            StepOutput::Apply { requests } => {
                for request in requests {
                    let candidates = host
                        .get(&request.plugin)
                        .unwrap()
                        .apply(&OptimizationRequest {
                            network: request.network.clone(),
                            params: request.params.clone(),
                            context: request.context.clone(),
                        })
                        .unwrap();
                    applied.push(Applied {
                        request,
                        candidates,
                    });
                }
            }
            StepOutput::Done { candidates } => break candidates,
        }
    };
    let before: Vec<&str> = expected
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(planned, before, "the same runs in the same order");
    assert_eq!(candidates.len(), 16, "the baseline and 15 candidates");
}

#[test]
fn a_store_written_before_methods_were_plugins_resumes_under_the_deepreduce_method() {
    let _serial = common::serial();
    let host = common::host();
    let (cfg, old_runs) = hard_coded_plan();
    let db = common::temp_dir("old-store").join("runs.db");
    let id = create(&Store::open(&db).unwrap(), &cfg).unwrap();
    // The old pipeline trained the baseline, planned the stage-only
    // networks and was stopped: its runs carry no method request.
    let (stopped, trained) = run(&host, &db, id, finished("baseline"));
    assert!(
        matches!(stopped, Err(PipelineError::Cancelled)),
        "{stopped:?}"
    );
    assert_eq!(trained[0], "baseline");
    let store = Store::open(&db).unwrap();
    for old in old_runs.iter().filter(|r| r["stage"].is_string()) {
        store
            .plan_run(&deepreduce_app::engine::store::NewRun {
                pipeline_id: Some(id),
                key: old["key"].as_str().unwrap().into(),
                role: serde_json::from_value(old["role"].clone()).unwrap(),
                stage: old["stage"].as_str().map(str::to_string),
                description: "as the old pipeline planned it".into(),
                network: old["network"].clone(),
                config: json!({ "train": cfg.train, "kd": old["kd"] }),
                plugins: json!([]),
                seed: cfg.train.seed,
                relus: old["relus"].as_u64().unwrap(),
            })
            .unwrap();
    }
    let sql = rusqlite::Connection::open(&db).unwrap();
    sql.execute(
        "UPDATE runs SET config = json_remove(config, '$.request')",
        [],
    )
    .unwrap();
    drop(sql);

    // Resumed, it trains the stage-only networks it finds (recording the
    // method's request with each) and plans the candidates as before.
    let first_candidate = |e: &PipelineEvent| matches!(e, PipelineEvent::RunStarted { key, .. } if key.starts_with("candidate:"));
    let (stopped, trained) = run(&host, &db, id, first_candidate);
    assert!(
        matches!(stopped, Err(PipelineError::Cancelled)),
        "{stopped:?}"
    );
    assert!(!trained.contains(&"baseline".to_string()), "{trained:?}");
    let runs = store.runs(Some(id)).unwrap();
    let keys: Vec<&str> = runs.iter().map(|r| r.key.as_str()).collect();
    let before: Vec<&str> = old_runs
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, before, "the same runs, none twice");
    for run in runs.iter().filter(|r| r.stage.is_some()) {
        assert_eq!(run.status, RunStatus::Completed, "{}", run.key);
        assert!(run.config.get("request").is_some(), "{}", run.key);
        assert!(trained.contains(&run.key), "{} trained once", run.key);
    }
}
