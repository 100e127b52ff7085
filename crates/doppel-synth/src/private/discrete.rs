//! Exact sampling of the discrete Gaussian (Canonne, Kamath and Steinke 2020, Algorithms 1 to 3),
//! with integer arithmetic only.
//!
//! Counts change by whole numbers, so their noise can be whole numbers too. Sampling it with
//! rational arithmetic and uniform integers leaves no floating-point rounding in the noise, which
//! is what attacks on floating-point mechanisms read (Mironov 2012). The discrete Gaussian with
//! variance parameter σ² on counts of sensitivity 1 satisfies 1/(2σ²)-zCDP, as the continuous one
//! does. σ² is rounded up to a multiple of 1/1024, which only adds noise.

use rand::RngExt;

use doppel_core::SeededRng;

/// σ² is held as `numerator / DENOMINATOR`.
const DENOMINATOR: u128 = 1024;

/// A uniform integer in `0..n` (`n > 0`), by rejection.
fn below(rng: &mut SeededRng, n: u128) -> u128 {
    debug_assert!(n > 0);
    let zone = u128::MAX - (u128::MAX % n);
    loop {
        let x = (u128::from(rng.random::<u64>()) << 64) | u128::from(rng.random::<u64>());
        if x < zone {
            return x % n;
        }
    }
}

/// Bernoulli(numerator / denominator), `numerator <= denominator`.
fn bernoulli(rng: &mut SeededRng, numerator: u128, denominator: u128) -> bool {
    below(rng, denominator) < numerator
}

/// Bernoulli(exp(−numerator / denominator)).
fn bernoulli_exp(rng: &mut SeededRng, numerator: u128, denominator: u128) -> bool {
    if numerator <= denominator {
        // γ ≤ 1: the number of successes of Bernoulli(γ / k), k = 1, 2, ..., before the first
        // failure is odd with probability exp(−γ).
        let mut k: u128 = 1;
        while let Some(scaled) = denominator.checked_mul(k)
            && bernoulli(rng, numerator, scaled)
        {
            k += 1;
        }
        return k % 2 == 1;
    }
    // γ > 1: exp(−γ) = exp(−1)^⌊γ⌋ · exp(−(γ − ⌊γ⌋)).
    let whole = numerator / denominator;
    for _ in 0..whole {
        if !bernoulli_exp(rng, 1, 1) {
            return false;
        }
    }
    bernoulli_exp(rng, numerator - whole * denominator, denominator)
}

/// The discrete Laplace distribution with scale `t`: P(x) ∝ exp(−|x| / t).
fn discrete_laplace(rng: &mut SeededRng, t: u128) -> i128 {
    loop {
        let u = below(rng, t);
        if !bernoulli_exp(rng, u, t) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp(rng, 1, 1) {
            v += 1;
        }
        let x = u + t * v;
        let negative = bernoulli(rng, 1, 2);
        if negative && x == 0 {
            continue;
        }
        let x = x as i128;
        return if negative { -x } else { x };
    }
}

/// The rounded-up variance parameter that [`sample`] uses for `sigma`.
pub(super) fn variance(sigma: f64) -> f64 {
    numerator(sigma) as f64 / DENOMINATOR as f64
}

fn numerator(sigma: f64) -> u128 {
    ((sigma * sigma * DENOMINATOR as f64).ceil() as u128).max(1)
}

/// One draw of the discrete Gaussian with variance parameter σ² (rounded up to a multiple of
/// 1/1024): P(x) ∝ exp(−x² / 2σ²) over the integers.
pub(super) fn sample(rng: &mut SeededRng, sigma: f64) -> i128 {
    let p = numerator(sigma); // σ² = p / q
    let q = DENOMINATOR;
    let t = (variance(sigma).sqrt().floor() as u128) + 1;
    loop {
        let y = discrete_laplace(rng, t);
        // Accept with probability exp(−(|y| − σ²/t)² / 2σ²) = exp(−(|y|·q·t − p)² / (2·p·q·t²)).
        let scaled = (y.unsigned_abs()).saturating_mul(q).saturating_mul(t);
        let gap = scaled.abs_diff(p);
        let numerator = gap.saturating_mul(gap);
        let denominator = 2u128.saturating_mul(p).saturating_mul(q).saturating_mul(t).saturating_mul(t);
        if bernoulli_exp(rng, numerator, denominator) {
            return y;
        }
    }
}

/// P(X ≥ k) for the discrete Gaussian of [`sample`], summed in floating point (for thresholds,
/// which only have to be conservative).
pub(super) fn upper_tail(sigma: f64, k: i64) -> f64 {
    let s2 = variance(sigma);
    let reach = (40.0 * s2.sqrt()).ceil() as i64 + 2;
    let weight = |x: i64| (-((x * x) as f64) / (2.0 * s2)).exp();
    let total: f64 = (-reach..=reach).map(weight).sum();
    let tail: f64 = (k.max(-reach)..=reach).map(weight).sum();
    (tail / total).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn bernoulli_exp_has_the_right_rate() {
        let mut rng = SeededRng::seed_from_u64(1);
        for (numerator, denominator) in [(1u128, 2u128), (1, 1), (5, 2), (0, 1)] {
            let n = 100_000;
            let hits = (0..n).filter(|_| bernoulli_exp(&mut rng, numerator, denominator)).count() as f64 / n as f64;
            let p = (-(numerator as f64) / denominator as f64).exp();
            assert!(
                (hits - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt() + 1e-9,
                "γ {numerator}/{denominator}: {hits} vs {p}"
            );
        }
    }

    #[test]
    fn the_discrete_gaussian_matches_its_probabilities() {
        let mut rng = SeededRng::seed_from_u64(2);
        for sigma in [0.7, 3.0, 25.0] {
            let n = 60_000;
            let draws: Vec<i128> = (0..n).map(|_| sample(&mut rng, sigma)).collect();
            let nf = n as f64;
            let mean = draws.iter().map(|&x| x as f64).sum::<f64>() / nf;
            let s2 = variance(sigma);
            assert!(mean.abs() < 4.0 * (s2 / nf).sqrt(), "σ {sigma}: mean {mean}");
            // P(X ≥ k) for a few k against the exact tail.
            for k in [0i64, 1, (sigma.ceil() as i64), (2.0 * sigma).ceil() as i64] {
                let observed = draws.iter().filter(|&&x| x >= i128::from(k)).count() as f64 / nf;
                let expected = upper_tail(sigma, k);
                let se = (expected * (1.0 - expected) / nf).sqrt();
                assert!(
                    (observed - expected).abs() < 4.0 * se + 1e-9,
                    "σ {sigma}, P(X ≥ {k}): {observed} vs {expected}"
                );
            }
        }
    }
}
