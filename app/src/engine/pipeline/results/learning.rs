//! Whether a run learned anything. A network whose final test AND train
//! accuracy are both within noise of chance (100 / classes %) did not: its
//! accuracy says nothing about its ReLUs, so it is no point of a frontier
//! and no measure of a stage's criticality. The noise is that of a
//! classifier at chance counted over n images: the binomial standard error
//! sqrt(p (1 - p) / n) with p = 1 / classes.

use crate::engine::store::{RunRow, Store, StoreError};
use crate::engine::train::TrainConfig;
use deepreduce_datasets::Dataset;

/// Standard errors above chance an accuracy must reach to count as learned:
/// a classifier at chance gets there about once in 740 measurements.
pub const SIGMAS: f64 = 3.0;

/// A dataset's classes and split sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DataSizes {
    pub classes: usize,
    pub train: usize,
    pub test: usize,
}

impl DataSizes {
    pub fn of(data: &Dataset) -> Self {
        DataSizes {
            classes: data.info.classes,
            train: data.train.len(),
            test: data.test.len(),
        }
    }

    /// Opens `dataset` (a name or a path) to count it; `None` when it
    /// cannot be opened, and then no run on it can be judged.
    pub fn open(dataset: &str) -> Option<Self> {
        deepreduce_datasets::open(dataset)
            .ok()
            .map(|d| Self::of(&d))
    }
}

/// What a run's accuracies were counted over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    pub classes: usize,
    pub test_images: usize,
    pub train_images: usize,
}

impl Measurement {
    /// The subsets the trainer takes of the splits. The train accuracy is
    /// counted over the last epoch's full batches, so its n may be up to a
    /// batch smaller than this: a band narrower by under 1% for a subset of
    /// a hundred batches.
    pub fn new(data: DataSizes, train: &TrainConfig) -> Self {
        let capped = |subset: Option<usize>, all: usize| subset.map_or(all, |n| n.min(all));
        Measurement {
            classes: data.classes,
            test_images: capped(train.test_subset, data.test),
            train_images: capped(train.subset, data.train),
        }
    }
}

/// Top-1 accuracies (%) at the end of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FinalAccuracy {
    pub test: f64,
    pub train: f64,
}

/// The highest accuracy (%) over `images` images that is still chance among
/// `classes`: chance plus [`SIGMAS`] binomial standard errors. Infinite for
/// no images: nothing counted is nothing learned.
pub fn chance_ceiling(classes: usize, images: usize) -> f64 {
    let p = 1.0 / classes as f64;
    100.0 * (p + SIGMAS * (p * (1.0 - p) / images as f64).sqrt())
}

/// The one definition: a run learned when its final test or train accuracy
/// rose above the noise of chance. A network that only fits its training
/// images still learned (and overfits); one that is at chance on both did
/// not.
pub fn learned(accuracy: FinalAccuracy, m: Measurement) -> bool {
    accuracy.test > chance_ceiling(m.classes, m.test_images)
        || accuracy.train > chance_ceiling(m.classes, m.train_images)
}

/// Whether stored run `run`, trained on data of sizes `data`, learned;
/// `None` when it cannot be told: no final accuracy or recorded epoch yet,
/// training settings that do not read, or a dataset that did not open.
pub fn run_learned(
    store: &Store,
    run: &RunRow,
    data: Option<DataSizes>,
) -> Result<Option<bool>, StoreError> {
    let (Some(test), Some(data)) = (run.accuracy, data) else {
        return Ok(None);
    };
    let Ok(train) = serde_json::from_value::<TrainConfig>(run.config["train"].clone()) else {
        return Ok(None);
    };
    let Some(last) = store.epochs(run.id)?.pop() else {
        return Ok(None);
    };
    let accuracy = FinalAccuracy {
        test,
        train: last.train_accuracy,
    };
    Ok(Some(learned(accuracy, Measurement::new(data, &train))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_CLASSES: Measurement = Measurement {
        classes: 10,
        test_images: 1000,
        train_images: 5000,
    };

    #[test]
    fn the_ceiling_is_chance_plus_three_standard_errors() {
        // p = 0.1: sqrt(0.09 / 1000) = 0.0094868; 10% + 3 x 0.94868 points.
        assert!((chance_ceiling(10, 1000) - 12.846).abs() < 1e-3);
        // 5000 images: sqrt(0.09 / 5000) = 0.0042426.
        assert!((chance_ceiling(10, 5000) - 11.273).abs() < 1e-3);
        // CIFAR-100's 10,000 test images: 1% + 3 x sqrt(0.0099 / 10000).
        assert!((chance_ceiling(100, 10_000) - 1.2985).abs() < 1e-4);
        assert_eq!(chance_ceiling(10, 0), f64::INFINITY);
    }

    #[test]
    fn a_run_at_chance_on_both_splits_did_not_learn() {
        // The reported case: 10.1% on 10 classes, train loss flat.
        let at_chance = FinalAccuracy {
            test: 10.1,
            train: 10.0,
        };
        assert!(!learned(at_chance, TEN_CLASSES));
        // Just under both ceilings: still chance.
        let edge = FinalAccuracy {
            test: 12.84,
            train: 11.27,
        };
        assert!(!learned(edge, TEN_CLASSES));
    }

    #[test]
    fn rising_above_chance_on_either_split_is_learning() {
        let test_only = FinalAccuracy {
            test: 12.85,
            train: 10.0,
        };
        let train_only = FinalAccuracy {
            test: 10.0,
            train: 11.28,
        };
        assert!(learned(test_only, TEN_CLASSES));
        assert!(learned(train_only, TEN_CLASSES));
    }

    #[test]
    fn the_images_counted_are_the_subsets_within_the_splits() {
        let data = DataSizes {
            classes: 10,
            train: 5000,
            test: 1000,
        };
        let subsets = |subset, test_subset| TrainConfig {
            subset,
            test_subset,
            ..TrainConfig::default()
        };
        let m = Measurement::new(data, &subsets(Some(256), Some(200)));
        assert_eq!((m.train_images, m.test_images), (256, 200));
        let m = Measurement::new(data, &subsets(None, Some(50_000)));
        assert_eq!((m.train_images, m.test_images), (5000, 1000));
        // 200 test images widen the band: 10.1% and 14% are chance there.
        let small = FinalAccuracy {
            test: 14.0,
            train: 10.1,
        };
        assert!(!learned(
            small,
            Measurement::new(data, &subsets(Some(256), Some(200)))
        ));
        assert!(learned(small, Measurement::new(data, &subsets(None, None))));
    }
}
