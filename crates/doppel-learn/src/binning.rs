//! Mapping raw feature values to small integer bins, fitted on the training data only.
//!
//! This follows scikit-learn's `_BinMapper`: numeric features get at most `max_bins` bins for
//! non-missing values (midpoints between distinct values when there are few of them, otherwise
//! `averaged_inverted_cdf` quantiles), categorical features get one bin per category seen in
//! training, and missing values always go to the bin at index `max_bins`.

use crate::Feature;

/// Thresholds above this are clipped, so that `+inf` values still land in the last bin
/// (scikit-learn's `ALMOST_INF`).
const ALMOST_INF: f64 = 1e300;

/// How one feature maps raw values to bins.
#[derive(Clone, Debug)]
pub(crate) enum Mapper {
    /// `bin(x)` = the first index `i` with `x <= thresholds[i]`, or `thresholds.len()` when none.
    Numeric {
        /// Increasing thresholds between consecutive bins.
        thresholds: Vec<f64>,
    },
    /// Category codes seen in training map to their bin; all other codes to the missing-values bin.
    Categorical {
        /// The codes seen in training, increasing.
        seen: Vec<u32>,
        /// The bin of each code in `seen`.
        bins: Vec<u8>,
        /// A lookup table by code (missing-values bin for unseen codes) when the codes are dense
        /// enough; empty otherwise, and `seen` is searched.
        table: Vec<u8>,
    },
}

/// The fitted binning of one feature plus what the tree grower needs to know about it.
#[derive(Clone, Debug)]
pub(crate) struct FeatureBinning {
    /// The value-to-bin mapping.
    pub(crate) mapper: Mapper,
    /// Number of bins used by non-missing values (bins `0..n_bins_non_missing`).
    pub(crate) n_bins_non_missing: usize,
    /// Whether the training data had missing values in this feature.
    pub(crate) has_missing: bool,
}

impl FeatureBinning {
    /// Whether the feature is categorical.
    pub(crate) fn is_categorical(&self) -> bool {
        matches!(self.mapper, Mapper::Categorical { .. })
    }

    /// Fits the binning of one (validated) training column and returns it with the binned column.
    pub(crate) fn fit_transform(feature: &Feature<'_>, max_bins: usize) -> (Self, Vec<u8>) {
        let missing_bin = missing_bin(max_bins);
        let (mapper, n_bins_non_missing) = match feature {
            Feature::Numeric(values) => {
                let thresholds = numeric_thresholds(values, max_bins);
                let n = thresholds.len() + 1;
                (Mapper::Numeric { thresholds }, n)
            }
            Feature::Categorical { codes, .. } => categorical_bins(codes, max_bins, missing_bin),
        };
        let mut binning = FeatureBinning { mapper, n_bins_non_missing, has_missing: false };
        let binned = binning.transform(feature, missing_bin);
        binning.has_missing = binned.contains(&missing_bin);
        (binning, binned)
    }

    /// Maps a column (already checked to be of the same kind) to bins.
    pub(crate) fn transform(&self, feature: &Feature<'_>, missing_bin: u8) -> Vec<u8> {
        match (&self.mapper, feature) {
            (Mapper::Numeric { thresholds }, Feature::Numeric(values)) => values
                .iter()
                .map(|&x| {
                    if x.is_nan() {
                        missing_bin
                    } else {
                        // At most 254 thresholds, so the index fits in a u8.
                        thresholds.partition_point(|&t| t < x) as u8
                    }
                })
                .collect(),
            (Mapper::Categorical { seen, bins, table }, Feature::Categorical { codes, .. }) => {
                if table.is_empty() {
                    codes.iter().map(|c| seen.binary_search(c).map_or(missing_bin, |i| bins[i])).collect()
                } else {
                    codes.iter().map(|&c| table.get(c as usize).copied().unwrap_or(missing_bin)).collect()
                }
            }
            // Callers check the kinds first; anything else is treated as all-missing.
            _ => vec![missing_bin; feature_len(feature)],
        }
    }
}

fn feature_len(feature: &Feature<'_>) -> usize {
    match feature {
        Feature::Numeric(values) => values.len(),
        Feature::Categorical { codes, .. } => codes.len(),
    }
}

/// The index of the missing-values bin for a given `max_bins` (at most 255).
pub(crate) fn missing_bin(max_bins: usize) -> u8 {
    debug_assert!((2..=255).contains(&max_bins));
    max_bins.min(255) as u8
}

/// scikit-learn's `_find_binning_thresholds` without sample weights and without subsampling.
fn numeric_thresholds(values: &[f64], max_bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut distinct: Vec<f64> = Vec::new();
    for &x in &sorted {
        if distinct.last().is_none_or(|&d| d != x) {
            distinct.push(x);
        }
    }
    if distinct.len() <= 1 {
        return Vec::new();
    }
    let mut thresholds: Vec<f64> = if distinct.len() <= max_bins {
        distinct.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
    } else {
        // np.percentile(col, np.linspace(0, 100, max_bins + 1)[1:-1], method="averaged_inverted_cdf")
        let step = 100.0 / max_bins as f64;
        let n = sorted.len();
        (1..max_bins).map(|i| averaged_inverted_cdf(&sorted, (i as f64 * step) / 100.0, n)).collect()
    };
    thresholds.dedup_by(|a, b| a == b);
    for t in &mut thresholds {
        if *t > ALMOST_INF {
            *t = ALMOST_INF;
        }
    }
    thresholds
}

