//! Loads one plugin library and checks its entry point against the C ABI
//! before trusting any of its function pointers; then calls it.

use crate::{LoadError, Reply};
use deepreduce_plugin_api::abi::{ABI_MAJOR, ENTRY_SYMBOL, EntryFn, PluginEntryV1};
use std::ffi::{CStr, CString, c_char};
use std::path::Path;

/// A loaded library's checked entry points. The library stays loaded for
/// the life of the process.
pub struct Library {
    entry: &'static PluginEntryV1,
    pub descriptor: String,
    pub abi_major: u16,
    pub abi_minor: u16,
}

impl Library {
    pub fn load(file: &Path) -> Result<Library, LoadError> {
        // SAFETY: loading a library runs its initialisers; this process
        // exists to contain what they do.
        let library = unsafe { libloading::Library::new(file) }
            .map_err(|e| LoadError::Open(e.to_string()))?;
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is fixed by the ABI.
        let entry_fn = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL.as_bytes()) }
            .map_err(|_| LoadError::MissingEntry)?;
        // SAFETY: calling the plugin's entry point as the ABI defines it.
        let entry = unsafe { entry_fn() };
        if entry.is_null() {
            return Err(LoadError::NullEntry);
        }
        // Read the ABI header only (struct_size, major, minor: 8 bytes, the
        // same in every version) before trusting anything else.
        // SAFETY: every ABI version starts with these fields.
        let (size, major, minor) = unsafe {
            let header = entry as *const u32;
            let version = header.add(1) as *const u16;
            (*header, *version, *version.add(1))
        };
        if major != ABI_MAJOR {
            return Err(LoadError::AbiMismatch { major, minor });
        }
        let needed = std::mem::size_of::<PluginEntryV1>();
        if (size as usize) < needed {
            return Err(LoadError::EntryTooSmall { got: size, needed });
        }
        // SAFETY: the struct is at least as large as the v1 layout.
        let entry: &'static PluginEntryV1 = unsafe { &*entry };
        let missing = |name: &str| LoadError::MissingFunction(name.into());
        let descriptor_fn = entry.descriptor.ok_or_else(|| missing("descriptor"))?;
        entry.call.ok_or_else(|| missing("call"))?;
        entry.free_string.ok_or_else(|| missing("free_string"))?;
        // SAFETY: the function returns a NUL-terminated string owned by the plugin.
        let raw = unsafe { descriptor_fn() };
        if raw.is_null() {
            return Err(LoadError::NullDescriptor);
        }
        let descriptor = unsafe { CStr::from_ptr(raw) }
            .to_string_lossy()
            .into_owned();
        Ok(Library {
            entry,
            descriptor,
            abi_major: major,
            abi_minor: minor,
        })
    }

    /// Calls `method` with `input` (JSON, NUL bytes removed) as the C ABI
    /// says, and copies the plugin's string out before freeing it.
    pub fn call(&self, method: &[u8], input: Vec<u8>) -> Reply {
        let call = self.entry.call.expect("checked at load");
        let free = self.entry.free_string.expect("checked at load");
        let method_c = c_string(method.to_vec());
        let input_c = c_string(input);
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: both strings are NUL-terminated and outlive the call; `out`
        // is a valid pointer slot; the plugin promised the ABI's contract.
        let code = unsafe { call(method_c.as_ptr(), input_c.as_ptr(), &mut out) };
        let text = (!out.is_null()).then(|| {
            // SAFETY: a non-null output is a NUL-terminated string the plugin
            // allocated; we copy it and hand it back to its own allocator.
            let s = unsafe { CStr::from_ptr(out) }
                .to_string_lossy()
                .into_owned();
            unsafe { free(out) };
            s
        });
        Reply { code, text }
    }
}

/// JSON never holds a NUL byte (serde_json escapes it); a method id could.
fn c_string(mut bytes: Vec<u8>) -> CString {
    bytes.retain(|&b| b != 0);
    CString::new(bytes).expect("NUL bytes removed")
}
