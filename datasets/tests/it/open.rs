use std::path::Path;

use deepreduce_datasets::{DatasetKind, detect, input_shape, open, search_dirs};

use crate::common::{error_of, write_cifar10, write_cifar100, write_idx, write_tinyimagenet};

fn open_path(path: &Path) -> deepreduce_datasets::Dataset {
    open(path.to_str().unwrap()).unwrap()
}

#[test]
fn paths_are_detected_from_their_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_cifar10(&root.join("c10/cifar-10-batches-bin"), 1);
    write_cifar100(&root.join("c100"), 2, 1);
    write_tinyimagenet(&root.join("tin/tiny-imagenet-200"));
    write_idx(&root.join("fm"), true);

    assert_eq!(detect(&root.join("c10")), Some(DatasetKind::Cifar10));
    assert_eq!(
        detect(&root.join("c100/train.bin")),
        Some(DatasetKind::Cifar100)
    );
    assert_eq!(detect(&root.join("tin")), Some(DatasetKind::TinyImageNet));
    assert_eq!(detect(&root.join("fm")), Some(DatasetKind::FashionMnist));
    assert_eq!(detect(root), None);

    assert_eq!(open_path(&root.join("c10")).info.name, "cifar10");
    assert_eq!(
        open_path(&root.join("c10/cifar-10-batches-bin/test_batch.bin"))
            .test
            .len(),
        1
    );
    assert_eq!(open_path(&root.join("c100")).info.classes, 100);
    assert_eq!(open_path(&root.join("tin")).info.name, "tinyimagenet");
    assert_eq!(open_path(&root.join("fm")).train.len(), 3);

    let msg = error_of(open(root.to_str().unwrap()));
    assert!(msg.contains("cannot tell which dataset this is"), "{msg}");
}

#[test]
fn names_open_the_builtin_or_say_where_they_looked() {
    let data = open("synthetic").unwrap();
    assert_eq!((data.train.len(), data.test.len()), (5000, 1000));

    // Only checkable where CIFAR-100 is not installed, as on CI.
    if let Err(e) = open("cifar100") {
        let msg = e.to_string();
        assert!(
            msg.starts_with("dataset 'cifar100' is not installed: looked in"),
            "{msg}"
        );
        assert!(msg.contains(".cache/deepreduce/data/cifar100"), "{msg}");
    }

    let msg = error_of(open("imagenet-22k"));
    assert!(msg.starts_with("unknown dataset 'imagenet-22k'"), "{msg}");
    assert!(
        msg.contains("synthetic, cifar10, cifar100, tinyimagenet, fashion-mnist"),
        "{msg}"
    );
}

#[test]
fn search_dirs_start_with_debians_fashion_mnist() {
    let dirs = search_dirs(DatasetKind::FashionMnist);
    assert_eq!(dirs[0], Path::new("/usr/share/datasets/fashion-mnist"));
    assert!(
        search_dirs(DatasetKind::Cifar10)
            .iter()
            .all(|d| d.ends_with("cifar10"))
    );
}

#[test]
fn input_shapes_of_known_names() {
    assert_eq!(input_shape("cifar10"), Some((3, 32, 10)));
    assert_eq!(input_shape("cifar100"), Some((3, 32, 100)));
    assert_eq!(input_shape("tinyimagenet"), Some((3, 64, 200)));
    assert_eq!(input_shape("fashion-mnist"), Some((1, 28, 10)));
    assert_eq!(input_shape("synthetic"), Some((3, 32, 10)));
    assert_eq!(input_shape("mnist"), None);
    for kind in DatasetKind::ALL {
        assert_eq!(DatasetKind::from_name(kind.name()), Some(kind));
    }
}
