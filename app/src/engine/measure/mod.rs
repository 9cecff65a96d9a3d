//! Measured private inference: a trained network exported (BatchNorms
//! folded, masked layers lowered so that only kept elements enter a ReLU),
//! run in a real two-party framework by the runners of `measure/` (two OS
//! processes over TCP on loopback, real test images as the input owner's
//! private input), and the framework's report kept with the run.

pub mod link;
mod npy;
mod python;
mod report;

use super::export::{ExportError, ExportRequest, Format, Source, export};
use super::plugin_host::PluginHost;
use super::store::{Store, StoreError};
use super::train::initial_model;
use super::trained;
use burn::tensor::Device;
use deepreduce_datasets::{BatchConfig, Batcher};
use deepreduce_plugin_api::Network;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use python::RunnerError;
pub use report::{LayerCost, Report};

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

/// The network a measurement runs.
#[derive(Clone, Debug)]
pub enum Measured {
    /// A trained network: a run of the store (which keeps the report) or a
    /// folder.
    Trained(Source),
    /// A network with the weights training would start from (`seed`): its
    /// cost without training it, since cost does not depend on weights.
    /// The report is kept in the store `db` when given (for calibration).
    Untrained {
        network: Network,
        seed: u64,
        db: Option<PathBuf>,
    },
}

/// What to measure and how.
#[derive(Clone, Debug)]
pub struct MeasureRequest {
    pub measured: Measured,
    pub framework: Framework,
    /// Images in the input owner's batch.
    pub batch: usize,
    /// Online forwards whose median is reported.
    pub repeat: usize,
    /// The dataset whose first test images are the input; default: the
    /// trained network's own dataset, or seeded noise for an untrained one.
    pub test_images: Option<String>,
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
    #[error("no dataset is known for this network: say whose test images to use")]
    NoDataset,
    #[error("the untrained network: {0}")]
    Untrained(String),
    #[error("{0}")]
    Runner(#[from] RunnerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a temporary folder: {0}")]
    Temp(std::io::Error),
}

/// The input owner's images.
enum Images {
    /// The first test images of a dataset, normalised as in training.
    Test(String),
    /// Seeded noise of the network's input shape.
    Noise { seed: u64 },
}

/// Measures `request.measured` in its framework; a run of the store gets
/// the report recorded with it.
pub fn measure(host: &PluginHost, request: &MeasureRequest) -> Result<Report, MeasureError> {
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
    let (source, weights) = match &request.measured {
        Measured::Trained(source) => (source.clone(), describe(source)),
        Measured::Untrained { network, seed, .. } => {
            let folder = work.path().join("untrained");
            let model = initial_model(network, &Device::flex(), *seed)
                .map_err(|e| MeasureError::Untrained(e.to_string()))?;
            trained::save(&folder, network, &model)
                .map_err(|e| MeasureError::Untrained(e.to_string()))?;
            (
                Source::Checkpoint(folder),
                format!("untrained (initial weights, seed {seed})"),
            )
        }
    };
    let model = work.path().join("model.onnx");
    let exported = export(
        host,
        &ExportRequest {
            fold_bn: true,
            dataset: request.test_images.clone(),
            ..ExportRequest::new(source.clone(), Format::Onnx, &model)
        },
    )?;
    let images = match (&request.test_images, &request.measured) {
        (Some(dataset), _) => Images::Test(dataset.clone()),
        (None, Measured::Untrained { seed, .. }) => Images::Noise { seed: *seed },
        (None, Measured::Trained(_)) => {
            Images::Test(exported.dataset.ok_or(MeasureError::NoDataset)?)
        }
    };
    let images_file = work.path().join("images.npy");
    let input = write_images(&images, &request.measured, request.batch, &images_file)?;
    let mut report = python::run(
        &python,
        request.framework,
        &model,
        &images_file,
        request.repeat,
        request.timeout,
    )?;
    report.relus = exported.relus;
    report.weights = weights;
    report.input = input;
    let (framework, batch) = (request.framework.as_str(), request.batch as u64);
    match (&source, &request.measured) {
        (Source::Run { id, db }, _) => {
            Store::open(db)?.record_measurement(*id, framework, batch, &report)?
        }
        (
            _,
            Measured::Untrained {
                network,
                db: Some(db),
                ..
            },
        ) => {
            let network = serde_json::to_value(network).expect("IR serialises");
            Store::open(db)?.record_untrained_measurement(&network, framework, batch, &report)?
        }
        _ => {}
    }
    Ok(report)
}

fn describe(source: &Source) -> String {
    match source {
        Source::Run { id, .. } => format!("trained (run {id})"),
        Source::Checkpoint(path) => format!("trained ({})", path.display()),
    }
}

/// Writes the input owner's batch as a float32 `.npy` of shape
/// n x C x H x W; says what it holds.
fn write_images(
    images: &Images,
    measured: &Measured,
    n: usize,
    path: &std::path::Path,
) -> Result<String, MeasureError> {
    let (shape, values, said) = match images {
        Images::Test(dataset) => {
            let data = deepreduce_datasets::open(dataset)?;
            let cfg = BatchConfig {
                batch_size: n,
                shuffle: false,
                augment: false,
                ..BatchConfig::default()
            };
            let batch = Batcher::spawn(Arc::new(data.test), &data.info, cfg, 0)
                .next()
                .ok_or_else(|| {
                    MeasureError::Invalid(format!("dataset '{dataset}' has no test images"))
                })?;
            let shape = [batch.batch_size, batch.channels, batch.height, batch.width];
            let said = format!("the first {} test images of {dataset}", batch.batch_size);
            (shape, batch.images, said)
        }
        Images::Noise { seed } => {
            let Measured::Untrained { network, .. } = measured else {
                unreachable!("noise is the input of untrained networks only")
            };
            let i = network.input;
            let values = deepreduce_datasets::noise_images(n, i.channels, i.height, i.width, *seed);
            let said = format!("{n} images of uniform noise in [-2, 2) (seed {seed})");
            ([n, i.channels, i.height, i.width], values, said)
        }
    };
    npy::write_f32(path, &shape, &values).map_err(MeasureError::Temp)?;
    Ok(said)
}
