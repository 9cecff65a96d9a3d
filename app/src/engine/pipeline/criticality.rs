//! The criticality of a pipeline's stages as recorded in the store: each
//! finished stage-only network's result, scored by
//! [`deepreduce_plugin_api::criticality`].

use super::results::learning::{self, DataSizes};
use crate::engine::store::{RunRole, RunRow, RunStatus, Store, StoreError};
pub use deepreduce_plugin_api::criticality::{StageResult, criticality, did_not_learn};

/// The stage-only networks of pipeline `pipeline` that finished, judged
/// against data of sizes `data`. One that diverged has no accuracy: it
/// counts as 0% (as the pipeline always ranked it) and did not learn.
pub fn stage_results(
    store: &Store,
    pipeline: i64,
    data: Option<DataSizes>,
) -> Result<Vec<StageResult>, StoreError> {
    let mut out = Vec::new();
    for run in store.runs(Some(pipeline))? {
        if let Some(result) = stage_result(store, &run, data)? {
            out.push(result);
        }
    }
    Ok(out)
}

fn stage_result(
    store: &Store,
    run: &RunRow,
    data: Option<DataSizes>,
) -> Result<Option<StageResult>, StoreError> {
    let Some(stage) = run.stage.clone() else {
        return Ok(None);
    };
    if run.role != RunRole::Criticality {
        return Ok(None);
    }
    let (accuracy, learned) = match (run.status, run.accuracy) {
        (RunStatus::Completed, Some(a)) => (a, learning::run_learned(store, run, data)?),
        (RunStatus::Diverged, _) => (0.0, Some(false)),
        _ => return Ok(None),
    };
    Ok(Some(StageResult {
        stage,
        accuracy,
        relus: run.relus,
        learned,
    }))
}
