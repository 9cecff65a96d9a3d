//! Measured private inference: a trained network exported (BatchNorms
//! folded, masked layers lowered so that only kept elements enter a ReLU),
//! run in a real two-party framework by the runners of `measure/` (two OS
//! processes over TCP on loopback, real test images as the input owner's
//! private input), and the framework's report kept with the run.

mod npy;
mod python;

use super::export::{ExportError, ExportRequest, Format, Source, export};
use super::plugin_host::PluginHost;
use super::store::{Store, StoreError};
use deepreduce_datasets::{BatchConfig, Batcher};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub use python::RunnerError;

/// A two-party framework the workbench measures in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    /// SecretFlow SPU with the Cheetah protocol (no trusted third party).
    Cheetah,
    /// CrypTen (a trusted dealer for triples: online cost only).
    Crypten,
}

impl Framework {
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Cheetah => "cheetah",
            Framework::Crypten => "crypten",
        }
    }
}

/// What to measure and how.
#[derive(Clone, Debug)]
pub struct MeasureRequest {
    pub source: Source,
    pub framework: Framework,
    /// Test images in the input owner's batch.
    pub batch: usize,
    /// Online forwards whose median is reported.
    pub repeat: usize,
    /// The dataset whose test images are the input (default: the run's).
    pub dataset: Option<String>,
    /// The whole measurement, setup included, is stopped after this.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error("{0}")]
    Invalid(String),
    #[error("export: {0}")]
    Export(#[from] ExportError),
    #[error("dataset: {0}")]
    Dataset(#[from] deepreduce_datasets::DatasetError),
    #[error("no dataset is known for this network: give --dataset")]
    NoDataset,
    #[error("{0}")]
    Runner(#[from] RunnerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a temporary folder: {0}")]
    Temp(std::io::Error),
}

/// Measures `request.source` in its framework; a run of the store gets the
/// report recorded with it. Returns the framework's report (JSON).
pub fn measure(host: &PluginHost, request: &MeasureRequest) -> Result<Value, MeasureError> {
    if request.batch == 0 || request.batch > 1024 {
        return Err(MeasureError::Invalid(format!(
            "--batch {} is not in 1..=1024",
            request.batch
        )));
    }
    if request.repeat == 0 || request.repeat > 100 {
        return Err(MeasureError::Invalid(format!(
            "--repeat {} is not in 1..=100",
            request.repeat
        )));
    }
    let python = python::find(request.framework)?;
    let work = tempfile::tempdir().map_err(MeasureError::Temp)?;
    let model = work.path().join("model.onnx");
    let exported = export(
        host,
        &ExportRequest {
            fold_bn: true,
            dataset: request.dataset.clone(),
            ..ExportRequest::new(request.source.clone(), Format::Onnx, &model)
        },
    )?;
    let dataset = request
        .dataset
        .clone()
        .or(exported.dataset)
        .ok_or(MeasureError::NoDataset)?;
    let images = work.path().join("images.npy");
    write_test_images(&dataset, request.batch, &images)?;
    let report = python::run(
        &python,
        request.framework,
        &model,
        &images,
        request.repeat,
        request.timeout,
    )?;
    if let Source::Run { id, db } = &request.source {
        Store::open(db)?.record_measurement(
            *id,
            request.framework.as_str(),
            request.batch as u64,
            &report,
        )?;
    }
    Ok(report)
}

/// The first `n` test images of `dataset`, normalised as in training (no
/// augmentation), as a float32 `.npy` of shape n x C x H x W.
fn write_test_images(dataset: &str, n: usize, path: &std::path::Path) -> Result<(), MeasureError> {
    let data = deepreduce_datasets::open(dataset)?;
    let cfg = BatchConfig {
        batch_size: n,
        shuffle: false,
        augment: false,
        ..BatchConfig::default()
    };
    let batch = Batcher::spawn(Arc::new(data.test), &data.info, cfg, 0)
        .next()
        .ok_or_else(|| MeasureError::Invalid(format!("dataset '{dataset}' has no test images")))?;
    let shape = [batch.batch_size, batch.channels, batch.height, batch.width];
    npy::write_f32(path, &shape, &batch.images).map_err(MeasureError::Temp)
}
