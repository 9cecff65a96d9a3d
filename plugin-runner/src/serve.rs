//! The plugin process's main loop: confine, load, greet, answer calls.

use crate::library::Library;
use crate::{
    Confinement, Hello, Isolation, Loaded, NO_SANDBOX, Unconfined, pipes, read_frame, sandbox,
    write_frame,
};
use serde::Serialize;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// `deepreduce-plugin LIBRARY [--no-sandbox]`, from the process's arguments.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let (library, sandboxed) = match args.as_slice() {
        [lib] => (PathBuf::from(lib), true),
        [lib, flag] if flag == NO_SANDBOX => (PathBuf::from(lib), false),
        _ => {
            eprintln!("usage: deepreduce-plugin LIBRARY [{NO_SANDBOX}] (started by the workbench)");
            return ExitCode::from(2);
        }
    };
    // Before anything of the plugin's runs: its prints must not reach the
    // protocol, and its constructors run inside the sandbox.
    let (requests, replies) = match pipes::take_protocol_pipes() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("deepreduce-plugin: cannot set up its pipes: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut requests = BufReader::new(requests);
    let mut replies = BufWriter::new(replies);
    let confinement = if sandboxed {
        match sandbox::confine(&library) {
            Ok(isolation) => Confinement::Confined(isolation),
            Err(e) => Confinement::Failed(e),
        }
    } else {
        Confinement::Confined(Isolation::NotSandboxed(Unconfined::Trusted))
    };
    // After the sandbox: a thread started before it would not be confined.
    pipes::exit_with_parent();
    // Said before the library's code runs, which could otherwise forge it.
    if send(&mut replies, &confinement).is_err() {
        return ExitCode::FAILURE;
    }
    if let Confinement::Failed(_) = confinement {
        return ExitCode::FAILURE;
    }
    let hello = match Library::load(&library) {
        Ok(lib) => {
            let hello = Hello::Loaded(Loaded {
                descriptor: lib.descriptor.clone(),
                abi_major: lib.abi_major,
                abi_minor: lib.abi_minor,
            });
            return serve(lib, hello, &mut requests, &mut replies);
        }
        Err(e) => Hello::Refused(e),
    };
    let _ = send(&mut replies, &hello);
    ExitCode::FAILURE
}

fn send(replies: &mut impl Write, message: &impl Serialize) -> std::io::Result<()> {
    let json = serde_json::to_vec(message).expect("a message serialises");
    write_frame(replies, &json)?;
    replies.flush()
}

/// Answers calls until the workbench closes the pipe.
fn serve(
    lib: Library,
    hello: Hello,
    requests: &mut impl std::io::Read,
    replies: &mut impl Write,
) -> ExitCode {
    let result = (|| -> std::io::Result<()> {
        send(replies, &hello)?;
        while let Some(method) = read_frame(requests)? {
            let input = read_frame(requests)?.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "a call without input")
            })?;
            let reply = lib.call(&method, input);
            write_frame(replies, &reply.encode())?;
            replies.flush()?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deepreduce-plugin: {e}");
            ExitCode::FAILURE
        }
    }
}
