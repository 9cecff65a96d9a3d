//! `deepreduce plugins`: what was found, loaded and refused.

use crate::engine::plugin_host::LoadedPlugin;
use crate::engine::plugin_host::{PluginHost, file_sha256};
use deepreduce_plugin_api::PluginKind;
use deepreduce_plugin_api::abi::ABI_MAJOR;
use deepreduce_plugin_api::reduction::ParamKind;
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
        let mut row = json!({
            "id": d.id, "name": d.name, "kind": d.kind.as_str(), "version": d.version,
            "vendor": d.vendor, "capabilities": d.capabilities,
            "abi": format!("{ABI_MAJOR}.{}", p.abi_minor),
            "path": p.path, "sha256": file_sha256(&p.path).ok(), "status": "loaded",
        });
        if d.kind == PluginKind::Method {
            row["method"] = match p.describe_method() {
                Ok(info) => json!(info),
                Err(e) => json!({ "error": e.to_string() }),
            };
        }
        row
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
        if d.kind == PluginKind::Method {
            print_method_form(p);
        }
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

/// A method plugin's parameters, as `--method-params` takes them.
fn print_method_form(plugin: &LoadedPlugin) {
    let info = match plugin.describe_method() {
        Ok(info) => info,
        Err(e) => {
            println!("    no parameter form: {e}");
            return;
        }
    };
    println!("    {}: --method-params takes", info.name);
    for p in &info.params {
        let kind = match &p.kind {
            ParamKind::Integer { min } => format!("a whole number >= {min}"),
            ParamKind::IntegerList { min } => format!("a list of whole numbers >= {min}"),
            ParamKind::Number => "a number".into(),
            ParamKind::Boolean => "true or false".into(),
            ParamKind::Choice { options } => format!("one of {}", options.join(", ")),
            ParamKind::TextList => "a list of texts".into(),
        };
        println!(
            "      {}: {kind}, default {}; {}",
            p.name, p.default, p.help
        );
    }
}