/// numpy's `quantile(..., method="averaged_inverted_cdf")` on sorted data: the value at the
/// quantile, or the average of the two neighbouring values when the quantile falls exactly between
/// two of them.
fn averaged_inverted_cdf(sorted: &[f64], q: f64, n: usize) -> f64 {
    let virtual_index = n as f64 * q - 1.0;
    if virtual_index >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    if virtual_index < 0.0 {
        return sorted[0];
    }
    let previous = virtual_index.floor();
    let (a, b) = (sorted[previous as usize], sorted[previous as usize + 1]);
    if virtual_index - previous == 0.0 {
        // numpy's _lerp with t = 0.5: b - (b - a) * 0.5
        b - (b - a) * 0.5
    } else {
        b
    }
}

/// One bin per category code seen in training (in code order). When more than `max_bins` codes
/// are seen, the `max_bins - 1` most frequent keep their own bin and the others share the last one.
fn categorical_bins(codes: &[u32], max_bins: usize, missing_bin: u8) -> (Mapper, usize) {
    let mut sorted: Vec<u32> = codes.iter().copied().filter(|&c| c != u32::MAX).collect();
    sorted.sort_unstable();
    let mut seen: Vec<u32> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for c in sorted {
        if seen.last() == Some(&c) {
            if let Some(count) = counts.last_mut() {
                *count += 1;
            }
        } else {
            seen.push(c);
            counts.push(1);
        }
    }
    let (bins, n_bins_non_missing): (Vec<u8>, usize) = if seen.len() <= max_bins {
        ((0..seen.len()).map(|i| i as u8).collect(), seen.len())
    } else {
        // Most frequent first; ties keep the lower code.
        let mut by_frequency: Vec<usize> = (0..seen.len()).collect();
        by_frequency.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        let mut kept: Vec<usize> = by_frequency[..max_bins - 1].to_vec();
        kept.sort_unstable();
        let mut bins = vec![(max_bins - 1) as u8; seen.len()];
        for (bin, &i) in kept.iter().enumerate() {
            bins[i] = bin as u8;
        }
        (bins, max_bins)
    };
    let dense_limit = (4 * codes.len()).max(1 << 16);
    let table = match seen.last() {
        Some(&max) if (max as usize) < dense_limit => {
            let mut table = vec![missing_bin; max as usize + 1];
            for (&code, &bin) in seen.iter().zip(&bins) {
                table[code as usize] = bin;
            }
            table
        }
        _ => Vec::new(),
    };
    (Mapper::Categorical { seen, bins, table }, n_bins_non_missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_use_midpoints() {
        let values = [3.0, 1.0, f64::NAN, 2.0, 1.0, 3.0];
        let (binning, binned) = FeatureBinning::fit_transform(&Feature::Numeric(&values), 255);
        let Mapper::Numeric { thresholds } = &binning.mapper else { panic!("numeric") };
        assert_eq!(thresholds, &[1.5, 2.5]);
        assert_eq!(binned, vec![2, 0, 255, 1, 0, 2]);
        assert!(binning.has_missing);
        assert_eq!(binning.n_bins_non_missing, 3);
    }

    #[test]
    fn many_distinct_values_use_quantiles() {
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        let (binning, binned) = FeatureBinning::fit_transform(&Feature::Numeric(&values), 10);
        let Mapper::Numeric { thresholds } = &binning.mapper else { panic!("numeric") };
        // np.percentile(np.arange(1000), np.linspace(0, 100, 11)[1:-1], method="averaged_inverted_cdf")
        assert_eq!(thresholds, &[99.5, 199.5, 299.5, 399.5, 499.5, 599.5, 699.5, 799.5, 899.5]);
        assert_eq!(binning.n_bins_non_missing, 10);
        assert!(!binning.has_missing);
        assert_eq!(binned[0], 0);
        assert_eq!(binned[999], 9);
        let values: Vec<f64> = (0..7).map(|i| f64::from(i * i)).collect();
        let sorted = values.clone();
        // n = 7, q = 0.5 -> virtual index 2.5 -> the next value (9)
        assert_eq!(averaged_inverted_cdf(&sorted, 0.5, 7), 9.0);
    }

    #[test]
    fn categories_map_to_ranks_and_unseen_to_missing() {
        let codes = [4, 1, 4, u32::MAX, 1];
        let feature = Feature::Categorical { codes: &codes, n_categories: 6 };
        let (binning, binned) = FeatureBinning::fit_transform(&feature, 255);
        assert_eq!(binned, vec![1, 0, 1, 255, 0]);
        assert_eq!(binning.n_bins_non_missing, 2);
        let other = [0, 5, 4, 9];
        let later = binning.transform(&Feature::Categorical { codes: &other, n_categories: 10 }, 255);
        assert_eq!(later, vec![255, 255, 1, 255]);
    }

    #[test]
    fn sparse_codes_are_searched() {
        let codes = [4_000_000_000, 7, 4_000_000_000];
        let feature = Feature::Categorical { codes: &codes, n_categories: 4_000_000_001 };
        let (binning, binned) = FeatureBinning::fit_transform(&feature, 255);
        assert_eq!(binned, vec![1, 0, 1]);
        let Mapper::Categorical { table, .. } = &binning.mapper else { panic!("categorical") };
        assert!(table.is_empty());
        let later = binning.transform(&Feature::Categorical { codes: &[7, 8, u32::MAX], n_categories: 9 }, 255);
        assert_eq!(later, vec![0, 255, 255]);
    }

    #[test]
    fn rare_categories_share_a_bin_beyond_max_bins() {
        // 5 categories, max_bins 3: the two most frequent keep a bin, the rest share bin 2.
        let codes = [0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4];
        let feature = Feature::Categorical { codes: &codes, n_categories: 5 };
        let (binning, binned) = FeatureBinning::fit_transform(&feature, 3);
        assert_eq!(binned, vec![2, 2, 2, 0, 0, 0, 1, 1, 1, 1, 2]);
        assert_eq!(binning.n_bins_non_missing, 3);
    }
}
