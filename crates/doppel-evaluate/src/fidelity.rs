//! Fidelity: SDMetrics-compatible column shapes and column pair trends, the holdout-anchored
//! accuracy in the style of mostlyai-qa, missing rates and coverage.
//!
//! The SDMetrics definitions (sdmetrics 0.32 `QualityReport`) are followed to the letter so that
//! the numbers agree with what users already compute:
//! - column shapes: `KSComplement` (1 − two-sample KS statistic over the non-missing values) for
//!   numerical and datetime columns, `TVComplement` (1 − total variation distance of the
//!   non-missing category frequencies) for categorical and boolean ones;
//! - column pair trends: `CorrelationSimilarity` (1 − |r_real − r_synthetic| / 2, Pearson over rows
//!   where both values are present) for two continuous columns, `ContingencySimilarity` (1 − TVD of
//!   the joint frequencies, missing values as a category of their own) otherwise, where a continuous
//!   column is first cut into 10 equal-width bins over its own range (each table its own bins, as
//!   SDMetrics does; `np.digitize` puts the maximum and missing values in the same last code);
//! - as shipped, a pair counts only where the real data shows a strong association (|r| > 0.5, or
//!   Cramér's V > 0.3); `*_all_pairs` counts every pair, as older SDMetrics did;
//! - the overall score is the mean of the two property scores.
//!
//! SDMetrics subsamples 50 000 rows for contingency tables of larger data at random; doppel uses
//! every row, so above that size the two differ by SDMetrics' sampling noise only.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, MISSING, Schema, SdType, Values};

/// SDMetrics' default: a numeric pair counts when the real |Pearson r| is above this.
pub const REAL_CORRELATION_THRESHOLD: f64 = 0.5;
/// SDMetrics' default: a discrete or mixed pair counts when the real Cramér's V is above this.
pub const REAL_ASSOCIATION_THRESHOLD: f64 = 0.3;

/// The shape score of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnShape {
    /// The column.
    pub column: String,
    /// `KSComplement` or `TVComplement`.
    pub metric: String,
    /// The score in [0, 1]; null where it cannot be computed (no values on one side).
    pub score: Option<f64>,
}

/// The trend score of one pair of columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnPairTrend {
    /// The two columns, in metadata order.
    pub columns: [String; 2],
    /// `CorrelationSimilarity` or `ContingencySimilarity`.
    pub metric: String,
    /// The score in [0, 1]; null where it cannot be computed (a constant column, ...).
    pub score: Option<f64>,
    /// The real data's Pearson correlation (continuous pairs).
    pub real_correlation: Option<f64>,
    /// The synthetic data's Pearson correlation (continuous pairs).
    pub synthetic_correlation: Option<f64>,
    /// The real data's Cramér's V (other pairs).
    pub real_association: Option<f64>,
    /// The synthetic data's Cramér's V (other pairs).
    pub synthetic_association: Option<f64>,
    /// Whether the pair counts in the as-shipped score.
    pub meets_threshold: bool,
}

/// SDMetrics' quality report, computed both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// The overall score as shipped: mean of column shapes and thresholded pair trends.
    pub score: Option<f64>,
    /// The overall score with every pair counted.
    pub score_all_pairs: Option<f64>,
    /// The mean column shape score.
    pub column_shapes: Option<f64>,
    /// The mean pair trend score over pairs that meet the thresholds.
    pub column_pair_trends: Option<f64>,
    /// The mean pair trend score over every pair.
    pub column_pair_trends_all_pairs: Option<f64>,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

fn nan_mean(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    mean([a, b].into_iter().flatten())
}

impl Quality {
    /// Aggregates the per-column and per-pair scores.
    pub fn from_parts(shapes: &[ColumnShape], pairs: &[ColumnPairTrend]) -> Quality {
        let column_shapes = mean(shapes.iter().filter_map(|s| s.score));
        let column_pair_trends = mean(pairs.iter().filter(|p| p.meets_threshold).filter_map(|p| p.score));
        let column_pair_trends_all_pairs = mean(pairs.iter().filter_map(|p| p.score));
        Quality {
            score: nan_mean(column_shapes, column_pair_trends),
            score_all_pairs: nan_mean(column_shapes, column_pair_trends_all_pairs),
            column_shapes,
            column_pair_trends,
            column_pair_trends_all_pairs,
        }
    }
}

