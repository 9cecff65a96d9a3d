//! The Pareto frontier of ReLU count versus accuracy: a network is on it
//! when no other has at most its ReLUs and at least its accuracy, one of
//! them strictly.

/// Indices of the non-dominated points among `(relus, accuracy)`.
pub fn frontier(points: &[(u64, f64)]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| {
            let (r, a) = points[i];
            !points
                .iter()
                .any(|&(r2, a2)| r2 <= r && a2 >= a && (r2 < r || a2 > a))
        })
        .collect()
}

/// Accuracy (%) per thousand ReLUs.
pub fn accuracy_per_kilo_relu(accuracy: f64, relus: u64) -> f64 {
    accuracy / (relus.max(1) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominated_points_are_left_out() {
        // (ReLUs, accuracy): the paper's first three points plus two dominated ones.
        let points = [
            (229_376, 76.22),
            (196_608, 75.51),
            (114_688, 74.72),
            (200_000, 70.0),
            (114_688, 74.0),
        ];
        assert_eq!(frontier(&points), [0, 1, 2]);
    }

    #[test]
    fn equal_points_are_both_kept() {
        assert_eq!(frontier(&[(10, 50.0), (10, 50.0)]), [0, 1]);
    }

    #[test]
    fn per_kilo_relu() {
        assert!((accuracy_per_kilo_relu(62.30, 7_168) - 8.691).abs() < 1e-3);
    }
}
