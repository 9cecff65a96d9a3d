//! ReLU criticality of each stage (DeepReDuce, SPEC.md step 1):
//! `C_k = (Acc[Sk] - min_i Acc[Si]) / (#ReLU[Sk])^w`, w = 0.07, from the
//! accuracy of each stage-only network (ReLUs in that stage alone).
//!
//! A stage-only network that did not learn (at chance) measured nothing:
//! the minimum is taken over the stages that learned, so it does not shift
//! their scores, and it stays in the ranking where its accuracy puts it
//! (least critical, a negative C), named by [`did_not_learn`] so that
//! nobody reads its place as a measurement. Shared by the DeepReDuce method
//! plugin, which ranks with it, and the host, which reports it.

pub const EXPONENT: f64 = 0.07;

/// One stage-only network's result.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StageResult {
    pub stage: String,
    pub accuracy: f64,
    pub relus: u64,
    /// Whether the network rose above chance; `None` when that cannot be
    /// told (it then counts as a measurement).
    pub learned: Option<bool>,
}

impl StageResult {
    pub fn did_not_learn(&self) -> bool {
        self.learned == Some(false)
    }
}

/// C_k per stage, in the order given.
pub fn criticality(results: &[StageResult]) -> Vec<(String, f64)> {
    let reference = least_accuracy(results);
    results
        .iter()
        .map(|r| {
            (
                r.stage.clone(),
                (r.accuracy - reference) / (r.relus.max(1) as f64).powf(EXPONENT),
            )
        })
        .collect()
}

/// The least accuracy of the stages that learned; of all stages when none
/// did (every score is then unreliable, and says so).
fn least_accuracy(results: &[StageResult]) -> f64 {
    let least = |learned_only: bool| {
        results
            .iter()
            .filter(|r| !(learned_only && r.did_not_learn()))
            .map(|r| r.accuracy)
            .fold(f64::INFINITY, f64::min)
    };
    let learned = least(true);
    if learned.is_finite() {
        learned
    } else {
        least(false)
    }
}

/// The stages whose network did not learn: their criticality is unreliable.
pub fn did_not_learn(results: &[StageResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.did_not_learn())
        .map(|r| r.stage.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table 1 of the paper (ResNet18, CIFAR-100, with KD) and the stage
    /// ReLU counts; each network learned as stated.
    fn paper(learned: [Option<bool>; 4]) -> Vec<StageResult> {
        [
            ("S1", 59.85, 262_144),
            ("S2", 68.79, 131_072),
            ("S3", 69.92, 65_536),
            ("S4", 63.16, 32_768),
        ]
        .into_iter()
        .zip(learned)
        .map(|((stage, accuracy, relus), learned)| StageResult {
            stage: stage.into(),
            accuracy,
            relus,
            learned,
        })
        .collect()
    }

    fn least_critical_first(scores: &[(String, f64)]) -> Vec<&str> {
        let mut order: Vec<_> = scores.iter().collect();
        order.sort_by(|a, b| a.1.total_cmp(&b.1));
        order.iter().map(|(s, _)| s.as_str()).collect()
    }

    #[test]
    fn the_paper_order_on_cifar100() {
        for judged in [Some(true), None] {
            let results = paper([judged; 4]);
            let c = criticality(&results);
            assert_eq!(c[0].1, 0.0, "the least critical stage has C = 0");
            assert_eq!(least_critical_first(&c), ["S1", "S4", "S2", "S3"]);
            // S3: (69.92 - 59.85) / 65536^0.07
            assert!((c[2].1 - 10.07 / 65_536f64.powf(0.07)).abs() < 1e-12);
            assert!(did_not_learn(&results).is_empty());
        }
    }

    #[test]
    fn a_stage_that_did_not_learn_is_named_and_shifts_no_other_score() {
        let mut results = paper([Some(true); 4]);
        let learned = criticality(&results);
        // S4's network stayed at chance (1% on 100 classes).
        results[3].accuracy = 1.02;
        results[3].learned = Some(false);
        let c = criticality(&results);
        assert_eq!(did_not_learn(&results), ["S4"]);
        for (i, stage) in ["S1", "S2", "S3"].into_iter().enumerate() {
            assert_eq!(
                c[i], learned[i],
                "{stage} is scored among the stages that learned"
            );
        }
        // Ranked where its accuracy puts it: below every stage that learned.
        assert!((c[3].1 - (1.02 - 59.85) / 32_768f64.powf(0.07)).abs() < 1e-12);
        assert_eq!(least_critical_first(&c), ["S4", "S1", "S2", "S3"]);
    }

    #[test]
    fn when_no_stage_learned_all_are_scored_and_named() {
        let results = paper([Some(false); 4]);
        let c = criticality(&results);
        assert_eq!(least_critical_first(&c), ["S1", "S4", "S2", "S3"]);
        assert_eq!(did_not_learn(&results), ["S1", "S2", "S3", "S4"]);
    }
}