/// The two-sample Kolmogorov–Smirnov statistic over the non-missing values.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> Option<f64> {
    let mut a: Vec<f64> = a.iter().copied().filter(|v| !v.is_nan()).collect();
    let mut b: Vec<f64> = b.iter().copied().filter(|v| !v.is_nan()).collect();
    if a.is_empty() || b.is_empty() {
        return None;
    }
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    let (mut i, mut j, mut worst) = (0usize, 0usize, 0.0f64);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        worst = worst.max((i as f64 / na - j as f64 / nb).abs());
    }
    Some(worst)
}

/// The total variation distance between the non-missing code frequencies.
pub fn tv_distance(a: &[u32], b: &[u32], n_codes: usize) -> Option<f64> {
    let count = |codes: &[u32]| {
        let mut counts = vec![0usize; n_codes];
        let mut total = 0usize;
        for &c in codes {
            if c != MISSING {
                counts[c as usize] += 1;
                total += 1;
            }
        }
        (counts, total)
    };
    let (ca, ta) = count(a);
    let (cb, tb) = count(b);
    if ta == 0 || tb == 0 {
        return None;
    }
    let sum: f64 = ca.iter().zip(&cb).map(|(&x, &y)| (x as f64 / ta as f64 - y as f64 / tb as f64).abs()).sum();
    Some(0.5 * sum)
}

/// Column shape scores for every evaluated column.
pub fn column_shapes(schema: &Schema, real: &Dataset, synthetic: &Dataset) -> Vec<ColumnShape> {
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(c, spec)| {
            let (metric, distance) = match (&real.columns[c], &synthetic.columns[c]) {
                (Values::Continuous(r), Values::Continuous(s)) => ("KSComplement", ks_statistic(r, s)),
                (Values::Discrete(r), Values::Discrete(s)) => {
                    ("TVComplement", tv_distance(r, s, spec.dictionary.len()))
                }
                _ => ("KSComplement", None),
            };
            ColumnShape { column: spec.name.clone(), metric: metric.to_string(), score: distance.map(|d| 1.0 - d) }
        })
        .collect()
}

/// SDMetrics' discretisation of a continuous column for contingency tables: 10 equal-width bins
/// over the column's own range (`np.histogram_bin_edges`), codes as `np.digitize` gives them
/// (1..=10 inside, 11 for the maximum and for missing values).
pub fn equal_width_codes(values: &[f64]) -> Vec<u32> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in values {
        if !v.is_nan() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if lo > hi {
        return vec![11; values.len()];
    }
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let step = (hi - lo) / 10.0;
    let mut edges = [0.0f64; 11];
    for (i, edge) in edges.iter_mut().enumerate().take(10) {
        *edge = i as f64 * step + lo;
    }
    edges[10] = hi;
    values.iter().map(|&v| if v.is_nan() { 11 } else { edges.partition_point(|&e| e <= v) as u32 }).collect()
}

/// A column as contingency-table codes: category codes (missing as its own code) or bins.
struct Coded {
    codes: Vec<u32>,
}

fn coded(values: &Values, n_dictionary: usize) -> Coded {
    match values {
        Values::Continuous(v) => Coded { codes: equal_width_codes(v) },
        Values::Discrete(v) => {
            Coded { codes: v.iter().map(|&c| if c == MISSING { n_dictionary as u32 } else { c }).collect() }
        }
    }
}

/// Joint counts of two coded columns, sorted by key (so that sums over them do not depend on a
/// hash map's order).
fn joint_counts(a: &Coded, b: &Coded) -> Vec<(u64, usize)> {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for (&x, &y) in a.codes.iter().zip(&b.codes) {
        *counts.entry((u64::from(x) << 32) | u64::from(y)).or_insert(0) += 1;
    }
    let mut sorted: Vec<(u64, usize)> = counts.into_iter().collect();
    sorted.sort_unstable();
    sorted
}

