//! Where an export may write: never over its own source (the trained
//! network's folder or files) or the run store (with SQLite's files beside
//! it), and over an existing file only when asked to. Paths are compared
//! canonicalised, so `./x/../runs.db` or a link to the checkpoint folder is
//! recognised.

use super::ExportError;
use std::path::{Component, Path, PathBuf};

/// Something an export must not write into or over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protected {
    /// The source checkpoint: nothing may be written inside it.
    Folder(PathBuf),
    /// A source file given by itself.
    File(PathBuf),
    /// The run store; its `-wal`, `-shm` and `-journal` files are covered too.
    Store(PathBuf),
}

impl Protected {
    /// What `dest` (resolved) would destroy, if anything.
    fn hit(&self, dest: &Path) -> Option<String> {
        match self {
            Protected::Folder(dir) => {
                let dir = resolve(dir);
                dest.starts_with(&dir)
                    .then(|| format!("inside the source checkpoint {}", dir.display()))
            }
            Protected::File(file) => (resolve(file) == dest)
                .then(|| format!("the source checkpoint's file {}", file.display())),
            Protected::Store(db) => {
                let name = db.file_name().unwrap_or_default().to_string_lossy();
                ["", "-wal", "-shm", "-journal"]
                    .iter()
                    .any(|suffix| resolve(&db.with_file_name(format!("{name}{suffix}"))) == dest)
                    .then(|| format!("the run store {} (or its journal)", db.display()))
            }
        }
    }
}

/// Refuses the export before anything is written if one of `destinations`
/// is protected, or exists and `force` is not set.
pub fn check(
    destinations: &[PathBuf],
    protected: &[Protected],
    force: bool,
) -> Result<(), ExportError> {
    for dest in destinations {
        let resolved = resolve(dest);
        if let Some(what) = protected.iter().find_map(|p| p.hit(&resolved)) {
            return Err(ExportError::Protected {
                path: dest.clone(),
                what,
            });
        }
        if !force && std::fs::symlink_metadata(dest).is_ok() {
            return Err(ExportError::Exists(dest.clone()));
        }
    }
    Ok(())
}

/// `path` canonicalised: the longest part that exists is resolved by the
/// file system (links, `..`), the rest, which holds no links, lexically.
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let mut out = loop {
        if let Ok(real) = existing.canonicalize() {
            break real;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => break existing.to_path_buf(),
        }
    };
    for component in rest.into_iter().rev() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_paths_resolve_through_their_existing_ancestors() {
        let dir = std::env::temp_dir().join(format!("deepreduce-guard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dir = dir.canonicalize().unwrap();
        let link = dir.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert_eq!(resolve(&link.join("new/../runs.db")), dir.join("runs.db"));
        assert_eq!(resolve(&link.join("new/x.onnx")), dir.join("new/x.onnx"));
        assert_eq!(resolve(&link.join("a/../../b")), dir.with_file_name("b"));
        std::fs::remove_file(&link).unwrap();
    }
}
