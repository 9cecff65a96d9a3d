//! Export of a trained network for deployment: ONNX (opset 17) for
//! private-inference frameworks (EzPC's OnnxBridge, CrypTen), safetensors
//! with PyTorch names, or burn's own record; always with a JSON manifest of
//! the remaining ReLUs beside it. Optional exact simplifications fold
//! BatchNorms into convolutions and merge convolutions that a dropped ReLU
//! left adjacent. The CLI's `export` and the GUI's Save dialog call
//! [`export`].

mod fold;
mod graph;
mod guard;
mod manifest;
mod mask_lowering;
mod merge;
mod onnx;
mod onnx_proto;
mod safetensors_file;
mod source;
mod tensor_names;
#[cfg(test)]
mod tests;

pub use source::Source;

use fold::fold_batch_norms;
use graph::{Graph, Node};
use merge::{KeptApart, kept_apart, merge_convs};
use onnx::to_onnx;

use crate::engine::atomic_write::{Staged, WriteError};
use crate::engine::network::{ids, plugin};
use crate::engine::plugin_host::PluginHost;
use crate::engine::store::StoreError;
use crate::engine::trained::{self, TrainedError};
use burn::tensor::Device;
use deepreduce_plugin_api::{IrError, describe};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Onnx,
    Safetensors,
    Burn,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExportRequest {
    pub source: Source,
    pub format: Format,
    /// The model file (onnx, safetensors) or folder (burn).
    pub out: PathBuf,
    pub fold_bn: bool,
    /// Implies `fold_bn`: a BatchNorm between two convolutions must be
    /// folded before they can merge.
    pub merge_convs: bool,
    /// Dataset name or path for the manifest's normalisation constants;
    /// by default the run's pipeline dataset, or the IR's `dataset` note.
    pub dataset: Option<String>,
    /// Replace existing files (else an export refuses to).
    pub force: bool,
}

impl ExportRequest {
    pub fn new(source: Source, format: Format, out: impl Into<PathBuf>) -> Self {
        ExportRequest {
            source,
            format,
            out: out.into(),
            fold_bn: false,
            merge_convs: false,
            dataset: None,
            force: false,
        }
    }

    fn folds(&self) -> bool {
        self.fold_bn || self.merge_convs
    }
}

/// What was written and what the simplifications did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportReport {
    pub format: Format,
    pub model: PathBuf,
    pub manifest: PathBuf,
    /// Graph nodes without the dropped ReLUs, before and after the simplifications.
    pub nodes_before: usize,
    pub nodes_after: usize,
    pub batch_norms_folded: usize,
    /// (first, second) convolution pairs merged into the second.
    pub convs_merged: Vec<(String, String)>,
    /// Convolution pairs not merged because a masked ReLU or a polynomial
    /// layer, not an identity, lies between them (with --merge-convs).
    pub convs_kept_apart: Vec<KeptApart>,
    /// Multiply-accumulates per sample, before and after (merging a
    /// depthwise conv into a pointwise one is exact but costs more MACs).
    pub macs_before: u64,
    pub macs_after: u64,
    /// Active ReLUs per sample in the exported network.
    pub relus: u64,
    /// Things the manifest could not include, e.g. an unavailable dataset.
    pub warnings: Vec<String>,
    /// The dataset named for the normalisation constants (given, the run's,
    /// or the network's note), whether or not it opened.
    pub dataset: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("there is no run store at {}", .0.display())]
    NoStore(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("run {id} is not in the run store {}", db.display())]
    UnknownRun { id: i64, db: PathBuf },
    #[error("run {id} has no saved weights (status {status}); only completed runs can be exported")]
    NoWeights {
        id: i64,
        status: crate::engine::store::RunStatus,
    },
    #[error("checkpoint {} does not exist", .0.display())]
    NoCheckpoint(PathBuf),
    #[error("checkpoint: {0}")]
    Trained(#[from] TrainedError),
    #[error("invalid network: {0}")]
    Network(#[from] IrError),
    #[error(
        "folding and merging apply to onnx and safetensors; the burn format copies the trained record as it is"
    )]
    SimplifiedBurn,
    #[error("refusing to write {}: it is {what}", path.display())]
    Protected { path: PathBuf, what: String },
    #[error(
        "{} already exists: replace it with --force (or by choosing it in the Save dialog)",
        .0.display()
    )]
    Exists(PathBuf),
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

