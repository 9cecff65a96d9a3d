//! `deepreduce calibrate`: a framework's cost model fitted to the
//! measurements kept in the run store. Each measurement gives a point: the
//! network's cost features (from its IR) and what the framework measured,
//! split by layer kind (ReLU and max-pool layers, linear layers). The
//! constants are least-squares fits with non-negative coefficients; the fit
//! error on the points is reported with them.

use super::measure::Framework;
use super::store::{MeasurementRow, Store, StoreError};
use deepreduce_plugin_api::Network;
use deepreduce_plugin_api::calibration::{Calibration, CostFeatures};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Fewer networks than this cannot separate a cost per ReLU from the rest.
/// Columns the points cannot tell apart (networks of one shape, culled
/// differently) are dropped by the fit, not invented.
pub const MIN_POINTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("measurement of {what}: {message}")]
    BadMeasurement { what: String, message: String },
    #[error(
        "calibrating {framework} needs measurements of at least {MIN_POINTS} networks of different sizes; the store has {found} (measure some with `deepreduce measure --framework {framework}`)"
    )]
    TooFew {
        framework: &'static str,
        found: usize,
    },
    #[error(
        "the {0} measurements do not separate the costs (networks too alike): measure networks that differ in ReLUs and in size"
    )]
    Degenerate(&'static str),
}

/// One measured network, as the fit sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Which network: the run or the untrained network's name.
    pub network: String,
    pub batch: f64,
    pub features: CostFeatures,
    /// Bytes and rounds of the ReLU and max-pool layers.
    pub comparison_bytes: f64,
    pub comparison_rounds: f64,
    pub comparison_layers: f64,
    /// Bytes and rounds of the convolutions and linear layers.
    pub linear_bytes: f64,
    pub linear_rounds: f64,
    pub linear_layers: f64,
    /// The whole network's.
    pub bytes: f64,
    pub rounds: f64,
    pub online_seconds: f64,
}

/// The fitted model, the points it was fitted to and how well it fits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    pub calibration: Calibration,
    pub points: Vec<Point>,
    /// Largest relative error of the predicted bytes and online seconds of
    /// a point.
    pub max_bytes_error: f64,
    pub max_seconds_error: f64,
}

const COMPARISON_OPS: [&str; 2] = ["Relu", "MaxPool"];
const LINEAR_OPS: [&str; 2] = ["Conv", "Gemm"];

impl Point {
    pub fn of(row: &MeasurementRow) -> Result<Point, CalibrateError> {
        let what = match row.run_id {
            Some(id) => format!("run {id}"),
            None => row.network["name"].as_str().unwrap_or("?").to_string(),
        };
        let bad = |message: String| CalibrateError::BadMeasurement {
            what: what.clone(),
            message,
        };
        let network: Network =
            serde_json::from_value(row.network.clone()).map_err(|e| bad(e.to_string()))?;
        let features = CostFeatures::of(&network).map_err(|e| bad(e.to_string()))?;
        let r = &row.report;
        if r.layers.is_empty() {
            return Err(bad("the report has no per-layer costs".into()));
        }
        let part = |ops: &[&str]| {
            let layers = r.layers.iter().filter(|l| ops.contains(&l.op.as_str()));
            layers.fold((0.0, 0.0, 0.0), |(b, n, k), l| {
                (b + l.bytes as f64, n + l.rounds as f64, k + 1.0)
            })
        };
        let (comparison_bytes, comparison_rounds, comparison_layers) = part(&COMPARISON_OPS);
        let (linear_bytes, linear_rounds, linear_layers) = part(&LINEAR_OPS);
        Ok(Point {
            network: what,
            batch: row.batch as f64,
            features,
            comparison_bytes,
            comparison_rounds,
            comparison_layers,
            linear_bytes,
            linear_rounds,
            linear_layers,
            bytes: r.bytes as f64,
            rounds: r.rounds as f64,
            online_seconds: r.online_seconds,
        })
    }
}

/// Fits `framework`'s model to every measurement in it in the store `db`.
pub fn calibrate(db: &Path, framework: Framework) -> Result<Fitted, CalibrateError> {
    let rows = Store::open(db)?.measurements_in(framework.as_str())?;
    let points = rows.iter().map(Point::of).collect::<Result<Vec<_>, _>>()?;
    let protocol = rows.last().map(|r| r.report.protocol.clone());
    fit(
        framework,
        protocol.unwrap_or_default(),
        points,
        &source(&rows),
    )
}

