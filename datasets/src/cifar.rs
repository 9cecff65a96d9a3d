//! CIFAR-10 and CIFAR-100 in their binary versions: fixed-size records of
//! label byte(s) followed by a 32x32 image as R, G and B planes.

use std::path::{Path, PathBuf};

use crate::dataset::names;
use crate::files::{dataset_root, read_file};
use crate::{Dataset, DatasetError, DatasetInfo, DatasetKind, Split};

pub(crate) const SIDE: usize = 32;
const IMAGE_BYTES: usize = 3 * SIDE * SIDE;

pub(crate) const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

pub(crate) const CIFAR100_CLASSES: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// How one flavour of the binary format lays out its records.
struct Format {
    kind: DatasetKind,
    /// The name in messages.
    dataset: &'static str,
    expected: &'static str,
    /// Label bytes before the pixels, and which of them is the label we use.
    label_bytes: usize,
    label_index: usize,
    class_names: &'static [&'static str],
    mean: [f32; 3],
    std: [f32; 3],
    /// Records per train and per test file in the real distribution; smaller
    /// files are accepted (crafted test data), larger ones are not.
    train_records: usize,
    test_records: usize,
}

const CIFAR10: Format = Format {
    kind: DatasetKind::Cifar10,
    dataset: "CIFAR-10",
    expected: "CIFAR-10 binary: data_batch_1..5.bin, test_batch.bin",
    label_bytes: 1,
    label_index: 0,
    class_names: &CIFAR10_CLASSES,
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.2470, 0.2435, 0.2616],
    train_records: 10_000,
    test_records: 10_000,
};

const CIFAR100: Format = Format {
    kind: DatasetKind::Cifar100,
    dataset: "CIFAR-100",
    expected: "CIFAR-100 binary: train.bin, test.bin",
    // Each record starts with the coarse label, then the fine one.
    label_bytes: 2,
    label_index: 1,
    class_names: &CIFAR100_CLASSES,
    mean: [0.5071, 0.4865, 0.4409],
    std: [0.2673, 0.2564, 0.2762],
    train_records: 50_000,
    test_records: 10_000,
};

impl Format {
    fn record(&self) -> usize {
        self.label_bytes + IMAGE_BYTES
    }

    /// Reads the files of one split, each of at most `max_records` records.
    fn read_split(&self, paths: &[PathBuf], max_records: usize) -> Result<Split, DatasetError> {
        let mut split = Split::default();
        for path in paths {
            self.read_into(path, max_records, &mut split)?;
        }
        Ok(split)
    }

    /// Reads one file and appends its records to `split`.
    fn read_into(
        &self,
        path: &Path,
        max_records: usize,
        split: &mut Split,
    ) -> Result<(), DatasetError> {
        let record = self.record();
        let bytes = read_file(path, (max_records * record) as u64, self.expected)?;
        // Every file must hold records, so neither split can be empty.
        if bytes.is_empty() {
            return Err(DatasetError::format(
                path,
                format!(
                    "file is empty (expected {} records of {record} bytes)",
                    self.dataset
                ),
            ));
        }
        if bytes.len() % record != 0 {
            return Err(DatasetError::Truncated {
                path: path.to_path_buf(),
                offset: (bytes.len() / record * record) as u64,
                record,
                len: bytes.len() as u64,
            });
        }
        for (i, rec) in bytes.chunks_exact(record).enumerate() {
            let label = rec[self.label_index];
            if usize::from(label) >= self.class_names.len() {
                return Err(DatasetError::LabelOutOfRange {
                    path: path.to_path_buf(),
                    label: label.into(),
                    offset: (i * record + self.label_index) as u64,
                    dataset: self.dataset,
                    classes: self.class_names.len(),
                });
            }
            split.labels.push(label.into());
            // The record's pixels are already planar R, G, B: exactly CHW.
            split.images.extend_from_slice(&rec[self.label_bytes..]);
        }
        Ok(())
    }

    fn load(&self, train: &[PathBuf], test: &Path) -> Result<Dataset, DatasetError> {
        let info = DatasetInfo::new(
            self.kind.name(),
            (3, SIDE, SIDE),
            names(self.class_names),
            (self.mean.to_vec(), self.std.to_vec()),
            true,
        );
        Ok(Dataset {
            info,
            train: self.read_split(train, self.train_records)?,
            test: self.read_split(&[test.to_path_buf()], self.test_records)?,
        })
    }
}

/// Loads CIFAR-10 from `dir` (the `cifar-10-batches-bin` folder, or its
/// parent): `data_batch_1.bin`..`data_batch_5.bin` and `test_batch.bin`.
pub fn load_cifar10(dir: impl AsRef<Path>) -> Result<Dataset, DatasetError> {
    let root = dataset_root(dir.as_ref(), "cifar-10-batches-bin");
    let train: Vec<_> = (1..=5)
        .map(|b| root.join(format!("data_batch_{b}.bin")))
        .collect();
    CIFAR10.load(&train, &root.join("test_batch.bin"))
}

/// Loads CIFAR-100 from `dir` (the `cifar-100-binary` folder, or its parent):
/// `train.bin` and `test.bin`, labelled with the fine (100-class) label.
pub fn load_cifar100(dir: impl AsRef<Path>) -> Result<Dataset, DatasetError> {
    let root = dataset_root(dir.as_ref(), "cifar-100-binary");
    CIFAR100.load(&[root.join("train.bin")], &root.join("test.bin"))
}
