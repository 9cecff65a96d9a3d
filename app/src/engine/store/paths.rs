//! Paths as the store keeps them: relative to the store's folder when they
//! lie under it, so a store and its runs folder can move together and be
//! read from any working directory.

use rusqlite::Row;
use std::path::{Path, PathBuf};

/// `path` (absolute, or relative to the working directory) as stored:
/// relative to `store_dir` (an absolute folder) when under it, else absolute.
pub(super) fn to_stored(path: &Path, store_dir: &Path) -> std::io::Result<PathBuf> {
    let path = std::path::absolute(path)?;
    Ok(match path.strip_prefix(store_dir) {
        Ok(inside) => inside.to_path_buf(),
        Err(_) => path,
    })
}

/// Column `i`, a stored path, made absolute against `store_dir`. Stores
/// written before paths were relative to the store hold absolute paths
/// (kept as they are) or paths relative to the working directory of the
/// process that wrote them, which are correct only if that was the
/// store's folder.
pub(super) fn read(r: &Row, i: usize, store_dir: &Path) -> rusqlite::Result<Option<PathBuf>> {
    Ok(r.get::<_, Option<String>>(i)?.map(|p| store_dir.join(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_store_are_kept_relative_others_absolute() {
        let dir = Path::new("/data/stores");
        assert_eq!(
            to_stored(Path::new("/data/stores/runs.runs/3/final"), dir).unwrap(),
            Path::new("runs.runs/3/final")
        );
        assert_eq!(
            to_stored(Path::new("/elsewhere/w.bpk"), dir).unwrap(),
            Path::new("/elsewhere/w.bpk")
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            to_stored(Path::new("w.bpk"), dir).unwrap(),
            cwd.join("w.bpk")
        );
    }
}
