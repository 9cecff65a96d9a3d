//! The C ABI, mirrored by `include/deepreduce_plugin.h`. Stable: the entry
//! struct only ever grows by appending fields, and the host checks
//! `struct_size` and the ABI version before touching a function pointer.

use std::ffi::c_char;

pub const ABI_MAJOR: u16 = 1;
/// 1: ReLU masks and polynomial activations in the IR
/// ([`Network::abi_minor_needed`](crate::ir::Network::abi_minor_needed)).
pub const ABI_MINOR: u16 = 1;

/// The one symbol a plugin library exports.
pub const ENTRY_SYMBOL: &str = "deepreduce_plugin_entry_v1";

/// Status codes of [`PluginEntryV1::call`]. On any status but `OK` the output
/// string, if set, is a JSON `{"error": "..."}`.
pub mod status {
    pub const OK: i32 = 0;
    /// The plugin understood the request and refused it.
    pub const ERROR: i32 = 1;
    /// The plugin panicked; the panic was caught at the boundary.
    pub const PANIC: i32 = 2;
    /// The method id is not one the plugin implements.
    pub const UNSUPPORTED: i32 = 3;
    /// The input was not valid UTF-8 JSON of the expected shape.
    pub const BAD_INPUT: i32 = 4;
}

/// Returns the plugin's descriptor as UTF-8 JSON, owned by the plugin and
/// valid for the life of the process.
pub type DescriptorFn = unsafe extern "C" fn() -> *const c_char;

/// Calls `method` with a UTF-8 JSON `input`; on return `*output` is a string
/// allocated by the plugin (or null), to be released with `free_string`.
pub type CallFn = unsafe extern "C" fn(
    method: *const c_char,
    input: *const c_char,
    output: *mut *mut c_char,
) -> i32;

/// Releases a string returned through `call`.
pub type FreeStringFn = unsafe extern "C" fn(s: *mut c_char);

/// Returned by the entry symbol. Function pointers are nullable so that a
/// plugin written in C that leaves one out is refused instead of crashing.
#[repr(C)]
pub struct PluginEntryV1 {
    pub struct_size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub descriptor: Option<DescriptorFn>,
    pub call: Option<CallFn>,
    pub free_string: Option<FreeStringFn>,
}

/// Type of the entry symbol.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginEntryV1;
