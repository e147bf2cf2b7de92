//! Deterministic randomness: every random choice of the simulator comes from
//! a ChaCha generator seeded from a `u64`, so a run replays from its seed.

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

/// The generator used everywhere in the simulator.
pub(crate) type SimRng = ChaCha8Rng;

/// A generator seeded from `seed`.
pub(crate) fn rng_from(seed: u64) -> SimRng {
    SimRng::seed_from_u64(seed)
}

/// SplitMix64 finaliser: spreads a counter into a well-mixed seed.
pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A seed derived from several numbers (a run's seed, a cut point, ...).
pub(crate) fn derive(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x6361_6972_6E73_696D, |acc, p| splitmix(acc ^ splitmix(*p)))
}
