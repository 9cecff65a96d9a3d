//! The headless command line: the same engine as the GUI.

mod bench;
mod calibrate;
mod count;
mod executor_args;
mod export;
mod measure;
mod network_args;
mod pipeline;
mod plugin_timeout;
mod plugins;
mod run_job;
mod source_args;
mod train;
mod train_args;
mod train_bar;

use crate::engine::plugin_host::{HostOptions, PluginDir, PluginHost, plugin_dirs};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "deepreduce",
    version,
    about = "DeepReDuce workbench: ReLU reduction for private inference"
)]
pub struct Cli {
    /// Also load every plugin library in this folder (repeatable).
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    pub plugin_dirs: Vec<PathBuf>,

    /// Run this plugin (by id) without the sandbox, still in its own
    /// process: for a plugin you trust that needs files or the network
    /// (repeatable).
    #[arg(long = "trust-plugin", global = true, value_name = "ID")]
    pub trusted_plugins: Vec<String>,

    /// How long a plugin may take, in seconds: `SECS` for every call,
    /// `METHOD=SECS` for one kind of call (e.g.
    /// `deepreduce.method/1:step=120`), `start=SECS` to load (repeatable;
    /// default 30).
    #[arg(
        long = "plugin-timeout",
        global = true,
        value_name = "[METHOD=]SECS",
        value_parser = plugin_timeout::parse
    )]
    pub plugin_timeouts: Vec<plugin_timeout::PluginTimeout>,

    /// Open the workbench on this panel (without a command).
    #[cfg(feature = "gui")]
    #[arg(long, value_enum)]
    pub panel: Option<crate::gui::settings::Tab>,

    /// Without a command the workbench window opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every plugin found: id, kind, version, file and load status.
    Plugins(plugins::Args),
    /// Build a network through the plugins and count its ReLUs, FLOPs and parameters.
    Count(count::Args),
    /// Train one network through the engine, with a progress bar and a final JSON line.
    Train(train::Args),
    /// Training-step throughput of ResNet18-CIFAR here and in PyTorch, with the ratio.
    Bench(bench::Args),
    /// Run (or resume) the whole DeepReDuce pipeline, recording everything in the run store.
    Pipeline(Box<pipeline::Args>),
    /// Print a pipeline's networks: ReLUs, accuracy, accuracy per kilo-ReLU, latency, Pareto flag.
    Results(pipeline::ResultsArgs),
    /// Export a trained network (ONNX, safetensors or burn) with a manifest of its ReLUs.
    Export(export::Args),
    /// Measure a network's private inference in a real two-party framework (Cheetah, CrypTen).
    Measure(measure::Args),
    /// Fit a framework's latency model to the measurements in the run store.
    Calibrate(calibrate::Args),
    /// Run one training from a job spec (what a cluster node runs; never opens the run store).
    RunJob(run_job::Args),
}

/// Runs a parsed command; the error is printed by `main`.
pub fn run(cli: Cli) -> Result<(), String> {
    let host = load_plugins(&cli);
    let Some(command) = cli.command else {
        #[cfg(feature = "gui")]
        return crate::gui::run(host, cli.panel);
        #[cfg(not(feature = "gui"))]
        return Err("this build has no window (built without the `gui` feature); run `deepreduce --help` for the commands".into());
    };
    match command {
        Command::Plugins(args) => plugins::run(&host, &args),
        Command::Count(args) => count::run(&host, &args),
        Command::Train(args) => train::run(&host, &args),
        Command::Bench(args) => bench::run(&host, &args),
        Command::Pipeline(args) => pipeline::run(&host, &args),
        Command::Results(args) => pipeline::show_results(&args),
        Command::Export(args) => export::run(&host, &args),
        Command::Measure(args) => measure::run(&host, &args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::RunJob(args) => run_job::run(&host, &args),
    }
}

fn load_plugins(cli: &Cli) -> PluginHost {
    let mut dirs = plugin_dirs();
    dirs.extend(cli.plugin_dirs.iter().map(|p| PluginDir {
        path: p.clone(),
        built_in_only: false,
    }));
    let mut options = HostOptions {
        trusted: cli.trusted_plugins.iter().cloned().collect(),
        ..HostOptions::default()
    };
    for timeout in &cli.plugin_timeouts {
        timeout.apply(&mut options.timeouts);
    }
    PluginHost::discover_with(&dirs, options)
}
