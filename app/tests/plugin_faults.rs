//! Each way a plugin can be broken gives a clear error naming the file and
//! the cause; the host keeps running and the other plugins stay usable.

mod common;

use deepreduce_app::engine::plugin_host::{Cause, PluginDir, PluginHost};
use deepreduce_plugin_api::abi::{ABI_MAJOR, ABI_MINOR};
use deepreduce_plugin_api::{ArchParams, InputSpec};
use std::path::Path;

const CIFAR: InputSpec = InputSpec {
    channels: 3,
    height: 32,
    width: 32,
};

/// Loads `file` into a host that already has the built-in plugins, returns
/// the load error, and checks that the host is still fully usable.
fn load_error(file: &Path) -> String {
    let mut host = common::host();
    let before = host.plugins().len();
    let message = host
        .load(file)
        .expect_err("the broken plugin is refused")
        .to_string();
    assert!(
        message.contains(&file.display().to_string()),
        "names the file: {message}"
    );
    assert_eq!(host.plugins().len(), before);
    assert_eq!(host.failures().len(), 1, "the failure is listed");
    common::built_ins_still_work(&host);
    message
}

fn broken_build(file: &Path) -> String {
    let mut host = common::host();
    let plugin = host.load(file).expect("loads: the fault is in its answers");
    let params = ArchParams {
        variant: "broken".into(),
        input: CIFAR,
        classes: 10,
        blocks: None,
        width: None,
    };
    let message = plugin
        .build(&params)
        .expect_err("the answer is refused")
        .to_string();
    assert!(
        message.contains(&file.display().to_string()),
        "names the file: {message}"
    );
    common::built_ins_still_work(&host);
    message
}

#[test]
fn wrong_abi_version_is_refused_naming_both_versions() {
    let msg = load_error(&common::broken_plugin("abi2", &["-DFAULT_ABI_MAJOR=2"]));
    let ours = format!("this workbench speaks ABI {ABI_MAJOR}.{ABI_MINOR}");
    assert!(
        msg.contains(&format!("incompatible plugin ABI 2.{ABI_MINOR}; {ours}")),
        "{msg}"
    );
}

#[test]
fn missing_entry_symbol_is_refused() {
    let msg = load_error(&common::broken_plugin("noentry", &["-DFAULT_NO_ENTRY"]));
    assert!(
        msg.contains("does not export `deepreduce_plugin_entry_v1`"),
        "{msg}"
    );
}

#[test]
fn missing_function_pointer_is_refused() {
    let msg = load_error(&common::broken_plugin("nullcall", &["-DFAULT_NULL_CALL"]));
    assert!(msg.contains("has no `call` function"), "{msg}");
}

#[test]
fn malformed_descriptor_is_refused() {
    let msg = load_error(&common::broken_plugin(
        "baddescriptor",
        &["-DFAULT_BAD_DESCRIPTOR"],
    ));
    assert!(msg.contains("malformed descriptor"), "{msg}");
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let file = common::temp_dir("garbage").join("libgarbage.so");
    std::fs::write(&file, b"this is not an ELF file").unwrap();
    let msg = load_error(&file);
    assert!(msg.contains("cannot open the library"), "{msg}");
}

#[test]
fn duplicate_id_is_refused_naming_the_first() {
    let original = common::build_dir().join(format!(
        "libdeepreduce_plugin_resnet.{}",
        std::env::consts::DLL_EXTENSION
    ));
    let copy = common::temp_dir("duplicate").join("libresnet_copy.so");
    std::fs::copy(&original, &copy).unwrap();
    let msg = load_error(&copy);
    assert!(
        msg.contains("its id 'org.deepreduce.resnet' is already taken by"),
        "{msg}"
    );
    assert!(msg.contains("libdeepreduce_plugin_resnet"), "{msg}");
}

#[test]
fn bad_reverse_dns_id_is_refused() {
    let msg = load_error(&common::broken_plugin(
        "badid",
        &["-DPLUGIN_ID=\"Not An Id\""],
    ));
    assert!(msg.contains("is not a reverse-DNS id"), "{msg}");
}

#[test]
fn malformed_json_answer_is_refused() {
    let msg = broken_build(&common::broken_plugin(
        "malformed",
        &["-DFAULT_MALFORMED_OUTPUT"],
    ));
    assert!(msg.contains("returned malformed JSON"), "{msg}");
}

#[test]
fn network_failing_shape_inference_is_refused() {
    let msg = broken_build(&common::broken_plugin("invalidir", &["-DFAULT_INVALID_IR"]));
    assert!(msg.contains("returned an invalid network"), "{msg}");
    assert!(
        msg.contains("node 'fc': needs a flat vector input"),
        "{msg}"
    );
}

#[test]
fn a_panic_inside_a_call_is_caught_at_the_boundary() {
    let file = common::build_dir().join(format!(
        "libpanicking_plugin.{}",
        std::env::consts::DLL_EXTENSION
    ));
    assert!(
        file.exists(),
        "{} missing: run `cargo build --workspace`",
        file.display()
    );
    let msg = broken_build(&file);
    assert!(msg.contains("the plugin panicked"), "{msg}");
    assert!(
        msg.contains("deliberate panic while building 'broken'"),
        "{msg}"
    );
}

#[test]
fn discovery_lists_broken_plugins_beside_working_ones() {
    let user_dir = common::broken_plugin("listed", &["-DFAULT_ABI_MAJOR=7"])
        .parent()
        .unwrap()
        .to_path_buf();
    let host = PluginHost::discover(&[
        PluginDir {
            path: common::build_dir(),
            built_in_only: true,
        },
        PluginDir {
            path: user_dir,
            built_in_only: false,
        },
    ]);
    assert_eq!(host.failures().len(), 1);
    assert!(matches!(
        host.failures()[0].error.cause,
        Cause::AbiMismatch {
            plugin_major: 7,
            ..
        }
    ));
    common::built_ins_still_work(&host);
}

#[test]
fn the_build_folder_loads_only_the_workspace_plugins() {
    // A library of a plugin crate built once on another branch stays in
    // the build folder; it is not a built-in plugin.
    let dir = common::temp_dir("stale-built-in");
    let lib = |name: &str| {
        use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
        format!("{DLL_PREFIX}{name}{DLL_SUFFIX}")
    };
    let resnet = common::build_dir().join(lib("deepreduce_plugin_resnet"));
    std::fs::copy(&resnet, dir.join(lib("deepreduce_plugin_resnet"))).unwrap();
    std::fs::copy(&resnet, dir.join(lib("deepreduce_plugin_stale"))).unwrap();
    let host = PluginHost::discover(&[PluginDir {
        path: dir,
        built_in_only: true,
    }]);
    assert_eq!(host.plugins().len(), 1);
    assert!(host.failures().is_empty());
}

#[test]
fn the_plugins_command_shows_errors_and_keeps_going() {
    let dir = common::broken_plugin("cli", &["-DFAULT_NO_ENTRY"])
        .parent()
        .unwrap()
        .to_path_buf();
    let out = common::cli(&["plugins", "--json", "--plugin-dir", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    for id in common::BUILT_IN_PLUGINS {
        assert!(ids.contains(&id), "{id} listed: {rows:?}");
    }
    let broken: Vec<_> = rows.iter().filter(|r| r["status"] == "error").collect();
    assert_eq!(broken.len(), 1, "{rows:?}");
    assert!(
        broken[0]["error"]
            .as_str()
            .unwrap()
            .contains("does not export")
    );
    assert!(broken[0]["path"].as_str().unwrap().ends_with("libcli.so"));
}
