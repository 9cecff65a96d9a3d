//! IDX files (MNIST's format), as used by Fashion-MNIST: a big-endian header
//! (magic, then one u32 per dimension) followed by u8 data.

use std::path::{Path, PathBuf};

use crate::dataset::names;
use crate::files::read_maybe_gz;
use crate::{Dataset, DatasetError, DatasetInfo, DatasetKind, Split};

pub(crate) const SIDE: usize = 28;

pub(crate) const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

const EXPECTED: &str = "IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, \
                        t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz";

/// Far above any MNIST-like set (Fashion-MNIST's train images are 47 MB),
/// low enough that a wrong file cannot exhaust memory.
const MAX_BYTES: u64 = 1 << 30;

/// Magic numbers: two zero bytes, type 0x08 (unsigned byte), dimension count.
const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// `dir/name`, or `dir/name.gz` when only that exists. When neither does,
/// the plain name, so that the "not found" error names it.
fn locate(dir: &Path, name: &str) -> PathBuf {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if !plain.exists() && gz.exists() {
        gz
    } else {
        plain
    }
}

/// Whether `dir` looks like it holds IDX files (used to detect the format).
pub(crate) fn present(dir: &Path) -> bool {
    locate(dir, TRAIN_IMAGES).exists()
}

/// Checks the header of an IDX file of `D` dimensions and returns the
/// dimensions and the payload, whose length must match them exactly.
fn parse<const D: usize>(
    path: &Path,
    mut bytes: Vec<u8>,
    magic: u32,
    what: &'static str,
) -> Result<([usize; D], Vec<u8>), DatasetError> {
    let header = 4 + 4 * D;
    if bytes.len() < header {
        return Err(DatasetError::format(
            path,
            format!(
                "file is {} bytes, shorter than the {header}-byte IDX header of {what}",
                bytes.len()
            ),
        ));
    }
    let word = |i: usize| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    };
    if word(0) != magic {
        return Err(DatasetError::BadMagic {
            path: path.to_path_buf(),
            found: word(0),
            expected: magic,
            what,
        });
    }
    let dims: [usize; D] = std::array::from_fn(|i| word(i + 1) as usize);
    let payload_len = bytes.len() - header;
    let shown: Vec<String> = dims.iter().map(usize::to_string).collect();
    let expected_len = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if expected_len != Some(payload_len) {
        return Err(DatasetError::format(
            path,
            format!(
                "payload is {} bytes but the header's dimensions {} need {} bytes",
                payload_len,
                shown.join(" x "),
                expected_len.map_or("more than usize::MAX".to_string(), |n| n.to_string()),
            ),
        ));
    }
    bytes.drain(..header);
    Ok((dims, bytes))
}

/// Reads one pair of image and label files into a split and returns it with
/// the images' (rows, cols).
fn read_pair(
    dir: &Path,
    images_name: &str,
    labels_name: &str,
) -> Result<(Split, (usize, usize)), DatasetError> {
    let images_path = locate(dir, images_name);
    let bytes = read_maybe_gz(&images_path, MAX_BYTES, EXPECTED)?;
    let ([count, rows, cols], images) = parse::<3>(
        &images_path,
        bytes,
        IMAGES_MAGIC,
        "IDX images: u8, 3 dimensions",
    )?;
    if rows == 0 || cols == 0 {
        return Err(DatasetError::format(
            &images_path,
            format!("images are {rows}x{cols}"),
        ));
    }

    let labels_path = locate(dir, labels_name);
    let bytes = read_maybe_gz(&labels_path, MAX_BYTES, EXPECTED)?;
    let ([label_count], raw_labels) = parse::<1>(
        &labels_path,
        bytes,
        LABELS_MAGIC,
        "IDX labels: u8, 1 dimension",
    )?;
    if label_count != count {
        return Err(DatasetError::format(
            &labels_path,
            format!(
                "has {label_count} labels but {} has {count} images",
                images_path.display()
            ),
        ));
    }
    let classes = FASHION_CLASSES.len();
    if let Some(i) = raw_labels.iter().position(|&l| usize::from(l) >= classes) {
        return Err(DatasetError::LabelOutOfRange {
            path: labels_path,
            label: raw_labels[i].into(),
            // Offset in the (decompressed) file: the header takes 8 bytes.
            offset: (8 + i) as u64,
            dataset: "Fashion-MNIST",
            classes,
        });
    }
    let labels = raw_labels.into_iter().map(u16::from).collect();
    Ok((Split { images, labels }, (rows, cols)))
}

/// Loads Fashion-MNIST (or any 10-class MNIST-like set, though the class
/// names and normalisation are Fashion-MNIST's) from the four IDX files in
/// `dir`, each plain or gzipped.
///
/// Horizontal flips are off: all the footwear in Fashion-MNIST points the
/// same way, so mirrored shoes would be images the test set never shows.
pub fn load_idx(dir: impl AsRef<Path>) -> Result<Dataset, DatasetError> {
    let dir = dir.as_ref();
    let (train, (rows, cols)) = read_pair(dir, TRAIN_IMAGES, TRAIN_LABELS)?;
    let (test, test_shape) = read_pair(dir, TEST_IMAGES, TEST_LABELS)?;
    if test_shape != (rows, cols) {
        return Err(DatasetError::format(
            locate(dir, TEST_IMAGES),
            format!(
                "images are {}x{}, but the training images are {rows}x{cols}",
                test_shape.0, test_shape.1
            ),
        ));
    }
    let info = DatasetInfo::new(
        DatasetKind::FashionMnist.name(),
        (1, rows, cols),
        names(&FASHION_CLASSES),
        (vec![0.2860], vec![0.3530]),
        false,
    );
    Ok(Dataset { info, train, test })
}
