use std::fs;

use deepreduce_datasets::load_tinyimagenet;

use crate::common::{TRAIN_COLOURS, error_of, jpeg, write_tinyimagenet};

/// JPEG is lossy: flat colours come back within a few levels.
fn near(a: u8, b: u8) -> bool {
    a.abs_diff(b) <= 4
}

#[test]
fn loads_classes_labels_and_rgb_chw_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    write_tinyimagenet(&tmp.path().join("tiny-imagenet-200"));
    let data = load_tinyimagenet(tmp.path()).unwrap();

    assert_eq!(
        (data.info.channels, data.info.height, data.info.width),
        (3, 64, 64)
    );
    assert_eq!(data.info.class_names, vec!["goldfish", "n002"]);
    assert_eq!(data.train.labels, vec![0, 0, 1, 1]);
    assert_eq!(data.test.labels, vec![1, 0, 1]);
    assert_eq!(data.train.image_len(), 3 * 64 * 64);

    let plane = 64 * 64;
    for (i, colour) in [(0, TRAIN_COLOURS[0]), (2, TRAIN_COLOURS[1])] {
        let image = data.train.image(i);
        for (c, &value) in colour.iter().enumerate() {
            let p = image[c * plane + 10 * 64 + 20];
            assert!(near(p, value), "image {i} channel {c}: {p} vs {value}");
        }
    }
    // The grayscale JPEG becomes three equal planes.
    let gray = data.train.image(3);
    for c in 0..3 {
        assert!(
            near(gray[c * plane + 100], 128),
            "{}",
            gray[c * plane + 100]
        );
    }
}

#[test]
fn corrupt_jpeg_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    write_tinyimagenet(tmp.path());
    let bad = tmp.path().join("train/n002/images/n002_1.JPEG");
    let mut bytes = jpeg(64, 64, &[1, 2, 3]);
    bytes.truncate(40);
    fs::write(&bad, bytes).unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert!(
        msg.starts_with(&format!("{}: cannot decode JPEG", bad.display())),
        "{msg}"
    );
}

#[test]
fn wrong_size_jpeg_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    write_tinyimagenet(tmp.path());
    let bad = tmp.path().join("val/images/val_1.JPEG");
    fs::write(&bad, jpeg(32, 48, &[1, 2, 3])).unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert_eq!(
        msg,
        format!("{}: JPEG is 32x48, expected 64x64", bad.display())
    );
}

#[test]
fn val_image_without_annotation_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    write_tinyimagenet(tmp.path());
    fs::write(
        tmp.path().join("val/images/val_3.JPEG"),
        jpeg(64, 64, &[5, 5, 5]),
    )
    .unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert!(msg.contains("val/images/val_3.JPEG: no entry in"), "{msg}");
    assert!(msg.ends_with("val/val_annotations.txt"), "{msg}");
}

#[test]
fn annotation_problems_name_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    write_tinyimagenet(tmp.path());
    let annotations = tmp.path().join("val/val_annotations.txt");
    let text = fs::read_to_string(&annotations).unwrap();

    fs::write(
        &annotations,
        format!("{text}val_9.JPEG\tn001\t0\t0\t1\t1\n"),
    )
    .unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert!(
        msg.ends_with("val_annotations.txt: line 4: val_9.JPEG is not in val/images"),
        "{msg}"
    );

    fs::write(
        &annotations,
        text.replace("val_1.JPEG\tn001", "val_1.JPEG\tn777"),
    )
    .unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert!(
        msg.ends_with("val_annotations.txt: line 2: wnid n777 is not in wnids.txt"),
        "{msg}"
    );

    fs::write(&annotations, "val_0.JPEG\n").unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert!(msg.contains("line 1: expected file<TAB>wnid"), "{msg}");
}

#[test]
fn missing_pieces_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert!(
        msg.contains("wnids.txt: not found (expected TinyImageNet"),
        "{msg}"
    );

    write_tinyimagenet(tmp.path());
    fs::remove_dir_all(tmp.path().join("train/n002")).unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert!(msg.contains("train/n002/images: not found"), "{msg}");

    fs::write(tmp.path().join("wnids.txt"), "n001\nn001\n").unwrap();
    let msg = error_of(load_tinyimagenet(tmp.path()));
    assert!(
        msg.ends_with("wnids.txt: line 2: wnid n001 is listed twice"),
        "{msg}"
    );
}
