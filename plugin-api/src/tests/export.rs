//! The C entry point, called in-process: no library is loaded.

use crate::abi::{ABI_MAJOR, ABI_MINOR, PluginEntryV1, status};
use crate::export::{Exported, Plugin, call_entry, descriptor_entry, free_entry};
use crate::ir::Network;
use crate::protocol::{
    ArchParams, ArchitectureInfo, Candidate, Candidates, Descriptor, ErrorPayload,
    OptimizationRequest, PluginKind, method,
};
use crate::testing::{request, tiny};
use serde_json::json;
use std::ffi::{CStr, CString, c_char};
use std::ptr;
use std::sync::OnceLock;

/// An architecture plugin that panics: with a `&str` payload in `build`,
/// with a `String` payload in `describe_architecture`.
struct Panicky;

impl Plugin for Panicky {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "test.panicky",
            "Panicky",
            PluginKind::Architecture,
            "panics",
        )
    }

    fn describe_architecture(&self) -> Result<ArchitectureInfo, String> {
        panic!("no variants after {} tries", 3)
    }

    fn build(&self, _params: &ArchParams) -> Result<Network, String> {
        panic!("boom in build")
    }
}

/// An optimization plugin that returns its input unchanged, or refuses when
/// `params.refuse` is set.
struct Echo;

impl Plugin for Echo {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "test.echo",
            "Echo",
            PluginKind::Optimization,
            "returns its input",
        )
    }

    fn apply(&self, request: &OptimizationRequest) -> Result<Vec<Candidate>, String> {
        if request.params.get("refuse").is_some() {
            return Err("refused: as asked".into());
        }
        Ok(vec![Candidate {
            description: format!("echo of {}", request.network.name),
            network: request.network.clone(),
        }])
    }
}

/// A plugin whose descriptor cannot even be produced.
struct NoDescriptor;

impl Plugin for NoDescriptor {
    fn descriptor(&self) -> Descriptor {
        panic!("descriptor unavailable")
    }
}

static PANICKY: OnceLock<Exported> = OnceLock::new();
static ECHO: OnceLock<Exported> = OnceLock::new();
static NO_DESCRIPTOR: OnceLock<Exported> = OnceLock::new();

fn panicky() -> &'static Exported {
    PANICKY.get_or_init(|| Exported::new(Box::new(Panicky)))
}

fn echo() -> &'static Exported {
    ECHO.get_or_init(|| Exported::new(Box::new(Echo)))
}

fn no_descriptor() -> &'static Exported {
    NO_DESCRIPTOR.get_or_init(|| Exported::new(Box::new(NoDescriptor)))
}

/// Calls through `call_entry` with raw (possibly null) pointers; returns the
/// status and the output string, which is then freed with `free_entry`.
fn call_raw(
    plugin: fn() -> &'static Exported,
    method_id: *const c_char,
    input: *const c_char,
) -> (i32, String) {
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: the pointers are null or NUL-terminated; `out` is writable.
    let code = unsafe { call_entry(plugin, method_id, input, &mut out) };
    assert!(!out.is_null(), "every call with an output slot writes it");
    // SAFETY: `out` was set by `call_entry` to a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
    // SAFETY: `out` came from `call_entry` and is freed once.
    unsafe { free_entry(out) };
    (code, text)
}

fn call(plugin: fn() -> &'static Exported, method_id: &str, input: &str) -> (i32, String) {
    let m = CString::new(method_id).unwrap();
    let i = CString::new(input).unwrap();
    call_raw(plugin, m.as_ptr(), i.as_ptr())
}

/// The `error` of an `{"error": ...}` payload; panics on anything else.
fn error(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(value.as_object().unwrap().len(), 1, "{text}");
    serde_json::from_value::<ErrorPayload>(value).unwrap().error
}

fn request_json(network: &Network, params: serde_json::Value) -> String {
    serde_json::to_string(&request(network, params, json!({}))).unwrap()
}

fn arch_params() -> String {
    json!({"variant": "x", "input": {"channels": 3, "height": 8, "width": 8}, "classes": 10})
        .to_string()
}

