//! Turning a split into normalised f32 batches on a background thread.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

use crate::augment::Augment;
use crate::rng::Rng;
use crate::{DatasetInfo, Split};

/// Batches prepared ahead of the consumer.
const PREFETCH: usize = 4;

/// Names of the uses of the seed, so that they draw unrelated numbers.
const SHUFFLE_STREAM: u64 = 1;
const AUGMENT_STREAM: u64 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// Items per batch; 0 is taken as 1.
    pub batch_size: usize,
    pub shuffle: bool,
    /// A random crop of the image padded by 4 pixels of value 0 (black, as
    /// torchvision pads before normalising), plus a horizontal flip with
    /// p = 0.5 when [`DatasetInfo::hflip`] allows it.
    pub augment: bool,
    pub seed: u64,
    /// Leave out the last batch when it is smaller than `batch_size`.
    pub drop_last: bool,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            batch_size: 128,
            shuffle: true,
            augment: false,
            seed: 0,
            drop_last: false,
        }
    }
}

impl BatchConfig {
    /// The number of batches one epoch over `items` items yields.
    pub fn batches(&self, items: usize) -> usize {
        let size = self.batch_size.max(1);
        if self.drop_last {
            items / size
        } else {
            items.div_ceil(size)
        }
    }
}

/// Images are `batch_size x channels x height x width`, row-major, each
/// pixel normalised as `(p / 255 - mean[c]) / std[c]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
    pub batch_size: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

/// Everything needed to build any batch of one epoch, independently of the
/// others: the same (seed, epoch) always gives the same batches.
struct Epoch {
    split: Arc<Split>,
    order: Vec<usize>,
    /// `lut[c][p]`: normalised value of pixel value `p` in channel `c`.
    lut: Vec<[f32; 256]>,
    shape: (usize, usize, usize),
    cfg: BatchConfig,
    epoch: u64,
    hflip: bool,
}

impl Epoch {
    fn new(split: Arc<Split>, info: &DatasetInfo, cfg: BatchConfig, epoch: u64) -> Self {
        let mut order: Vec<usize> = (0..split.len()).collect();
        if cfg.shuffle {
            Rng::from_parts(&[cfg.seed, epoch, SHUFFLE_STREAM]).shuffle(&mut order);
        }
        let lut = (0..info.channels)
            .map(|c| std::array::from_fn(|p| (p as f32 / 255.0 - info.mean[c]) / info.std[c]))
            .collect();
        Epoch {
            split,
            order,
            lut,
            shape: (info.channels, info.height, info.width),
            cfg,
            epoch,
            hflip: info.hflip,
        }
    }

    fn batch(&self, b: usize) -> Batch {
        let size = self.cfg.batch_size.max(1);
        let positions = b * size..((b + 1) * size).min(self.order.len());
        let (channels, height, width) = self.shape;
        let mut images = Vec::with_capacity(positions.len() * channels * height * width);
        let mut labels = Vec::with_capacity(positions.len());
        for pos in positions {
            let item = self.order[pos];
            let augment = if self.cfg.augment {
                // Seeded per position in the epoch, not per thread or batch
                // size, so that a sample's augmentation is reproducible.
                let mut rng =
                    Rng::from_parts(&[self.cfg.seed, self.epoch, AUGMENT_STREAM, pos as u64]);
                Augment::random(&mut rng, self.hflip)
            } else {
                Augment::default()
            };
            let image = self.split.image(item);
            for (c, lut) in self.lut.iter().enumerate() {
                let plane = &image[c * height * width..(c + 1) * height * width];
                for y in 0..height {
                    for x in 0..width {
                        // Padding is pixel value 0 (black), as in torchvision's
                        // RandomCrop before Normalize.
                        let pixel = augment
                            .source(x, y, width, height)
                            .map_or(0, |(sx, sy)| plane[sy * width + sx]);
                        images.push(lut[usize::from(pixel)]);
                    }
                }
            }
            labels.push(i64::from(self.split.labels[item]));
        }
        Batch {
            batch_size: labels.len(),
            images,
            labels,
            channels,
            height,
            width,
        }
    }

    fn run(self, batches: usize, tx: SyncSender<Batch>) {
        for b in 0..batches {
            // An error means the consumer dropped the iterator: stop quietly.
            if tx.send(self.batch(b)).is_err() {
                return;
            }
        }
    }
}

/// An iterator over one epoch's batches, prepared on a background thread a
/// few batches ahead. Dropping it stops the thread and waits for it.
pub struct Batcher {
    rx: Option<Receiver<Batch>>,
    worker: Option<JoinHandle<()>>,
    remaining: usize,
}

impl Batcher {
    /// Starts preparing epoch `epoch` of `split`. The shuffle and the
    /// augmentation are drawn from `cfg.seed` and `epoch`, so a run is
    /// repeatable.
    ///
    /// # Panics
    /// When `info` does not describe `split`'s images (a programming error),
    /// or when the OS cannot start a thread.
    pub fn spawn(split: Arc<Split>, info: &DatasetInfo, cfg: BatchConfig, epoch: u64) -> Batcher {
        assert!(
            split.is_empty() || split.image_len() == info.image_len(),
            "split images are {} bytes, but {} describes {} bytes",
            split.image_len(),
            info.name,
            info.image_len()
        );
        assert!(
            info.mean.len() == info.channels && info.std.len() == info.channels,
            "{}: mean/std need one value per channel",
            info.name
        );
        let batches = cfg.batches(split.len());
        let epoch = Epoch::new(split, info, cfg, epoch);
        let (tx, rx) = sync_channel(PREFETCH);
        let worker = thread::Builder::new()
            .name("deepreduce-batcher".into())
            .spawn(move || epoch.run(batches, tx))
            .expect("failed to start the batch thread");
        Batcher {
            rx: Some(rx),
            worker: Some(worker),
            remaining: batches,
        }
    }
}

impl Iterator for Batcher {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let batch = self.rx.as_ref()?.recv().ok()?;
        self.remaining -= 1;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Batcher {}

impl Drop for Batcher {
    fn drop(&mut self) {
        // Closing the channel first makes a blocked `send` fail, so the
        // worker returns and the join cannot hang.
        drop(self.rx.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
