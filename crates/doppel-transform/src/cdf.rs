//! A one-dimensional distribution stored as a monotone, piecewise-linear CDF with jumps.
//!
//! Points `(x, p)` are non-decreasing in both coordinates. Two points with the same `x` form a
//! jump: a value that carries probability mass of its own (an *atom*, such as `education = 12`).
//! Between points the mass is spread linearly. Every stored `x` is an aggregate: either a value
//! shared by at least `min_count` training rows (an atom) or the mean of at least `min_count`
//! neighbouring values, so no single row's value is kept.

use serde::{Deserialize, Serialize};

/// A fitted piecewise-linear CDF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiecewiseCdf {
    /// Values, non-decreasing.
    pub xs: Vec<f64>,
    /// Cumulative probabilities, non-decreasing from 0 to 1.
    pub ps: Vec<f64>,
}

/// Settings for fitting a [`PiecewiseCdf`].
#[derive(Debug, Clone, Copy)]
pub struct CdfSettings {
    /// The fewest training rows a stored value may stand for.
    pub min_count: usize,
    /// The most interpolation points (atoms come on top).
    pub max_points: usize,
}

impl PiecewiseCdf {
    /// Fits the CDF of `sorted`, which must be sorted ascending, finite and not empty.
    pub fn fit(sorted: &[f64], settings: CdfSettings) -> PiecewiseCdf {
        let n = sorted.len();
        let nf = n as f64;
        let min_count = settings.min_count.max(1);
        let group = min_count.max(n.div_ceil(settings.max_points.max(1)));
        let atom_threshold = group;
        let mut xs = Vec::new();
        let mut ps = Vec::new();
        // Runs of values that are not atoms, flushed as group means.
        let flush = |start: usize, end: usize, xs: &mut Vec<f64>, ps: &mut Vec<f64>| {
            let m = end - start;
            if m < min_count {
                return; // too few rows to publish anything: their mass is interpolated
            }
            let chunks = (m / group).max(1);
            let chunk = |i: usize| {
                let (chunk_start, chunk_end) = (start + i * m / chunks, start + (i + 1) * m / chunks);
                (mean(&sorted[chunk_start..chunk_end]), (chunk_start + chunk_end) as f64 / 2.0 / nf)
            };
            let edge_share = min_count as f64 / 2.0 / nf;
            if start == 0 {
                let bottom = mean(&sorted[0..min_count]);
                // The expected minimum, extrapolated from the protected bottom mean along the
                // slope to the next published point (nothing but published aggregates).
                let next = (0..chunks.min(2)).map(chunk).find(|&(_, p)| p > edge_share + 1e-12);
                let mut low = next.map_or(bottom, |(x, p)| bottom - (x - bottom) * edge_share / (p - edge_share));
                if sorted[0] >= 0.0 {
                    low = low.max(0.0);
                }
                push(low.min(bottom), 0.0, xs, ps);
            }
            for i in 0..chunks {
                let (x, p) = chunk(i);
                push(x, p, xs, ps);
            }
            if end == n {
                let top = mean(&sorted[n - min_count..n]);
                let top_share = 1.0 - edge_share;
                let previous =
                    (chunks.saturating_sub(2)..chunks).rev().map(chunk).find(|&(_, p)| p < top_share - 1e-12);
                let mut high = previous.map_or(top, |(x, p)| top + (top - x) * edge_share / (top_share - p));
                if sorted[n - 1] <= 0.0 {
                    high = high.min(0.0);
                }
                push(high.max(top), 1.0, xs, ps);
            }
        };
        let mut run_start = 0;
        let mut index = 0;
        while index < n {
            let value = sorted[index];
            let mut next = index + 1;
            while next < n && sorted[next] == value {
                next += 1;
            }
            let count = next - index;
            if count >= atom_threshold {
                flush(run_start, index, &mut xs, &mut ps);
                push(value, index as f64 / nf, &mut xs, &mut ps);
                push(value, next as f64 / nf, &mut xs, &mut ps);
                run_start = next;
            }
            index = next;
        }
        flush(run_start, n, &mut xs, &mut ps);
        if xs.is_empty() {
            // Fewer rows than `min_count` in all: one protected point, the overall mean.
            let m = mean(sorted);
            xs = vec![m, m];
            ps = vec![0.0, 1.0];
        }
        // Make sure the ends are 0 and 1 (runs too small to publish at the ends).
        if ps[0] > 0.0 {
            xs.insert(0, xs[0]);
            ps.insert(0, 0.0);
        }
        if *ps.last().expect("invariant: not empty") < 1.0 {
            xs.push(*xs.last().expect("invariant: not empty"));
            ps.push(1.0);
        }
        PiecewiseCdf { xs, ps }
    }

