//! TinyImageNet (the `tiny-imagenet-200` folder): 64x64 JPEGs in one folder
//! per class for training, one flat folder plus an annotation file for
//! validation, which serves as the test split.

use std::collections::HashMap;
use std::panic;
use std::path::{Path, PathBuf};
use std::thread;

use image::ImageFormat;

use crate::files::{dataset_root, list_files, read_file, read_text};
use crate::split::{TEST_SPLIT, TRAIN_SPLIT, require_images};
use crate::{Dataset, DatasetError, DatasetInfo, DatasetKind, Split};

pub(crate) const SIDE: usize = 64;
pub(crate) const CLASSES: usize = 200;
const IMAGE_BYTES: usize = 3 * SIDE * SIDE;

const EXPECTED: &str = "TinyImageNet: wnids.txt, train/<wnid>/images/*.JPEG, \
                        val/images/*.JPEG, val/val_annotations.txt";
const MAX_TEXT: u64 = 64 << 20;
/// A 64x64 JPEG is a few kB; anything near this is not one.
const MAX_JPEG: u64 = 1 << 20;

/// Loads TinyImageNet from `dir` (the `tiny-imagenet-200` folder, or its
/// parent). Classes are the lines of `wnids.txt`, named from `words.txt`
/// when present. Every JPEG must be 64x64; grayscale ones become RGB.
pub fn load_tinyimagenet(dir: impl AsRef<Path>) -> Result<Dataset, DatasetError> {
    let root = dataset_root(dir.as_ref(), "tiny-imagenet-200");
    let wnids = read_wnids(&root.join("wnids.txt"))?;
    let class_of: HashMap<&str, u16> = wnids
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i as u16))
        .collect();

    let mut train_files = Vec::new();
    let mut train_labels = Vec::new();
    for (class, wnid) in wnids.iter().enumerate() {
        let folder = root.join("train").join(wnid).join("images");
        let files = list_files(&folder, "jpeg", EXPECTED)?;
        train_labels.extend(std::iter::repeat_n(class as u16, files.len()));
        train_files.extend(files);
    }
    require_images(train_files.len(), &root.join("train"), TRAIN_SPLIT)?;
    let (test_files, test_labels) = val_files(&root, &class_of)?;
    require_images(
        test_files.len(),
        &root.join("val").join("images"),
        TEST_SPLIT,
    )?;

    let train = Split {
        images: decode_all(&train_files)?,
        labels: train_labels,
    };
    let test = Split {
        images: decode_all(&test_files)?,
        labels: test_labels,
    };

    let info = DatasetInfo::new(
        DatasetKind::TinyImageNet.name(),
        (3, SIDE, SIDE),
        class_names(&root.join("words.txt"), &wnids)?,
        (vec![0.4802, 0.4481, 0.3975], vec![0.2770, 0.2691, 0.2821]),
        true,
    );
    Ok(Dataset { info, train, test })
}

fn read_wnids(path: &Path) -> Result<Vec<String>, DatasetError> {
    let text = read_text(path, MAX_TEXT, EXPECTED)?;
    let mut wnids: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let wnid = line.trim();
        if wnid.is_empty() {
            continue;
        }
        if wnids.iter().any(|w| w == wnid) {
            return Err(DatasetError::format(
                path,
                format!("line {}: wnid {wnid} is listed twice", n + 1),
            ));
        }
        wnids.push(wnid.to_string());
    }
    if wnids.is_empty() || wnids.len() > usize::from(u16::MAX) {
        return Err(DatasetError::format(
            path,
            format!(
                "lists {} wnids, expected 1..=65535 (200 in TinyImageNet)",
                wnids.len()
            ),
        ));
    }
    Ok(wnids)
}

/// Human-readable class names from `words.txt` (`wnid<TAB>name, synonym, …`),
/// keeping the first synonym; the wnid itself where there is none.
fn class_names(words: &Path, wnids: &[String]) -> Result<Vec<String>, DatasetError> {
    if !words.exists() {
        return Ok(wnids.to_vec());
    }
    let text = read_text(words, MAX_TEXT, "words.txt: wnid<TAB>name lines")?;
    let named: HashMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(wnid, name)| (wnid.trim(), name.split(',').next().unwrap_or(name).trim()))
        .collect();
    Ok(wnids
        .iter()
        .map(|w| named.get(w.as_str()).map_or(w.clone(), |n| n.to_string()))
        .collect())
}

