//! The standard CIFAR augmentation as geometry: a random crop of the image
//! padded by 4 pixels on each side, then an optional horizontal mirror.

use crate::rng::Rng;

/// Padding on each side for the random crop.
const PAD: i64 = 4;

/// One sample's augmentation. The identity (`Augment::default()`) is used
/// when augmentation is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Augment {
    /// Crop offset relative to the unpadded image, each in `-PAD..=PAD`.
    dx: i64,
    dy: i64,
    flip: bool,
}

impl Augment {
    pub(crate) fn random(rng: &mut Rng, hflip: bool) -> Self {
        let span = (2 * PAD + 1) as usize;
        Augment {
            dx: rng.below(span) as i64 - PAD,
            dy: rng.below(span) as i64 - PAD,
            flip: hflip && rng.coin(),
        }
    }

    /// The source pixel (x, y) that lands at output (x, y) of a `w`x`h`
    /// image, or `None` where the crop reaches into the padding.
    #[inline]
    pub(crate) fn source(&self, x: usize, y: usize, w: usize, h: usize) -> Option<(usize, usize)> {
        let x = if self.flip { w - 1 - x } else { x };
        let sx = x as i64 + self.dx;
        let sy = y as i64 + self.dy;
        let inside = (0..w as i64).contains(&sx) && (0..h as i64).contains(&sy);
        inside.then_some((sx as usize, sy as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_maps_every_pixel_to_itself() {
        let a = Augment::default();
        assert_eq!(a.source(0, 0, 4, 4), Some((0, 0)));
        assert_eq!(a.source(3, 2, 4, 4), Some((3, 2)));
    }

    #[test]
    fn shift_reaches_into_padding_and_flip_mirrors() {
        let shifted = Augment {
            dx: 2,
            dy: -1,
            flip: false,
        };
        assert_eq!(shifted.source(0, 0, 4, 4), None);
        assert_eq!(shifted.source(1, 1, 4, 4), Some((3, 0)));
        assert_eq!(shifted.source(2, 1, 4, 4), None);
        let flipped = Augment {
            dx: 0,
            dy: 0,
            flip: true,
        };
        assert_eq!(flipped.source(0, 1, 4, 4), Some((3, 1)));
    }

    #[test]
    fn random_offsets_stay_within_the_padding() {
        let mut rng = Rng::from_parts(&[3]);
        for _ in 0..1000 {
            let a = Augment::random(&mut rng, false);
            assert!(a.dx.abs() <= PAD && a.dy.abs() <= PAD && !a.flip);
        }
    }
}
