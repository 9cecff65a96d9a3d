//! `deepreduce train`: one network, trained with a progress bar, ending
//! with one JSON line of results.

use super::network_args::NetworkArgs;
use super::train_args::TrainArgs;
use super::train_bar::TrainBar;
use crate::engine::backend::select;
use crate::engine::plugin_host::PluginHost;
use crate::engine::run::{Models, RunEnv, RunFolder, RunSpec, TEACHER, execute};
use crate::engine::train::{Status, TrainEvent};
use deepreduce_plugin_api::analyze;
use indicatif::ProgressBar;
use serde_json::json;
use std::path::PathBuf;
use std::sync::mpsc;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    training: TrainArgs,
    /// Distil from this trained full-ReLU network (a `train --out` folder or its model.bpk).
    #[arg(long, value_name = "CHECKPOINT")]
    kd_teacher: Option<PathBuf>,
    /// Folder for the trained network (network.json with its masks, model.bpk) and checkpoints.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let (net, description) = args.network.build(host)?;
    let totals = analyze(&net).map_err(|e| e.to_string())?.total;
    let relus = totals.relus;
    let data = deepreduce_datasets::open(&args.network.dataset).map_err(|e| e.to_string())?;
    let backend = select(args.training.backend);
    eprintln!(
        "{description}: {relus} ReLUs, training on {} with {}",
        data.info.name, backend.label
    );

    let teacher = args
        .kd_teacher
        .iter()
        .map(|path| (TEACHER.to_string(), path.clone()));
    let models = Models::load(host, &backend, teacher, args.kd_teacher.is_some())
        .map_err(|e| format!("--kd-teacher: {e}"))?;
    let spec = RunSpec {
        network: &net,
        train: args.training.config(&args.network.dataset),
        teacher: args.kd_teacher.as_ref().map(|_| TEACHER),
        init_from: None,
        gates: None,
    };
    // `--out` holds the final weights themselves, its checkpoints beside.
    let folder = RunFolder {
        checkpoints: args.out.as_ref().map(|d| d.join("checkpoints")),
        weights: args.out.clone(),
    };

    let (tx, rx) = mpsc::channel();
    let progress = std::thread::spawn(move || show_progress(rx));
    let env = RunEnv {
        host,
        backend: &backend,
        events: Some(&tx),
        cancel: None,
    };
    let outcome = execute(&env, &spec, &data, &models, &folder, None);
    drop(tx);
    let _ = progress.join();
    let outcome = outcome.map_err(|e| e.to_string())?;
    let mut summary = json!({
        "accuracy": outcome.accuracy,
        "relus": relus,
        "polys": totals.polys,
        "epochs": outcome.epochs_done,
        "wall_seconds": outcome.seconds,
        "description": description,
        "backend": backend.label,
        "out": args.out,
        "latency": outcome.latency,
        "inference_ms_per_image": outcome.inference_ms,
    });
    // {"status": "completed"} or {"status": "diverged", "epoch": .., "batch": .., "loss": ..}
    if let serde_json::Value::Object(status) = json!(outcome.status) {
        summary.as_object_mut().expect("object").extend(status);
    }
    println!("{summary}");
    match outcome.status {
        Status::Diverged { epoch, batch, loss } => Err(format!(
            "training diverged: loss {loss} at epoch {epoch}, batch {batch}; try a lower --lr"
        )),
        Status::DivergedInEvaluation { epoch, images } => Err(format!(
            "training diverged: after epoch {epoch} the evaluation gave non-finite logits for \
             {images} test images; try a lower --lr"
        )),
        _ => Ok(()),
    }
}

/// Draws a progress bar from training events (on stderr, so stdout stays JSON).
fn show_progress(rx: mpsc::Receiver<TrainEvent>) {
    let mut bar = TrainBar::new(ProgressBar::new(0));
    for event in rx {
        match event {
            TrainEvent::Started {
                epochs,
                batches_per_epoch,
                start_epoch,
            } => {
                bar.started(((epochs - start_epoch) * batches_per_epoch) as u64);
                bar.bar.set_prefix(format!("epoch {}", start_epoch + 1));
            }
            TrainEvent::Batch {
                epoch,
                loss,
                images_per_second,
                ..
            } => {
                bar.bar.set_prefix(format!("epoch {epoch}"));
                bar.batch(format!("loss {loss:.3}, {images_per_second:.0} img/s"));
            }
            // `suspend` prints whether or not the bar is drawn (it is not when stderr is no terminal).
            TrainEvent::Epoch(m) => bar.bar.suspend(|| {
                eprintln!(
                    "epoch {}: train loss {:.3}, train acc {:.1}%, test acc {:.2}%, lr {:.4}, {:.1} s",
                    m.epoch, m.train_loss, m.train_accuracy, m.test_accuracy, m.lr, m.seconds
                )
            }),
        }
    }
    bar.bar.finish_and_clear();
}