#[test]
fn a_panic_is_caught_and_reported_with_its_message() {
    let (code, text) = call(panicky, method::ARCHITECTURE_BUILD, &arch_params());
    assert_eq!(code, status::PANIC);
    assert_eq!(text, r#"{"error":"plugin panicked: boom in build"}"#);
    let (code, text) = call(panicky, method::ARCHITECTURE_DESCRIBE, "");
    assert_eq!(code, status::PANIC);
    assert_eq!(error(&text), "plugin panicked: no variants after 3 tries");
    // The plugin stays usable after a panic.
    let (code, text) = call(panicky, method::ARCHITECTURE_BUILD, &arch_params());
    assert_eq!(
        (code, error(&text).as_str()),
        (status::PANIC, "plugin panicked: boom in build")
    );
}

#[test]
fn a_panicking_descriptor_is_caught_too() {
    assert!(descriptor_entry(no_descriptor).is_null());
    let (code, text) = call(no_descriptor, method::ARCHITECTURE_DESCRIBE, "");
    assert_eq!(code, status::PANIC);
    assert_eq!(error(&text), "plugin panicked: descriptor unavailable");
}

#[test]
fn unknown_method_is_unsupported() {
    let (code, text) = call(echo, "deepreduce.nope/1:frobnicate", "{}");
    assert_eq!(code, status::UNSUPPORTED);
    assert_eq!(
        error(&text),
        "unknown method 'deepreduce.nope/1:frobnicate'"
    );
    // A newer version of a known capability is a different method.
    let (code, _) = call(echo, "deepreduce.optimization/2:apply", "{}");
    assert_eq!(code, status::UNSUPPORTED);
}

#[test]
fn methods_the_plugin_does_not_implement_are_unsupported() {
    let network = serde_json::to_string(&tiny()).unwrap();
    for (method_id, input) in [
        (method::ARCHITECTURE_DESCRIBE, ""),
        (method::ARCHITECTURE_BUILD, arch_params().as_str()),
        (method::OBJECTIVE_RECIPE, "{}"),
        (method::LATENCY_ESTIMATE, network.as_str()),
    ] {
        let (code, text) = call(echo, method_id, input);
        assert_eq!(code, status::UNSUPPORTED, "{method_id}");
        assert_eq!(
            error(&text),
            "this plugin does not implement that method",
            "{method_id}"
        );
    }
}

#[test]
fn malformed_json_is_bad_input() {
    let (code, text) = call(echo, method::OPTIMIZATION_APPLY, "{not json");
    assert_eq!(code, status::BAD_INPUT);
    let message = error(&text);
    assert!(
        message.starts_with("malformed input JSON: key must be a string at line 1 column 2"),
        "{message}"
    );
    // Valid JSON of the wrong shape.
    let (code, text) = call(echo, method::OPTIMIZATION_APPLY, "{}");
    assert_eq!(code, status::BAD_INPUT);
    assert_eq!(
        error(&text),
        "malformed input JSON: missing field `network` at line 1 column 2"
    );
    // Input is parsed before the plugin is asked, even for a method it lacks.
    let (code, _) = call(echo, method::LATENCY_ESTIMATE, "[]");
    assert_eq!(code, status::BAD_INPUT);
}

#[test]
fn a_network_failing_shape_inference_is_bad_input() {
    let mut network = tiny();
    network.nodes[10].inputs = vec!["gap".into()]; // Linear on a feature map
    let (code, text) = call(
        echo,
        method::OPTIMIZATION_APPLY,
        &request_json(&network, json!({})),
    );
    assert_eq!(code, status::BAD_INPUT);
    assert_eq!(
        error(&text),
        "input network is invalid: node 'fc': needs a flat vector input (add Flatten), got 16x1x1"
    );
    let (code, text) = call(
        echo,
        method::LATENCY_ESTIMATE,
        &serde_json::to_string(&network).unwrap(),
    );
    assert_eq!(code, status::BAD_INPUT);
    assert!(error(&text).starts_with("input network is invalid: node 'fc'"));
}

#[test]
fn null_pointers_are_bad_input() {
    let m = CString::new(method::OPTIMIZATION_APPLY).unwrap();
    let i = CString::new("{}").unwrap();
    for (method_id, input) in [
        (ptr::null(), i.as_ptr()),
        (m.as_ptr(), ptr::null()),
        (ptr::null(), ptr::null()),
    ] {
        let (code, text) = call_raw(echo, method_id, input);
        assert_eq!(code, status::BAD_INPUT);
        assert_eq!(error(&text), "method or input is a null pointer");
    }
    // Without an output slot nothing can be written: just the status.
    // SAFETY: null pointers are allowed by the contract.
    let code = unsafe { call_entry(echo, m.as_ptr(), i.as_ptr(), ptr::null_mut()) };
    assert_eq!(code, status::BAD_INPUT);
}

#[test]
fn non_utf8_strings_are_bad_input() {
    let bad = CString::new(vec![0xff, 0xfe]).unwrap();
    let m = CString::new(method::OPTIMIZATION_APPLY).unwrap();
    let (code, text) = call_raw(echo, bad.as_ptr(), m.as_ptr());
    assert_eq!(
        (code, error(&text).as_str()),
        (status::BAD_INPUT, "method id is not UTF-8")
    );
    let (code, text) = call_raw(echo, m.as_ptr(), bad.as_ptr());
    assert_eq!(
        (code, error(&text).as_str()),
        (status::BAD_INPUT, "input is not UTF-8")
    );
}

#[test]
fn ok_output_parses() {
    let network = tiny();
    let (code, text) = call(
        echo,
        method::OPTIMIZATION_APPLY,
        &request_json(&network, json!({})),
    );
    assert_eq!(code, status::OK, "{text}");
    let result: Candidates = serde_json::from_str(&text).unwrap();
    assert_eq!(
        result,
        Candidates {
            candidates: vec![Candidate {
                description: "echo of tiny".into(),
                network
            }]
        }
    );
}

#[test]
fn a_refusal_is_an_error_with_the_plugins_message() {
    let (code, text) = call(
        echo,
        method::OPTIMIZATION_APPLY,
        &request_json(&tiny(), json!({"refuse": true})),
    );
    assert_eq!(code, status::ERROR);
    assert_eq!(text, r#"{"error":"refused: as asked"}"#);
}

#[test]
fn descriptor_is_rendered_once_as_json() {
    let p = descriptor_entry(echo);
    assert!(!p.is_null());
    assert_eq!(p, descriptor_entry(echo), "the same string every time");
    // SAFETY: a NUL-terminated string owned by the static `Exported`.
    let text = unsafe { CStr::from_ptr(p) }.to_str().unwrap();
    let descriptor: Descriptor = serde_json::from_str(text).unwrap();
    assert_eq!(descriptor, Echo.descriptor());
    assert_eq!(descriptor.capabilities, ["deepreduce.optimization/1"]);
    assert_eq!(descriptor.vendor, "DeepReDuce Workbench");
    assert!(descriptor.has_capability(crate::OPTIMIZATION));
    assert!(!descriptor.has_capability(crate::LATENCY));
}

#[test]
fn free_entry_releases_strings_and_ignores_null() {
    // SAFETY: null is allowed.
    unsafe { free_entry(ptr::null_mut()) };
    // Many calls, each output freed once (a leak would only show under a
    // leak checker; a double free or a foreign free would crash here).
    for _ in 0..100 {
        let (code, _) = call(echo, "nope", "");
        assert_eq!(code, status::UNSUPPORTED);
    }
}

// The macro itself, as a plugin library uses it: it defines the entry symbol
// in this test binary.
crate::export_plugin!(Echo);

unsafe extern "C" {
    fn deepreduce_plugin_entry_v1() -> *const PluginEntryV1;
}

#[test]
fn export_plugin_macro_writes_a_working_entry_point() {
    // SAFETY: defined by `export_plugin!` above; returns a static.
    let entry = unsafe { &*deepreduce_plugin_entry_v1() };
    assert_eq!(
        entry.struct_size as usize,
        std::mem::size_of::<PluginEntryV1>()
    );
    assert_eq!((entry.abi_major, entry.abi_minor), (ABI_MAJOR, ABI_MINOR));
    let (descriptor, call, free_string) = (
        entry.descriptor.unwrap(),
        entry.call.unwrap(),
        entry.free_string.unwrap(),
    );
    // SAFETY: the plugin's own, static descriptor string.
    let text = unsafe { CStr::from_ptr(descriptor()) }.to_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Descriptor>(text).unwrap().id,
        "test.echo"
    );

    let m = CString::new(method::OPTIMIZATION_APPLY).unwrap();
    let i = CString::new(request_json(&tiny(), json!({}))).unwrap();
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: valid strings and output slot, per the ABI.
    let code = unsafe { call(m.as_ptr(), i.as_ptr(), &mut out) };
    assert_eq!(code, status::OK);
    // SAFETY: set by `call`, released once with the plugin's `free_string`.
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
    unsafe { free_string(out) };
    let result: Candidates = serde_json::from_str(&text).unwrap();
    assert_eq!(result.candidates[0].network, tiny());
}
