//! Reads the run store off the UI thread. A store of many runs takes a few
//! hundred milliseconds to read and judge (every run's network parsed and
//! analysed, every finished run's last epoch read, datasets opened to count
//! them); on the UI thread that froze the window every 2 s while jobs ran.
//! The reader thread owns its own connection and the dataset sizes it has
//! counted; the panel asks for a [`StoreSnapshot`] and takes it when it is
//! ready, asking the window to repaint.

use super::measurements::LatestMeasurements;
use crate::engine::pipeline::results::learning::{DataSizes, run_learned};
use crate::engine::pipeline::single::SingleRun;
use crate::engine::relu_layers::is_masked;
use crate::engine::store::{PipelineRow, RunRow, RunStatus, Store, StoreError};
use crate::engine::train::EpochMetrics;
use deepreduce_plugin_api::{InputSpec, Network, analyze};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

/// The store as the panels show it, read at one moment.
#[derive(Default)]
pub struct StoreSnapshot {
    pub pipelines: Vec<PipelineRow>,
    /// Every run: the pipelines' and the standalone ones.
    pub runs: Vec<RunRow>,
    /// Each run's network input and output size (which teacher fits whom).
    pub shapes: BTreeMap<i64, (InputSpec, u64)>,
    /// Runs whose network masks single channels or pixels.
    pub masked: BTreeSet<i64>,
    /// Finished runs whose accuracy stayed at chance.
    pub did_not_learn: BTreeSet<i64>,
    /// The epochs each running run has recorded (its live progress).
    pub epochs_done: BTreeMap<i64, usize>,
    /// The epochs of the runs asked for (those ticked for comparison).
    pub epochs: BTreeMap<i64, Vec<EpochMetrics>>,
    /// The latest measurement of each run in each framework.
    pub measurements: LatestMeasurements,
}

/// A background reader of one store.
pub struct StoreReader {
    requests: Sender<Vec<i64>>,
    snapshots: Receiver<Result<StoreSnapshot, String>>,
    in_flight: bool,
}

impl StoreReader {
    /// Starts the reader of the store at `path`; `repaint` is called when a
    /// snapshot is ready. The thread ends with the reader.
    pub fn start(path: PathBuf, repaint: impl Fn() + Send + 'static) -> Self {
        let (requests, asked) = channel::<Vec<i64>>();
        let (answers, snapshots) = channel();
        std::thread::Builder::new()
            .name("store-reader".into())
            .spawn(move || {
                let mut reader = Reader {
                    path,
                    store: None,
                    datasets: HashMap::new(),
                };
                while let Ok(mut epochs_of) = asked.recv() {
                    // Only the latest request matters.
                    while let Ok(later) = asked.try_recv() {
                        epochs_of = later;
                    }
                    let snapshot = reader.read(&epochs_of).map_err(|e| e.to_string());
                    if answers.send(snapshot).is_err() {
                        break;
                    }
                    repaint();
                }
            })
            .expect("the store reader thread starts");
        StoreReader {
            requests,
            snapshots,
            in_flight: false,
        }
    }

    /// Asks for a snapshot with the epochs of runs `epochs_of`, unless one
    /// is being read.
    pub fn request(&mut self, epochs_of: Vec<i64>) {
        if !self.in_flight && self.requests.send(epochs_of).is_ok() {
            self.in_flight = true;
        }
    }

    /// The snapshot read since the last call, if one is ready.
    pub fn take(&mut self) -> Option<Result<StoreSnapshot, String>> {
        match self.snapshots.try_recv() {
            Ok(snapshot) => {
                self.in_flight = false;
                Some(snapshot)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.in_flight = false;
                Some(Err("the store reader stopped".into()))
            }
        }
    }

    /// Whether a snapshot is being read.
    pub fn busy(&self) -> bool {
        self.in_flight
    }
}

/// The reader thread's state, kept between reads.
struct Reader {
    path: PathBuf,
    store: Option<Store>,
    /// Classes and split sizes of each dataset a run used, opened once.
    datasets: HashMap<String, Option<DataSizes>>,
}

impl Reader {
    fn read(&mut self, epochs_of: &[i64]) -> Result<StoreSnapshot, StoreError> {
        if self.store.is_none() {
            self.store = Some(Store::open(&self.path)?);
        }
        let store = self.store.as_ref().expect("opened above");
        let pipelines = store.pipelines()?;
        let mut runs = Vec::new();
        for p in &pipelines {
            runs.extend(store.runs(Some(p.id))?);
        }
        runs.extend(store.runs(None)?);
        let epochs = epochs_of
            .iter()
            .map(|id| Ok((*id, store.epochs(*id)?)))
            .collect::<Result<_, StoreError>>()?;
        let epochs_done = runs
            .iter()
            .filter(|r| r.status == RunStatus::Running)
            .map(|r| Ok((r.id, store.epochs(r.id)?.last().map_or(0, |m| m.epoch))))
            .collect::<Result<_, StoreError>>()?;
        let networks: Vec<(i64, Network)> = runs
            .iter()
            .filter_map(|r| Some((r.id, serde_json::from_value(r.network.clone()).ok()?)))
            .collect();
        let shapes = networks
            .iter()
            .filter_map(|(id, net)| Some((*id, (net.input, analyze(net).ok()?.output.elements()))))
            .collect();
        let masked = networks
            .iter()
            .filter(|(_, net)| is_masked(net))
            .map(|(id, _)| *id)
            .collect();
        let measurements = LatestMeasurements::read(store)?;
        let mut did_not_learn = BTreeSet::new();
        for run in &runs {
            if self.judge(run, &pipelines)? == Some(false) {
                did_not_learn.insert(run.id);
            }
        }
        Ok(StoreSnapshot {
            pipelines,
            runs,
            shapes,
            masked,
            did_not_learn,
            epochs_done,
            epochs,
            measurements,
        })
    }

    /// Whether finished run `run` learned (see the engine's rule).
    fn judge(
        &mut self,
        run: &RunRow,
        pipelines: &[PipelineRow],
    ) -> Result<Option<bool>, StoreError> {
        // An unfinished run is not judged: no dataset to open for it.
        if run.accuracy.is_none() {
            return Ok(None);
        }
        let data = run_dataset(run, pipelines).and_then(|name| {
            *self
                .datasets
                .entry(name.clone())
                .or_insert_with(|| DataSizes::open(&name))
        });
        run_learned(self.store.as_ref().expect("opened before"), run, data)
    }
}

/// The dataset `run` trained on: its pipeline's, or its own for a single run.
pub fn run_dataset(run: &RunRow, pipelines: &[PipelineRow]) -> Option<String> {
    match run.pipeline_id {
        Some(id) => pipelines
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.dataset.clone()),
        None => serde_json::from_value::<SingleRun>(run.config.clone())
            .ok()
            .map(|s| s.dataset),
    }
}
