//! `deepreduce run-job DIR/spec.json`: one training from a self-contained
//! spec, its files written beside the spec (what a cluster node runs; see
//! `engine::job`).

use crate::engine::job;
use crate::engine::plugin_host::PluginHost;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The job's spec; checkpoints, epochs and the result go to its folder.
    spec: PathBuf,
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let executed = job::run(host, &args.spec).map_err(|e| e.to_string())?;
    eprintln!(
        "{}: {:?} after {} epochs, test accuracy {}",
        args.spec.display(),
        executed.status,
        executed.epochs_done,
        executed
            .accuracy
            .map_or("-".into(), |a| format!("{:.2}%", a * 100.0))
    );
    Ok(())
}
