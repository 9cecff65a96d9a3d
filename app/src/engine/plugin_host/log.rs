//! Each plugin's output (its stdout and stderr, and the faults the host
//! saw) goes to its own log file, never to the workbench's stdout:
//! `<state dir>/plugin-logs/<library file name>.log`, shown in the Plugins
//! panel and by `deepreduce plugins --log ID`. A process writes at most
//! [`PROCESS_OUTPUT_CAP`] bytes; the rest is counted and dropped, so a
//! plugin printing in a loop can neither fill the disk nor block on a full
//! pipe.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const PROCESS_OUTPUT_CAP: u64 = 1 << 20;

/// A log that grew past this is moved to `.old` when a process starts.
const ROTATE_AT: u64 = 4 * PROCESS_OUTPUT_CAP;

#[derive(Debug)]
pub struct PluginLog {
    path: PathBuf,
    /// Serialises the header and fault lines with the output thread's.
    file: Mutex<Option<File>>,
}

impl PluginLog {
    /// The log of `library` in `dir`. A log that cannot be opened (a
    /// read-only or full disk) is no log: the output is drained and dropped.
    pub fn open(dir: &Path, library: &Path) -> PluginLog {
        use sha2::{Digest, Sha256};
        let name = library
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into());
        let full = std::path::absolute(library).unwrap_or_else(|_| library.to_path_buf());
        let hash = Sha256::digest(full.as_os_str().as_encoded_bytes());
        let short: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!("{name}-{short}.log"));
        PluginLog {
            path,
            file: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_file(&self, write: impl FnOnce(&mut File)) {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if file.is_none() {
            *file = open_rotated(&self.path);
        }
        if let Some(f) = file.as_mut() {
            write(f);
        }
    }

    pub fn started(&self, pid: u32, sandboxed: bool) {
        let how = if sandboxed {
            "sandboxed"
        } else {
            "not sandboxed"
        };
        self.note(&format!("process {pid} started ({how})"));
    }

    /// A line from the host (a start, a fault), marked as such.
    pub fn note(&self, line: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.with_file(|f| {
            let _ = writeln!(f, "--- [{now}] {line}");
        });
    }

    /// Copies a process's output into the log on a thread of its own until
    /// the process closes it.
    pub fn capture(self: &std::sync::Arc<Self>, mut output: impl Read + Send + 'static) {
        let log = std::sync::Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("plugin-log".into())
            .spawn(move || {
                let mut buf = [0u8; 8192];
                let (mut kept, mut capped) = (0u64, false);
                while let Ok(n) = output.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let room = PROCESS_OUTPUT_CAP.saturating_sub(kept) as usize;
                    let take = n.min(room);
                    if take > 0 {
                        log.with_file(|f| {
                            let _ = f.write_all(&buf[..take]);
                        });
                        kept += take as u64;
                    }
                    if take < n && !capped {
                        capped = true;
                        log.note(&format!(
                            "\nthe rest of this process's output is dropped (at most {PROCESS_OUTPUT_CAP} bytes each)"
                        ));
                    }
                }
            });
        if spawned.is_err() {
            self.note("its output could not be captured (no thread)");
        }
    }

    /// The last `max_bytes` of the log, or why it cannot be read.
    pub fn tail(&self, max_bytes: u64) -> std::io::Result<String> {
        use std::io::{Seek, SeekFrom};
        let mut file = File::open(&self.path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(max_bytes)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn open_rotated(path: &Path) -> Option<File> {
    std::fs::create_dir_all(path.parent()?).ok()?;
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ROTATE_AT) {
        let _ = std::fs::rename(path, path.with_extension("log.old"));
    }
    OpenOptions::new().create(true).append(true).open(path).ok()
}
