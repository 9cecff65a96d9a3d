//! `deepreduce export`: a trained network to ONNX, safetensors or burn's
//! record, with its ReLU manifest; prints the export report as JSON.

use super::source_args::SourceArgs;
use crate::engine::export::{ExportRequest, Format, export};
use crate::engine::plugin_host::PluginHost;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("exported").required(true).args(["run", "checkpoint"])))]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
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
    /// Dataset for the manifest's normalisation constants (default: the run's pipeline dataset).
    #[arg(long)]
    dataset: Option<String>,
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let source = args.source.source();
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
