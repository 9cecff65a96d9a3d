//! `deepreduce bench`: training-step throughput of ResNet18-CIFAR on the
//! chosen backend next to the same step in PyTorch on the CPU, in one run.

use crate::engine::backend::{BackendChoice, select};
use crate::engine::bench::{median, train_step_throughput};
use crate::engine::network::{NetworkSpec, build_network};
use crate::engine::plugin_host::PluginHost;
use deepreduce_plugin_api::{InputSpec, analyze};
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    /// Timed steps per configuration (after warm-up).
    #[arg(long, default_value_t = 5, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    steps: usize,
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Python with PyTorch (default: the venv of bench/setup-torch.sh, else python3).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Rounds per configuration, the workbench and PyTorch alternating, so
    /// that both see the same machine load; medians are reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// Only these configurations, as WIDTHxBATCH (e.g. 64x32,64x128,16x128).
    #[arg(long, value_delimiter = ',', default_value = "64x32,64x128,16x128")]
    configs: Vec<String>,
}

/// The PyTorch reference script: in the checkout the command runs from, else
/// in the one the binary was built from (a shared target dir may hold a
/// binary built in another clone).
fn torch_script() -> PathBuf {
    let here = PathBuf::from("bench/torch_train_step.py");
    if here.exists() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/torch_train_step.py")
}

fn python(args: &Args) -> PathBuf {
    args.python.clone().unwrap_or_else(|| {
        let venv = std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/deepreduce/bench-venv/bin/python"))
            .filter(|p| p.exists());
        venv.unwrap_or_else(|| PathBuf::from("python3"))
    })
}

/// The same step in PyTorch, or why it could not run.
fn torch(args: &Args, width: usize, batch: usize) -> Result<serde_json::Value, String> {
    let out = Command::new(python(args))
        .arg(torch_script())
        .args(["--width", &width.to_string(), "--batch", &batch.to_string()])
        .args([
            "--steps",
            &args.steps.to_string(),
            "--warmup",
            &args.warmup.to_string(),
            "--json",
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python(args).display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "PyTorch skipped: {} (run bench/setup-torch.sh)",
            stderr.trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("PyTorch printed no JSON ({e}): {stdout}"))
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let backend = select(args.backend);
    println!("backend: {}", backend.label);
    for config in &args.configs {
        let (width, batch) = config
            .split_once('x')
            .and_then(|(w, b)| Some((w.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
            .ok_or_else(|| format!("'{config}' is not WIDTHxBATCH"))?;
        let mut spec = NetworkSpec::new(
            "resnet18",
            InputSpec {
                channels: 3,
                height: 32,
                width: 32,
            },
            100,
        );
        spec.width = Some(width);
        let (net, _) = build_network(host, &spec).map_err(|e| e.to_string())?;
        let params = analyze(&net).map_err(|e| e.to_string())?.total.params;
        let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let mut skipped = None;
        for _ in 0..args.rounds {
            let step = train_step_throughput(&net, &backend.device, batch, args.warmup, args.steps)
                .map_err(|e| e.to_string())?;
            ours.push(step.images_per_second);
            match torch(args, width, batch) {
                Ok(reference) => {
                    let images_per_second =
                        reference["images_per_second"].as_f64().ok_or_else(|| {
                            format!("PyTorch printed no images_per_second: {reference}")
                        })?;
                    theirs.push(images_per_second);
                    ratios.push(step.images_per_second / images_per_second);
                }
                Err(why) => skipped = Some(why),
            }
        }
        let (ours, theirs, ratio) = (median(&mut ours), median(&mut theirs), median(&mut ratios));
        let line = json!({
            "network": format!("resnet18 width {width} (CIFAR-100, {params} params)"),
            "batch": batch,
            "rounds": args.rounds,
            "workbench_images_per_second": ours,
            "pytorch_images_per_second": theirs,
            "ratio_vs_pytorch": ratio,
            "pytorch_skipped": skipped,
        });
        println!("{line}");
        let ours = ours.unwrap_or(0.0);
        match (theirs, ratio) {
            (Some(theirs), Some(ratio)) => println!(
                "  width {width} batch {batch}: {ours:.1} img/s vs PyTorch {theirs:.1} img/s -> {ratio:.2}x{}",
                spread(&ratios)
            ),
            _ => println!(
                "  width {width} batch {batch}: {ours:.1} img/s; {}",
                skipped.unwrap_or_default()
            ),
        }
    }
    Ok(())
}

/// " (median of N rounds, from a to b)" when there was more than one round.
fn spread(ratios: &[f64]) -> String {
    match ratios
        .iter()
        .copied()
        .reduce(f64::min)
        .zip(ratios.iter().copied().reduce(f64::max))
    {
        Some((low, high)) if ratios.len() > 1 => {
            format!(
                " (median of {} rounds, {low:.2}x to {high:.2}x)",
                ratios.len()
            )
        }
        _ => String::new(),
    }
}
