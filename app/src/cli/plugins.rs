//! `deepreduce plugins`: what was found, loaded and refused.

use crate::engine::plugin_host::LoadedPlugin;
use crate::engine::plugin_host::log::PluginLog;
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

    /// Print what the plugin with this id (or library file name) wrote to
    /// its stdout and stderr, and the faults it had, instead of the list.
    #[arg(long, value_name = "ID")]
    log: Option<String>,
}

/// How much of a log `--log` prints: its end.
const LOG_TAIL_BYTES: u64 = 64 << 10;

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    if let Some(id) = &args.log {
        return print_log(host, id);
    }
    let loaded = host.plugins().iter().map(|p| {
        let d = &p.descriptor;
        let mut row = json!({
            "id": d.id, "name": d.name, "kind": d.kind.as_str(), "version": d.version,
            "vendor": d.vendor, "capabilities": d.capabilities,
            "abi": format!("{ABI_MAJOR}.{}", p.abi_minor),
            "path": p.path, "sha256": file_sha256(&p.path).ok(), "status": "loaded",
            "state": p.state().label(), "state_detail": p.state().to_string(),
            "sandboxed": p.state().is_sandboxed(), "log": p.log().path(),
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
            "{:<28} {:<12} {:<8} {:<13} {}",
            d.id,
            d.kind.as_str(),
            d.version,
            p.state().label(),
            p.path.display()
        );
        if d.kind == PluginKind::Method {
            print_method_form(p);
        }
    }
    for f in host.failures() {
        println!(
            "{:<28} {:<12} {:<8} {:<13} {}: {}",
            "?",
            "?",
            "?",
            "ERROR",
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

/// The end of one plugin's log: a loaded plugin by id or file name, or a
/// refused library by file name.
fn print_log(host: &PluginHost, id: &str) -> Result<(), String> {
    let named = |path: &std::path::Path| path.file_name().is_some_and(|n| n == id);
    let loaded = host
        .plugins()
        .iter()
        .find(|p| p.descriptor.id == id || named(&p.path));
    let (file, state) = if let Some(plugin) = loaded {
        (&plugin.path, plugin.state().to_string())
    } else if let Some(failure) = host.failures().iter().find(|f| named(&f.error.file)) {
        (
            &failure.error.file,
            format!("not loaded: {}", failure.error.cause),
        )
    } else {
        let ids: Vec<&str> = host
            .plugins()
            .iter()
            .map(|p| p.descriptor.id.as_str())
            .collect();
        return Err(format!(
            "no plugin '{id}' (give an id or a library's file name); loaded: {}",
            ids.join(", ")
        ));
    };
    let log = PluginLog::open(&host.options().log_dir, file);
    match log.tail(LOG_TAIL_BYTES) {
        Ok(text) => {
            println!("# {} ({state})", log.path().display());
            print!("{text}");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("# {}: no output yet", log.path().display());
            Ok(())
        }
        Err(e) => Err(format!("cannot read {}: {e}", log.path().display())),
    }
}
