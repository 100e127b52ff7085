//! Stratified k-fold assignment.

/// splitmix64: a small, good-enough generator for shuffling.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound > 0`), by Lemire's multiply-shift with rejection.
    fn below(&mut self, bound: u64) -> u64 {
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }
}

/// Assigns each row to one of `k` folds, stratified by label: returns the fold index (`0..k`) of
/// every row.
///
/// The rows of each class (classes in increasing order) are shuffled with a generator seeded by
/// `seed`, the shuffled classes are concatenated and folds are dealt round-robin along that
/// sequence. So every class is spread over the folds as evenly as possible (its counts per fold
/// differ by at most one) and so are the fold sizes. Deterministic for a given seed. `k = 0` is
/// treated as 1.
pub fn stratified_folds(labels: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    let mut rng = SplitMix64(seed);
    let n_classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (row, &label) in labels.iter().enumerate() {
        by_class[label].push(row);
    }
    let mut folds = vec![0; labels.len()];
    let mut position = 0usize;
    for rows in &mut by_class {
        for i in (1..rows.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            rows.swap(i, j);
        }
        for &row in rows.iter() {
            folds[row] = position % k;
            position += 1;
        }
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_balanced_and_deterministic() {
        let labels: Vec<usize> = (0..1003)
            .map(|i| {
                if i % 10 < 3 {
                    1
                } else if i % 10 < 4 {
                    2
                } else {
                    0
                }
            })
            .collect();
        let k = 5;
        let folds = stratified_folds(&labels, k, 42);
        assert_eq!(folds, stratified_folds(&labels, k, 42));
        assert_ne!(folds, stratified_folds(&labels, k, 43));
        let mut sizes = vec![0usize; k];
        let mut per_class = vec![vec![0usize; k]; 3];
        for (&f, &c) in folds.iter().zip(&labels) {
            assert!(f < k);
            sizes[f] += 1;
            per_class[c][f] += 1;
        }
        let spread = |v: &[usize]| v.iter().max().copied().unwrap_or(0) - v.iter().min().copied().unwrap_or(0);
        assert!(spread(&sizes) <= 1, "{sizes:?}");
        for counts in &per_class {
            assert!(spread(counts) <= 1, "{counts:?}");
        }
        // Not simply in row order.
        assert_ne!(folds[..10], [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
        assert!(stratified_folds(&[], 3, 1).is_empty());
        assert_eq!(stratified_folds(&[0, 1, 0], 0, 1), vec![0, 0, 0]);
    }
}
