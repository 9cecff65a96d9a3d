//! Per-epoch checkpoints: model weights and optimizer state (burnpack
//! files) plus a small JSON naming the epoch, written last and atomically,
//! so a checkpoint is either complete or absent.

use super::TrainError;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use deepreduce_models::IrModel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const INDEX: &str = "checkpoint.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Epochs finished when it was written.
    pub epoch: usize,
    pub dir: PathBuf,
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

    pub fn save(
        dir: &Path,
        epoch: usize,
        model: &IrModel,
        optim: &ModuleOptimizer,
    ) -> Result<Self, TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| error(dir, e))?;
        let previous = Self::latest(dir).ok().flatten();
        let cp = Checkpoint {
            epoch,
            dir: dir.to_path_buf(),
        };
        model
            .clone()
            .save_file(cp.model_path())
            .map_err(|e| error(&cp.model_path(), format!("{e:?}")))?;
        optim
            .save(cp.optim_path())
            .map_err(|e| error(&cp.optim_path(), format!("{e:?}")))?;
        let index = dir.join(INDEX);
        let tmp = dir.join(format!("{INDEX}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(&cp).expect("JSON")).map_err(|e| error(&tmp, e))?;
        std::fs::rename(&tmp, &index).map_err(|e| error(&index, e))?;
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
                Ok(Some(cp))
            }
        }
    }

    pub fn load(
        &self,
        model: IrModel,
        optim: ModuleOptimizer,
    ) -> Result<(IrModel, ModuleOptimizer), TrainError> {
        let model = model
            .try_load_file(self.model_path())
            .map_err(|e| error(&self.model_path(), format!("{e:?}")))?;
        let optim = optim
            .load(self.optim_path())
            .map_err(|e| error(&self.optim_path(), format!("{e:?}")))?;
        Ok((model, optim))
    }
}
