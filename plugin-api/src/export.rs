//! The Rust side of a plugin: implement [`Plugin`], then
//! `deepreduce_plugin_api::export_plugin!(MyPlugin::default());` and the
//! macro writes the C entry point. Every call is wrapped in `catch_unwind`,
//! inputs are parsed and validated, and errors become status codes plus JSON.

use crate::abi::status;
use crate::analysis::analyze;
use crate::ir::Network;
use crate::protocol::{
    ArchParams, ArchitectureInfo, Candidate, Candidates, Descriptor, ErrorPayload, LatencyEstimate,
    OptimizationRequest, TrainingObjective, method,
};
use crate::reduction::{MethodInfo, StepInput, StepOutput};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A plugin. Implement [`Plugin::descriptor`] and the methods of your kind;
/// the others answer "unsupported".
pub trait Plugin: Send + Sync + 'static {
    fn descriptor(&self) -> Descriptor;

    /// Architecture: the variants offered.
    fn describe_architecture(&self) -> Result<ArchitectureInfo, String> {
        Err(unsupported())
    }

    /// Architecture: build a network.
    fn build(&self, _params: &ArchParams) -> Result<Network, String> {
        Err(unsupported())
    }

    /// Optimization: transform a (valid) network into one or more candidates.
    fn apply(&self, _request: &OptimizationRequest) -> Result<Vec<Candidate>, String> {
        Err(unsupported())
    }

    /// Objective: the training objective (e.g. knowledge distillation).
    fn recipe(&self, _params: &serde_json::Value) -> Result<TrainingObjective, String> {
        Err(unsupported())
    }

    /// Latency: estimate a (valid) network's private-inference latency.
    fn estimate(&self, _network: &Network) -> Result<LatencyEstimate, String> {
        Err(unsupported())
    }

    /// Method: its name and parameter form.
    fn describe_method(&self) -> Result<MethodInfo, String> {
        Err(unsupported())
    }

    /// Method: the next trainings, or the final candidates, from the
    /// parameters, the (valid) baseline and the history alone.
    fn step(&self, _input: &StepInput) -> Result<StepOutput, String> {
        Err(unsupported())
    }
}

const UNSUPPORTED: &str = "this plugin does not implement that method";

fn unsupported() -> String {
    UNSUPPORTED.to_string()
}

/// A plugin instance held by the generated entry point, with its descriptor
/// rendered once.
pub struct Exported {
    plugin: Box<dyn Plugin>,
    descriptor: CString,
}

impl Exported {
    pub fn new(plugin: Box<dyn Plugin>) -> Self {
        let json = serde_json::to_string(&plugin.descriptor()).expect("descriptor serialises");
        let descriptor = CString::new(json).expect("descriptor JSON has no NUL byte");
        Exported { plugin, descriptor }
    }

    pub fn descriptor_ptr(&self) -> *const c_char {
        self.descriptor.as_ptr()
    }

    fn dispatch(&self, method_id: &str, input: &str) -> Result<String, (i32, String)> {
        let p = &*self.plugin;
        match method_id {
            method::ARCHITECTURE_DESCRIBE => respond(p.describe_architecture()),
            method::ARCHITECTURE_BUILD => respond(p.build(&parse::<ArchParams>(input)?)),
            method::OPTIMIZATION_APPLY => {
                let request = parse::<OptimizationRequest>(input)?;
                validate(&request.network)?;
                respond(
                    p.apply(&request)
                        .map(|candidates| Candidates { candidates }),
                )
            }
            method::OBJECTIVE_RECIPE => respond(p.recipe(&parse(input)?)),
            method::LATENCY_ESTIMATE => {
                let network = parse::<Network>(input)?;
                validate(&network)?;
                respond(p.estimate(&network))
            }
            method::METHOD_DESCRIBE => respond(p.describe_method()),
            method::METHOD_STEP => {
                let input = parse::<StepInput>(input)?;
                validate(&input.baseline)?;
                respond(p.step(&input))
            }
            other => Err((status::UNSUPPORTED, format!("unknown method '{other}'"))),
        }
    }
}

fn parse<T: DeserializeOwned>(input: &str) -> Result<T, (i32, String)> {
    serde_json::from_str(input)
        .map_err(|e| (status::BAD_INPUT, format!("malformed input JSON: {e}")))
}

fn validate(network: &Network) -> Result<(), (i32, String)> {
    analyze(network)
        .map(|_| ())
        .map_err(|e| (status::BAD_INPUT, format!("input network is invalid: {e}")))
}

