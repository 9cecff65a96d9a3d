//! `deepreduce measure`: a trained network's private inference measured in
//! a real two-party framework; prints the report (text or JSON) and keeps
//! it with the run.

use super::source_args::SourceArgs;
use crate::engine::measure::{Framework, MeasureRequest, measure};
use crate::engine::plugin_host::PluginHost;
use serde_json::Value;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
    #[arg(long, value_enum, default_value_t = Framework::Cheetah)]
    framework: Framework,
    /// Test images in the input owner's batch.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Online forwards; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Stop the measurement after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
    /// The dataset whose test images are the input (default: the run's).
    #[arg(long)]
    dataset: Option<String>,
    /// Print the framework's whole report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let source = args.source.source();
    let request = MeasureRequest {
        source,
        framework: args.framework,
        batch: args.batch,
        repeat: args.repeat,
        dataset: args.dataset.clone(),
        timeout: Duration::from_secs(args.timeout),
    };
    let report = measure(host, &request).map_err(|e| e.to_string())?;
    if args.json {
        println!("{report}");
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &Value) {
    let text = |key: &str| r[key].as_str().unwrap_or("?").to_string();
    let number = |key: &str| r[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "{} {} ({})",
        text("framework"),
        text("version"),
        text("protocol")
    );
    println!("security: {}", text("security"));
    println!(
        "batch {}: online {:.3} s (median of {}), one-time setup {:.3} s",
        r["batch"],
        number("online_seconds"),
        r["repeat"],
        number("setup_seconds")
    );
    println!(
        "communication: {} bytes, {} {}",
        r["bytes"],
        r["rounds"],
        text("rounds_named")
    );
    println!(
        "revealed logits against the plaintext forward: max |diff| {:.2e}, top-1 agreement {:.1}%",
        number("max_abs_diff"),
        100.0 * number("top1_agreement")
    );
}
