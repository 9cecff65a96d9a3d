use std::fs;

use deepreduce_datasets::{load_cifar10, load_cifar100};

use crate::common::{cifar_record, error_of, fine_label, pixel, write_cifar10, write_cifar100};

#[test]
fn cifar10_loads_labels_and_chw_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path(), 2);
    let data = load_cifar10(tmp.path()).unwrap();

    assert_eq!(data.info.name, "cifar10");
    assert_eq!(
        (
            data.info.channels,
            data.info.height,
            data.info.width,
            data.info.classes
        ),
        (3, 32, 32, 10)
    );
    assert_eq!(data.info.class_names[0], "airplane");
    assert!(data.info.hflip);
    assert_eq!(data.train.len(), 10);
    assert_eq!(data.test.len(), 2);
    assert_eq!(data.train.labels, (0..10).collect::<Vec<u16>>());
    for i in [0, 7] {
        let image = data.train.image(i);
        assert_eq!(image.len(), 3072);
        // CHW: plane c starts at c * 1024, row y at y * 32.
        assert_eq!(image[0], pixel(i, 0, 0, 0));
        assert_eq!(image[1024 + 5 * 32 + 9], pixel(i, 1, 5, 9));
        assert_eq!(image[2048 + 31 * 32 + 31], pixel(i, 2, 31, 31));
    }
}

#[test]
fn cifar10_accepts_the_parent_folder() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(&tmp.path().join("cifar-10-batches-bin"), 1);
    assert_eq!(load_cifar10(tmp.path()).unwrap().train.len(), 5);
}

#[test]
fn cifar100_uses_the_fine_label() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar100(&tmp.path().join("cifar-100-binary"), 4, 3);
    let data = load_cifar100(tmp.path()).unwrap();
    assert_eq!(data.info.classes, 100);
    assert_eq!(data.info.class_names.len(), 100);
    assert_eq!(data.info.class_names[99], "worm");
    assert_eq!(
        data.train.labels,
        (0..4).map(|i| u16::from(fine_label(i))).collect::<Vec<_>>()
    );
    assert_eq!(data.test.len(), 3);
    assert_eq!(data.train.image(3)[1024], pixel(3, 1, 0, 0));
}

#[test]
fn truncated_file_names_offset_and_record_size() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path(), 1);
    fs::write(tmp.path().join("data_batch_3.bin"), vec![1u8; 10_000]).unwrap();
    let msg = error_of(load_cifar10(tmp.path()));
    assert!(
        msg.ends_with(
            "data_batch_3.bin: truncated record at offset 9219: expected 3073 bytes per record, \
             file is 10000 bytes (not a multiple of 3073)"
        ),
        "{msg}"
    );
}

#[test]
fn record_cut_short_is_reported_for_cifar100() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar100(tmp.path(), 2, 1);
    let mut bytes = fs::read(tmp.path().join("test.bin")).unwrap();
    bytes.pop();
    fs::write(tmp.path().join("test.bin"), bytes).unwrap();
    let msg = error_of(load_cifar100(tmp.path()));
    assert!(
        msg.contains("test.bin: truncated record at offset 0: expected 3074 bytes"),
        "{msg}"
    );
}

#[test]
fn empty_file_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path(), 1);
    fs::write(tmp.path().join("test_batch.bin"), []).unwrap();
    let msg = error_of(load_cifar10(tmp.path()));
    assert!(msg.contains("test_batch.bin: file is empty"), "{msg}");
}

#[test]
fn oversized_file_is_rejected_without_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path(), 1);
    // A sparse file one record longer than a real batch.
    let file = fs::File::create(tmp.path().join("data_batch_2.bin")).unwrap();
    file.set_len(10_001 * 3073).unwrap();
    let msg = error_of(load_cifar10(tmp.path()));
    assert!(
        msg.contains("data_batch_2.bin: oversized: 30733073 bytes, more than the 30730000"),
        "{msg}"
    );
}

#[test]
fn label_out_of_range_names_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path(), 1);
    fs::write(tmp.path().join("test_batch.bin"), cifar_record(&[120], 0)).unwrap();
    let msg = error_of(load_cifar10(tmp.path()));
    assert!(
        msg.ends_with("test_batch.bin: label 120 at offset 0 is out of range for CIFAR-10 (0..10)"),
        "{msg}"
    );

    write_cifar100(tmp.path(), 1, 1);
    let mut train = cifar_record(&[1, 2], 0);
    train.extend(cifar_record(&[1, 100], 1));
    fs::write(tmp.path().join("train.bin"), train).unwrap();
    let msg = error_of(load_cifar100(tmp.path()));
    assert!(
        msg.ends_with("train.bin: label 100 at offset 3075 is out of range for CIFAR-100 (0..100)"),
        "{msg}"
    );
}

#[test]
fn missing_file_says_what_was_expected() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path(), 1);
    fs::remove_file(tmp.path().join("test_batch.bin")).unwrap();
    let msg = error_of(load_cifar10(tmp.path()));
    assert!(
        msg.ends_with(
            "test_batch.bin: not found (expected CIFAR-10 binary: data_batch_1..5.bin, test_batch.bin)"
        ),
        "{msg}"
    );
    let msg = error_of(load_cifar100(tmp.path().join("nowhere")));
    assert!(
        msg.contains("nowhere/train.bin: not found (expected CIFAR-100 binary"),
        "{msg}"
    );
}
