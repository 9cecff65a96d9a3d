//! Measured private inference, kept with the runs it measured, or with the
//! untrained network it measured.

use super::{Store, StoreError, json, now};
use crate::engine::measure::Report;
use rusqlite::params;
use rusqlite::types::Type;
use serde_json::Value;

/// One measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasurementRow {
    /// The run measured; `None` for an untrained network.
    pub run_id: Option<i64>,
    /// The network measured (IR JSON): the run's, or its own.
    pub network: Value,
    pub framework: String,
    pub batch: u64,
    pub report: Report,
    pub measured_at: String,
}

impl Store {
    /// Records a measurement of run `run_id` in `framework`.
    pub fn record_measurement(
        &self,
        run_id: i64,
        framework: &str,
        batch: u64,
        report: &Report,
    ) -> Result<(), StoreError> {
        self.insert_measurement(Some(run_id), None, framework, batch, report)
    }

    /// Records a measurement of an untrained network (IR JSON `network`).
    pub fn record_untrained_measurement(
        &self,
        network: &Value,
        framework: &str,
        batch: u64,
        report: &Report,
    ) -> Result<(), StoreError> {
        self.insert_measurement(None, Some(network), framework, batch, report)
    }

    fn insert_measurement(
        &self,
        run_id: Option<i64>,
        network: Option<&Value>,
        framework: &str,
        batch: u64,
        report: &Report,
    ) -> Result<(), StoreError> {
        let op = "record a measurement";
        self.writable(op)?;
        let report = serde_json::to_string(report).expect("a report serialises");
        self.conn()
            .execute(
                "INSERT INTO measurements (run_id, network, framework, batch, report, measured_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    run_id,
                    network.map(Value::to_string),
                    framework,
                    batch as i64,
                    report,
                    now()
                ],
            )
            .map_err(self.err(op))?;
        Ok(())
    }

    /// The measurements of run `run_id`, oldest first.
    pub fn measurements(&self, run_id: i64) -> Result<Vec<MeasurementRow>, StoreError> {
        self.select_measurements("m.run_id = ?1", params![run_id])
    }

    /// Every measurement in `framework`, of runs and of untrained networks,
    /// oldest first.
    pub fn measurements_in(&self, framework: &str) -> Result<Vec<MeasurementRow>, StoreError> {
        self.select_measurements("m.framework = ?1", params![framework])
    }

    fn select_measurements(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<MeasurementRow>, StoreError> {
        let op = "read the measurements";
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT m.run_id, COALESCE(m.network, r.network), m.framework, m.batch,
                        m.report, m.measured_at
                 FROM measurements m LEFT JOIN runs r ON r.id = m.run_id
                 WHERE {filter} ORDER BY m.id"
            ))
            .map_err(self.err(op))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(MeasurementRow {
                    run_id: r.get(0)?,
                    network: json(r, 1)?,
                    framework: r.get(2)?,
                    batch: r.get::<_, i64>(3)? as u64,
                    report: serde_json::from_str(&r.get::<_, String>(4)?).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(4, Type::Text, Box::new(e))
                    })?,
                    measured_at: r.get(5)?,
                })
            })
            .map_err(self.err(op))?;
        rows.collect::<Result<_, _>>().map_err(self.err(op))
    }
}
