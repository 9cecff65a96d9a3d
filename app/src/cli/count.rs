//! `deepreduce count`: a network built through the plugins, counted.

use super::network_args::NetworkArgs;
use crate::engine::plugin_host::PluginHost;
use crate::format::group;
use deepreduce_plugin_api::{Analysis, analyze};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    network: NetworkArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let (net, description) = args.network.build(host)?;
    let analysis = analyze(&net).map_err(|e| e.to_string())?;
    let (input, classes) = (net.input, analysis.output.elements());
    let stages = relu_stages(&net, &analysis);
    if args.json {
        let out = json!({
            "relus": analysis.total.relus,
            "stages": stages.iter().cloned().collect::<serde_json::Map<_, _>>(),
            "flops": analysis.total.macs,
            "params": analysis.total.params,
            "description": description,
            "arch": args.network.arch,
            "dataset": args.network.dataset,
            "input": [input.channels, input.height, input.width],
            "classes": classes,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} on {} ({}x{}x{}, {classes} classes): {description}",
        args.network.arch, args.network.dataset, input.channels, input.height, input.width
    );
    let total = analysis.total.relus.max(1) as f64;
    for (stage, relus) in &stages {
        let n = relus.as_u64().unwrap_or(0);
        println!(
            "  {stage:<6} {:>12} ReLUs  {:>5.1}%",
            group(n),
            100.0 * n as f64 / total
        );
    }
    println!("  {:<6} {:>12} ReLUs", "total", group(analysis.total.relus));
    println!(
        "  FLOPs  {:>12} multiply-accumulates",
        group(analysis.total.macs)
    );
    println!("  params {:>12}", group(analysis.total.params));
    Ok(())
}

/// ReLUs of every stage that has ReLU layers (active or dropped), in order.
fn relu_stages(
    net: &deepreduce_plugin_api::Network,
    analysis: &Analysis,
) -> Vec<(String, serde_json::Value)> {
    analysis
        .stages
        .iter()
        .filter(|(stage, _)| {
            net.nodes
                .iter()
                .any(|n| n.stage_is(stage) && n.op.is_activation_slot())
        })
        .map(|(stage, totals)| (stage.clone(), json!(totals.relus)))
        .collect()
}
