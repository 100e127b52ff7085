//! Helpers shared by doppel's test suites (a dev-dependency only): the distribution distances
//! that acceptance tests assert on.
//!
//! ```
//! assert_eq!(doppel_test::ks(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
//! assert_eq!(doppel_test::tvd(&["a", "b"], &["a", "a"]), 0.5);
//! ```

use std::collections::HashMap;
use std::hash::Hash;

pub mod personal;

/// The two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs.
pub fn ks(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut worst) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        worst = worst.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    worst
}

/// The total-variation distance between the frequencies of two samples of labels.
pub fn tvd<T: Hash + Eq>(a: &[T], b: &[T]) -> f64 {
    let mut shares: HashMap<&T, (f64, f64)> = HashMap::new();
    for value in a {
        shares.entry(value).or_default().0 += 1.0 / a.len() as f64;
    }
    for value in b {
        shares.entry(value).or_default().1 += 1.0 / b.len() as f64;
    }
    shares.values().map(|(p, q)| (p - q).abs()).sum::<f64>() / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(ks(&[0.0, 1.0], &[2.0, 3.0]), 1.0);
        assert!((ks(&[0.0, 1.0, 2.0, 3.0], &[1.5, 2.5, 3.5, 4.5]) - 0.5).abs() < 1e-12);
        assert_eq!(tvd(&[Some("a"), None], &[Some("a"), None]), 0.0);
        assert_eq!(tvd(&["a"], &["b"]), 1.0);
    }
}
