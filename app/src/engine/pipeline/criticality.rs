//! ReLU criticality of each stage (SPEC.md, step 1):
//! `C_k = (Acc[Sk] - min_i Acc[Si]) / (#ReLU[Sk])^w`, w = 0.07.

pub const EXPONENT: f64 = 0.07;

/// One stage-only network's result.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StageResult {
    pub stage: String,
    pub accuracy: f64,
    pub relus: u64,
}

/// C_k per stage, in the order given.
pub fn criticality(results: &[StageResult]) -> Vec<(String, f64)> {
    let min = results
        .iter()
        .map(|r| r.accuracy)
        .fold(f64::INFINITY, f64::min);
    results
        .iter()
        .map(|r| {
            (
                r.stage.clone(),
                (r.accuracy - min) / (r.relus.max(1) as f64).powf(EXPONENT),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paper_order_on_cifar100() {
        // Table 1 of the paper (ResNet18, CIFAR-100, with KD) and the stage ReLU counts.
        let results = [
            StageResult {
                stage: "S1".into(),
                accuracy: 59.85,
                relus: 262_144,
            },
            StageResult {
                stage: "S2".into(),
                accuracy: 68.79,
                relus: 131_072,
            },
            StageResult {
                stage: "S3".into(),
                accuracy: 69.92,
                relus: 65_536,
            },
            StageResult {
                stage: "S4".into(),
                accuracy: 63.16,
                relus: 32_768,
            },
        ];
        let c = criticality(&results);
        assert_eq!(c[0].1, 0.0, "the least critical stage has C = 0");
        let mut order: Vec<_> = c.clone();
        order.sort_by(|a, b| a.1.total_cmp(&b.1));
        let names: Vec<&str> = order.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["S1", "S4", "S2", "S3"]);
        // S3: (69.92 - 59.85) / 65536^0.07
        assert!((c[2].1 - 10.07 / 65_536f64.powf(0.07)).abs() < 1e-12);
    }
}
