//! The measurements the panels show: the latest of each run in each
//! framework, read from the store by the store reader, and the frameworks
//! as people name them.

use crate::engine::measure::Framework;
use crate::engine::store::{MeasurementRow, Store, StoreError};
use clap::ValueEnum;
use std::collections::BTreeMap;

/// Every framework the workbench measures in, in the order offered.
pub fn frameworks() -> &'static [Framework] {
    Framework::value_variants()
}

/// "Cheetah", "CrypTen".
pub fn framework_name(framework: Framework) -> &'static str {
    match framework {
        Framework::Cheetah => "Cheetah",
        Framework::Crypten => "CrypTen",
    }
}

/// The latest measurement of each run in each framework.
#[derive(Clone, Debug, Default)]
pub struct LatestMeasurements {
    /// By run and [`Framework::as_str`].
    rows: BTreeMap<(i64, &'static str), MeasurementRow>,
}

impl LatestMeasurements {
    /// Reads every run's measurements from `store`, keeping the latest of
    /// each run in each framework (untrained networks' are left out).
    pub fn read(store: &Store) -> Result<Self, StoreError> {
        let mut rows = BTreeMap::new();
        for &framework in frameworks() {
            // Oldest first: a later one replaces an earlier.
            for row in store.measurements_in(framework.as_str())? {
                if let Some(run) = row.run_id {
                    rows.insert((run, framework.as_str()), row);
                }
            }
        }
        Ok(LatestMeasurements { rows })
    }

    /// Run `run`'s latest measurement in `framework`.
    pub fn get(&self, run: i64, framework: Framework) -> Option<&MeasurementRow> {
        self.rows.get(&(run, framework.as_str()))
    }
}