/// Cramér's V of a joint count table (no continuity correction, as `scipy.stats.contingency.association`).
fn cramers_v(counts: &[(u64, usize)]) -> Option<f64> {
    let mut rows: BTreeMap<u32, f64> = BTreeMap::new();
    let mut cols: BTreeMap<u32, f64> = BTreeMap::new();
    let mut n = 0.0;
    for &(key, count) in counts {
        *rows.entry((key >> 32) as u32).or_insert(0.0) += count as f64;
        *cols.entry(key as u32).or_insert(0.0) += count as f64;
        n += count as f64;
    }
    if n == 0.0 || rows.len() < 2 || cols.len() < 2 {
        return None;
    }
    // chi² = Σ (O − E)² / E over all cells = Σ O² / E − n, with E = row·col / n.
    let mut sum = 0.0;
    for &(key, count) in counts {
        let expected = rows[&((key >> 32) as u32)] * cols[&(key as u32)] / n;
        sum += (count as f64) * (count as f64) / expected;
    }
    let chi2 = (sum - n).max(0.0);
    let k = (rows.len().min(cols.len()) - 1) as f64;
    Some((chi2 / n / k).sqrt())
}

/// The total variation distance between two joint count tables (both sorted by key).
fn contingency_tvd(real: &[(u64, usize)], n_real: usize, synthetic: &[(u64, usize)], n_synth: usize) -> f64 {
    let (nr, ns) = (n_real as f64, n_synth as f64);
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < real.len() || j < synthetic.len() {
        let (r, s) = match (real.get(i), synthetic.get(j)) {
            (Some(&(kr, cr)), Some(&(ks, cs))) if kr == ks => {
                i += 1;
                j += 1;
                (cr, cs)
            }
            (Some(&(kr, cr)), Some(&(ks, _))) if kr < ks => {
                i += 1;
                (cr, 0)
            }
            (Some(&(_, cr)), None) => {
                i += 1;
                (cr, 0)
            }
            (_, Some(&(_, cs))) => {
                j += 1;
                (0, cs)
            }
            (None, None) => break,
        };
        sum += (r as f64 / nr - s as f64 / ns).abs();
    }
    0.5 * sum
}

/// Pearson's r over rows where both values are present; `None` when undefined.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let pairs = || a.iter().zip(b).filter(|(x, y)| !x.is_nan() && !y.is_nan());
    let (mut n, mut sa, mut sb) = (0.0, 0.0, 0.0);
    for (x, y) in pairs() {
        n += 1.0;
        sa += x;
        sb += y;
    }
    if n < 2.0 {
        return None;
    }
    let (ma, mb) = (sa / n, sb / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in pairs() {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        return None;
    }
    Some((sab / (saa.sqrt() * sbb.sqrt())).clamp(-1.0, 1.0))
}

fn n_unique_non_missing(values: &[f64]) -> usize {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_unstable_by(f64::total_cmp);
    v.dedup();
    v.len()
}

