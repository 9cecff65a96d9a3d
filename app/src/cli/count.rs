//! `deepreduce count`: a network built through the plugins, counted.

use super::network_args::NetworkArgs;
use crate::engine::plugin_host::PluginHost;
use crate::engine::relu_layers::relu_layers;
use crate::format::group;
use deepreduce_plugin_api::{Analysis, Network, PluginKind, Totals, analyze};
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
    let total = &analysis.total;
    if args.json {
        let out = json!({
            "relus": total.relus,
            "stages": per_stage(&stages, |t| t.relus),
            "polys": total.polys,
            "stage_polys": per_stage(&stages, |t| t.polys),
            "comparisons": total.comparisons,
            "stage_comparisons": per_stage(&stages, |t| t.comparisons),
            "flops": total.macs,
            "params": total.params,
            "layers": relu_layers(&net, &analysis),
            "description": description,
            "arch": args.network.arch,
            "dataset": args.network.dataset,
            "input": [input.channels, input.height, input.width],
            "classes": classes,
            "latency": latency_estimates(host, &net),
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} on {} ({}x{}x{}, {classes} classes): {description}",
        args.network.arch, args.network.dataset, input.channels, input.height, input.width
    );
    let share = total.relus.max(1) as f64;
    for (stage, totals) in &stages {
        println!(
            "  {stage:<6} {:>12} ReLUs  {:>5.1}%",
            group(totals.relus),
            100.0 * totals.relus as f64 / share
        );
    }
    println!("  {:<6} {:>12} ReLUs", "total", group(total.relus));
    println!(
        "  polys  {:>12} polynomial elements (one multiplication each)",
        group(total.polys)
    );
    println!("  maxpool{:>12} comparisons", group(total.comparisons));
    println!("  FLOPs  {:>12} multiply-accumulates", group(total.macs));
    println!("  params {:>12}", group(total.params));
    for plugin in host.of_kind(PluginKind::Latency) {
        match plugin.estimate(&net) {
            Ok(e) => println!(
                "  latency {:>10.3} s online, {:.1} MB ({})",
                e.online_seconds,
                e.communication_bytes / 1e6,
                e.model.name
            ),
            Err(e) => println!("  latency: {}: {e}", plugin.descriptor.id),
        }
    }
    Ok(())
}

/// Every latency plugin's estimate (or its error), by plugin id.
fn latency_estimates(host: &PluginHost, net: &Network) -> serde_json::Value {
    host.of_kind(PluginKind::Latency)
        .map(|plugin| {
            let estimate = plugin
                .estimate(net)
                .map_or_else(|e| json!({ "error": e.to_string() }), |e| json!(e));
            (plugin.descriptor.id.clone(), estimate)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Every stage that has ReLU layers (whole, masked, dropped or polynomial),
/// in order, with its totals.
fn relu_stages<'a>(net: &Network, analysis: &'a Analysis) -> Vec<(&'a str, &'a Totals)> {
    analysis
        .stages
        .iter()
        .filter(|(stage, _)| {
            net.nodes
                .iter()
                .any(|n| n.stage_is(stage) && n.op.is_activation_slot())
        })
        .map(|(stage, totals)| (stage.as_str(), totals))
        .collect()
}

/// `{stage: count}` of one of the totals.
fn per_stage(
    stages: &[(&str, &Totals)],
    count: impl Fn(&Totals) -> u64,
) -> serde_json::Map<String, serde_json::Value> {
    stages
        .iter()
        .map(|(stage, totals)| (stage.to_string(), json!(count(totals))))
        .collect()
}
