//! A counter-based random number generator: every random draw is a pure function of
//! `(seed, stream, epoch, user, counter)`.
//!
//! Design: there is no shared random stream. A [`Rng`] is created for one unit of work (one user's row of
//! negatives, one epoch's permutation) from a key that hashes `(seed, stream, epoch, user)`; its `i`-th
//! output is `mix64(key + i * GOLDEN)`, i.e. SplitMix64 (Steele, Lea and Flood, 2014) started at that key.
//! Results therefore do not depend on how work is split over threads or batches, nor on what was drawn
//! before. SplitMix64 passes BigCrush, costs a handful of cycles per draw, and needs no dependency.
//! Bounded integers use Lemire's multiply-shift method with its exact rejection step (no modulo bias).

/// The SplitMix64 increment (the odd integer closest to 2^64 / golden ratio).
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Stream ids: independent random streams for each use, so that e.g. evaluation candidates never
/// coincide with training negatives drawn under the same seed.
pub mod stream {
    /// [`crate::sampler::NegativeSampler::sample`].
    pub const NEGATIVES: u64 = 1;
    /// [`crate::sampler::NegativeSampler::eval_candidates`].
    pub const EVAL: u64 = 2;
    /// The per-epoch permutation of training examples.
    pub const SHUFFLE: u64 = 3;
    /// The per-position negatives of all-position (SASRec) batches.
    pub const SEQUENCE_NEGATIVES: u64 = 4;
    /// The order of the batches of an epoch cut into length buckets.
    pub const BUCKETS: u64 = 5;
}

/// The SplitMix64 finaliser: a bijection on u64 with full avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes `(seed, stream, epoch, user)` into a 64-bit key (chained `mix64`, so every field matters).
#[inline]
pub fn key(seed: u64, stream: u64, epoch: u64, user: u64) -> u64 {
    let mut h = mix64(seed ^ 0x5EED_5EED_5EED_5EED);
    h = mix64(h ^ stream.wrapping_mul(GOLDEN));
    h = mix64(h ^ epoch.wrapping_mul(GOLDEN));
    mix64(h ^ user.wrapping_mul(GOLDEN))
}

/// A SplitMix64 stream started at a key: output `i` is `mix64(key + (i + 1) * GOLDEN)`.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The stream for `(seed, stream, epoch, user)`.
    #[inline]
    pub fn new(seed: u64, stream: u64, epoch: u64, user: u64) -> Self {
        Rng { state: key(seed, stream, epoch, user) }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// A uniform integer in `0..n` (`n >= 1`), without bias (Lemire 2019).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform float in `(0, 1]` (safe to take the logarithm of).
    #[inline]
    pub fn unit_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// A uniformly random permutation of `0..n` (Fisher-Yates), a pure function of `rng`'s key.
pub fn permutation(n: usize, rng: &mut Rng) -> Vec<u64> {
    let mut p: Vec<u64> = (0..n as u64).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_pure_functions_of_their_key() {
        let a: Vec<u64> = {
            let mut r = Rng::new(1, 2, 3, 4);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(1, 2, 3, 4);
            (0..5).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        for other in [Rng::new(0, 2, 3, 4), Rng::new(1, 0, 3, 4), Rng::new(1, 2, 0, 4), Rng::new(1, 2, 3, 0)] {
            let mut o = other;
            assert_ne!(a[0], o.next_u64());
        }
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::new(7, 0, 0, 0);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let v = r.below(7) as usize;
            seen[v] += 1;
        }
        assert!(seen.iter().all(|&c| (850..1150).contains(&c)), "{seen:?}");
        assert_eq!(r.below(1), 0);
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = permutation(1000, &mut Rng::new(3, stream::SHUFFLE, 0, 0));
        assert_ne!(p, (0..1000).collect::<Vec<u64>>());
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<u64>>());
        assert!(permutation(0, &mut Rng::new(0, 0, 0, 0)).is_empty());
    }
}