/// Where the measurements come from, in words.
fn source(rows: &[MeasurementRow]) -> String {
    let first = rows.first().map_or("", |r| r.measured_at.as_str());
    let last = rows.last().map_or("", |r| r.measured_at.as_str());
    let version = rows.last().map_or("", |r| r.report.version.as_str());
    format!(
        "fitted by `deepreduce calibrate` to {} networks measured by `deepreduce measure` \
         (version {version}, two processes on loopback, {} to {}) on {}",
        rows.len(),
        first.get(..10).unwrap_or(first),
        last.get(..10).unwrap_or(last),
        cpu_model()
    )
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "an unknown CPU".into())
}

/// The least-squares constants of `points` (see the module documentation).
pub fn fit(
    framework: Framework,
    protocol: String,
    points: Vec<Point>,
    source: &str,
) -> Result<Fitted, CalibrateError> {
    let name = framework.as_str();
    let distinct = {
        let mut sizes: Vec<(u64, u64)> = points
            .iter()
            .map(|p| (p.features.comparisons as u64, p.features.macs as u64))
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes.len()
    };
    if distinct < MIN_POINTS {
        return Err(CalibrateError::TooFew {
            framework: name,
            found: distinct,
        });
    }
    let column = |f: &dyn Fn(&Point) -> f64| points.iter().map(f).collect::<Vec<f64>>();
    let degenerate = || CalibrateError::Degenerate(name);
    let [bytes_per_comparison] = nonnegative_least_squares(
        &[column(&|p| p.features.comparisons * p.batch)],
        &column(&|p| p.comparison_bytes),
    )
    .ok_or_else(degenerate)?[..] else {
        unreachable!("one column, one coefficient")
    };
    let [
        bytes_per_linear_element,
        bytes_per_weight,
        bytes_per_mac,
        bytes_per_linear_layer,
    ] = nonnegative_least_squares(
        &[
            column(&|p| p.features.linear_elements * p.batch),
            column(&|p| p.features.weights),
            column(&|p| p.features.macs * p.batch),
            column(&|p| p.features.linear_layers),
        ],
        &column(&|p| p.linear_bytes),
    )
    .ok_or_else(degenerate)?[..]
    else {
        unreachable!("four columns, four coefficients")
    };
    let ratio = |num: &dyn Fn(&Point) -> f64, den: &dyn Fn(&Point) -> f64| {
        let d: f64 = points.iter().map(den).sum();
        if d > 0.0 {
            points.iter().map(num).sum::<f64>() / d
        } else {
            0.0
        }
    };
    let rounds_per_relu_layer = ratio(&|p| p.comparison_rounds, &|p| p.comparison_layers);
    let rounds_per_linear_layer = ratio(&|p| p.linear_rounds, &|p| p.linear_layers);
    let [seconds_per_comparison, seconds_per_mac, seconds_per_round] = nonnegative_least_squares(
        &[
            column(&|p| p.features.comparisons * p.batch),
            column(&|p| p.features.macs * p.batch),
            column(&|p| p.rounds),
        ],
        &column(&|p| p.online_seconds),
    )
    .ok_or_else(degenerate)?[..] else {
        unreachable!("three columns, three coefficients")
    };
    let calibration = Calibration {
        framework: name.to_string(),
        protocol,
        bytes_per_comparison,
        bytes_per_linear_element,
        bytes_per_weight,
        bytes_per_mac,
        bytes_per_linear_layer,
        rounds_per_relu_layer,
        rounds_per_linear_layer,
        seconds_per_comparison,
        seconds_per_mac,
        seconds_per_round,
        measurements: points.len(),
        source: source.to_string(),
    };
    let relative = |predicted: f64, measured: f64| {
        (predicted - measured).abs() / measured.abs().max(f64::MIN_POSITIVE)
    };
    let (mut max_bytes_error, mut max_seconds_error) = (0.0f64, 0.0f64);
    for p in &points {
        let (bytes, seconds) = predict(&calibration, p);
        max_bytes_error = max_bytes_error.max(relative(bytes, p.bytes));
        max_seconds_error = max_seconds_error.max(relative(seconds, p.online_seconds));
    }
    Ok(Fitted {
        calibration,
        points,
        max_bytes_error,
        max_seconds_error,
    })
}

/// The model's bytes (ReLU and linear layers) and online seconds for a
/// measured point (with its batch and its measured rounds).
pub fn predict(c: &Calibration, p: &Point) -> (f64, f64) {
    let f = &p.features;
    let bytes = c.bytes_per_comparison * f.comparisons * p.batch
        + c.bytes_per_linear_element * f.linear_elements * p.batch
        + c.bytes_per_weight * f.weights
        + c.bytes_per_mac * f.macs * p.batch
        + c.bytes_per_linear_layer * f.linear_layers;
    let seconds = c.seconds_per_comparison * f.comparisons * p.batch
        + c.seconds_per_mac * f.macs * p.batch
        + c.seconds_per_round * p.rounds;
    (bytes, seconds)
}

