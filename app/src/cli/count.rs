//! `deepreduce count`: a network built through the plugins, counted.

use crate::engine::dataset_shape::dataset_shape;
use crate::engine::network::{NetworkSpec, build_network};
use crate::engine::plugin_host::PluginHost;
use deepreduce_plugin_api::{Analysis, analyze};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Architecture variant, e.g. resnet18, resnet34, resnet56, vgg16, mobilenet_v1.
    #[arg(long)]
    arch: String,
    /// synthetic, cifar10, cifar100, tinyimagenet, fashion-mnist, or a dataset path.
    #[arg(long, default_value = "synthetic")]
    dataset: String,
    /// Blocks per stage, e.g. 2,2,2,2.
    #[arg(long, value_delimiter = ',')]
    blocks: Option<Vec<usize>>,
    /// Base width (channels of the first stage).
    #[arg(long)]
    width: Option<usize>,
    /// Stages whose ReLUs remain, e.g. S2,S3 ("stem" keeps Conv1's); all others are culled.
    #[arg(long, value_delimiter = ',')]
    keep: Option<Vec<String>>,
    /// Drop alternate ReLU layers in the remaining stages.
    #[arg(long)]
    thin: bool,
    /// Channel scale.
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// Feature-map scale (stem stride 1/rho).
    #[arg(long, default_value_t = 1.0)]
    rho: f64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let (input, classes) = dataset_shape(&args.dataset).map_err(|e| e.to_string())?;
    let spec = NetworkSpec {
        blocks: args.blocks.clone(),
        width: args.width,
        keep: args.keep.clone(),
        thin: args.thin,
        alpha: args.alpha,
        rho: args.rho,
        ..NetworkSpec::new(&args.arch, input, classes)
    };
    let (net, description) = build_network(host, &spec).map_err(|e| e.to_string())?;
    let analysis = analyze(&net).map_err(|e| e.to_string())?;
    let stages = relu_stages(&net, &analysis);
    if args.json {
        let out = json!({
            "relus": analysis.total.relus,
            "stages": stages.iter().cloned().collect::<serde_json::Map<_, _>>(),
            "flops": analysis.total.macs,
            "params": analysis.total.params,
            "description": description,
            "arch": args.arch,
            "dataset": args.dataset,
            "input": [input.channels, input.height, input.width],
            "classes": classes,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} on {} ({}x{}x{}, {classes} classes): {description}",
        args.arch, args.dataset, input.channels, input.height, input.width
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

/// 557056 -> "557,056".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
