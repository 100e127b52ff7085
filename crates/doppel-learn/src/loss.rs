//! Losses: baseline (intercept-only) predictions, gradients and hessians, as in scikit-learn's
//! `HalfBinomialLoss`, `HalfMultinomialLoss` and `HalfSquaredError`.

use crate::Objective;

/// Number of trees grown per boosting iteration.
pub(crate) fn trees_per_iteration(objective: Objective) -> usize {
    match objective {
        Objective::Multiclass { classes } => classes,
        Objective::Binary | Objective::Regression => 1,
    }
}

/// Whether the hessians are constant (1), in which case the grower uses sample counts.
pub(crate) fn constant_hessians(objective: Objective) -> bool {
    matches!(objective, Objective::Regression)
}

/// The raw prediction of an intercept-only model, one value per tree of an iteration.
pub(crate) fn baseline(objective: Objective, labels: &[f64]) -> Vec<f64> {
    let n = labels.len() as f64;
    match objective {
        Objective::Regression => vec![labels.iter().sum::<f64>() / n],
        Objective::Binary => {
            let eps = 10.0 * f64::EPSILON;
            let p = (labels.iter().sum::<f64>() / n).clamp(eps, 1.0 - eps);
            vec![(p / (1.0 - p)).ln()]
        }
        Objective::Multiclass { classes } => {
            let mut counts = vec![0usize; classes];
            for &y in labels {
                counts[y as usize] += 1;
            }
            let eps = f64::EPSILON;
            let logs: Vec<f64> = counts.iter().map(|&c| (c as f64 / n).clamp(eps, 1.0 - eps).ln()).collect();
            let mean = logs.iter().sum::<f64>() / classes as f64;
            logs.iter().map(|l| l - mean).collect()
        }
    }
}

/// Fills `gradients` (and `hessians` unless they are constant) from the current raw predictions.
///
/// `raw`, `gradients` and `hessians` are class-major: entry `k * n + i` belongs to row `i`, tree `k`.
pub(crate) fn gradients(
    objective: Objective,
    labels: &[f64],
    raw: &[f64],
    gradients: &mut [f32],
    hessians: &mut [f32],
    probabilities: &mut Vec<f64>,
) {
    let n = labels.len();
    match objective {
        Objective::Regression => {
            for ((g, &r), &y) in gradients.iter_mut().zip(raw).zip(labels) {
                *g = (r - y) as f32;
            }
        }
        Objective::Binary => {
            for (((g, h), &r), &y) in gradients.iter_mut().zip(hessians.iter_mut()).zip(raw).zip(labels) {
                let (grad, hess) = binomial_gradient_hessian(y, r);
                *g = grad as f32;
                *h = hess as f32;
            }
        }
        Objective::Multiclass { classes } => {
            probabilities.resize(classes, 0.0);
            for (i, &y) in labels.iter().enumerate() {
                softmax_into((0..classes).map(|k| raw[k * n + i]), probabilities);
                for (k, &p) in probabilities.iter().enumerate() {
                    let target = if y as usize == k { 1.0 } else { 0.0 };
                    gradients[k * n + i] = (p - target) as f32;
                    hessians[k * n + i] = (p * (1.0 - p)) as f32;
                }
            }
        }
    }
}

/// scikit-learn's `cgrad_hess_half_binomial`.
fn binomial_gradient_hessian(y: f64, raw: f64) -> (f64, f64) {
    if raw > -37.0 {
        let e = (-raw).exp();
        (((1.0 - y) - y * e) / (1.0 + e), e / ((1.0 + e) * (1.0 + e)))
    } else {
        let e = raw.exp();
        (e - y, e)
    }
}

/// The logistic function.
pub(crate) fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Writes the softmax of `raw` into `out` (which has the right length).
pub(crate) fn softmax_into(raw: impl Iterator<Item = f64> + Clone, out: &mut [f64]) {
    let max = raw.clone().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (o, r) in out.iter_mut().zip(raw) {
        *o = (r - max).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines() {
        let b = baseline(Objective::Binary, &[1.0, 0.0, 0.0, 0.0]);
        assert!((b[0] - (0.25f64 / 0.75).ln()).abs() < 1e-12);
        let r = baseline(Objective::Regression, &[1.0, 2.0, 6.0]);
        assert_eq!(r, vec![3.0]);
        let m = baseline(Objective::Multiclass { classes: 3 }, &[0.0, 1.0, 1.0, 2.0]);
        let mut p = vec![0.0; 3];
        softmax_into(m.iter().copied(), &mut p);
        assert!((p[0] - 0.25).abs() < 1e-12 && (p[1] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn binomial_gradients_match_the_closed_form() {
        for &raw in &[-40.0, -3.0, 0.0, 2.5] {
            for &y in &[0.0, 1.0] {
                let (g, h) = binomial_gradient_hessian(y, raw);
                let p = expit(raw);
                assert!((g - (p - y)).abs() < 1e-12);
                assert!((h - p * (1.0 - p)).abs() < 1e-12);
            }
        }
    }
}
