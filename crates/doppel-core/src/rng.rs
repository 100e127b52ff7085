//! Seeded, stream-splittable randomness.
//!
//! Every random draw in doppel comes from a [`SeededRng`] derived from the user's seed and a
//! stream id (a column, a block of rows, a shard). Streams are independent of how work is
//! scheduled over threads, which is what makes output byte-identical whatever `--threads` is.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random number generator used everywhere in doppel (ChaCha8, seeded).
pub type SeededRng = ChaCha8Rng;

/// Derives a generator for `stream` from `seed`. The same pair always gives the same stream, and
/// different streams are statistically independent.
pub fn stream_rng(seed: u64, stream: u64) -> SeededRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Hashes a label (such as a column name) into a stream id, stably across platforms and versions
/// (FNV-1a, 64 bit).
pub fn stream_id(label: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Mixes two 64-bit values into one (splitmix64 finaliser); used for stream ids and keyed
/// permutations of row numbers.
pub fn mix64(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_add(0x9e37_79b9_7f4a_7c15).rotate_left(17);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
