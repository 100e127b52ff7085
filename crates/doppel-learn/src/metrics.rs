//! Evaluation metrics, computed as scikit-learn does.

/// Area under the ROC curve of `scores` for the rows where `positive` is true against the others.
///
/// Computed as the Mann–Whitney statistic with tied scores sharing their average rank, which equals
/// scikit-learn's `roc_auc_score` (ties count one half). `None` when either class is absent, when
/// the slices differ in length or when a score is NaN.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    if scores.len() != positive.len() || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        // -0.0 and 0.0 tie.
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j share their average.
        let average_rank = (i + 1 + j) as f64 / 2.0;
        let pos_in_group = order[i..j].iter().filter(|&&r| positive[r]).count();
        rank_sum_pos += average_rank * pos_in_group as f64;
        i = j;
    }
    let (n_pos, n_neg) = (n_pos as f64, n_neg as f64);
    Some((rank_sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Macro-averaged F1 score, as scikit-learn's `f1_score(truth, predicted, average="macro")`.
///
/// The average runs over the labels that occur in `truth` or in `predicted` (scikit-learn's
/// default `labels=None`); a class absent from both is left out rather than counted as 0 or 1. A
/// label's F1 is `2·TP / (2·TP + FP + FN)`, 0 when it has no true positive. Labels at or above
/// `classes` are counted like any other. Returns 0 for empty input.
///
/// # Panics
///
/// When the slices differ in length.
pub fn macro_f1(predicted: &[usize], truth: &[usize], classes: usize) -> f64 {
    assert_eq!(predicted.len(), truth.len(), "macro_f1: predicted and truth differ in length");
    let size = predicted.iter().chain(truth).map(|&c| c + 1).max().unwrap_or(0).max(classes);
    let mut tp = vec![0usize; size];
    let mut fp = vec![0usize; size];
    let mut fn_ = vec![0usize; size];
    for (&p, &t) in predicted.iter().zip(truth) {
        if p == t {
            tp[p] += 1;
        } else {
            fp[p] += 1;
            fn_[t] += 1;
        }
    }
    let mut sum = 0.0;
    let mut present = 0usize;
    for c in 0..size {
        let denominator = 2 * tp[c] + fp[c] + fn_[c];
        if denominator > 0 {
            present += 1;
            sum += (2 * tp[c]) as f64 / denominator as f64;
        }
    }
    if present == 0 { 0.0 } else { sum / present as f64 }
}

/// Coefficient of determination, as scikit-learn's `r2_score`: `1 − SS_res / SS_tot`.
///
/// A constant `truth` gives 1 for a perfect prediction and 0 otherwise (scikit-learn's
/// `force_finite=True`); empty input gives NaN.
///
/// # Panics
///
/// When the slices differ in length.
pub fn r2(predicted: &[f64], truth: &[f64]) -> f64 {
    assert_eq!(predicted.len(), truth.len(), "r2: predicted and truth differ in length");
    if truth.is_empty() {
        return f64::NAN;
    }
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let ss_res: f64 = predicted.iter().zip(truth).map(|(p, t)| (t - p) * (t - p)).sum();
    let ss_tot: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
    if ss_tot == 0.0 { if ss_res == 0.0 { 1.0 } else { 0.0 } } else { 1.0 - ss_res / ss_tot }
}

/// The index of the largest value of each row of a row-major `n_rows × classes` matrix (the first
/// one on ties, like `numpy.argmax`). Empty when `classes` is 0; a trailing partial row is ignored.
pub fn argmax_rows(probabilities: &[f64], classes: usize) -> Vec<usize> {
    if classes == 0 {
        return Vec::new();
    }
    probabilities
        .chunks_exact(classes)
        .map(|row| {
            let mut best = 0;
            for (i, &p) in row.iter().enumerate().skip(1) {
                if p > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_with_ties() {
        // Positives: 0.8, 0.4, 0.4; negatives: 0.4, 0.1.
        // Pairs (pos > neg = 1, tie = 1/2): 0.8 beats both (2); each 0.4 ties 0.4 (1/2) and beats 0.1 (1)
        // -> (2 + 1.5 + 1.5) / 6 = 5/6.
        let scores = [0.8, 0.4, 0.4, 0.4, 0.1];
        let positive = [true, true, true, false, false];
        let auc = roc_auc(&scores, &positive).expect("both classes present");
        assert!((auc - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true]), None);
        assert_eq!(roc_auc(&[1.0, 0.0], &[true, false]), Some(1.0));
        assert_eq!(roc_auc(&[0.5, 0.5, 0.5], &[true, false, true]), Some(0.5));
    }

    #[test]
    fn macro_f1_matches_sklearn() {
        // sklearn: f1_score([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], average="macro") = 0.26666...
        let truth = [0, 1, 2, 0, 1, 2];
        let predicted = [0, 2, 1, 0, 0, 1];
        assert!((macro_f1(&predicted, &truth, 3) - 0.8 / 3.0).abs() < 1e-12);
        // Class 3 absent from both: excluded. Class 2 only predicted: counts as 0.
        // Class 0: tp 1, fn 1 -> 2/3; class 1: tp 1 -> 1; class 2: fp 1 -> 0.
        let truth = [0, 0, 1];
        let predicted = [0, 2, 1];
        assert!((macro_f1(&predicted, &truth, 4) - (2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
        assert_eq!(macro_f1(&[], &[], 3), 0.0);
        assert_eq!(macro_f1(&[1, 1], &[1, 1], 3), 1.0);
    }

    #[test]
    fn r2_matches_sklearn() {
        // sklearn: r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) = 0.9486081370449679
        let r = r2(&[2.5, 0.0, 2.0, 8.0], &[3.0, -0.5, 2.0, 7.0]);
        assert!((r - 0.948_608_137_044_967_9).abs() < 1e-12);
        assert_eq!(r2(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
        assert_eq!(r2(&[1.0, 2.0], &[1.0, 1.0]), 0.0);
        assert!(r2(&[], &[]).is_nan());
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax_rows(&[0.2, 0.5, 0.3, 0.4, 0.4, 0.2], 3), vec![1, 0]);
        assert!(argmax_rows(&[1.0], 0).is_empty());
    }
}
