//! Measured private inference, kept with the runs it measured.

use super::{Store, StoreError, json, now};
use rusqlite::params;
use serde_json::Value;

/// One measurement of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasurementRow {
    pub framework: String,
    pub batch: u64,
    pub report: Value,
    pub measured_at: String,
}

impl Store {
    /// Records a measurement of run `run_id` in `framework`.
    pub fn record_measurement(
        &self,
        run_id: i64,
        framework: &str,
        batch: u64,
        report: &Value,
    ) -> Result<(), StoreError> {
        let op = "record a measurement";
        self.writable(op)?;
        self.conn()
            .execute(
                "INSERT INTO measurements (run_id, framework, batch, report, measured_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run_id, framework, batch as i64, report.to_string(), now()],
            )
            .map_err(self.err(op))?;
        Ok(())
    }

    /// The measurements of run `run_id`, oldest first.
    pub fn measurements(&self, run_id: i64) -> Result<Vec<MeasurementRow>, StoreError> {
        let op = "read the measurements";
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT framework, batch, report, measured_at FROM measurements
                 WHERE run_id = ?1 ORDER BY id",
            )
            .map_err(self.err(op))?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(MeasurementRow {
                    framework: r.get(0)?,
                    batch: r.get::<_, i64>(1)? as u64,
                    report: json(r, 2)?,
                    measured_at: r.get(3)?,
                })
            })
            .map_err(self.err(op))?;
        rows.collect::<Result<_, _>>().map_err(self.err(op))
    }
}
