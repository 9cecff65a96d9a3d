//! A trained network on disk: a folder with `network.json` (the IR),
//! `model.bpk` (the weights) and `SHA256SUMS` (the digests of both, in
//! `sha256sum`'s format). `deepreduce train --out DIR` and the pipeline write
//! one; a KD teacher and export read one.
//!
//! The digests are checked on every load: a corrupt weights file is refused,
//! and so is a `network.json` edited after training (a ReLU turned into an
//! identity changes no weight shape, so only its digest tells). A folder
//! written before digests were recorded has no `SHA256SUMS` and loads
//! unchecked ([`Trained::checksums`] is `None`).

use crate::engine::atomic_write::{Staged, WriteError};
use crate::engine::checksum::{Mismatch, Sha256, SumsFile};
use burn::tensor::Device;
use deepreduce_models::IrModel;
use deepreduce_plugin_api::{IrError, Network};
use std::path::{Path, PathBuf};

pub const NETWORK_FILE: &str = "network.json";
pub const WEIGHTS_FILE: &str = "model.bpk";
pub const SUMS_FILE: &str = "SHA256SUMS";

#[derive(Debug, thiserror::Error)]
pub enum TrainedError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{}: invalid network: {source}", path.display())]
    Network { path: PathBuf, source: IrError },
    #[error("weights {}: {message}", path.display())]
    Weights { path: PathBuf, message: String },
    #[error(transparent)]
    Corrupt(#[from] Mismatch),
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> TrainedError {
    TrainedError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The files of a trained network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files {
    pub network: PathBuf,
    pub weights: PathBuf,
    pub sums: PathBuf,
}

/// The digests of a trained network's files, recorded when it was saved.
/// Kept together, they bind the weights to the network they were trained for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checksums {
    pub network: Sha256,
    pub weights: Sha256,
}

/// A trained network read from disk, its files checked against their digests.
pub struct Trained {
    pub network: Network,
    pub model: IrModel,
    pub files: Files,
    /// `None` for a folder written before digests were recorded: unchecked.
    pub checksums: Option<Checksums>,
}

/// The files of a trained network given as its folder, or as its weights
/// file with `network.json` beside it.
pub fn files(path: &Path) -> Files {
    let (dir, weights) = if path.is_dir() {
        (path, path.join(WEIGHTS_FILE))
    } else {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        (dir.unwrap_or(Path::new(".")), path.to_path_buf())
    };
    Files {
        network: dir.join(NETWORK_FILE),
        weights,
        sums: dir.join(SUMS_FILE),
    }
}

pub fn save(dir: &Path, net: &Network, model: &IrModel) -> Result<(), TrainedError> {
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    let network = serde_json::to_vec_pretty(net).expect("IR serialises");
    let weights = model
        .to_bytes()
        .map_err(|e| file_error(&dir.join(WEIGHTS_FILE), e))?;
    let mut staged = Staged::default();
    stage(&mut staged, dir, &network, &weights)?;
    Ok(staged.commit()?)
}

/// Stages the files of a trained network in `dir`: the IR, the weights and
/// their digests (last, so they are published after the files they describe).
pub fn stage(
    staged: &mut Staged,
    dir: &Path,
    network: &[u8],
    weights: &[u8],
) -> Result<(), WriteError> {
    staged.write(&dir.join(NETWORK_FILE), network)?;
    staged.write(&dir.join(WEIGHTS_FILE), weights)?;
    let sums = SumsFile(vec![
        (NETWORK_FILE.into(), Sha256::of(network)),
        (WEIGHTS_FILE.into(), Sha256::of(weights)),
    ]);
    staged.write(&dir.join(SUMS_FILE), sums.to_text().as_bytes())
}

/// The digests recorded beside `files`, or `None` when there are none.
pub fn checksums(files: &Files) -> Result<Option<Checksums>, TrainedError> {
    let text = match std::fs::read_to_string(&files.sums) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other.map_err(|e| file_error(&files.sums, e))?,
    };
    let sums = SumsFile::parse(&text).map_err(|e| file_error(&files.sums, e))?;
    let digest = |path: &Path| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        sums.get(&name)
            .ok_or_else(|| file_error(&files.sums, format!("no digest for {name}")))
    };
    Ok(Some(Checksums {
        network: digest(&files.network)?,
        weights: digest(&files.weights)?,
    }))
}

/// The bytes of the IR and weights files, checked against `checksums`.
pub fn read(
    files: &Files,
    checksums: Option<&Checksums>,
) -> Result<(Vec<u8>, Vec<u8>), TrainedError> {
    let network = std::fs::read(&files.network).map_err(|e| {
        file_error(
            &files.network,
            format!("{e} (a trained network folder holds {NETWORK_FILE} and {WEIGHTS_FILE})"),
        )
    })?;
    let weights = std::fs::read(&files.weights).map_err(|e| file_error(&files.weights, e))?;
    if let Some(c) = checksums {
        c.network.check(&files.network, &network)?;
        c.weights.check(&files.weights, &weights)?;
    }
    Ok((network, weights))
}

/// Reads a trained network from its folder, or from its weights file with
/// `network.json` beside it, checking both files against their digests.
pub fn open(path: &Path, device: &Device) -> Result<Trained, TrainedError> {
    let files = files(path);
    let checksums = checksums(&files)?;
    let (network, weights) = read(&files, checksums.as_ref())?;
    let network: Network =
        serde_json::from_slice(&network).map_err(|e| file_error(&files.network, e))?;
    // burn refuses weights whose shapes differ from the network's.
    let model = IrModel::new(&network, device)
        .map_err(|source| TrainedError::Network {
            path: files.network.clone(),
            source,
        })?
        .with_bytes(weights)
        .map_err(|e| TrainedError::Weights {
            path: files.weights.clone(),
            message: e.to_string(),
        })?;
    Ok(Trained {
        network,
        model,
        files,
        checksums,
    })
}

/// [`open`], for callers that need only the network and its model.
pub fn load(path: &Path, device: &Device) -> Result<(Network, IrModel), TrainedError> {
    open(path, device).map(|t| (t.network, t.model))
}
