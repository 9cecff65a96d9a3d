//! The C example plugin (examples/c-plugin), compiled with the system C
//! compiler and loaded: it is built against this ABI and drops masked ReLU
//! layers whole, whatever the order of their members.

use crate::abi::{ABI_MAJOR, ABI_MINOR, ENTRY_SYMBOL, EntryFn, status};
use crate::analysis::analyze;
use crate::ir::{Dropped, Network, Op};
use crate::mask::{BitSet, Granularity, ReluMask};
use crate::poly::Polynomial;
use crate::protocol::{Candidates, method};
use crate::testing::resnet_like;
use serde_json::{Value, json};
use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};
use std::process::Command;

fn compile(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = dir.join("librelu_budget.so");
    let status = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"])
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(root.join("examples/c-plugin/relu_budget.c"))
        .arg("-I")
        .arg(root.join("include"))
        .status()
        .expect("the system C compiler (cc) runs");
    assert!(status.success(), "cc failed on the C example");
    out
}

/// `resnet_like` with masks in S2 and S3 and a polynomial layer in S3.
fn masked() -> Network {
    let mut net = resnet_like();
    let mut set = |name: &str, op: Op| {
        net.nodes.iter_mut().find(|n| n.name == name).unwrap().op = op;
    };
    let pixels = |len: usize| ReluMask::new(Granularity::Pixel, BitSet::from_indices(len, [1, 7]));
    set(
        "S2.B1.relu1",
        Op::MaskedRelu {
            mask: pixels(128),
            dropped: Dropped::Identity,
        },
    );
    set(
        "S3.B1.relu1",
        Op::MaskedRelu {
            mask: pixels(64),
            dropped: Dropped::Poly(Polynomial::delphi(16)),
        },
    );
    set("S3.B1.relu2", Op::Poly(Polynomial::delphi(16)));
    net
}

/// The network as JSON, with the members of S3's masked node reordered:
/// the mask first and `dropped` last.
fn reordered(net: &Network) -> Value {
    let mut value = serde_json::to_value(net).unwrap();
    let node = value["nodes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|n| n["name"] == "S3.B1.relu1")
        .unwrap();
    let mut fields = node.as_object().unwrap().clone();
    let mut moved = serde_json::Map::new();
    moved.insert("mask".into(), fields.remove("mask").unwrap());
    let dropped = fields.remove("dropped").unwrap();
    moved.extend(fields);
    moved.insert("dropped".into(), dropped);
    *node = Value::Object(moved);
    value
}

#[test]
fn the_c_example_speaks_this_abi_and_drops_masked_relus_whole() {
    let dir = std::env::temp_dir().join(format!("deepreduce-c-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let library = compile(&dir);
    // SAFETY: the library is the C example, whose entry point follows the
    // ABI; it stays loaded until the end of the test.
    let library = unsafe { libloading::Library::new(&library) }.unwrap();
    let entry = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL.as_bytes()) }.unwrap();
    // SAFETY: as above; the entry struct is static in the library.
    let entry = unsafe { &*entry() };
    assert_eq!((entry.abi_major, entry.abi_minor), (ABI_MAJOR, ABI_MINOR));

    let net = masked();
    let input = json!({"network": reordered(&net), "params": {"stages": ["S3"]}});
    let (method, input) = (
        CString::new(method::OPTIMIZATION_APPLY).unwrap(),
        CString::new(input.to_string()).unwrap(),
    );
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: NUL-terminated strings and a writable slot, per the ABI.
    let code = unsafe { entry.call.unwrap()(method.as_ptr(), input.as_ptr(), &mut out) };
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
    unsafe { entry.free_string.unwrap()(out) };
    assert_eq!(code, status::OK, "{text}");

    // Nine ReLU layers, one of them a polynomial: eight Relu nodes.
    let candidates: Candidates = serde_json::from_str(&text).unwrap();
    let result = &candidates.candidates[0];
    assert_eq!(
        result.description,
        "ReLUs of S3 dropped: 1 of 8 ReLU layers become Identity"
    );
    let op = |name: &str| result.network.node(name).unwrap().op.clone();
    assert_eq!(op("S3.B1.relu1"), Op::Identity);
    assert_eq!(op("S3.B1.relu2"), Op::Poly(Polynomial::delphi(16)));
    assert_eq!(op("S2.B1.relu1"), net.node("S2.B1.relu1").unwrap().op);
    let a = analyze(&result.network).unwrap();
    assert_eq!(a.stage("S3").unwrap().relus, 0);
    assert_eq!(a.stage("S2").unwrap().relus, 2 + 128);
    std::fs::remove_dir_all(&dir).unwrap();
}
