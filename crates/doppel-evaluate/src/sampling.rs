//! Seeded row subsampling shared by the metrics.

use doppel_core::rng::{stream_id, stream_rng};
use rand::RngExt;

/// `k` distinct row indices out of `n`, in increasing order, the same for the same seed and
/// purpose; all rows when `k >= n`.
pub fn sample_rows(n: usize, k: usize, seed: u64, purpose: &str) -> Vec<usize> {
    if k >= n {
        return (0..n).collect();
    }
    let mut rng = stream_rng(seed, stream_id(purpose));
    let mut all: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = rng.random_range(i..n);
        all.swap(i, j);
    }
    let mut chosen = all[..k].to_vec();
    chosen.sort_unstable();
    chosen
}

/// The rows of `0..n` shuffled with a seed.
pub fn shuffled_rows(n: usize, seed: u64, purpose: &str) -> Vec<usize> {
    let mut rng = stream_rng(seed, stream_id(purpose));
    let mut all: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        all.swap(i, j);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_sorted_and_seeded() {
        let a = sample_rows(1000, 100, 7, "x");
        assert_eq!(a.len(), 100);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, sample_rows(1000, 100, 7, "x"));
        assert_ne!(a, sample_rows(1000, 100, 8, "x"));
        assert_eq!(sample_rows(5, 10, 7, "x"), vec![0, 1, 2, 3, 4]);
        let mut s = shuffled_rows(50, 1, "y");
        s.sort_unstable();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
    }
}