/// The validation JPEGs, sorted by name, with their labels from
/// `val_annotations.txt` (`file<TAB>wnid<TAB>x<TAB>y<TAB>w<TAB>h`). Every
/// image needs an entry and every entry an image.
fn val_files(
    root: &Path,
    class_of: &HashMap<&str, u16>,
) -> Result<(Vec<PathBuf>, Vec<u16>), DatasetError> {
    let annotations = root.join("val").join("val_annotations.txt");
    let text = read_text(&annotations, MAX_TEXT, EXPECTED)?;
    // file name -> (label, line number)
    let mut entries: HashMap<&str, (u16, usize)> = HashMap::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut fields = line.split('\t');
        let (Some(file), Some(wnid)) = (fields.next(), fields.next()) else {
            return Err(DatasetError::format(
                &annotations,
                format!(
                    "line {}: expected file<TAB>wnid<TAB>x<TAB>y<TAB>w<TAB>h",
                    n + 1
                ),
            ));
        };
        let Some(&label) = class_of.get(wnid.trim()) else {
            return Err(DatasetError::format(
                &annotations,
                format!("line {}: wnid {} is not in wnids.txt", n + 1, wnid.trim()),
            ));
        };
        entries.insert(file.trim(), (label, n + 1));
    }

    let files = list_files(&root.join("val").join("images"), "jpeg", EXPECTED)?;
    let mut labels = Vec::with_capacity(files.len());
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let Some((label, _)) = entries.remove(name.as_ref()) else {
            return Err(DatasetError::format(
                file,
                format!("no entry in {}", annotations.display()),
            ));
        };
        labels.push(label);
    }
    if let Some((file, (_, line))) = entries.iter().min_by_key(|(_, (_, line))| *line) {
        return Err(DatasetError::format(
            &annotations,
            format!("line {line}: {file} is not in val/images"),
        ));
    }
    Ok((files, labels))
}

/// Decodes JPEGs into CHW pixels, in parallel over contiguous chunks that
/// each thread writes into its own part of the output. The error reported is
/// that of the first bad file in order, whatever the thread timing.
fn decode_all(files: &[PathBuf]) -> Result<Vec<u8>, DatasetError> {
    let mut images = vec![0u8; files.len() * IMAGE_BYTES];
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = files.len().div_ceil(threads).max(1);
    let results: Vec<Result<(), DatasetError>> = thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(per_thread)
            .zip(images.chunks_mut(per_thread * IMAGE_BYTES))
            .map(|(part, out)| {
                scope.spawn(move || {
                    part.iter()
                        .zip(out.chunks_exact_mut(IMAGE_BYTES))
                        .try_for_each(|(file, out)| decode_jpeg(file, out))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| panic::resume_unwind(p)))
            .collect()
    });
    results.into_iter().collect::<Result<(), _>>()?;
    Ok(images)
}

/// Decodes one 64x64 JPEG into `out` (CHW, RGB).
fn decode_jpeg(path: &Path, out: &mut [u8]) -> Result<(), DatasetError> {
    let bytes = read_file(path, MAX_JPEG, "a JPEG image")?;
    let decode_error = |message: String| DatasetError::Decode {
        path: path.to_path_buf(),
        format: "JPEG",
        message,
    };
    // A decoder bug on hostile input must become an error naming the file,
    // not take down the loader.
    let image =
        panic::catch_unwind(|| image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg))
            .map_err(|_| decode_error("the decoder panicked".to_string()))?
            .map_err(|e| decode_error(e.to_string()))?;
    if (image.width() as usize, image.height() as usize) != (SIDE, SIDE) {
        return Err(DatasetError::format(
            path,
            format!(
                "JPEG is {}x{}, expected {SIDE}x{SIDE}",
                image.width(),
                image.height()
            ),
        ));
    }
    // Grayscale JPEGs (a few hundred in TinyImageNet) are replicated to RGB.
    let rgb = image.to_rgb8();
    for (c, plane) in out.chunks_exact_mut(SIDE * SIDE).enumerate() {
        for (dst, src) in plane.iter_mut().zip(rgb.as_raw().iter().skip(c).step_by(3)) {
            *dst = *src;
        }
    }
    Ok(())
}