fn respond<T: Serialize>(result: Result<T, String>) -> Result<String, (i32, String)> {
    let value = result.map_err(|e| {
        let code = if e == UNSUPPORTED {
            status::UNSUPPORTED
        } else {
            status::ERROR
        };
        (code, e)
    })?;
    serde_json::to_string(&value).map_err(|e| (status::ERROR, format!("cannot encode result: {e}")))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".into()
    }
}

fn into_c_string(s: String) -> *mut c_char {
    // JSON never contains a raw NUL; strip any that a message smuggled in.
    CString::new(s.replace('\0', ""))
        .map(CString::into_raw)
        .unwrap_or(std::ptr::null_mut())
}

/// The body of the generated `descriptor` function.
pub fn descriptor_entry(plugin: fn() -> &'static Exported) -> *const c_char {
    catch_unwind(|| plugin().descriptor_ptr()).unwrap_or(std::ptr::null())
}

/// The body of the generated `call` function.
///
/// # Safety
/// `method_id` and `input` must be null or NUL-terminated strings; `output`
/// must be null or point to writable storage for one pointer.
pub unsafe fn call_entry(
    plugin: fn() -> &'static Exported,
    method_id: *const c_char,
    input: *const c_char,
    output: *mut *mut c_char,
) -> i32 {
    if output.is_null() {
        return status::BAD_INPUT;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        if method_id.is_null() || input.is_null() {
            return Err((
                status::BAD_INPUT,
                "method or input is a null pointer".to_string(),
            ));
        }
        // SAFETY: both are non-null and NUL-terminated per the contract.
        let (method_id, input) = unsafe { (CStr::from_ptr(method_id), CStr::from_ptr(input)) };
        let method_id = method_id
            .to_str()
            .map_err(|_| (status::BAD_INPUT, "method id is not UTF-8".to_string()))?;
        let input = input
            .to_str()
            .map_err(|_| (status::BAD_INPUT, "input is not UTF-8".to_string()))?;
        plugin().dispatch(method_id, input)
    }));
    let (code, text) = match result {
        Ok(Ok(json)) => (status::OK, json),
        Ok(Err((code, message))) => (code, error_json(&message)),
        Err(payload) => (
            status::PANIC,
            error_json(&format!("plugin panicked: {}", panic_message(&*payload))),
        ),
    };
    // SAFETY: `output` is non-null and writable per the contract.
    unsafe { *output = into_c_string(text) };
    code
}

fn error_json(message: &str) -> String {
    serde_json::to_string(&ErrorPayload {
        error: message.to_string(),
    })
    .unwrap_or_else(|_| r#"{"error":"unencodable error"}"#.to_string())
}

/// The body of the generated `free_string` function.
///
/// # Safety
/// `s` must be null or a pointer returned through `call_entry` of this library.
pub unsafe fn free_entry(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: allocated by `into_c_string` in this library.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Writes the C entry point `deepreduce_plugin_entry_v1` for a plugin value.
///
/// ```ignore
/// #[derive(Default)]
/// struct MyCull;
/// impl deepreduce_plugin_api::Plugin for MyCull { /* ... */ }
/// deepreduce_plugin_api::export_plugin!(MyCull::default());
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($constructor:expr) => {
        const _: () = {
            use ::std::ffi::c_char;
            use $crate::abi::{ABI_MAJOR, ABI_MINOR, PluginEntryV1};
            use $crate::export::Exported;

            static PLUGIN: ::std::sync::OnceLock<Exported> = ::std::sync::OnceLock::new();

            fn plugin() -> &'static Exported {
                PLUGIN.get_or_init(|| Exported::new(::std::boxed::Box::new($constructor)))
            }

            unsafe extern "C" fn descriptor() -> *const c_char {
                $crate::export::descriptor_entry(plugin)
            }

            unsafe extern "C" fn call(
                method: *const c_char,
                input: *const c_char,
                output: *mut *mut c_char,
            ) -> i32 {
                // SAFETY: the host upholds the ABI's pointer contract.
                unsafe { $crate::export::call_entry(plugin, method, input, output) }
            }

            unsafe extern "C" fn free_string(s: *mut c_char) {
                // SAFETY: the host only frees strings this library returned.
                unsafe { $crate::export::free_entry(s) }
            }

            static ENTRY: PluginEntryV1 = PluginEntryV1 {
                struct_size: ::std::mem::size_of::<PluginEntryV1>() as u32,
                abi_major: ABI_MAJOR,
                abi_minor: ABI_MINOR,
                descriptor: Some(descriptor),
                call: Some(call),
                free_string: Some(free_string),
            };

            #[unsafe(no_mangle)]
            pub extern "C" fn deepreduce_plugin_entry_v1() -> *const PluginEntryV1 {
                &ENTRY
            }
        };
    };
}
