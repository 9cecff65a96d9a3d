//! `deepreduce export`: a trained network to ONNX, safetensors or burn's
//! record, with its ReLU manifest; prints the export report as JSON.

use crate::engine::export::{ExportRequest, Format, Source, export};
use crate::engine::plugin_host::PluginHost;
use crate::engine::store::default_db;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["run", "checkpoint"])))]
pub struct Args {
    /// A run of the run store (ids as in `deepreduce results`).
    #[arg(long)]
    run: Option<i64>,
    /// A trained network: a `train --out` folder or its model.bpk.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    #[arg(long, value_enum)]
    format: Format,
    /// The model file (onnx, safetensors) or folder (burn); the manifest goes beside it.
    #[arg(long)]
    out: PathBuf,
    /// Replace files that exist already (never the source checkpoint or the run store).
    #[arg(long)]
    force: bool,
    /// Fold each BatchNorm into the convolution before it.
    #[arg(long)]
    fold_bn: bool,
    /// Merge convolutions left adjacent by a dropped ReLU, where exact (implies --fold-bn).
    #[arg(long)]
    merge_convs: bool,
    /// The run store (SQLite) for --run; default $DEEPREDUCE_DB or ~/.local/share/deepreduce/runs.db.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Dataset for the manifest's normalisation constants (default: the run's pipeline dataset).
    #[arg(long)]
    dataset: Option<String>,
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let source = match (&args.run, &args.checkpoint) {
        (Some(id), _) => Source::Run {
            id: *id,
            db: args.db.clone().unwrap_or_else(default_db),
        },
        (None, Some(path)) => Source::Checkpoint(path.clone()),
        (None, None) => unreachable!("clap requires --run or --checkpoint"),
    };
    let request = ExportRequest {
        fold_bn: args.fold_bn,
        merge_convs: args.merge_convs,
        dataset: args.dataset.clone(),
        force: args.force,
        ..ExportRequest::new(source, args.format, &args.out)
    };
    let report = export(host, &request).map_err(|e| e.to_string())?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "{}",
        serde_json::to_string(&report).expect("report serialises")
    );
    Ok(())
}
