//! `deepreduce calibrate`: a framework's latency model fitted to the
//! measurements in the run store; prints the constants, each measured
//! network against the model, and writes the calibration a measured-latency
//! plugin compiles in.

use crate::engine::atomic_write::Staged;
use crate::engine::calibrate::calibrate;
use crate::engine::measure::Framework;
use crate::engine::store::default_db;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Framework::Cheetah)]
    framework: Framework,
    /// The run store; default $DEEPREDUCE_DB or ~/.local/share/deepreduce/runs.db.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Write the fit (constants and points) here as JSON, e.g.
    /// plugins/latency-cheetah/calibration.json (rebuild to use it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the fit as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<(), String> {
    let db = args.db.clone().unwrap_or_else(default_db);
    let fitted = calibrate(&db, args.framework).map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&fitted).expect("a fit serialises");
    if let Some(out) = &args.out {
        let mut staged = Staged::default();
        staged
            .write(out, format!("{text}\n").as_bytes())
            .and_then(|()| staged.commit())
            .map_err(|e| e.to_string())?;
    }
    if args.json {
        println!("{text}");
        return Ok(());
    }
    let c = &fitted.calibration;
    println!("{} ({}): {}", c.framework, c.protocol, c.source);
    println!(
        "bytes: {:.1} per ReLU or comparison; linear layers {:.2} per element, {:.2} per weight, {:.4} per MAC, {:.0} per layer",
        c.bytes_per_comparison,
        c.bytes_per_linear_element,
        c.bytes_per_weight,
        c.bytes_per_mac,
        c.bytes_per_linear_layer
    );
    println!(
        "rounds: {:.1} per ReLU layer, {:.1} per linear layer",
        c.rounds_per_relu_layer, c.rounds_per_linear_layer
    );
    println!(
        "loopback seconds: {:.3e} per ReLU, {:.3e} per MAC, {:.3e} per round",
        c.seconds_per_comparison, c.seconds_per_mac, c.seconds_per_round
    );
    for line in fitted.lines() {
        println!("  {line}");
    }
    println!(
        "largest error: bytes {:.1}%, online seconds {:.1}%",
        100.0 * fitted.max_bytes_error,
        100.0 * fitted.max_seconds_error
    );
    Ok(())
}
