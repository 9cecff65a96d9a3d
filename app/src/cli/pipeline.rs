//! `deepreduce pipeline`: the whole method with a progress display, and
//! `deepreduce results`: a pipeline's networks as a table, JSON or CSV.

use super::executor_args::ExecutorArgs;
use super::train_args::TrainArgs;
use super::train_bar::TrainBar;
use crate::engine::backend::select;
use crate::engine::pipeline::method::MethodChoice;
use crate::engine::pipeline::{PipelineConfig, PipelineEvent, Runner, create, results::results};
use crate::engine::plugin_host::PluginHost;
use crate::engine::store::{Store, default_db};
use crate::engine::train::TrainEvent;
use indicatif::{MultiProgress, ProgressBar};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Architecture variant (not needed with --resume).
    #[arg(long, required_unless_present = "resume")]
    arch: Option<String>,
    #[arg(long, default_value = "synthetic")]
    dataset: String,
    #[arg(long, value_delimiter = ',')]
    blocks: Option<Vec<usize>>,
    #[arg(long)]
    width: Option<usize>,
    #[command(flatten)]
    training: TrainArgs,
    /// Trainings at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Also train each stage-only network without KD.
    #[arg(long)]
    criticality_without_kd: bool,
    /// Retrain without knowledge distillation (the method uses it).
    #[arg(long)]
    no_kd: bool,
    /// Add the candidates of this optimization plugin (its id; repeatable).
    #[arg(long = "with-plugin", value_name = "ID")]
    extra_plugins: Vec<String>,
    /// Follow this method plugin (its id, e.g. org.deepreduce.method.snl)
    /// instead of DeepReDuce's phases.
    #[arg(long, value_name = "ID")]
    method: Option<String>,
    /// The method's parameters, a JSON object (see `deepreduce plugins`).
    #[arg(long, value_name = "JSON", requires = "method")]
    method_params: Option<String>,
    /// The run store (SQLite); default $DEEPREDUCE_DB or ~/.local/share/deepreduce/runs.db.
    #[arg(long)]
    db: Option<PathBuf>,
    #[command(flatten)]
    executor: ExecutorArgs,
    /// Continue pipeline ID where it stopped.
    #[arg(long, value_name = "ID")]
    resume: Option<i64>,
}

/// The method of `--method` with its `--method-params`, checked against
/// the form the plugin describes before anything is stored.
fn method_choice(host: &PluginHost, args: &Args) -> Result<Option<MethodChoice>, String> {
    let Some(id) = &args.method else {
        return Ok(None);
    };
    let params = match &args.method_params {
        Some(text) => {
            serde_json::from_str(text).map_err(|e| format!("--method-params is not JSON: {e}"))?
        }
        None => serde_json::Value::Null,
    };
    let choice = MethodChoice {
        id: id.clone(),
        params,
    };
    choice.check(host).map_err(|e| e.to_string())?;
    Ok(Some(choice))
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let db = args.db.clone().unwrap_or_else(default_db);
    let store = Store::open(&db).map_err(|e| e.to_string())?;
    let id = match (args.resume, &args.arch) {
        (Some(id), _) => id,
        (None, Some(arch)) => {
            let method = method_choice(host, args)?;
            let cfg = PipelineConfig {
                arch: arch.clone(),
                dataset: args.dataset.clone(),
                blocks: args.blocks.clone(),
                width: args.width,
                train: args.training.config(&args.dataset),
                criticality_without_kd: args.criticality_without_kd,
                extra_plugins: args.extra_plugins.clone(),
                kd: !args.no_kd,
                jobs: args.jobs,
                method,
                executor: args.executor.executor()?,
            };
            create(&store, &cfg).map_err(|e| e.to_string())?
        }
        (None, None) => return Err("give --arch, or --resume ID".into()),
    };
    drop(store);
    let backend = select(args.training.backend);
    eprintln!("pipeline {id} in {} on {}", db.display(), backend.label);
    let (tx, rx) = mpsc::channel();
    let display = std::thread::spawn(move || show_progress(rx));
    let runner = Runner {
        host,
        store_path: db.clone(),
        backend: &backend,
        events: Some(tx),
        cancel: None,
    };
    let outcome = runner.run(id);
    drop(runner);
    let _ = display.join();
    outcome.map_err(|e| {
        format!(
            "pipeline {id}: {e} (continue with `deepreduce pipeline --resume {id} --db {}`)",
            db.display()
        )
    })?;
    println!(
        "pipeline {id} completed; see `deepreduce results {id} --db {}`",
        db.display()
    );
    Ok(())
}