/// Column pair trend scores for every pair of evaluated columns.
pub fn column_pair_trends(schema: &Schema, real: &Dataset, synthetic: &Dataset) -> Vec<ColumnPairTrend> {
    let n = schema.columns.len();
    let real_coded: Vec<Coded> =
        (0..n).into_par_iter().map(|c| coded(&real.columns[c], schema.columns[c].dictionary.len())).collect();
    let synth_coded: Vec<Coded> =
        (0..n).into_par_iter().map(|c| coded(&synthetic.columns[c], schema.columns[c].dictionary.len())).collect();
    let constant: Vec<bool> = (0..n)
        .into_par_iter()
        .map(|c| {
            schema.columns[c].sdtype.is_continuous()
                && (n_unique_non_missing(real.columns[c].continuous()) == 1
                    || n_unique_non_missing(synthetic.columns[c].continuous()) == 1)
        })
        .collect();
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
    pairs
        .into_par_iter()
        .map(|(i, j)| {
            let names = [schema.columns[i].name.clone(), schema.columns[j].name.clone()];
            let both_continuous = schema.columns[i].sdtype.is_continuous() && schema.columns[j].sdtype.is_continuous();
            if both_continuous {
                let (r, s) = if constant[i] || constant[j] {
                    (None, None)
                } else {
                    (
                        pearson(real.columns[i].continuous(), real.columns[j].continuous()),
                        pearson(synthetic.columns[i].continuous(), synthetic.columns[j].continuous()),
                    )
                };
                let score = r.zip(s).map(|(r, s)| 1.0 - (r - s).abs() / 2.0);
                ColumnPairTrend {
                    columns: names,
                    metric: "CorrelationSimilarity".into(),
                    score,
                    real_correlation: r,
                    synthetic_correlation: s,
                    real_association: None,
                    synthetic_association: None,
                    meets_threshold: r.is_some_and(|r| r.abs() > REAL_CORRELATION_THRESHOLD),
                }
            } else {
                let real_counts = joint_counts(&real_coded[i], &real_coded[j]);
                let synth_counts = joint_counts(&synth_coded[i], &synth_coded[j]);
                let real_association = cramers_v(&real_counts);
                let score = (real.n_rows > 0 && synthetic.n_rows > 0)
                    .then(|| 1.0 - contingency_tvd(&real_counts, real.n_rows, &synth_counts, synthetic.n_rows));
                ColumnPairTrend {
                    columns: names,
                    metric: "ContingencySimilarity".into(),
                    score,
                    real_correlation: None,
                    synthetic_correlation: None,
                    real_association,
                    synthetic_association: cramers_v(&synth_counts),
                    meets_threshold: real_association.is_some_and(|v| v > REAL_ASSOCIATION_THRESHOLD),
                }
            }
        })
        .collect()
}

/// Codes for the holdout-anchored accuracy: continuous columns cut at the real data's deciles,
/// discrete ones as their 10 most frequent real categories plus "other"; missing values get a
/// code of their own.
pub struct AccuracyBins {
    edges: Vec<Vec<f64>>,
    top: Vec<HashMap<u32, u32>>,
}

/// The number of codes an accuracy column can have at most (10 bins, "other", missing).
const ACCURACY_CODES: u32 = 12;

impl AccuracyBins {
    /// Fits the bins on the real data.
    pub fn fit(schema: &Schema, real: &Dataset) -> AccuracyBins {
        let mut edges = Vec::new();
        let mut top = Vec::new();
        for (c, spec) in schema.columns.iter().enumerate() {
            match &real.columns[c] {
                Values::Continuous(v) => {
                    let mut sorted: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                    sorted.sort_unstable_by(f64::total_cmp);
                    let mut cuts: Vec<f64> = Vec::new();
                    if !sorted.is_empty() {
                        for q in 1..10 {
                            let at = ((q as f64 / 10.0) * (sorted.len() - 1) as f64).round() as usize;
                            cuts.push(sorted[at]);
                        }
                        cuts.dedup();
                    }
                    edges.push(cuts);
                    top.push(HashMap::new());
                }
                Values::Discrete(v) => {
                    let mut counts = vec![0usize; spec.dictionary.len()];
                    for &code in v {
                        if code != MISSING {
                            counts[code as usize] += 1;
                        }
                    }
                    let mut order: Vec<usize> = (0..counts.len()).filter(|&k| counts[k] > 0).collect();
                    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
                    top.push(order.into_iter().take(10).enumerate().map(|(rank, k)| (k as u32, rank as u32)).collect());
                    edges.push(Vec::new());
                }
            }
        }
        AccuracyBins { edges, top }
    }

