//! Reading files with errors that name the file and say what was expected.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::DatasetError;

fn io_error(path: &Path, source: io::Error, expected: &str) -> DatasetError {
    if source.kind() == io::ErrorKind::NotFound {
        DatasetError::NotFound {
            path: path.to_path_buf(),
            expected: expected.to_string(),
        }
    } else {
        DatasetError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reads a whole file, refusing one larger than `max_len` before reading it
/// (so a wrong path cannot make us load gigabytes). `expected` describes the
/// file for the "not found" message.
pub(crate) fn read_file(
    path: &Path,
    max_len: u64,
    expected: &str,
) -> Result<Vec<u8>, DatasetError> {
    let len = fs::metadata(path)
        .map_err(|e| io_error(path, e, expected))?
        .len();
    if len > max_len {
        return Err(DatasetError::Oversized {
            path: path.to_path_buf(),
            len,
            max: max_len,
        });
    }
    fs::read(path).map_err(|e| io_error(path, e, expected))
}

/// Like [`read_file`], then decompresses when the name ends in `.gz`;
/// `max_len` bounds the decompressed size too.
pub(crate) fn read_maybe_gz(
    path: &Path,
    max_len: u64,
    expected: &str,
) -> Result<Vec<u8>, DatasetError> {
    let raw = read_file(path, max_len, expected)?;
    if path.extension().is_none_or(|e| e != "gz") {
        return Ok(raw);
    }
    let mut out = Vec::new();
    GzDecoder::new(raw.as_slice())
        .take(max_len + 1)
        .read_to_end(&mut out)
        .map_err(|e| DatasetError::Decode {
            path: path.to_path_buf(),
            format: "gzip",
            message: e.to_string(),
        })?;
    if out.len() as u64 > max_len {
        return Err(DatasetError::format(
            path,
            format!("decompresses to more than {max_len} bytes"),
        ));
    }
    Ok(out)
}

/// Reads a UTF-8 text file.
pub(crate) fn read_text(path: &Path, max_len: u64, expected: &str) -> Result<String, DatasetError> {
    let bytes = read_file(path, max_len, expected)?;
    String::from_utf8(bytes).map_err(|e| {
        DatasetError::format(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// The files of a directory whose extension matches `ext` (case-insensitive),
/// sorted by name so that loading order, and thus labels' order, is stable.
pub(crate) fn list_files(
    dir: &Path,
    ext: &str,
    expected: &str,
) -> Result<Vec<PathBuf>, DatasetError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e, expected))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io_error(dir, e, expected))?.path();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(ext))
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// `dir/sub` when that folder exists (the user pointed at the parent of the
/// extracted archive), else `dir` itself.
pub(crate) fn dataset_root(dir: &Path, sub: &str) -> PathBuf {
    let nested = dir.join(sub);
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}
