//! The real Fashion-MNIST, as installed by Debian's `dataset-fashion-mnist`.

use std::path::Path;

use deepreduce_datasets::{Split, load_idx, open};

const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

#[test]
fn real_fashion_mnist_loads() {
    if !Path::new(DEBIAN_DIR).is_dir() {
        eprintln!("skipped: {DEBIAN_DIR} is absent (apt-get install dataset-fashion-mnist)");
        return;
    }
    let data = load_idx(DEBIAN_DIR).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    assert_eq!(
        (data.info.channels, data.info.height, data.info.width),
        (1, 28, 28)
    );
    let check = |split: &Split| {
        let mut counts = [0usize; 10];
        for &l in &split.labels {
            counts[usize::from(l)] += 1;
        }
        // Fashion-MNIST is exactly balanced.
        assert!(counts.iter().all(|&n| n == split.len() / 10), "{counts:?}");
    };
    check(&data.train);
    check(&data.test);
    let (mean, std) = data.train.channel_stats(1);
    assert!((mean[0] - 0.2860).abs() < 0.001, "mean {}", mean[0]);
    assert!((std[0] - 0.3530).abs() < 0.001, "std {}", std[0]);

    // By name, the Debian folder is the first place looked in.
    assert_eq!(open("fashion-mnist").unwrap().test.labels, data.test.labels);
}