    /// The codes of one column of a dataset.
    pub fn codes(&self, column: usize, values: &Values) -> Vec<u8> {
        match values {
            Values::Continuous(v) => {
                let cuts = &self.edges[column];
                v.iter().map(|&x| if x.is_nan() { 11 } else { cuts.partition_point(|&e| e < x) as u8 }).collect()
            }
            Values::Discrete(v) => v
                .iter()
                .map(|&c| if c == MISSING { 11 } else { self.top[column].get(&c).map_or(10, |&r| r as u8) })
                .collect(),
        }
    }
}

/// Univariate and bivariate accuracy (1 − TVD of the binned distributions) of one dataset
/// against the real data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// Mean univariate accuracy over columns.
    pub univariate: Option<f64>,
    /// Mean bivariate accuracy over column pairs.
    pub bivariate: Option<f64>,
    /// The mean of the two.
    pub overall: Option<f64>,
}

fn binned_tvd(a: &[u8], b: &[u8]) -> f64 {
    let mut ca = [0usize; ACCURACY_CODES as usize];
    let mut cb = [0usize; ACCURACY_CODES as usize];
    a.iter().for_each(|&x| ca[x as usize] += 1);
    b.iter().for_each(|&x| cb[x as usize] += 1);
    let (na, nb) = (a.len().max(1) as f64, b.len().max(1) as f64);
    0.5 * ca.iter().zip(&cb).map(|(&x, &y)| (x as f64 / na - y as f64 / nb).abs()).sum::<f64>()
}

fn binned_joint_tvd(a: (&[u8], &[u8]), b: (&[u8], &[u8])) -> f64 {
    const K: usize = ACCURACY_CODES as usize;
    let mut ca = [0usize; K * K];
    let mut cb = [0usize; K * K];
    a.0.iter().zip(a.1).for_each(|(&x, &y)| ca[x as usize * K + y as usize] += 1);
    b.0.iter().zip(b.1).for_each(|(&x, &y)| cb[x as usize * K + y as usize] += 1);
    let (na, nb) = (a.0.len().max(1) as f64, b.0.len().max(1) as f64);
    0.5 * ca.iter().zip(&cb).map(|(&x, &y)| (x as f64 / na - y as f64 / nb).abs()).sum::<f64>()
}

/// Accuracy of `other` against `real`, with bins fitted on `real`.
pub fn accuracy(bins: &AccuracyBins, real: &Dataset, other: &Dataset) -> Accuracy {
    let n = real.columns.len();
    if n == 0 || real.n_rows == 0 || other.n_rows == 0 {
        return Accuracy { univariate: None, bivariate: None, overall: None };
    }
    let real_codes: Vec<Vec<u8>> = (0..n).into_par_iter().map(|c| bins.codes(c, &real.columns[c])).collect();
    let other_codes: Vec<Vec<u8>> = (0..n).into_par_iter().map(|c| bins.codes(c, &other.columns[c])).collect();
    let univariate = mean((0..n).map(|c| 1.0 - binned_tvd(&real_codes[c], &other_codes[c])));
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
    let pair_scores: Vec<f64> = pairs
        .into_par_iter()
        .map(|(i, j)| 1.0 - binned_joint_tvd((&real_codes[i], &real_codes[j]), (&other_codes[i], &other_codes[j])))
        .collect();
    let bivariate = mean(pair_scores.into_iter());
    Accuracy { univariate, bivariate, overall: nan_mean(univariate, bivariate) }
}

/// Per-column missing rates, coverage and summary figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    /// The column.
    pub column: String,
    /// Its sdtype.
    pub sdtype: SdType,
    /// Share of missing values in the real data.
    pub missing_rate_real: f64,
    /// Share of missing values in the synthetic data.
    pub missing_rate_synthetic: f64,
    /// |real − synthetic| missing rate.
    pub missing_rate_error: f64,
    /// SDMetrics' CategoryCoverage (share of real categories the synthetic data has) for discrete
    /// columns, RangeCoverage (how much of the real range the synthetic range covers) for
    /// continuous ones.
    pub coverage: Option<f64>,
    /// Distinct real categories (discrete columns).
    pub categories_real: Option<usize>,
    /// Distinct synthetic categories (discrete columns).
    pub categories_synthetic: Option<usize>,
}

fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    let mut it = values.iter().copied().filter(|v| !v.is_nan());
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
}

/// Missing rates and coverage per column.
pub fn column_summaries(schema: &Schema, real: &Dataset, synthetic: &Dataset) -> Vec<ColumnSummary> {
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(c, spec)| {
            let (r, s) = (&real.columns[c], &synthetic.columns[c]);
            let (missing_rate_real, missing_rate_synthetic) = (r.missing_rate(), s.missing_rate());
            let (coverage, categories_real, categories_synthetic) = match (r, s) {
                (Values::Discrete(r), Values::Discrete(s)) => {
                    let present = |codes: &[u32]| {
                        let mut seen = vec![false; spec.dictionary.len()];
                        codes.iter().filter(|&&c| c != MISSING).for_each(|&c| seen[c as usize] = true);
                        seen
                    };
                    let (pr, ps) = (present(r), present(s));
                    let n_real = pr.iter().filter(|&&x| x).count();
                    let covered = pr.iter().zip(&ps).filter(|(a, b)| **a && **b).count();
                    let coverage = (n_real > 0).then(|| covered as f64 / n_real as f64);
                    (coverage, Some(n_real), Some(ps.iter().filter(|&&x| x).count()))
                }
                (Values::Continuous(r), Values::Continuous(s)) => {
                    let coverage = match (min_max(r), min_max(s)) {
                        (Some((rlo, rhi)), Some((slo, shi))) if rhi > rlo => {
                            let below = ((slo - rlo) / (rhi - rlo)).max(0.0);
                            let above = ((rhi - shi) / (rhi - rlo)).max(0.0);
                            Some((1.0 - (below + above)).max(0.0))
                        }
                        _ => None,
                    };
                    (coverage, None, None)
                }
                _ => (None, None, None),
            };
            ColumnSummary {
                column: spec.name.clone(),
                sdtype: spec.sdtype,
                missing_rate_real,
                missing_rate_synthetic,
                missing_rate_error: (missing_rate_real - missing_rate_synthetic).abs(),
                coverage,
                categories_real,
                categories_synthetic,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digitize_matches_numpy() {
        // np.digitize([0, 0.5, 1, 9.99, 10, nan], np.histogram_bin_edges([0, 10])) == [1, 1, 2, 10, 11, 11]
        let codes = equal_width_codes(&[0.0, 0.5, 1.0, 9.99, 10.0, f64::NAN]);
        assert_eq!(codes, vec![1, 1, 2, 10, 11, 11]);
        // A constant column gets the range ±0.5.
        assert_eq!(equal_width_codes(&[3.0, 3.0]), vec![6, 6]);
    }

    #[test]
    fn cramers_v_of_a_perfect_association_is_one() {
        let a = Coded { codes: vec![0, 0, 1, 1] };
        let b = Coded { codes: vec![1, 1, 0, 0] };
        let v = cramers_v(&joint_counts(&a, &b)).unwrap_or(f64::NAN);
        assert!((v - 1.0).abs() < 1e-12);
        let c = Coded { codes: vec![0, 1, 0, 1] };
        assert!(cramers_v(&joint_counts(&a, &c)).unwrap_or(f64::NAN).abs() < 1e-12);
    }

    #[test]
    fn ks_and_tvd_known_values() {
        assert_eq!(ks_statistic(&[1.0, 2.0, 3.0, f64::NAN], &[1.0, 2.0, 3.0]), Some(0.0));
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), Some(1.0));
        assert_eq!(ks_statistic(&[f64::NAN], &[3.0]), None);
        assert_eq!(tv_distance(&[0, 1, MISSING], &[0, 0], 2), Some(0.5));
    }

    #[test]
    fn pearson_known_values() {
        let r = pearson(&[1.0, 2.0, 3.0, f64::NAN], &[2.0, 4.0, 6.0, 1.0]).unwrap_or(f64::NAN);
        assert!((r - 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
    }
}
