//! `deepreduce plugins`: what was found, loaded and refused.

use crate::engine::plugin_host::{PluginHost, file_sha256};
use deepreduce_plugin_api::abi::ABI_MAJOR;
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object per plugin, in an array.
    #[arg(long)]
    json: bool,
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    let loaded = host.plugins().iter().map(|p| {
        let d = &p.descriptor;
        json!({
            "id": d.id, "name": d.name, "kind": d.kind.as_str(), "version": d.version,
            "vendor": d.vendor, "capabilities": d.capabilities,
            "abi": format!("{ABI_MAJOR}.{}", p.abi_minor),
            "path": p.path, "sha256": file_sha256(&p.path).ok(), "status": "loaded",
        })
    });
    let failed = host.failures().iter().map(
        |f| json!({ "path": f.error.file, "status": "error", "error": f.error.cause.to_string() }),
    );
    let rows: Vec<_> = loaded.chain(failed).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("JSON"));
        return Ok(());
    }
    for p in host.plugins() {
        let d = &p.descriptor;
        println!(
            "{:<28} {:<12} {:<8} loaded  {}",
            d.id,
            d.kind.as_str(),
            d.version,
            p.path.display()
        );
    }
    for f in host.failures() {
        println!(
            "{:<28} {:<12} {:<8} ERROR   {}: {}",
            "?",
            "?",
            "?",
            f.error.file.display(),
            f.error.cause
        );
    }
    if rows.is_empty() {
        println!("no plugins found; build them with `cargo build --workspace`");
    }
    Ok(())
}