fn show_progress(rx: mpsc::Receiver<PipelineEvent>) {
    let multi = MultiProgress::new();
    let mut bars: HashMap<String, TrainBar> = HashMap::new();
    let say = |line: String| {
        let _ = multi.println(&line);
        if multi.is_hidden() {
            eprintln!("{line}");
        }
    };
    for event in rx {
        match event {
            PipelineEvent::Step { role, runs } => say(format!("== {} ({runs} runs)", role)),
            PipelineEvent::RunStarted {
                key,
                description,
                index,
                total,
                resumed_from_epoch,
            } => {
                let bar = TrainBar::new(multi.add(ProgressBar::new(0)));
                bar.bar
                    .set_prefix(format!("[{index}/{total}] {description}"));
                if resumed_from_epoch > 0 {
                    say(format!(
                        "[{index}/{total}] {description}: resuming after epoch {resumed_from_epoch}"
                    ));
                }
                bars.insert(key, bar);
            }
            PipelineEvent::Train { key, event } => {
                let Some(bar) = bars.get_mut(&key) else {
                    continue;
                };
                match event {
                    TrainEvent::Started {
                        epochs,
                        batches_per_epoch,
                        start_epoch,
                    } => bar.started(((epochs - start_epoch) * batches_per_epoch) as u64),
                    TrainEvent::Batch { epoch, loss, .. } => {
                        bar.batch(format!("epoch {epoch} loss {loss:.3}"));
                    }
                    TrainEvent::Epoch(_) => {}
                }
            }
            PipelineEvent::RunFinished {
                key,
                description,
                status,
                accuracy,
                retrained,
            } => {
                if let Some(bar) = bars.remove(&key) {
                    bar.bar.finish_and_clear();
                }
                let accuracy = accuracy.map_or("-".to_string(), |a| format!("{a:.2}%"));
                let note = if retrained { "" } else { " (already trained)" };
                say(format!(
                    "   {description}: {status}, accuracy {accuracy}{note}"
                ));
            }
            PipelineEvent::Job { key, id, status } => {
                let reason = status.reason.map_or(String::new(), |r| format!(" ({r})"));
                let line = format!("job {id}: {}{reason}", status.state);
                match bars.get(&key) {
                    Some(bar) => bar.bar.set_message(line),
                    None => say(format!("   {key}: {line}")),
                }
            }
            PipelineEvent::Criticality {
                stages,
                did_not_learn,
            } => {
                let mut order = stages.clone();
                order.sort_by(|a, b| a.1.total_cmp(&b.1));
                let text: Vec<String> =
                    order.iter().map(|(s, c)| format!("{s} ({c:.3})")).collect();
                say(format!(
                    "   criticality, least critical first: {}",
                    text.join(" < ")
                ));
                if !did_not_learn.is_empty() {
                    say(format!("   warning: {}", unreliable_stages(&did_not_learn)));
                }
            }
        }
    }
}

/// Why the ranking of `stages` is not a measurement.
fn unreliable_stages(stages: &[String]) -> String {
    format!(
        "stage-only networks that did not learn (accuracy at chance): {}; their criticality \
         is unreliable (ranked by that accuracy)",
        stages.join(", ")
    )
}

/// A network's `learned` flag in the table: unknown until it is judged.
fn learned_cell(learned: Option<bool>) -> &'static str {
    match learned {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "",
    }
}

