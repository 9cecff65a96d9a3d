//! Reading files with errors that name the file and say what was expected.
//!
//! Only regular files are read, and never more than the caller expects: a
//! FIFO would block forever, a link to `/dev/zero` would never end, and a
//! wrong or growing file must not exhaust memory.

use std::fs::{self, File, FileType, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::DatasetError;

/// The error for an I/O failure on `path`; `expected` describes the file
/// for the "not found" message.
pub(crate) fn io_error(path: &Path, source: io::Error, expected: &str) -> DatasetError {
    match source.kind() {
        io::ErrorKind::NotFound => DatasetError::NotFound {
            path: path.to_path_buf(),
            expected: expected.to_string(),
        },
        io::ErrorKind::PermissionDenied => DatasetError::PermissionDenied {
            path: path.to_path_buf(),
        },
        _ => DatasetError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// What a file that is not a regular file is, for messages.
fn kind_of(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "a special file"
    }
}

/// Refuses anything but a regular file of at most `max_len` bytes.
fn check_regular(path: &Path, meta: &Metadata, max_len: u64) -> Result<(), DatasetError> {
    if !meta.is_file() {
        return Err(DatasetError::NotRegularFile {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    }
    if meta.len() > max_len {
        return Err(DatasetError::Oversized {
            path: path.to_path_buf(),
            len: meta.len(),
            max: max_len,
        });
    }
    Ok(())
}

/// Opens for reading without waiting: opening a FIFO that has no writer
/// would otherwise block. Regular files read the same either way.
fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Opens a regular file of at most `max_len` bytes and returns it with its
/// size. The path is checked (following links) before it is opened, so that
/// nothing else is ever opened, and the opened file is checked again, in
/// case the path was replaced in between.
fn open_regular(path: &Path, max_len: u64, expected: &str) -> Result<(File, u64), DatasetError> {
    let meta = fs::metadata(path).map_err(|e| io_error(path, e, expected))?;
    check_regular(path, &meta, max_len)?;
    let file = open_nonblocking(path).map_err(|e| io_error(path, e, expected))?;
    let meta = file.metadata().map_err(|e| io_error(path, e, expected))?;
    check_regular(path, &meta, max_len)?;
    Ok((file, meta.len()))
}

/// Reads `reader` to its end, but no more than `max_len` bytes: `Ok(None)`
/// when there was more. `size_hint` (at most `max_len`) sizes the buffer.
fn read_capped(reader: impl Read, max_len: u64, size_hint: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::with_capacity(size_hint.min(max_len) as usize);
    reader.take(max_len + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max_len).then_some(bytes))
}

/// Reads a whole regular file of at most `max_len` bytes, refusing a larger
/// one before reading it (so a wrong path cannot make us load gigabytes) and
/// one that grows past `max_len` while it is read. `expected` describes the
/// file for the "not found" message.
pub(crate) fn read_file(
    path: &Path,
    max_len: u64,
    expected: &str,
) -> Result<Vec<u8>, DatasetError> {
    let (mut file, len) = open_regular(path, max_len, expected)?;
    let read = read_capped(&mut file, max_len, len).map_err(|e| io_error(path, e, expected))?;
    read.ok_or_else(|| DatasetError::Oversized {
        path: path.to_path_buf(),
        // It grew: its size now, which is more than we read.
        len: file
            .metadata()
            .map_or(max_len + 1, |m| m.len().max(max_len + 1)),
        max: max_len,
    })
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

/// A regular file read as a stream, decompressed on the fly when its name
/// ends in `.gz`, for formats whose header says how much follows: the reader
/// asks for exactly that much, so a gzip bomb is never inflated further.
pub(crate) struct Source {
    path: PathBuf,
    reader: Box<dyn Read>,
    /// How many bytes reading yields, when known before reading: the file's
    /// size if it is not compressed.
    pub(crate) len: Option<u64>,
    gz: bool,
}

impl Source {
    /// Opens `path`, a regular file of at most `max_len` bytes on disk.
    pub(crate) fn open(path: &Path, max_len: u64, expected: &str) -> Result<Self, DatasetError> {
        let (file, len) = open_regular(path, max_len, expected)?;
        let gz = path.extension().is_some_and(|e| e == "gz");
        let reader: Box<dyn Read> = if gz {
            Box::new(GzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Ok(Source {
            path: path.to_path_buf(),
            reader,
            len: (!gz).then_some(len),
            gz,
        })
    }

    /// The next `n` bytes, or fewer where the stream ends: for a header.
    pub(crate) fn read_prefix(&mut self, n: u64) -> Result<Vec<u8>, DatasetError> {
        let mut bytes = Vec::new();
        (&mut self.reader)
            .take(n)
            .read_to_end(&mut bytes)
            .map_err(|e| self.error(e))?;
        Ok(bytes)
    }

    /// The rest of the stream if it is at most `max_len` bytes; `None` when
    /// it is longer, having read `max_len + 1` bytes of it and no more.
    pub(crate) fn read_rest(&mut self, max_len: u64) -> Result<Option<Vec<u8>>, DatasetError> {
        read_capped(&mut self.reader, max_len, self.len.unwrap_or(0)).map_err(|e| self.error(e))
    }

    fn error(&self, source: io::Error) -> DatasetError {
        if self.gz {
            DatasetError::Decode {
                path: self.path.clone(),
                format: "gzip",
                message: source.to_string(),
            }
        } else {
            DatasetError::Io {
                path: self.path.clone(),
                source,
            }
        }
    }
}

/// Whether `dir/name` exists (following links), for telling formats apart.
/// Failing to look is an error, not "absent": without permission to search
/// `dir`, the error names `dir`.
pub(crate) fn exists_in(dir: &Path, name: &str) -> Result<bool, DatasetError> {
    let path = dir.join(name);
    path.try_exists().map_err(|e| {
        let at = if e.kind() == io::ErrorKind::PermissionDenied {
            dir
        } else {
            &path
        };
        io_error(at, e, "a dataset folder")
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

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn permission_denied_names_the_path() {
        let error = io::Error::from(io::ErrorKind::PermissionDenied);
        let msg = io_error(Path::new("/data/cifar"), error, "CIFAR").to_string();
        assert_eq!(msg, "/data/cifar: permission denied");
    }

    #[test]
    fn files_are_opened_non_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        fs::write(&path, b"data").unwrap();
        let file = open_nonblocking(&path).unwrap();
        // SAFETY: F_GETFL on a file descriptor we own.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        assert_ne!(flags & libc::O_NONBLOCK, 0, "flags {flags:#x}");
    }

    #[test]
    fn a_fifo_swapped_in_after_the_check_is_refused_once_open() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("data_batch_1.bin");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `name` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
        // Held open for reading and writing, so that opening it again cannot
        // wait whatever the flags: this test is about the second check.
        let _both_ends = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        let file = open_nonblocking(&fifo).unwrap();
        let error = check_regular(&fifo, &file.metadata().unwrap(), 1 << 20).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{}: not a regular file (a FIFO)", fifo.display())
        );
    }

    /// Counts the bytes it hands out.
    struct Counting<R> {
        inner: R,
        count: u64,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.count += n as u64;
            Ok(n)
        }
    }

    #[test]
    fn reading_stops_one_byte_past_the_limit() {
        let mut source = Counting {
            inner: io::repeat(0).take(1 << 20),
            count: 0,
        };
        assert_eq!(read_capped(&mut source, 100, 0).unwrap(), None);
        assert_eq!(source.count, 101);
        let mut short = Counting {
            inner: io::repeat(0).take(60),
            count: 0,
        };
        assert_eq!(read_capped(&mut short, 100, 0).unwrap(), Some(vec![0; 60]));
    }
}
