//! The wire protocol between the workbench (the host) and its plugin
//! processes (`deepreduce-plugin LIBRARY`), one per plugin library.
//!
//! The host writes requests to the process's stdin and reads replies from
//! its stdout; the plugin's own stdout and stderr go to the process's
//! stderr, which the host keeps as the plugin's log. Every message is a
//! frame: a little-endian `u32` length, then that many bytes.
//!
//! 1. The process confines itself and says how ([`Confinement`], JSON)
//!    before the library's code runs, so a plugin cannot claim it; then it
//!    loads the library and sends one [`Hello`] (JSON).
//! 2. Then, for each call, the host sends two frames (the method id, the
//!    input JSON) and the process answers with one reply frame: the C
//!    ABI's status code (`i32`, little-endian), a byte saying whether the
//!    plugin returned a string, and that string. The JSON is passed through
//!    untouched, as the C ABI passes it.
//! 3. The host closes stdin: the process exits.
//!
//! The executable itself is a bin target of the app crate
//! (`app/src/bin/deepreduce-plugin.rs`, calling [`serve::main`]) so that
//! building or testing the app always builds it beside `deepreduce`.

mod library;
mod pipes;
mod sandbox;
pub mod serve;

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// The plugin process's executable, built beside `deepreduce`.
pub const RUNNER_NAME: &str = "deepreduce-plugin";

/// The argument that runs a library without the sandbox (a plugin the user
/// trusts).
pub const NO_SANDBOX: &str = "--no-sandbox";

/// A frame larger than this is refused: no call of the ABI needs it, and a
/// length read from a corrupt stream must not allocate without limit.
pub const MAX_FRAME: usize = 64 << 20;

pub fn write_frame(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(bytes)
}

/// The next frame, or `None` when the stream ends cleanly between frames.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes (at most {MAX_FRAME})"),
        ));
    }
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes)?;
    Ok(Some(bytes))
}

/// What the C ABI's `call` gave back: its status code and its string.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub code: i32,
    pub text: Option<String>,
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        let text = self.text.as_deref().unwrap_or("");
        let mut bytes = Vec::with_capacity(5 + text.len());
        bytes.extend_from_slice(&self.code.to_le_bytes());
        bytes.push(u8::from(self.text.is_some()));
        bytes.extend_from_slice(text.as_bytes());
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Reply, String> {
        if bytes.len() < 5 {
            return Err(format!("a reply of {} bytes (at least 5)", bytes.len()));
        }
        let code = i32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        let text = match bytes[4] {
            0 => None,
            1 => Some(String::from_utf8_lossy(&bytes[5..]).into_owned()),
            other => return Err(format!("a reply whose text flag is {other}")),
        };
        Ok(Reply { code, text })
    }
}

/// The process's first message: the library loaded, or why not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Hello {
    Loaded(Loaded),
    Refused(LoadError),
}

/// The process's first message, sent before the library loads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Confinement {
    Confined(Isolation),
    /// The sandbox was asked for and could not be set up: nothing loads.
    Failed(String),
}

/// A library that loaded and passed the ABI checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loaded {
    /// The descriptor JSON as the plugin returned it; the host parses and
    /// validates it.
    pub descriptor: String,
    pub abi_major: u16,
    pub abi_minor: u16,
}

/// Why a library could not be served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LoadError {
    /// dlopen failed; its message.
    Open(String),
    MissingEntry,
    NullEntry,
    AbiMismatch {
        major: u16,
        minor: u16,
    },
    EntryTooSmall {
        got: u32,
        needed: usize,
    },
    MissingFunction(String),
    NullDescriptor,
}

/// How far the plugin process is confined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Isolation {
    /// Landlock: reads only its library and the system's shared libraries,
    /// writes nothing, no TCP, no signals or abstract sockets outside;
    /// seccomp: no sockets at all.
    Sandboxed {
        landlock_abi: i32,
    },
    NotSandboxed(Unconfined),
}

/// Why a plugin process runs without the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unconfined {
    /// The user trusts the plugin.
    Trusted,
    /// The kernel has no Landlock (or it is disabled at boot).
    NoLandlock,
    /// The kernel's Landlock is too old to enforce everything the sandbox
    /// asks for (file writes, TCP, scopes need ABI 6).
    OldLandlock { landlock_abi: i32 },
    /// No sandbox on this platform.
    Unsupported,
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Isolation::Sandboxed { landlock_abi } => {
                write!(f, "sandboxed (Landlock ABI {landlock_abi}, seccomp)")
            }
            Isolation::NotSandboxed(why) => write!(f, "not sandboxed: {why}"),
        }
    }
}

impl std::fmt::Display for Unconfined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unconfined::Trusted => write!(f, "trusted by the user"),
            Unconfined::NoLandlock => write!(f, "the kernel has no Landlock"),
            Unconfined::OldLandlock { landlock_abi } => write!(
                f,
                "the kernel's Landlock (ABI {landlock_abi}) cannot enforce it all (needs ABI 6)"
            ),
            Unconfined::Unsupported => write!(f, "no sandbox on this platform"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"architecture.build").unwrap();
        write_frame(&mut buf, b"").unwrap();
        let mut r = buf.as_slice();
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"architecture.build");
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"");
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn a_cut_frame_and_an_absurd_length_are_errors() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"abcdef").unwrap();
        buf.truncate(7);
        assert!(read_frame(&mut buf.as_slice()).is_err());
        let absurd = u32::MAX.to_le_bytes();
        let err = read_frame(&mut absurd.as_slice()).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
    }

    #[test]
    fn replies_round_trip_with_and_without_text() {
        for reply in [
            Reply {
                code: 0,
                text: Some("{\"a\":1}".into()),
            },
            Reply {
                code: 3,
                text: None,
            },
            Reply {
                code: -7,
                text: Some(String::new()),
            },
        ] {
            assert_eq!(Reply::decode(&reply.encode()).unwrap(), reply);
        }
        assert!(Reply::decode(&[0, 0, 0]).is_err());
        assert!(Reply::decode(&[0, 0, 0, 0, 9]).is_err());
    }
}
