//! Opening a dataset from a name or a path, telling the format of a path
//! from the files it holds.

use std::env;
use std::path::{Path, PathBuf};

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
    if !path.exists() {
        return Err(DatasetError::UnknownSpec {
            spec: spec.to_string(),
        });
    }
    let kind = detect(path).ok_or_else(|| DatasetError::Undetected {
        path: path.to_path_buf(),
    })?;
    load(kind, path)
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
/// judged by its files; the loader then validates their content.
pub fn detect(path: &Path) -> Option<DatasetKind> {
    let dir = if path.is_file() { path.parent()? } else { path };
    let has = |name: &str| dir.join(name).exists();
    if has("cifar-10-batches-bin") || has("data_batch_1.bin") {
        Some(DatasetKind::Cifar10)
    } else if has("cifar-100-binary") || (has("train.bin") && has("test.bin")) {
        Some(DatasetKind::Cifar100)
    } else if has("tiny-imagenet-200") || has("wnids.txt") {
        Some(DatasetKind::TinyImageNet)
    } else if idx::present(dir) {
        Some(DatasetKind::FashionMnist)
    } else {
        None
    }
}

fn load(kind: DatasetKind, path: &Path) -> Result<Dataset, DatasetError> {
    let dir = if path.is_file() {
        path.parent().unwrap_or(path)
    } else {
        path
    };
    match kind {
        DatasetKind::Synthetic => synthetic(&SyntheticConfig::default()),
        DatasetKind::Cifar10 => load_cifar10(dir),
        DatasetKind::Cifar100 => load_cifar100(dir),
        DatasetKind::TinyImageNet => load_tinyimagenet(dir),
        DatasetKind::FashionMnist => load_idx(dir),
    }
}
