//! Per-epoch checkpoints: model weights and optimizer state (burnpack
//! files) plus a small JSON naming the epoch and the files' SHA-256, written
//! last and atomically, so a checkpoint is either complete or absent, and a
//! file corrupted later is refused on resume. (Checkpoints written before
//! digests were recorded have none and resume unchecked.)

use super::{EpochMetrics, TrainError};
use crate::engine::atomic_write::Staged;
use crate::engine::checksum::Sha256;
use burn::optim::ModuleOptimizer;
use burn::tensor::Bytes;
use deepreduce_models::IrModel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const INDEX: &str = "checkpoint.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Epochs finished when it was written.
    pub epoch: usize,
    pub dir: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Digests>,
    /// The metrics of the epoch it ends, so that a process killed before
    /// the store recorded them loses nothing (absent in older checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<EpochMetrics>,
}

/// The SHA-256 of a checkpoint's two files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digests {
    pub model: Sha256,
    pub optim: Sha256,
}

fn error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl Checkpoint {
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(format!("model-epoch{}.bpk", self.epoch))
    }

    fn optim_path(&self) -> PathBuf {
        self.dir.join(format!("optim-epoch{}.bpk", self.epoch))
    }

    /// Saves the state after the epoch `metrics` describe.
    pub fn save(
        dir: &Path,
        metrics: &EpochMetrics,
        model: &IrModel,
        optim: &ModuleOptimizer,
    ) -> Result<Self, TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| error(dir, e))?;
        let previous = Self::latest(dir).ok().flatten();
        let epoch = metrics.epoch;
        let mut cp = Checkpoint {
            epoch,
            dir: dir.to_path_buf(),
            sha256: None,
            metrics: Some(EpochMetrics {
                checkpoint: None,
                ..metrics.clone()
            }),
        };
        let model_bytes = model.to_bytes().map_err(|e| error(&cp.model_path(), e))?;
        let optim_bytes = optim.into_bytes().map_err(|e| error(&cp.optim_path(), e))?;
        cp.sha256 = Some(Digests {
            model: Sha256::of(&model_bytes),
            optim: Sha256::of(&optim_bytes),
        });
        let index = serde_json::to_vec(&cp).expect("JSON");
        // The index is published last: it names only complete files.
        let mut staged = Staged::default();
        staged.write(&cp.model_path(), &model_bytes)?;
        staged.write(&cp.optim_path(), &optim_bytes)?;
        staged.write(&dir.join(INDEX), &index)?;
        staged.commit()?;
        // Only the newest checkpoint is kept.
        if let Some(old) = previous.filter(|p| p.epoch != epoch) {
            let _ = std::fs::remove_file(old.model_path());
            let _ = std::fs::remove_file(old.optim_path());
        }
        Ok(cp)
    }

    /// The newest complete checkpoint in `dir`, if any.
    pub fn latest(dir: &Path) -> Result<Option<Self>, TrainError> {
        let index = dir.join(INDEX);
        match std::fs::read(&index) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(error(&index, e)),
            Ok(bytes) => {
                let mut cp: Checkpoint =
                    serde_json::from_slice(&bytes).map_err(|e| error(&index, e))?;
                cp.dir = dir.to_path_buf();
                let model_path = cp.model_path();
                if let Some(m) = &mut cp.metrics {
                    m.checkpoint = Some(model_path);
                }
                Ok(Some(cp))
            }
        }
    }

    pub fn load(
        &self,
        model: IrModel,
        optim: ModuleOptimizer,
    ) -> Result<(IrModel, ModuleOptimizer), TrainError> {
        let model_bytes = self.read(&self.model_path(), self.sha256.map(|d| d.model))?;
        let optim_bytes = self.read(&self.optim_path(), self.sha256.map(|d| d.optim))?;
        let model = model
            .with_bytes(model_bytes)
            .map_err(|e| error(&self.model_path(), e))?;
        let optim = optim
            .from_bytes(Bytes::from_bytes_vec(optim_bytes))
            .map_err(|e| error(&self.optim_path(), e))?;
        Ok((model, optim))
    }

    /// A checkpoint file's bytes, checked against its recorded digest.
    fn read(&self, path: &Path, digest: Option<Sha256>) -> Result<Vec<u8>, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| error(path, e))?;
        if let Some(digest) = digest {
            digest
                .check(path, &bytes)
                .map_err(|e| error(path, e.reason()))?;
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RunContext, TrainConfig, train};
    use super::*;
    use burn::tensor::Device;
    use deepreduce_datasets::{Dataset, SyntheticConfig, synthetic};
    use deepreduce_plugin_api::testing::tiny;
    use deepreduce_plugin_api::{InputSpec, Network};

    /// The tiny network on 16x16 synthetic images (the smallest they come).
    fn setup() -> (Network, Dataset, TrainConfig) {
        let mut net = tiny();
        net.input = InputSpec {
            channels: 3,
            height: 16,
            width: 16,
        };
        let data = synthetic(&SyntheticConfig {
            size: 16,
            train: 32,
            test: 16,
            ..SyntheticConfig::default()
        })
        .unwrap();
        let cfg = TrainConfig {
            epochs: 1,
            batch_size: 16,
            augment: false,
            ..TrainConfig::default()
        };
        (net, data, cfg)
    }

    /// Trains `epochs` epochs with checkpoints in `dir`, resuming from its latest.
    fn train_in(dir: &Path, epochs: usize) -> Result<usize, TrainError> {
        let (net, data, cfg) = setup();
        let device = Device::flex();
        let ctx = RunContext {
            device: &device,
            events: None,
            cancel: None,
            checkpoint_dir: Some(dir.to_path_buf()),
            resume: Checkpoint::latest(dir)?,
        };
        let cfg = TrainConfig { epochs, ..cfg };
        train(&net, &data, &cfg, None, &ctx).map(|o| o.epochs_done)
    }

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "deepreduce-checkpoint-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn flip_last_byte(path: &Path) {
        let mut bytes = std::fs::read(path).unwrap();
        *bytes.last_mut().unwrap() ^= 0x01;
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_flipped_byte_in_a_checkpoint_is_refused_on_resume() {
        let dir = folder("flipped");
        assert_eq!(train_in(&dir, 1).unwrap(), 1);
        let cp = Checkpoint::latest(&dir).unwrap().unwrap();
        for file in [cp.model_path(), cp.optim_path()] {
            let intact = std::fs::read(&file).unwrap();
            flip_last_byte(&file);
            match train_in(&dir, 2) {
                Err(TrainError::Checkpoint { path, message }) => {
                    assert_eq!(path, file);
                    assert!(message.starts_with("corrupt"), "{message}");
                }
                other => panic!("{} flipped: {:?}", file.display(), other.map(|_| ())),
            }
            std::fs::write(&file, intact).unwrap();
        }
        assert_eq!(train_in(&dir, 2).unwrap(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_checkpoint_written_without_digests_still_resumes() {
        let dir = folder("no-digests");
        train_in(&dir, 1).unwrap();
        let index = dir.join(INDEX);
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&index).unwrap()).unwrap();
        assert!(json["sha256"]["model"].is_string());
        json.as_object_mut().unwrap().remove("sha256");
        std::fs::write(&index, json.to_string()).unwrap();
        assert_eq!(Checkpoint::latest(&dir).unwrap().unwrap().sha256, None);
        assert_eq!(train_in(&dir, 2).unwrap(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
