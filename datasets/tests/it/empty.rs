//! A dataset with no training or no test images is refused when it is
//! opened, naming where the images were looked for: a training on it would
//! "complete" with a meaningless accuracy.

use std::fs;

use deepreduce_datasets::{SyntheticConfig, load_idx, load_tinyimagenet, open, synthetic};

use crate::common::{error_of, gzip, idx_images, idx_labels, write_idx, write_tinyimagenet};

#[test]
fn idx_files_of_zero_images_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), false);
    let images = tmp.path().join("train-images-idx3-ubyte");
    fs::write(&images, idx_images(0, 28, 28)).unwrap();
    fs::write(tmp.path().join("train-labels-idx1-ubyte"), idx_labels(&[])).unwrap();
    let msg = error_of(open(tmp.path().to_str().unwrap()));
    assert_eq!(msg, format!("{}: has no training images", images.display()));

    let gz = tempfile::tempdir().unwrap();
    write_idx(gz.path(), true);
    let test_images = gz.path().join("t10k-images-idx3-ubyte.gz");
    fs::write(&test_images, gzip(&idx_images(0, 28, 28))).unwrap();
    fs::write(
        gz.path().join("t10k-labels-idx1-ubyte.gz"),
        gzip(&idx_labels(&[])),
    )
    .unwrap();
    let msg = error_of(load_idx(gz.path()));
    assert_eq!(
        msg,
        format!("{}: has no test images", test_images.display())
    );
}

#[test]
fn tinyimagenet_without_training_or_validation_jpegs_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write_tinyimagenet(tmp.path());
    for wnid in ["n001", "n002"] {
        let images = tmp.path().join("train").join(wnid).join("images");
        fs::remove_dir_all(&images).unwrap();
        fs::create_dir(&images).unwrap();
    }
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert_eq!(
        msg,
        format!(
            "{}: has no training images",
            tmp.path().join("train").display()
        )
    );

    write_tinyimagenet(tmp.path());
    let val = tmp.path().join("val").join("images");
    fs::remove_dir_all(&val).unwrap();
    fs::create_dir(&val).unwrap();
    fs::write(tmp.path().join("val").join("val_annotations.txt"), "").unwrap();
    let msg = error_of(open(tmp.path().to_str().unwrap()));
    assert_eq!(msg, format!("{}: has no test images", val.display()));
}

#[test]
fn a_synthetic_set_without_test_images_is_refused() {
    let msg = error_of(synthetic(&SyntheticConfig {
        test: 0,
        ..SyntheticConfig::default()
    }));
    assert!(msg.starts_with("invalid synthetic dataset config"), "{msg}");
    assert!(msg.contains("test 0 (at least 1 each)"), "{msg}");
}
