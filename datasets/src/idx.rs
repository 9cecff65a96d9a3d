//! IDX files (MNIST's format), as used by Fashion-MNIST: a big-endian header
//! (magic, then one u32 per dimension) followed by u8 data.

use std::path::{Path, PathBuf};

use crate::dataset::names;
use crate::files::{Source, exists_in};
use crate::split::{TEST_SPLIT, TRAIN_SPLIT, require_images};
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

/// The two files of a split, and its name in messages.
struct Pair {
    images: &'static str,
    labels: &'static str,
    split: &'static str,
}

const TRAIN: Pair = Pair {
    images: TRAIN_IMAGES,
    labels: "train-labels-idx1-ubyte",
    split: TRAIN_SPLIT,
};

const TEST: Pair = Pair {
    images: "t10k-images-idx3-ubyte",
    labels: "t10k-labels-idx1-ubyte",
    split: TEST_SPLIT,
};

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
pub(crate) fn present(dir: &Path) -> Result<bool, DatasetError> {
    Ok(exists_in(dir, TRAIN_IMAGES)? || exists_in(dir, &format!("{TRAIN_IMAGES}.gz"))?)
}

/// Reads an IDX file of `D` dimensions: checks the magic number of its
/// header, then reads exactly the payload the header's dimensions call for
/// and no more (a gzipped file is never inflated beyond it).
fn read_idx<const D: usize>(
    path: &Path,
    magic: u32,
    what: &'static str,
) -> Result<([usize; D], Vec<u8>), DatasetError> {
    let mut source = Source::open(path, MAX_BYTES, EXPECTED)?;
    let header_len = 4 + 4 * D;
    let header = source.read_prefix(header_len as u64)?;
    if header.len() < header_len {
        return Err(DatasetError::format(
            path,
            format!(
                "file is {} bytes, shorter than the {header_len}-byte IDX header of {what}",
                header.len()
            ),
        ));
    }
    let word = |i: usize| u32::from_be_bytes([0, 1, 2, 3].map(|b| header[4 * i + b]));
    if word(0) != magic {
        return Err(DatasetError::BadMagic {
            path: path.to_path_buf(),
            found: word(0),
            expected: magic,
            what,
        });
    }
    let dims: [usize; D] = std::array::from_fn(|i| word(i + 1) as usize);
    let need = payload_len(path, &dims)?;
    // Uncompressed, the file's size tells a wrong payload before reading it.
    if let Some(len) = source.len {
        let found = len.saturating_sub(header_len as u64);
        if found != need {
            return Err(payload_mismatch(path, &dims, found.to_string(), need));
        }
    }
    match source.read_rest(need)? {
        Some(payload) if payload.len() as u64 == need => Ok((dims, payload)),
        Some(payload) => Err(payload_mismatch(
            path,
            &dims,
            payload.len().to_string(),
            need,
        )),
        None => Err(payload_mismatch(
            path,
            &dims,
            format!("more than {need}"),
            need,
        )),
    }
}

/// The payload bytes that `dims` call for, refused beyond [`MAX_BYTES`].
fn payload_len(path: &Path, dims: &[usize]) -> Result<u64, DatasetError> {
    let need = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_BYTES);
    need.ok_or_else(|| {
        DatasetError::format(
            path,
            format!(
                "the header's dimensions {} need more than the {MAX_BYTES} bytes an IDX file may have",
                shown(dims)
            ),
        )
    })
}

fn payload_mismatch(path: &Path, dims: &[usize], found: String, need: u64) -> DatasetError {
    DatasetError::format(
        path,
        format!(
            "payload is {found} bytes but the header's dimensions {} need {need} bytes",
            shown(dims)
        ),
    )
}

/// Dimensions as `3 x 28 x 28`.
fn shown(dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
    dims.join(" x ")
}

/// Reads one pair of image and label files into a split and returns it with
/// the images' (rows, cols).
fn read_pair(dir: &Path, pair: &Pair) -> Result<(Split, (usize, usize)), DatasetError> {
    let images_path = locate(dir, pair.images);
    let ([count, rows, cols], images) =
        read_idx::<3>(&images_path, IMAGES_MAGIC, "IDX images: u8, 3 dimensions")?;
    require_images(count, &images_path, pair.split)?;
    if rows == 0 || cols == 0 {
        return Err(DatasetError::format(
            &images_path,
            format!("images are {rows}x{cols}"),
        ));
    }

    let labels_path = locate(dir, pair.labels);
    let ([label_count], raw_labels) =
        read_idx::<1>(&labels_path, LABELS_MAGIC, "IDX labels: u8, 1 dimension")?;
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
    let (train, (rows, cols)) = read_pair(dir, &TRAIN)?;
    let (test, test_shape) = read_pair(dir, &TEST)?;
    if test_shape != (rows, cols) {
        return Err(DatasetError::format(
            locate(dir, TEST.images),
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