#[derive(clap::Args, Debug)]
pub struct ResultsArgs {
    /// Pipeline id.
    id: i64,
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    #[arg(long)]
    csv: bool,
    #[arg(long)]
    db: Option<PathBuf>,
}

pub fn show_results(args: &ResultsArgs) -> Result<(), String> {
    let db = args.db.clone().unwrap_or_else(default_db);
    let store = Store::open(&db).map_err(|e| e.to_string())?;
    let r = results(&store, args.id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no pipeline {} in {}", args.id, db.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("JSON"));
        return Ok(());
    }
    let opt = |v: Option<f64>, digits: usize| v.map_or(String::new(), |x| format!("{x:.digits$}"));
    if args.csv {
        println!(
            "run,role,description,status,relus,accuracy,accuracy_per_kilo_relu,latency_seconds,inference_ms_per_image,learned,pareto"
        );
        for n in &r.networks {
            println!(
                "{},{},\"{}\",{},{},{},{},{},{},{},{}",
                n.run_id,
                n.role,
                n.description,
                n.status,
                n.relus,
                opt(n.accuracy, 2),
                opt(n.accuracy_per_kilo_relu, 4),
                opt(n.latency_seconds, 4),
                opt(n.inference_ms_per_image, 4),
                n.learned.map_or(String::new(), |l| l.to_string()),
                n.pareto
            );
        }
        return Ok(());
    }
    let p = &r.pipeline;
    println!(
        "pipeline {}: {} on {} ({}), method {}",
        p.id,
        p.arch,
        p.dataset,
        p.status,
        r.method
            .as_deref()
            .unwrap_or("unknown (its configuration does not read)")
    );
    if !r.criticality.is_empty() {
        println!("criticality (least critical first):");
        for c in &r.criticality {
            let unreliable = if c.learned == Some(false) {
                "  did not learn: unreliable"
            } else {
                ""
            };
            println!(
                "  {:<4} {:>9} ReLUs  acc {:>6.2}%  C = {:.4}{unreliable}",
                c.stage, c.relus, c.accuracy, c.criticality
            );
        }
        let failed: Vec<String> = r
            .criticality
            .iter()
            .filter(|c| c.learned == Some(false))
            .map(|c| c.stage.clone())
            .collect();
        if !failed.is_empty() {
            println!("warning: {}", unreliable_stages(&failed));
        }
    }
    println!(
        "{:<44} {:>9} {:>8} {:>9} {:>10} {:>10} {:>7} {:>6}",
        "network", "ReLUs", "acc %", "acc/kReLU", "latency s", "infer ms", "learned", "pareto"
    );
    for n in &r.networks {
        println!(
            "{:<44} {:>9} {:>8} {:>9} {:>10} {:>10} {:>7} {:>6}",
            n.description,
            n.relus,
            opt(n.accuracy, 2),
            opt(n.accuracy_per_kilo_relu, 3),
            opt(n.latency_seconds, 3),
            opt(n.inference_ms_per_image, 3),
            learned_cell(n.learned),
            if n.pareto { "*" } else { "" }
        );
    }
    if r.networks.iter().any(|n| n.learned == Some(false)) {
        println!(
            "learned NO: final test and train accuracy within noise of chance; left off the Pareto frontier"
        );
    }
    if !r.jobs.is_empty() {
        println!("cluster jobs:");
        for j in &r.jobs {
            println!(
                "  run {:<4} {:<32} {:<10} job {:<8} {}{} ({} submitted)",
                j.run_id,
                j.key,
                j.status,
                j.job.id,
                j.job.state.as_deref().unwrap_or("?"),
                j.job
                    .reason
                    .as_deref()
                    .map_or(String::new(), |r| format!(": {r}")),
                j.job.submissions
            );
        }
    }
    if let Some(m) = &r.latency_model {
        let constants: Vec<String> = m
            .constants
            .iter()
            .map(|(k, v)| format!("{k} = {v:e}"))
            .collect();
        println!(
            "latency model: {} ({}); source: {}",
            m.name,
            constants.join(", "),
            m.source
        );
    }
    Ok(())
}
