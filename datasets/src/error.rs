//! The one error type of the crate. Every variant that concerns a file names
//! it, so a user can tell which of a dataset's files is broken and how.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("{}: not found (expected {expected})", .path.display())]
    NotFound { path: PathBuf, expected: String },

    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "{}: truncated record at offset {offset}: expected {record} bytes per record, \
         file is {len} bytes (not a multiple of {record})",
        .path.display()
    )]
    Truncated {
        path: PathBuf,
        offset: u64,
        record: usize,
        len: u64,
    },

    #[error(
        "{}: oversized: {len} bytes, more than the {max} bytes a valid file can have",
        .path.display()
    )]
    Oversized { path: PathBuf, len: u64, max: u64 },

    /// A FIFO, device, socket or folder where a data file should be: reading
    /// one could block forever or never end.
    #[error("{}: not a regular file ({kind})", .path.display())]
    NotRegularFile { path: PathBuf, kind: &'static str },

    #[error("{}: permission denied", .path.display())]
    PermissionDenied { path: PathBuf },

    /// A split without a single image: training on it would "complete" with
    /// a meaningless accuracy.
    #[error("{}: has no {split} images", .path.display())]
    EmptySplit { path: PathBuf, split: &'static str },

    #[error(
        "{}: label {label} at offset {offset} is out of range for {dataset} (0..{classes})",
        .path.display()
    )]
    LabelOutOfRange {
        path: PathBuf,
        label: u32,
        offset: u64,
        dataset: &'static str,
        classes: usize,
    },

    #[error(
        "{}: wrong magic number 0x{found:08x}, expected 0x{expected:08x} ({what})",
        .path.display()
    )]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        what: &'static str,
    },

    /// Structurally invalid content that the other variants do not cover.
    #[error("{}: {message}", .path.display())]
    Format { path: PathBuf, message: String },

    #[error("{}: cannot decode {format}: {message}", .path.display())]
    Decode {
        path: PathBuf,
        format: &'static str,
        message: String,
    },

    #[error("dataset '{name}' is not installed: looked in {}", list_paths(.looked))]
    NotInstalled { name: String, looked: Vec<PathBuf> },

    #[error(
        "{}: cannot tell which dataset this is (expected CIFAR-10 data_batch_*.bin, \
         CIFAR-100 train.bin/test.bin, TinyImageNet wnids.txt or IDX *-ubyte[.gz] files)",
        .path.display()
    )]
    Undetected { path: PathBuf },

    #[error(
        "unknown dataset '{spec}': neither a known name ({}) nor an existing path",
        crate::DatasetKind::names().join(", ")
    )]
    UnknownSpec { spec: String },

    #[error("invalid synthetic dataset config: {0}")]
    Config(String),
}

fn list_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

impl DatasetError {
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
