//! Images of seeded uniform noise, for measuring a network whose cost does
//! not depend on what it sees (private inference of an untrained network).

use crate::rng::Rng;

/// `count` images of `channels` x `height` x `width` values, uniform in
/// [-2, 2) (the range of normalised pixels), row-major; the same for the
/// same seed.
pub fn noise_images(
    count: usize,
    channels: usize,
    height: usize,
    width: usize,
    seed: u64,
) -> Vec<f32> {
    let mut rng = Rng::from_parts(&[seed, 0x006e_6f69_7365]);
    (0..count * channels * height * width)
        .map(|_| rng.range(-2.0, 2.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::noise_images;

    #[test]
    fn noise_is_repeatable_sized_and_in_range() {
        let a = noise_images(2, 3, 4, 5, 9);
        assert_eq!(a.len(), 120);
        assert_eq!(a, noise_images(2, 3, 4, 5, 9));
        assert_ne!(a, noise_images(2, 3, 4, 5, 10));
        assert!(a.iter().all(|v| (-2.0..2.0).contains(v)));
    }
}
