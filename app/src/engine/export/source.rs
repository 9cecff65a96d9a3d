//! Where the network to export comes from: a run in the run store (which
//! also knows its dataset and accuracy) or a trained-network folder.

use super::ExportError;
use super::guard::Protected;
use crate::engine::store::Store;
use crate::engine::trained::{self, Checksums, Files};
use burn::tensor::Device;
use deepreduce_models::IrModel;
use deepreduce_plugin_api::Network;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Run `id` of the run store at `db`.
    Run { id: i64, db: PathBuf },
    /// A `deepreduce train --out` folder, or its model.bpk.
    Checkpoint(PathBuf),
}

/// A trained network and what its source says about it.
pub struct Loaded {
    pub network: Network,
    pub model: IrModel,
    pub files: Files,
    /// `None` when the source has no recorded digests (unchecked).
    pub checksums: Option<Checksums>,
    /// What the export must not overwrite.
    pub protected: Vec<Protected>,
    pub accuracy: Option<f64>,
    pub dataset: Option<String>,
    /// The source, for the manifest.
    pub origin: Value,
}

impl Source {
    pub fn load(&self, device: &Device) -> Result<Loaded, ExportError> {
        match self {
            Source::Checkpoint(path) => {
                let mut loaded = load_checkpoint(path.clone(), device)?;
                loaded.origin = json!({ "checkpoint": path });
                // A weights file given by itself may sit in any folder:
                // only its own files are protected then.
                if !path.is_dir() {
                    let f = &loaded.files;
                    loaded.protected = [&f.network, &f.weights, &f.sums]
                        .map(|p| Protected::File(p.clone()))
                        .to_vec();
                }
                Ok(loaded)
            }
            Source::Run { id, db } => {
                if !db.exists() {
                    return Err(ExportError::NoStore(db.clone()));
                }
                let store = Store::open(db)?;
                let run = store.run(*id)?.ok_or_else(|| ExportError::UnknownRun {
                    id: *id,
                    db: db.clone(),
                })?;
                let weights = run.weights.ok_or_else(|| ExportError::NoWeights {
                    id: *id,
                    status: run.status,
                })?;
                // A pipeline's runs share its dataset; a standalone run
                // records its own in its config.
                let dataset = match run.pipeline_id {
                    Some(p) => store.pipeline(p)?.map(|p| p.dataset),
                    None => run.config["dataset"].as_str().map(str::to_string),
                };
                let mut loaded = load_checkpoint(weights, device)?;
                loaded.protected.push(Protected::Store(db.clone()));
                loaded.accuracy = run.accuracy;
                loaded.dataset = dataset;
                loaded.origin = json!({
                    "run": id,
                    "db": db,
                    "key": run.key,
                    "description": run.description,
                });
                Ok(loaded)
            }
        }
    }
}

/// Loads a trained network; its whole folder is protected.
fn load_checkpoint(path: PathBuf, device: &Device) -> Result<Loaded, ExportError> {
    if !path.exists() {
        return Err(ExportError::NoCheckpoint(path));
    }
    let trained = trained::open(&path, device)?;
    let dataset = trained.network.meta_str("dataset").map(str::to_string);
    let folder = trained.files.network.parent().map(PathBuf::from);
    Ok(Loaded {
        network: trained.network,
        model: trained.model,
        protected: folder.map(Protected::Folder).into_iter().collect(),
        files: trained.files,
        checksums: trained.checksums,
        accuracy: None,
        dataset,
        origin: Value::Null,
    })
}
