//! What the Data panel shows about a dataset: split sizes, images per class
//! and a few sample images per class as RGBA, headless so that it is
//! tested without a window.

use deepreduce_datasets::{Dataset, DatasetInfo, Split};

/// One sample image, RGBA8, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleImage {
    pub label: usize,
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct DatasetPreview {
    pub info: DatasetInfo,
    pub train_images: usize,
    pub test_images: usize,
    /// Training images per class.
    pub class_counts: Vec<usize>,
    /// Up to `per_class` training images of each of the first classes.
    pub samples: Vec<SampleImage>,
}

/// Summarises `data`, keeping `per_class` samples of each of the first
/// `classes` classes.
pub fn preview(data: &Dataset, classes: usize, per_class: usize) -> DatasetPreview {
    let mut class_counts = vec![0; data.info.classes];
    for &label in &data.train.labels {
        if let Some(count) = class_counts.get_mut(label as usize) {
            *count += 1;
        }
    }
    let mut samples = Vec::new();
    for class in 0..classes.min(data.info.classes) {
        let picked = (0..data.train.len())
            .filter(|&i| data.train.labels[i] as usize == class)
            .take(per_class);
        samples.extend(picked.map(|i| to_rgba(&data.train, &data.info, i)));
    }
    DatasetPreview {
        info: data.info.clone(),
        train_images: data.train.len(),
        test_images: data.test.len(),
        class_counts,
        samples,
    }
}

/// CHW u8 (one or three channels) to interleaved RGBA.
fn to_rgba(split: &Split, info: &DatasetInfo, i: usize) -> SampleImage {
    let pixels = split.image(i);
    let plane = info.height * info.width;
    let mut rgba = Vec::with_capacity(plane * 4);
    for p in 0..plane {
        let channel = |c: usize| pixels[(c % info.channels) * plane + p];
        rgba.extend_from_slice(&[channel(0), channel(1), channel(2), 255]);
    }
    SampleImage {
        label: split.labels[i] as usize,
        width: info.width,
        height: info.height,
        rgba,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepreduce_datasets::{SyntheticConfig, synthetic};

    #[test]
    fn counts_every_image_and_converts_samples_to_rgba() {
        let data = synthetic(&SyntheticConfig::default()).unwrap();
        let p = preview(&data, 3, 2);
        assert_eq!(p.class_counts.iter().sum::<usize>(), data.train.len());
        assert_eq!(p.samples.len(), 6);
        assert_eq!(
            p.samples.iter().map(|s| s.label).collect::<Vec<_>>(),
            [0, 0, 1, 1, 2, 2]
        );
        let s = &p.samples[0];
        assert_eq!(s.rgba.len(), s.width * s.height * 4);
        // Channel 1 of the first pixel lands in the green byte.
        let first = data
            .train
            .labels
            .iter()
            .position(|&l| l == 0)
            .expect("class 0 exists");
        let plane = s.width * s.height;
        assert_eq!(s.rgba[1], data.train.image(first)[plane]);
        assert!(s.rgba.chunks(4).all(|px| px[3] == 255));
    }
}
