//! One split (train or test) of a dataset: u8 pixels and labels.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::DatasetError;
use crate::rng::Rng;

/// The splits' names in messages.
pub(crate) const TRAIN_SPLIT: &str = "training";
pub(crate) const TEST_SPLIT: &str = "test";

/// Refuses a split of `count` images read from `path` when it is empty:
/// training on it, or testing on it, would "complete" with a meaningless
/// accuracy.
pub(crate) fn require_images(
    count: usize,
    path: &Path,
    split: &'static str,
) -> Result<(), DatasetError> {
    if count == 0 {
        return Err(DatasetError::EmptySplit {
            path: path.to_path_buf(),
            split,
        });
    }
    Ok(())
}

/// Names this use of the seed, so that it draws numbers unrelated to other uses.
const SUBSET_STREAM: u64 = 0x5ab5;

/// Images stored back to back, each `C*H*W` bytes in CHW order (all of one
/// channel's plane, then the next); `labels[i]` belongs to `image(i)`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u16>,
}

impl fmt::Debug for Split {
    // The pixel buffer can be hundreds of MB: show its size, not its bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Split")
            .field("len", &self.len())
            .field("image_bytes", &self.image_len())
            .finish()
    }
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image (`C*H*W`); 0 for an empty split.
    pub fn image_len(&self) -> usize {
        self.images.len().checked_div(self.len()).unwrap_or(0)
    }

    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// A deterministic subset of `min(n, len)` items, as class-balanced as the
    /// split allows: each class's items are shuffled with `seed`, then classes
    /// are taken round-robin. Items keep their original relative order.
    pub fn subset(&self, n: usize, seed: u64) -> Split {
        let mut by_class: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
        for (i, &label) in self.labels.iter().enumerate() {
            by_class.entry(label).or_default().push(i);
        }
        let mut rng = Rng::from_parts(&[seed, SUBSET_STREAM]);
        let mut queues: Vec<Vec<usize>> = by_class.into_values().collect();
        for queue in &mut queues {
            rng.shuffle(queue);
            queue.reverse(); // pop() then yields the shuffled order
        }
        let mut picked = Vec::with_capacity(n.min(self.len()));
        while picked.len() < n && queues.iter().any(|q| !q.is_empty()) {
            for queue in &mut queues {
                if picked.len() == n {
                    break;
                }
                if let Some(i) = queue.pop() {
                    picked.push(i);
                }
            }
        }
        picked.sort_unstable();
        self.select(&picked)
    }

    /// The items at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Split {
        let mut images = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Split {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Per-channel mean and standard deviation of the pixels in [0,1] units.
    pub fn channel_stats(&self, channels: usize) -> (Vec<f32>, Vec<f32>) {
        let plane = self.image_len() / channels.max(1);
        let mut sum = vec![0f64; channels];
        let mut sum_sq = vec![0f64; channels];
        for image in self.images.chunks_exact(self.image_len().max(1)) {
            for (c, pixels) in image.chunks_exact(plane.max(1)).enumerate() {
                // Integer sums per plane keep the f64 work small.
                let (s, q) = pixels.iter().fold((0u64, 0u64), |(s, q), &p| {
                    (s + u64::from(p), q + u64::from(p) * u64::from(p))
                });
                sum[c] += s as f64;
                sum_sq[c] += q as f64;
            }
        }
        let count = (self.len() * plane).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / count / 255.0).collect();
        let std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| ((q / count / 65025.0 - m * m).max(0.0).sqrt()) as f32)
            .collect();
        (mean.into_iter().map(|m| m as f32).collect(), std)
    }
}