    /// The smallest value the distribution produces.
    pub fn min(&self) -> f64 {
        self.xs[0]
    }

    /// The largest value the distribution produces.
    pub fn max(&self) -> f64 {
        self.xs[self.xs.len() - 1]
    }

    /// The value at cumulative probability `u` (the inverse CDF).
    pub fn quantile(&self, u: f64) -> f64 {
        let ps = &self.ps;
        // First index with ps[i] >= u.
        let i = ps.partition_point(|&p| p < u);
        if i == 0 {
            return self.xs[0];
        }
        if i >= ps.len() {
            return self.max();
        }
        let (p0, p1) = (ps[i - 1], ps[i]);
        let (x0, x1) = (self.xs[i - 1], self.xs[i]);
        if p1 <= p0 || x1 == x0 {
            return x1;
        }
        x0 + (x1 - x0) * (u - p0) / (p1 - p0)
    }

    /// The middle of the CDF's range at `x`: for an atom the centre of its jump, elsewhere the
    /// interpolated CDF; kept inside `[1e-6, 1 - 1e-6]` so that normal scores stay finite.
    pub fn mid_cdf(&self, x: f64) -> f64 {
        self.raw_mid_cdf(x).clamp(1e-6, 1.0 - 1e-6)
    }

    fn raw_mid_cdf(&self, x: f64) -> f64 {
        let xs = &self.xs;
        let lo = xs.partition_point(|&v| v < x);
        let hi = xs.partition_point(|&v| v <= x);
        if hi > lo {
            // x is one of the points; several points with it form a jump.
            return (self.ps[lo] + self.ps[hi - 1]) / 2.0;
        }
        if lo == 0 {
            return self.ps[0];
        }
        if lo >= xs.len() {
            return self.ps[xs.len() - 1];
        }
        let (x0, x1) = (xs[lo - 1], xs[lo]);
        let (p0, p1) = (self.ps[lo - 1], self.ps[lo]);
        p0 + (p1 - p0) * (x - x0) / (x1 - x0)
    }
}

/// Appends a point, keeping both coordinates non-decreasing.
fn push(x: f64, p: f64, xs: &mut Vec<f64>, ps: &mut Vec<f64>) {
    let x = match xs.last() {
        Some(&last) if x < last => last,
        _ => x,
    };
    let p = match ps.last() {
        Some(&last) if p < last => last,
        _ => p,
    };
    xs.push(x);
    ps.push(p.clamp(0.0, 1.0));
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: CdfSettings = CdfSettings { min_count: 5, max_points: 100 };

    #[test]
    fn atoms_are_exact() {
        let mut values: Vec<f64> = (0..1000).map(|i| f64::from(i % 4)).collect();
        values.sort_by(f64::total_cmp);
        let cdf = PiecewiseCdf::fit(&values, SETTINGS);
        assert_eq!(cdf.quantile(0.1), 0.0);
        assert_eq!(cdf.quantile(0.3), 1.0);
        assert_eq!(cdf.quantile(0.6), 2.0);
        assert_eq!(cdf.quantile(0.9), 3.0);
        assert!((cdf.mid_cdf(1.0) - 0.375).abs() < 1e-12);
    }

    #[test]
    fn continuous_quantiles_are_close_and_inside_bounds() {
        let values: Vec<f64> = (0..10_000).map(|i| f64::from(i) / 10_000.0).collect();
        let cdf = PiecewiseCdf::fit(&values, SETTINGS);
        for u in [0.01, 0.25, 0.5, 0.75, 0.99] {
            assert!((cdf.quantile(u) - u).abs() < 0.01, "u {u} -> {}", cdf.quantile(u));
        }
        // The ends are extrapolated from the protected tail means, not the extreme rows; the
        // bottom stops at 0 because no value is negative.
        let (bottom, top) = (mean(&values[..5]), mean(&values[values.len() - 5..]));
        assert!(cdf.min() >= 0.0 && cdf.min() < bottom, "min {} below the bottom mean {bottom}", cdf.min());
        assert!(cdf.max() > top && cdf.max() < top + 0.001, "max {} just above the top mean {top}", cdf.max());
        assert!(cdf.xs.len() <= 103);
    }

    #[test]
    fn tiny_inputs() {
        let cdf = PiecewiseCdf::fit(&[1.0, 2.0], SETTINGS);
        assert_eq!(cdf.quantile(0.2), 1.5);
        let cdf = PiecewiseCdf::fit(&[3.0; 7], SETTINGS);
        assert_eq!(cdf.quantile(0.5), 3.0);
    }
}