/// Least squares `y ~ sum_j b_j x_j` with every `b_j >= 0` (active set: a
/// negative coefficient's column is dropped and the rest refitted). `None`
/// when no column is usable. Written here: four columns at most, solved by
/// their normal equations, need no linear-algebra crate.
pub fn nonnegative_least_squares(columns: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let mut active: Vec<usize> = (0..columns.len()).collect();
    // Columns scaled to unit norm: MACs and rounds differ by 10^7.
    let norms: Vec<f64> = columns
        .iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    active.retain(|&j| norms[j] > 0.0);
    while !active.is_empty() {
        let scaled = |j: usize, i: usize| columns[j][i] / norms[j];
        let k = active.len();
        // Normal equations A b = t.
        let mut a = vec![vec![0.0; k + 1]; k];
        for (r, &jr) in active.iter().enumerate() {
            for (c, &jc) in active.iter().enumerate() {
                a[r][c] = (0..y.len()).map(|i| scaled(jr, i) * scaled(jc, i)).sum();
            }
            a[r][k] = (0..y.len()).map(|i| scaled(jr, i) * y[i]).sum();
        }
        let Some(b) = solve(a) else {
            // Dependent columns: keep the first ones.
            active.pop();
            continue;
        };
        match (0..k)
            .filter(|&r| b[r] < 0.0)
            .min_by(|&x, &y| b[x].total_cmp(&b[y]))
        {
            Some(r) => {
                active.remove(r);
            }
            None => {
                let mut out = vec![0.0; columns.len()];
                for (r, &j) in active.iter().enumerate() {
                    out[j] = b[r] / norms[j];
                }
                return Some(out);
            }
        }
    }
    (!columns.is_empty()).then(|| vec![0.0; columns.len()])
}

/// Gaussian elimination with partial pivoting on the augmented matrix;
/// `None` when singular.
fn solve(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let n = a.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (value, pivot) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *value -= factor * pivot;
                }
            }
        }
    }
    Some((0..n).map(|r| a[r][n] / a[r][r]).collect())
}

impl Fitted {
    /// The report's words for one point: measured and predicted.
    pub fn lines(&self) -> Vec<String> {
        self.points
            .iter()
            .map(|p| {
                let (bytes, seconds) = predict(&self.calibration, p);
                format!(
                    "{:<28} batch {:>3}: {:>14.0} B measured, {:>14.0} B model; {:>8.3} s measured, {:>8.3} s model",
                    p.network, p.batch, p.bytes, bytes, p.online_seconds, seconds
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_exact_coefficients() {
        let x1 = vec![1.0, 2.0, 3.0, 4.0];
        let x2 = vec![1e7, 3e7, 2e7, 5e7];
        let y: Vec<f64> = (0..4).map(|i| 2.0 * x1[i] + 3e-7 * x2[i]).collect();
        let b = nonnegative_least_squares(&[x1, x2], &y).unwrap();
        assert!(
            (b[0] - 2.0).abs() < 1e-9 && (b[1] - 3e-7).abs() < 1e-15,
            "{b:?}"
        );
    }

    #[test]
    fn a_negative_coefficient_is_dropped_and_the_rest_refitted() {
        // y = 2 x1 - x2 exactly: the non-negative fit drops x2 and refits x1.
        let x1 = vec![1.0, 2.0, 3.0];
        let x2 = vec![1.0, 0.0, 1.0];
        let y = vec![1.0, 4.0, 5.0];
        let b = nonnegative_least_squares(&[x1.clone(), x2], &y).unwrap();
        assert_eq!(b[1], 0.0);
        let alone = nonnegative_least_squares(&[x1], &y).unwrap();
        assert!((b[0] - alone[0]).abs() < 1e-12);
        // x1 . y / x1 . x1 = (1 + 8 + 15) / 14.
        assert!((b[0] - 24.0 / 14.0).abs() < 1e-12);
    }

    #[test]
    fn dependent_columns_keep_the_first() {
        let x = vec![1.0, 2.0, 3.0];
        let y = vec![2.0, 4.0, 6.0];
        let b = nonnegative_least_squares(&[x.clone(), x], &y).unwrap();
        assert!((b[0] - 2.0).abs() < 1e-12 && b[1] == 0.0, "{b:?}");
    }
}
