//! Files replaced whole or not at all. Each file is written under a hidden
//! temporary name in its destination's folder, synced, and renamed over the
//! destination only when every file of the set is written: a failure half-way
//! (a full disk, an I/O error) leaves the previous files intact and removes
//! the temporaries. A set of files (a model and its manifest) is published
//! together: if one rename fails, the files already renamed are put back.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A failed write, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn error(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    |source| WriteError {
        path: path.to_path_buf(),
        source,
    }
}

/// Files written to temporaries and not yet renamed into place; dropping it
/// removes them.
#[derive(Default)]
pub struct Staged {
    /// (temporary, destination), in the order they are published.
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// Writes `bytes` to a temporary beside `dest`; [`Staged::commit`] renames it.
    pub fn write(&mut self, dest: &Path, bytes: &[u8]) -> Result<(), WriteError> {
        let (temp, mut file) = beside(dest, "tmp", |p| File::create_new(p))?;
        // Registered before writing, so a failed write is removed on drop.
        self.files.push((temp.clone(), dest.to_path_buf()));
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(error(&temp))
    }

    /// Renames every temporary over its destination, in order. If one fails,
    /// the destinations already replaced get their previous files back (and
    /// new ones are removed), so the set is published whole or not at all.
    pub fn commit(mut self) -> Result<(), WriteError> {
        // (destination, its previous file kept aside) for each one published.
        let mut published: Vec<(&Path, Option<PathBuf>)> = Vec::new();
        let last = self.files.len().saturating_sub(1);
        let outcome = self
            .files
            .iter()
            .enumerate()
            .try_for_each(|(i, (temp, dest))| {
                // The last rename needs no way back: if it fails, nothing changed.
                let kept = if i < last { keep_aside(dest)? } else { None };
                std::fs::rename(temp, dest).map_err(|e| {
                    if let Some(kept) = &kept {
                        let _ = std::fs::remove_file(kept);
                    }
                    error(dest)(e)
                })?;
                published.push((dest.as_path(), kept));
                Ok(())
            });
        match outcome {
            Ok(()) => {
                for kept in published.into_iter().filter_map(|(_, k)| k) {
                    let _ = std::fs::remove_file(kept);
                }
                sync_folders(&self.files);
                self.files.clear();
            }
            // Drop removes the temporaries not renamed.
            Err(_) => {
                for (dest, kept) in published.into_iter().rev() {
                    let _ = match kept {
                        Some(kept) => std::fs::rename(kept, dest),
                        None => std::fs::remove_file(dest),
                    };
                }
            }
        }
        outcome
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (temp, _) in &self.files {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Makes a new file `.<name>.<pid>.<n>.<suffix>` beside `dest` with
/// `create`, which must refuse an existing path: hidden, and never clobbering
/// anything (not even a link planted at that name).
fn beside<T>(
    dest: &Path,
    suffix: &str,
    create: impl Fn(&Path) -> std::io::Result<T>,
) -> Result<(PathBuf, T), WriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = dest.file_name().ok_or_else(|| WriteError {
        path: dest.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dest.with_file_name(format!(
            ".{}.{}.{n}.{suffix}",
            name.to_string_lossy(),
            std::process::id()
        ));
        match create(&path) {
            Ok(made) => return Ok((path, made)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(error(&path)(e)),
        }
    }
}

/// A second name for the file (or link) at `dest`, if there is one, so a
/// rollback can rename it back: a hard link (the destination never goes
/// missing), or a copy where the file system has no hard links.
fn keep_aside(dest: &Path) -> Result<Option<PathBuf>, WriteError> {
    // Nothing there, or a folder (over which the rename fails anyway).
    match std::fs::symlink_metadata(dest) {
        Ok(m) if !m.is_dir() => {}
        _ => return Ok(None),
    }
    let (kept, ()) = beside(dest, "old", |kept| {
        std::fs::hard_link(dest, kept).or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Err(e),
            _ => copy_new(dest, kept),
        })
    })?;
    Ok(Some(kept))
}

/// Copies `from` to `to`, which must not exist; no partial copy is left.
fn copy_new(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut source = File::open(from)?;
    let mut file = File::create_new(to)?;
    std::io::copy(&mut source, &mut file)
        .map(drop)
        .inspect_err(|_| {
            let _ = std::fs::remove_file(to);
        })
}

/// Makes the renames durable; best effort, as not every file system can
/// sync a folder.
fn sync_folders(files: &[(PathBuf, PathBuf)]) {
    let mut folders: Vec<&Path> = files.iter().filter_map(|(_, d)| d.parent()).collect();
    folders.dedup();
    for folder in folders {
        let folder = if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        };
        if let Ok(f) = File::open(folder) {
            let _ = f.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("deepreduce-atomic-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_set_replaces_its_files_and_leaves_no_temporaries() {
        let dir = folder("replace");
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, "old a").unwrap();
        let mut files = Staged::default();
        files.write(&a, b"new a").unwrap();
        files.write(&b, b"new b").unwrap();
        // Nothing is visible before the commit.
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        assert!(!b.exists());
        files.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
        assert_eq!(names(&dir), ["a", "b"]);
    }

    #[test]
    fn a_failed_rename_puts_back_the_files_already_replaced() {
        let dir = folder("rollback");
        let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
        std::fs::write(&a, "old a").unwrap();
        // A folder where the last file should go: its rename fails.
        std::fs::create_dir(&c).unwrap();
        let mut files = Staged::default();
        files.write(&a, b"new a").unwrap();
        files.write(&b, b"new b").unwrap();
        files.write(&c, b"new c").unwrap();
        let err = files.commit().unwrap_err();
        assert_eq!(err.path, c);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        assert!(!b.exists(), "a file that did not exist before is removed");
        assert_eq!(names(&dir), ["a", "c"]);
    }

    #[test]
    fn dropping_a_set_removes_its_temporaries() {
        let dir = folder("drop");
        let mut files = Staged::default();
        files.write(&dir.join("a"), b"a").unwrap();
        assert_eq!(names(&dir).len(), 1);
        drop(files);
        assert!(names(&dir).is_empty());
    }
}
