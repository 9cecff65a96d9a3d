//! A pixel mask seen from above: at each position of a C x H x W layer,
//! how many of its channels keep their ReLU. The Network panel draws it as
//! a heatmap.

use deepreduce_plugin_api::{Granularity, ReluMask, Shape};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionMap {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Kept channels per position, row-major.
    kept: Vec<u32>,
}

impl PositionMap {
    /// The map of a pixel `mask` on a layer of `shape`; `None` for a channel
    /// mask (the same at every position) or a layer that is no feature map.
    /// The mask must fit the layer (the IR's shape inference checks that).
    pub fn of(mask: &ReluMask, shape: Shape) -> Option<Self> {
        let Shape::Map([channels, height, width]) = shape else {
            return None;
        };
        if mask.granularity != Granularity::Pixel {
            return None;
        }
        let plane = height * width;
        let mut kept = vec![0; plane];
        // CHW order: an element's position in its plane is its index mod H x W.
        for i in mask.bits.ones() {
            kept[i % plane] += 1;
        }
        Some(PositionMap {
            channels,
            height,
            width,
            kept,
        })
    }

    /// Channels kept at (`row`, `col`).
    pub fn kept(&self, row: usize, col: usize) -> u32 {
        self.kept[row * self.width + col]
    }

    /// Most channels kept at one position.
    pub fn max_kept(&self) -> u32 {
        self.kept.iter().copied().max().unwrap_or(0)
    }

    /// Fewest channels kept at one position.
    pub fn min_kept(&self) -> u32 {
        self.kept.iter().copied().min().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepreduce_plugin_api::BitSet;

    #[test]
    fn counts_the_channels_kept_at_each_position() {
        // 2 channels of 2x3: channel 0 keeps (0, 1), channel 1 keeps (0, 1) and (1, 2).
        let bits = BitSet::from_indices(12, [1, 7, 11]);
        let map = PositionMap::of(
            &ReluMask::new(Granularity::Pixel, bits),
            Shape::Map([2, 2, 3]),
        )
        .expect("a pixel mask on a map");
        assert_eq!((map.channels, map.height, map.width), (2, 2, 3));
        assert_eq!(map.kept(0, 1), 2);
        assert_eq!(map.kept(1, 2), 1);
        assert_eq!(map.kept(0, 0), 0);
        assert_eq!((map.min_kept(), map.max_kept()), (0, 2));
    }

    #[test]
    fn channel_masks_and_vectors_have_no_map() {
        let channel = ReluMask::new(Granularity::Channel, BitSet::full(2));
        assert_eq!(PositionMap::of(&channel, Shape::Map([2, 2, 3])), None);
        let pixel = ReluMask::new(Granularity::Pixel, BitSet::full(6));
        assert_eq!(PositionMap::of(&pixel, Shape::Vector(6)), None);
    }
}
