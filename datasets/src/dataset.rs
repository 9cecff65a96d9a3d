//! What a loaded dataset is: its description and its two splits.

use crate::Split;

/// Shape, classes and normalisation of a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetInfo {
    /// The [`crate::DatasetKind`] name of the data (`cifar10`, …).
    pub name: String,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub classes: usize,
    pub class_names: Vec<String>,
    /// Per-channel mean of the pixels in [0,1] units (pixel / 255).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation in [0,1] units.
    pub std: Vec<f32>,
    /// Whether horizontal flips are a valid augmentation for this data.
    pub hflip: bool,
}

impl DatasetInfo {
    /// `classes` is the number of `class_names`.
    pub fn new(
        name: &str,
        (channels, height, width): (usize, usize, usize),
        class_names: Vec<String>,
        (mean, std): (Vec<f32>, Vec<f32>),
        hflip: bool,
    ) -> Self {
        DatasetInfo {
            name: name.to_string(),
            channels,
            height,
            width,
            classes: class_names.len(),
            class_names,
            mean,
            std,
            hflip,
        }
    }

    /// Bytes per image: `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }
}

#[derive(Clone, Debug)]
pub struct Dataset {
    pub info: DatasetInfo,
    pub train: Split,
    pub test: Split,
}

pub(crate) fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}
