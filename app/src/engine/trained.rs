//! A trained network on disk: a folder with `network.json` (the IR) and
//! `model.bpk` (the weights). `deepreduce train --out DIR` writes one; a KD
//! teacher and export read one.

use burn::tensor::Device;
use deepreduce_models::IrModel;
use deepreduce_plugin_api::Network;
use std::path::{Path, PathBuf};

pub const NETWORK_FILE: &str = "network.json";
pub const WEIGHTS_FILE: &str = "model.bpk";

#[derive(Debug, thiserror::Error)]
pub enum TrainedError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Weights(#[from] deepreduce_models::LoadError),
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> TrainedError {
    TrainedError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

pub fn save(dir: &Path, net: &Network, model: &IrModel) -> Result<(), TrainedError> {
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    let path = dir.join(NETWORK_FILE);
    let json = serde_json::to_vec_pretty(net).expect("IR serialises");
    std::fs::write(&path, json).map_err(|e| file_error(&path, e))?;
    model.save(&dir.join(WEIGHTS_FILE))?;
    Ok(())
}

/// The IR and weights files of a trained network given as its folder, or
/// as its weights file with `network.json` beside it.
pub fn files(path: &Path) -> (PathBuf, PathBuf) {
    if path.is_dir() {
        (path.join(NETWORK_FILE), path.join(WEIGHTS_FILE))
    } else {
        let dir = path.parent().unwrap_or(Path::new("."));
        (dir.join(NETWORK_FILE), path.to_path_buf())
    }
}

/// Loads a trained network from its folder, or from its weights file with
/// `network.json` beside it.
pub fn load(path: &Path, device: &Device) -> Result<(Network, IrModel), TrainedError> {
    let (ir_path, weights) = files(path);
    let text = std::fs::read_to_string(&ir_path).map_err(|e| {
        file_error(
            &ir_path,
            format!("{e} (a trained network folder holds {NETWORK_FILE} and {WEIGHTS_FILE})"),
        )
    })?;
    let net: Network = serde_json::from_str(&text).map_err(|e| file_error(&ir_path, e))?;
    let model = IrModel::load(&net, &weights, device)?;
    Ok((net, model))
}