impl From<WriteError> for ExportError {
    fn from(e: WriteError) -> Self {
        write_error(&e.path, e.source)
    }
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Exports the trained network of `request.source`. `host` provides the
/// latency model (the DELPHI plugin) for the manifest.
pub fn export(host: &PluginHost, request: &ExportRequest) -> Result<ExportReport, ExportError> {
    if request.format == Format::Burn && request.folds() {
        return Err(ExportError::SimplifiedBurn);
    }
    let loaded = request.source.load(&Device::flex())?;
    let (manifest_path, destinations) = destinations(request);
    guard::check(&destinations, &loaded.protected, request.force)?;
    let net = &loaded.network;
    let mut graph = Graph::lower(net, &loaded.model)?;
    let (nodes_before, macs_before) = (graph.nodes.len(), graph.macs());
    let batch_norms_folded = if request.folds() {
        fold_batch_norms(&mut graph)
    } else {
        0
    };
    let (convs_merged, convs_kept_apart) = if request.merge_convs {
        (merge_convs(&mut graph), kept_apart(&graph))
    } else {
        (Vec::new(), Vec::new())
    };

    let mut warnings = Vec::new();
    if loaded.checksums.is_none() {
        warnings.push(format!(
            "{} is missing (written before checksums were recorded): the source's files are not verified",
            loaded.files.sums.display()
        ));
    }
    let dataset_name = request.dataset.as_deref().or(loaded.dataset.as_deref());
    let dataset = dataset_name.and_then(|name| match deepreduce_datasets::open(name) {
        Ok(data) => Some(data.info),
        Err(e) => {
            warnings.push(format!("dataset '{name}' (normalisation constants): {e}"));
            None
        }
    });
    if dataset_name.is_none() {
        warnings.push("no dataset known: the manifest has no normalisation constants".into());
    }
    let latency = plugin(host, ids::DELPHI)
        .map_err(|e| e.to_string())
        .and_then(|p| p.estimate(net).map_err(|e| e.to_string()))
        .inspect_err(|e| warnings.push(format!("latency estimate: {e}")))
        .ok();

    let report = ExportReport {
        format: request.format,
        model: request.out.clone(),
        manifest: manifest_path,
        nodes_before,
        nodes_after: graph.nodes.len(),
        batch_norms_folded,
        convs_merged,
        convs_kept_apart,
        macs_before,
        macs_after: graph.macs(),
        relus: graph.nodes.iter().map(Node::relus).sum(),
        warnings,
        dataset: dataset_name.map(str::to_string),
    };
    let manifest = manifest::manifest(
        net,
        &graph,
        &manifest::Facts {
            request,
            report: &report,
            origin: &loaded.origin,
            dataset: dataset.as_ref(),
            dataset_name,
            accuracy: loaded.accuracy,
            latency: latency.as_ref(),
        },
    );

    let folder = match request.format {
        Format::Burn => request.out.as_path(),
        _ => request.out.parent().unwrap_or(Path::new(".")),
    };
    if !folder.as_os_str().is_empty() {
        std::fs::create_dir_all(folder).map_err(|e| write_error(folder, e))?;
    }
    // Every file goes to a temporary first: a failure leaves the previous
    // export whole.
    let mut staged = Staged::default();
    let description = describe(net);
    match request.format {
        Format::Onnx => {
            let metadata = [("description", description.clone())];
            staged.write(&request.out, &to_onnx(&graph, &description, &metadata))?;
        }
        Format::Safetensors => {
            let metadata = [
                ("format".to_string(), "pt".to_string()),
                ("description".to_string(), description),
            ];
            let bytes = safetensors_file::to_safetensors(&graph, metadata.into_iter().collect())
                .map_err(|e| write_error(&request.out, e))?;
            staged.write(&request.out, &bytes)?;
        }
        Format::Burn => {
            // Read and checked again, so the copies are bytes that match
            // their recorded digests; the digests go beside them.
            let (network, weights) = trained::read(&loaded.files, loaded.checksums.as_ref())?;
            trained::stage(&mut staged, &request.out, &network, &weights)?;
        }
    }
    let text = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    staged.write(&report.manifest, &text)?;
    staged.commit()?;
    Ok(report)
}

/// The manifest's path, and every file the export writes (the manifest last).
fn destinations(request: &ExportRequest) -> (PathBuf, Vec<PathBuf>) {
    let out = &request.out;
    let (manifest, mut files) = match request.format {
        Format::Burn => (
            out.join("manifest.json"),
            [
                trained::NETWORK_FILE,
                trained::WEIGHTS_FILE,
                trained::SUMS_FILE,
            ]
            .map(|name| out.join(name))
            .to_vec(),
        ),
        _ => (out.with_extension("manifest.json"), vec![out.clone()]),
    };
    files.push(manifest.clone());
    (manifest, files)
}
