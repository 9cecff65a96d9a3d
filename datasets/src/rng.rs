//! A small seeded random generator (SplitMix64).
//!
//! Written here rather than taken from `rand` because reproducible runs need
//! the same numbers for the same seed forever, and `rand` does not promise
//! value stability of its algorithms across versions.

#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator for one independent stream named by several numbers, e.g.
    /// (seed, epoch, purpose, sample index).
    pub(crate) fn from_parts(parts: &[u64]) -> Self {
        let state = parts.iter().fold(0x243f_6a88_85a3_08d3, |s, &p| {
            mix(s ^ mix(p.wrapping_add(0x9e37_79b9_7f4a_7c15)))
        });
        Rng(state)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n`; `n` must be positive.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[lo, hi)`.
    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    pub(crate) fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }

    /// Fisher–Yates.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn streams_are_repeatable_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| Rng::from_parts(&[1, 2]).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::from_parts(&[1, 2]).next_u64(),
            Rng::from_parts(&[2, 1]).next_u64()
        );
    }

    #[test]
    fn below_and_unit_stay_in_range() {
        let mut rng = Rng::from_parts(&[7]);
        for _ in 0..10_000 {
            assert!(rng.below(3) < 3);
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
