//! `deepreduce measure`: a network's private inference measured in a real
//! two-party framework; prints the report (text or JSON) and keeps it with
//! the run.

use super::network_args::NetworkArgs;
use super::source_args::SourceArgs;
use crate::engine::measure::link::{LAN, WAN};
use crate::engine::measure::{Framework, MeasureRequest, Measured, Report, measure};
use crate::engine::plugin_host::PluginHost;
use std::time::Duration;

#[derive(clap::Args, Debug)]
#[command(group(
    clap::ArgGroup::new("measured")
        .required(true)
        .args(["run", "checkpoint", "random_weights"])
))]
// The network flags name an untrained network only: --arch is required
// with --random-weights, not otherwise.
#[command(mut_arg("arch", |arg| arg.required(false)))]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
    /// Measure the network the --arch... flags name, with the weights
    /// training would start from and noise images: its cost without
    /// training it (cost does not depend on weight values).
    #[arg(long, requires = "arch")]
    random_weights: bool,
    #[command(flatten)]
    network: Option<NetworkArgs>,
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
    /// The dataset whose first test images are the input (default: the
    /// run's; noise for --random-weights).
    #[arg(long, value_name = "DATASET")]
    test_images: Option<String>,
    /// Print the whole report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let measured = match (&args.network, args.random_weights) {
        (Some(network), true) => Measured::Untrained {
            network: network.build(host)?.0,
            seed: 0,
            // Kept for `deepreduce calibrate`.
            db: Some(args.source.db()),
        },
        (Some(_), false) => {
            return Err("the network flags (--arch, --keep...) name an untrained network: add --random-weights".into());
        }
        (None, _) => Measured::Trained(args.source.source()),
    };
    let request = MeasureRequest {
        measured,
        framework: args.framework,
        batch: args.batch,
        repeat: args.repeat,
        test_images: args.test_images.clone(),
        timeout: Duration::from_secs(args.timeout),
    };
    let report = measure(host, &request).map_err(|e| e.to_string())?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("a report serialises")
        );
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &Report) {
    println!("{} {} ({})", r.framework, r.version, r.protocol);
    println!("security: {}", r.security);
    println!("weights: {}; input: {}", r.weights, r.input);
    println!(
        "batch {}: online {:.3} s (median of {}), one-time setup {:.3} s",
        r.batch, r.online_seconds, r.repeat, r.setup_seconds
    );
    println!(
        "communication: {} bytes, {} {}",
        r.bytes, r.rounds, r.rounds_named
    );
    for link in [LAN, WAN] {
        println!(
            "  over a {}: {:.3} s online (model)",
            link.name,
            link.online_seconds(r)
        );
    }
    for (op, bytes) in r.bytes_by_op() {
        let share = 100.0 * bytes as f64 / r.bytes.max(1) as f64;
        println!("  {op:<18} {bytes:>14} bytes  {share:5.1}%");
    }
    println!(
        "revealed logits against the plaintext forward: max |diff| {:.2e}, top-1 agreement {:.1}%",
        r.max_abs_diff,
        100.0 * r.top1_agreement
    );
}
