//! Writers of small, valid dataset files, for tests to load or to break.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use image::ExtendedColorType;
use image::codecs::jpeg::JpegEncoder;

/// The pixel that item `item` of a crafted set has at channel `c`, row `y`,
/// column `x`: distinct enough across planes to catch a wrong layout.
pub fn pixel(item: usize, c: usize, y: usize, x: usize) -> u8 {
    (item * 31 + c * 85 + y * 7 + x * 3) as u8
}

/// One CIFAR record: the label bytes, then the R, G and B planes.
pub fn cifar_record(labels: &[u8], item: usize) -> Vec<u8> {
    let mut rec = labels.to_vec();
    for c in 0..3 {
        for y in 0..32 {
            for x in 0..32 {
                rec.push(pixel(item, c, y, x));
            }
        }
    }
    rec
}

/// CIFAR-10 with `per_file` records in each of the five train batches and
/// in the test batch; item `i` of a split has label `i % 10`.
pub fn write_cifar10(dir: &Path, per_file: usize) {
    fs::create_dir_all(dir).unwrap();
    let mut item = 0;
    for b in 1..=5 {
        let mut bytes = Vec::new();
        for _ in 0..per_file {
            bytes.extend(cifar_record(&[(item % 10) as u8], item));
            item += 1;
        }
        fs::write(dir.join(format!("data_batch_{b}.bin")), bytes).unwrap();
    }
    let test: Vec<u8> = (0..per_file)
        .flat_map(|i| cifar_record(&[(i % 10) as u8], i))
        .collect();
    fs::write(dir.join("test_batch.bin"), test).unwrap();
}

/// CIFAR-100 whose item `i` has coarse label `i % 20` and fine label
/// `(i * 7) % 100`.
pub fn write_cifar100(dir: &Path, train: usize, test: usize) {
    fs::create_dir_all(dir).unwrap();
    let records = |n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| cifar_record(&[(i % 20) as u8, fine_label(i)], i))
            .collect()
    };
    fs::write(dir.join("train.bin"), records(train)).unwrap();
    fs::write(dir.join("test.bin"), records(test)).unwrap();
}

pub fn fine_label(i: usize) -> u8 {
    ((i * 7) % 100) as u8
}

pub fn idx_images(count: usize, rows: usize, cols: usize) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 3];
    for d in [count, rows, cols] {
        bytes.extend((d as u32).to_be_bytes());
    }
    for i in 0..count {
        for y in 0..rows {
            for x in 0..cols {
                bytes.push(pixel(i, 0, y, x));
            }
        }
    }
    bytes
}

pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 1];
    bytes.extend((labels.len() as u32).to_be_bytes());
    bytes.extend(labels);
    bytes
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The four Fashion-MNIST files (3 train, 2 test images of 28x28), gzipped
/// or not; labels are `i % 10` reversed (9, 8, …).
pub fn write_idx(dir: &Path, gz: bool) {
    fs::create_dir_all(dir).unwrap();
    let files = [
        ("train-images-idx3-ubyte", idx_images(3, 28, 28)),
        ("train-labels-idx1-ubyte", idx_labels(&[9, 8, 7])),
        ("t10k-images-idx3-ubyte", idx_images(2, 28, 28)),
        ("t10k-labels-idx1-ubyte", idx_labels(&[9, 8])),
    ];
    for (name, bytes) in files {
        if gz {
            fs::write(dir.join(format!("{name}.gz")), gzip(&bytes)).unwrap();
        } else {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

/// A JPEG of one flat colour (one value per channel: 1 for grayscale, 3 for RGB).
pub fn jpeg(width: u32, height: u32, colour: &[u8]) -> Vec<u8> {
    let pixels: Vec<u8> = (0..width * height).flat_map(|_| colour.to_vec()).collect();
    let kind = if colour.len() == 1 {
        ExtendedColorType::L8
    } else {
        ExtendedColorType::Rgb8
    };
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 95)
        .encode(&pixels, width, height, kind)
        .unwrap();
    out
}

pub const TRAIN_COLOURS: [[u8; 3]; 2] = [[200, 40, 10], [20, 120, 230]];

/// TinyImageNet with classes n001 ("goldfish") and n002 (no words.txt
/// entry); two train images per class, of the colour `TRAIN_COLOURS[class]`
/// except n002's second, which is grayscale 128; val images val_0..val_2
/// labelled n002, n001, n002.
pub fn write_tinyimagenet(root: &Path) {
    fs::create_dir_all(root).unwrap();
    fs::write(root.join("wnids.txt"), "n001\nn002\n").unwrap();
    fs::write(
        root.join("words.txt"),
        "n001\tgoldfish, Carassius auratus\nn999\tother\n",
    )
    .unwrap();
    for (class, wnid) in ["n001", "n002"].iter().enumerate() {
        let dir = root.join("train").join(wnid).join("images");
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join(format!("{wnid}_0.JPEG")),
            jpeg(64, 64, &TRAIN_COLOURS[class]),
        )
        .unwrap();
        let second = if class == 1 {
            jpeg(64, 64, &[128])
        } else {
            jpeg(64, 64, &TRAIN_COLOURS[class])
        };
        fs::write(dir.join(format!("{wnid}_1.JPEG")), second).unwrap();
    }
    let val = root.join("val").join("images");
    fs::create_dir_all(&val).unwrap();
    let mut annotations = String::new();
    for (i, wnid) in ["n002", "n001", "n002"].iter().enumerate() {
        fs::write(
            val.join(format!("val_{i}.JPEG")),
            jpeg(64, 64, &[90, 90, 90]),
        )
        .unwrap();
        annotations.push_str(&format!("val_{i}.JPEG\t{wnid}\t0\t0\t63\t63\n"));
    }
    fs::write(root.join("val").join("val_annotations.txt"), annotations).unwrap();
}

/// The error message of a result that must have failed.
pub fn error_of<T: std::fmt::Debug>(
    result: Result<T, deepreduce_datasets::DatasetError>,
) -> String {
    result.expect_err("expected an error").to_string()
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `name` is a NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(name.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

/// While alive, releases any reader that opened the FIFO `path` and waits
/// for a writer: it opens the FIFO for writing (which succeeds, without
/// waiting, only once a reader is there) and closes it at once, so that the
/// reader sees an empty file. A loader that wrongly opens the FIFO then
/// fails its test on the message instead of hanging it.
pub struct FifoReleaser {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FifoReleaser {
    pub fn new(path: &Path) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (path, flag) = (path.to_path_buf(), stop.clone());
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let writer = OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&path);
                if writer.is_err() {
                    thread::sleep(Duration::from_millis(5));
                }
            }
        });
        FifoReleaser {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FifoReleaser {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}
