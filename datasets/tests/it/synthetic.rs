use std::time::Instant;

use deepreduce_datasets::{DatasetInfo, SYNTHETIC_CLASSES, Split, SyntheticConfig, synthetic};

fn small(seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        seed,
        train: 200,
        test: 50,
        ..SyntheticConfig::default()
    }
}

#[test]
fn defaults_are_fast_and_shaped_as_documented() {
    let start = Instant::now();
    let data = synthetic(&SyntheticConfig::default()).unwrap();
    let elapsed = start.elapsed();
    eprintln!("synthetic defaults generated in {elapsed:?}");
    // The target is well under 1 s; the bound leaves room for a loaded machine.
    assert!(elapsed.as_secs_f32() < 5.0, "{elapsed:?}");
    assert_eq!(data.train.len(), 5000);
    assert_eq!(data.test.len(), 1000);
    assert_eq!(data.train.image_len(), 3 * 32 * 32);
    assert_eq!(
        (
            data.info.channels,
            data.info.height,
            data.info.width,
            data.info.classes
        ),
        (3, 32, 32, 10)
    );
    assert_eq!(data.info.class_names, SYNTHETIC_CLASSES.to_vec());
    assert_eq!(data.info.class_names[..2], ["cross", "ring"]);
    // mean/std are those of the train split.
    let (mean, std) = data.train.channel_stats(3);
    assert_eq!((data.info.mean.clone(), data.info.std.clone()), (mean, std));
    assert!(
        data.info.mean.iter().all(|m| (0.3..0.7).contains(m)),
        "{:?}",
        data.info.mean
    );
    assert!(
        data.info.std.iter().all(|s| (0.15..0.45).contains(s)),
        "{:?}",
        data.info.std
    );
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let a = synthetic(&small(1)).unwrap();
    let b = synthetic(&small(1)).unwrap();
    let c = synthetic(&small(2)).unwrap();
    assert_eq!(a.train, b.train);
    assert_eq!(a.test, b.test);
    assert_ne!(a.train.images, c.train.images);
    assert_ne!(
        a.train.images,
        a.test.images[..a.train.images.len().min(a.test.images.len())]
    );
}

#[test]
fn classes_are_balanced() {
    let data = synthetic(&SyntheticConfig {
        classes: 7,
        train: 700,
        test: 70,
        ..small(3)
    })
    .unwrap();
    for split in [&data.train, &data.test] {
        let mut counts = [0usize; 7];
        for &l in &split.labels {
            counts[usize::from(l)] += 1;
        }
        assert!(counts.iter().all(|&n| n == split.len() / 7), "{counts:?}");
    }
    assert_eq!(data.info.classes, 7);
}

#[test]
fn invalid_configs_are_errors() {
    for cfg in [
        SyntheticConfig {
            classes: 11,
            ..small(0)
        },
        SyntheticConfig {
            classes: 1,
            ..small(0)
        },
        SyntheticConfig {
            size: 8,
            ..small(0)
        },
        SyntheticConfig {
            train: 0,
            ..small(0)
        },
    ] {
        let msg = synthetic(&cfg).unwrap_err().to_string();
        assert!(msg.starts_with("invalid synthetic dataset config"), "{msg}");
    }
    let gray = synthetic(&SyntheticConfig {
        channels: 1,
        size: 20,
        ..small(0)
    })
    .unwrap();
    assert_eq!(gray.train.image_len(), 400);
}

fn normalised(split: &Split, info: &DatasetInfo) -> Vec<Vec<f32>> {
    let plane = info.height * info.width;
    (0..split.len())
        .map(|i| {
            split
                .image(i)
                .iter()
                .enumerate()
                .map(|(j, &p)| (p as f32 / 255.0 - info.mean[j / plane]) / info.std[j / plane])
                .collect()
        })
        .collect()
}

/// Multinomial logistic regression on raw normalised pixels, trained with
/// plain SGD; returns test accuracy.
fn logistic_regression_accuracy(train: &Split, test: &Split, info: &DatasetInfo) -> f32 {
    let (xs, test_xs) = (normalised(train, info), normalised(test, info));
    let (k, d) = (info.classes, info.image_len());
    let mut w = vec![0f32; k * d];
    let mut b = vec![0f32; k];
    let logits = |w: &[f32], b: &[f32], x: &[f32]| -> Vec<f32> {
        (0..k)
            .map(|c| {
                b[c] + w[c * d..(c + 1) * d]
                    .iter()
                    .zip(x)
                    .map(|(w, x)| w * x)
                    .sum::<f32>()
            })
            .collect()
    };
    let lr = 1e-3;
    for _epoch in 0..8 {
        for (x, &label) in xs.iter().zip(&train.labels) {
            let z = logits(&w, &b, x);
            let max = z.iter().cloned().fold(f32::MIN, f32::max);
            let exp: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
            let total: f32 = exp.iter().sum();
            for c in 0..k {
                let grad = exp[c] / total - if c == usize::from(label) { 1.0 } else { 0.0 };
                b[c] -= lr * grad;
                for (wi, xi) in w[c * d..(c + 1) * d].iter_mut().zip(x) {
                    *wi -= lr * grad * xi;
                }
            }
        }
    }
    let correct = test_xs
        .iter()
        .zip(&test.labels)
        .filter(|(x, label)| {
            let z = logits(&w, &b, x);
            let best = (0..k).max_by(|&a, &c| z[a].total_cmp(&z[c])).unwrap();
            best == usize::from(**label)
        })
        .count();
    let train_correct = xs
        .iter()
        .zip(&train.labels)
        .filter(|(x, label)| {
            let z = logits(&w, &b, x);
            (0..k).max_by(|&a, &c| z[a].total_cmp(&z[c])).unwrap() == usize::from(**label)
        })
        .count();
    eprintln!(
        "logistic regression: train accuracy {:.3}, test accuracy {:.3}",
        train_correct as f32 / train.len() as f32,
        correct as f32 / test.len() as f32
    );
    correct as f32 / test.len() as f32
}

/// The class is a shape at a random place in random colours, so a linear
/// model on pixels has nothing stable to weigh: it stays far below what a
/// small CNN reaches (that side is tested with the models).
#[test]
fn raw_pixels_are_not_linearly_separable() {
    let data = synthetic(&SyntheticConfig {
        seed: 11,
        train: 2000,
        test: 500,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let accuracy = logistic_regression_accuracy(&data.train, &data.test, &data.info);
    assert!(accuracy < 0.4, "linear test accuracy {accuracy}");
}
