//! Opening a dataset from a name or a path, telling the format of a path
//! from the files it holds.

use std::env;
use std::path::{Path, PathBuf};

use crate::files::{exists_in, io_error};
use crate::{
    Dataset, DatasetError, DatasetKind, SyntheticConfig, idx, load_cifar10, load_cifar100,
    load_idx, load_tinyimagenet, synthetic,
};

/// Where Debian's `dataset-fashion-mnist` package installs the data.
const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// Opens a dataset by name (`synthetic`, `cifar10`, `cifar100`,
/// `tinyimagenet`, `fashion-mnist`), looked for in [`search_dirs`], or from a
/// path whose format is detected from the files it holds.
pub fn open(spec: &str) -> Result<Dataset, DatasetError> {
    if let Some(kind) = DatasetKind::from_name(spec) {
        if kind == DatasetKind::Synthetic {
            return synthetic(&SyntheticConfig::default());
        }
        let looked = search_dirs(kind);
        return match looked.iter().find(|dir| dir.is_dir()) {
            Some(dir) => load(kind, dir),
            None => Err(DatasetError::NotInstalled {
                name: spec.to_string(),
                looked,
            }),
        };
    }
    let path = Path::new(spec);
    // Unlike `exists`, `try_exists` tells "absent" from "cannot look".
    match path.try_exists() {
        Ok(true) => {}
        Ok(false) => {
            return Err(DatasetError::UnknownSpec {
                spec: spec.to_string(),
            });
        }
        Err(e) => return Err(io_error(path, e, "a dataset folder or file")),
    }
    let dir = folder_of(path);
    let kind = scan(dir)?.ok_or_else(|| DatasetError::Undetected {
        path: path.to_path_buf(),
    })?;
    load(kind, dir)
}

/// The folders searched, in order, for a dataset opened by name:
/// `$DEEPREDUCE_DATA/<name>`, then `~/.cache/deepreduce/data/<name>`;
/// Fashion-MNIST is first looked for where Debian installs it.
pub fn search_dirs(kind: DatasetKind) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if kind == DatasetKind::FashionMnist {
        dirs.push(PathBuf::from(DEBIAN_FASHION_MNIST));
    }
    if let Some(root) = env::var_os("DEEPREDUCE_DATA") {
        dirs.push(PathBuf::from(root).join(kind.name()));
    }
    if let Some(home) = env::var_os("HOME") {
        dirs.push(
            PathBuf::from(home)
                .join(".cache/deepreduce/data")
                .join(kind.name()),
        );
    }
    dirs
}

/// Which dataset the folder `path` (or the folder of the file `path`) holds,
/// judged by its files; the loader then validates their content. `None`
/// also when the folder cannot be looked into ([`open`] says why).
pub fn detect(path: &Path) -> Option<DatasetKind> {
    scan(folder_of(path)).ok().flatten()
}

/// The folder `path` names: itself, or the folder of the file (or other
/// non-folder) it names.
fn folder_of(path: &Path) -> &Path {
    match path.metadata() {
        Ok(meta) if !meta.is_dir() => path.parent().unwrap_or(path),
        _ => path,
    }
}

/// Which dataset `dir` holds, by the names of its files; an error when it
/// cannot be looked into (no permission), so that this is not mistaken for
/// an unknown format.
fn scan(dir: &Path) -> Result<Option<DatasetKind>, DatasetError> {
    let has = |name: &str| exists_in(dir, name);
    let kind = if has("cifar-10-batches-bin")? || has("data_batch_1.bin")? {
        DatasetKind::Cifar10
    } else if has("cifar-100-binary")? || (has("train.bin")? && has("test.bin")?) {
        DatasetKind::Cifar100
    } else if has("tiny-imagenet-200")? || has("wnids.txt")? {
        DatasetKind::TinyImageNet
    } else if idx::present(dir)? {
        DatasetKind::FashionMnist
    } else {
        return Ok(None);
    };
    Ok(Some(kind))
}

fn load(kind: DatasetKind, dir: &Path) -> Result<Dataset, DatasetError> {
    match kind {
        DatasetKind::Synthetic => synthetic(&SyntheticConfig::default()),
        DatasetKind::Cifar10 => load_cifar10(dir),
        DatasetKind::Cifar100 => load_cifar100(dir),
        DatasetKind::TinyImageNet => load_tinyimagenet(dir),
        DatasetKind::FashionMnist => load_idx(dir),
    }
}
