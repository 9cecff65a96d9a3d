//! What a method plugin's pipeline keeps beside its runs: the
//! optimizations it asked for, with their candidates, and its final
//! candidates.

use super::{Store, StoreError, json, parse_json};
use rusqlite::params;
use serde_json::Value;

impl Store {
    /// Records optimization `key` of pipeline `pipeline_id`: what was asked
    /// and the candidates it gave. Recording the same key again keeps the
    /// first answer (a replayed pipeline asks again for what it has).
    pub fn record_applied(
        &self,
        pipeline_id: i64,
        key: &str,
        request: &Value,
        candidates: &Value,
    ) -> Result<(), StoreError> {
        let op = "record an optimization";
        self.writable(op)?;
        self.conn()
            .execute(
                "INSERT INTO applied (pipeline_id, key, request, candidates)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (pipeline_id, key) DO NOTHING",
                params![
                    pipeline_id,
                    key,
                    request.to_string(),
                    candidates.to_string()
                ],
            )
            .map_err(self.err(op))?;
        Ok(())
    }

    /// The optimizations of pipeline `pipeline_id` as (request, candidates),
    /// in the order recorded.
    pub fn applied(&self, pipeline_id: i64) -> Result<Vec<(Value, Value)>, StoreError> {
        let op = "read the optimizations";
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT request, candidates FROM applied WHERE pipeline_id = ?1 ORDER BY rowid",
            )
            .map_err(self.err(op))?;
        let rows = stmt
            .query_map([pipeline_id], |r| Ok((json(r, 0)?, json(r, 1)?)))
            .map_err(self.err(op))?;
        rows.collect::<Result<_, _>>().map_err(self.err(op))
    }

    /// Records a method's final candidates for pipeline `id`.
    pub fn set_pipeline_candidates(&self, id: i64, candidates: &Value) -> Result<(), StoreError> {
        self.update(
            "record a pipeline's candidates",
            "pipelines",
            id,
            "UPDATE pipelines SET candidates = ?2 WHERE id = ?1",
            params![id, candidates.to_string()],
        )
    }

    /// A method's final candidates for pipeline `id`, once it is done.
    pub fn pipeline_candidates(&self, id: i64) -> Result<Option<Value>, StoreError> {
        let op = "read a pipeline's candidates";
        self.conn()
            .query_row(
                "SELECT candidates FROM pipelines WHERE id = ?1",
                [id],
                |r| {
                    r.get::<_, Option<String>>(0)?
                        .map(|text| parse_json(0, &text))
                        .transpose()
                },
            )
            .map_err(self.err(op))
    }
}
