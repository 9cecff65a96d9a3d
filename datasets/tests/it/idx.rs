use std::fs;
use std::path::Path;

use deepreduce_datasets::load_idx;

use crate::common::{error_of, gzip, idx_images, idx_labels, pixel, write_idx};

fn check_crafted(dir: &Path) {
    let data = load_idx(dir).unwrap();
    assert_eq!(data.info.name, "fashion-mnist");
    assert_eq!(
        (
            data.info.channels,
            data.info.height,
            data.info.width,
            data.info.classes
        ),
        (1, 28, 28, 10)
    );
    assert_eq!(data.info.class_names[9], "Ankle boot");
    assert_eq!(data.train.labels, vec![9, 8, 7]);
    assert_eq!(data.test.labels, vec![9, 8]);
    let image = data.train.image(2);
    assert_eq!(image.len(), 784);
    assert_eq!(image[3 * 28 + 5], pixel(2, 0, 3, 5));
}

#[test]
fn plain_idx_files_load() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), false);
    check_crafted(tmp.path());
}

#[test]
fn gzipped_idx_files_load() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), true);
    check_crafted(tmp.path());
}

#[test]
fn wrong_magic_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), false);
    // An images file where the labels file should be.
    fs::write(
        tmp.path().join("train-labels-idx1-ubyte"),
        idx_images(3, 28, 28),
    )
    .unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert!(
        msg.contains("train-labels-idx1-ubyte: wrong magic number 0x00000803, expected 0x00000801"),
        "{msg}"
    );
}

#[test]
fn payload_length_must_match_the_header() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), true);
    let mut images = idx_images(3, 28, 28);
    images.truncate(images.len() - 784);
    fs::write(tmp.path().join("t10k-images-idx3-ubyte.gz"), gzip(&images)).unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert!(
        msg.contains("t10k-images-idx3-ubyte.gz: payload is 1568 bytes"),
        "{msg}"
    );
    assert!(
        msg.contains("dimensions 3 x 28 x 28 need 2352 bytes"),
        "{msg}"
    );

    let mut labels = idx_labels(&[1, 2, 3]);
    labels.push(4);
    fs::write(tmp.path().join("train-labels-idx1-ubyte.gz"), gzip(&labels)).unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert!(
        msg.contains(
            "train-labels-idx1-ubyte.gz: payload is more than 3 bytes but the header's \
             dimensions 3 need 3 bytes"
        ),
        "{msg}"
    );
}

#[test]
fn short_header_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), false);
    fs::write(tmp.path().join("train-images-idx3-ubyte"), [0, 0, 8, 3, 0]).unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert!(
        msg.contains(
            "train-images-idx3-ubyte: file is 5 bytes, shorter than the 16-byte IDX header"
        ),
        "{msg}"
    );
}

#[test]
fn image_and_label_counts_must_match() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), false);
    fs::write(
        tmp.path().join("train-labels-idx1-ubyte"),
        idx_labels(&[1, 2]),
    )
    .unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert!(
        msg.contains("train-labels-idx1-ubyte: has 2 labels but"),
        "{msg}"
    );
    assert!(
        msg.ends_with("train-images-idx3-ubyte has 3 images"),
        "{msg}"
    );
}

#[test]
fn label_out_of_range_names_offset() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), false);
    fs::write(
        tmp.path().join("t10k-labels-idx1-ubyte"),
        idx_labels(&[3, 10]),
    )
    .unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert!(
        msg.ends_with(
            "t10k-labels-idx1-ubyte: label 10 at offset 9 is out of range for Fashion-MNIST (0..10)"
        ),
        "{msg}"
    );
}

#[test]
fn train_and_test_sizes_must_agree() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), false);
    fs::write(
        tmp.path().join("t10k-images-idx3-ubyte"),
        idx_images(2, 14, 14),
    )
    .unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert!(
        msg.contains("t10k-images-idx3-ubyte: images are 14x14, but the training images are 28x28"),
        "{msg}"
    );
}

#[test]
fn corrupt_gzip_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), true);
    fs::write(
        tmp.path().join("train-images-idx3-ubyte.gz"),
        b"not gzip at all",
    )
    .unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert!(
        msg.contains("train-images-idx3-ubyte.gz: cannot decode gzip"),
        "{msg}"
    );
}

#[test]
fn missing_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), true);
    fs::remove_file(tmp.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert!(
        msg.contains("t10k-labels-idx1-ubyte: not found (expected IDX files"),
        "{msg}"
    );
}

#[test]
fn a_gzip_bomb_is_inflated_no_further_than_its_header_says() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), true);
    // One 28x28 image announced, 64 MiB of zeros after it (64 kB gzipped).
    let mut bomb = idx_images(1, 28, 28);
    bomb.resize(bomb.len() + (64 << 20), 0);
    let path = tmp.path().join("train-images-idx3-ubyte.gz");
    fs::write(&path, gzip(&bomb)).unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert_eq!(
        msg,
        format!(
            "{}: payload is more than 784 bytes but the header's dimensions 1 x 28 x 28 \
             need 784 bytes",
            path.display()
        )
    );
}

#[test]
fn a_plain_file_longer_than_its_header_says_is_refused_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    write_idx(tmp.path(), false);
    let path = tmp.path().join("t10k-labels-idx1-ubyte");
    // A sparse file: 2 labels announced, 512 MiB in all.
    fs::write(&path, idx_labels(&[1, 2])).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(512 << 20)
        .unwrap();
    let msg = error_of(load_idx(tmp.path()));
    assert_eq!(
        msg,
        format!(
            "{}: payload is 536870904 bytes but the header's dimensions 2 need 2 bytes",
            path.display()
        )
    );
}
