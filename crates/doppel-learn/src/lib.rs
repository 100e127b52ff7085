//! Gradient-boosted decision trees for doppel's evaluation: a pure-Rust port of scikit-learn's
//! `HistGradientBoostingClassifier` / `HistGradientBoostingRegressor` (early stopping off), plus
//! the [`metrics`] and [`stratified_folds`] that machine-learning utility and detection scores use.
//!
//! The algorithm follows scikit-learn closely so that scores agree with it:
//!
//! - **Binning**, fitted on the training data only: a numeric feature gets at most
//!   [`GbmParams::max_bins`] bins for its non-missing values (midpoints between consecutive
//!   distinct values when there are at most that many, else `averaged_inverted_cdf` quantiles of
//!   all rows; scikit-learn subsamples 200,000 rows first). A categorical feature gets one bin per
//!   category seen in training (when more than `max_bins` are seen, the `max_bins - 1` most
//!   frequent keep their own bin and the rest share one). Missing values get their own bin;
//!   categories unseen in training are treated as missing.
//! - **Losses**: log loss (binary), softmax cross-entropy with one tree per class and iteration
//!   (multiclass), half squared error (regression); the baseline is the intercept-only optimum.
//!   Gradients and hessians are stored as `f32`, sums as `f64`, as in scikit-learn.
//! - **Trees** grow best-first up to [`GbmParams::max_leaf_nodes`] leaves. A split's gain is
//!   `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)`; children need [`GbmParams::min_samples_leaf`] rows
//!   and a hessian sum of at least `1e-3`. Numeric splits try sending missing values to either
//!   side; categorical splits sort categories by `G/(H+10)` and scan from both ends. Histograms
//!   use the subtraction trick.
//!
//! On the public data sets checked (binary, multiclass and regression targets, with categorical
//! features and missing values) holdout predictions equal scikit-learn 1.9's with the same
//! settings, bit for bit or to within 1e-9; `examples/compare.rs` and `examples/compare_sklearn.py`
//! reproduce the comparison.
//!
//! Fitting has no randomness, and results are bit-for-bit identical whatever the size of the
//! rayon thread pool: work is split by feature (histograms, binning) or by row (prediction),
//! never inside a floating-point sum.
//!
//! ```
//! use doppel_learn::{Feature, Features, GbmParams, GradientBoosting, Objective, metrics};
//!
//! let x: Vec<f64> = (0..400).map(|i| f64::from(i % 40)).collect();
//! let y: Vec<f64> = x.iter().map(|&v| if v >= 20.0 { 1.0 } else { 0.0 }).collect();
//! let train = Features::new(vec![Feature::Numeric(&x)]);
//! let model = GradientBoosting::fit(&train, &y, Objective::Binary, &GbmParams::default())?;
//! let p = model.predict(&train)?;
//! let positive: Vec<bool> = y.iter().map(|&v| v == 1.0).collect();
//! assert!(metrics::roc_auc(&p, &positive).is_some_and(|auc| auc > 0.99));
//! # Ok::<(), doppel_core::Error>(())
//! ```

mod binning;
mod folds;
mod grower;
mod loss;
pub mod metrics;
mod tree;

use doppel_core::{Error, Result};
use rayon::prelude::*;

pub use folds::stratified_folds;

use binning::FeatureBinning;
use grower::{Grower, Workspace};
use tree::Tree;

/// One feature column.
#[derive(Clone, Copy, Debug)]
pub enum Feature<'a> {
    /// f64 values, NaN = missing (infinite values are ordinary values).
    Numeric(&'a [f64]),
    /// Category codes `0..n_categories`, `u32::MAX` = missing.
    Categorical {
        /// One code per row.
        codes: &'a [u32],
        /// The number of possible codes; every code other than `u32::MAX` must be below it.
        n_categories: u32,
    },
}

impl Feature<'_> {
    /// Number of rows in the column.
    pub fn len(&self) -> usize {
        match self {
            Feature::Numeric(values) => values.len(),
            Feature::Categorical { codes, .. } => codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kind(&self) -> &'static str {
        match self {
            Feature::Numeric(_) => "numeric",
            Feature::Categorical { .. } => "categorical",
        }
    }
}

/// Feature columns of one data set, column-major; all columns have the same length.
#[derive(Clone, Debug, Default)]
pub struct Features<'a> {
    /// The columns, in a fixed order (the same order for fitting and predicting).
    pub columns: Vec<Feature<'a>>,
}

impl<'a> Features<'a> {
    /// Wraps columns.
    pub fn new(columns: Vec<Feature<'a>>) -> Self {
        Features { columns }
    }

    /// Number of rows (of the first column; 0 without columns).
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, Feature::len)
    }

    /// Checks that there is at least one column, that all columns have the same length and that
    /// category codes are in range; returns the number of rows.
    fn validate(&self, what: &str) -> Result<usize> {
        let Some(first) = self.columns.first() else {
            return Err(Error::InvalidData(format!("{what} data has no feature columns")));
        };
        let n = first.len();
        for (i, column) in self.columns.iter().enumerate() {
            if column.len() != n {
                return Err(Error::InvalidData(format!(
                    "{what} feature column {i} has {} rows but column 0 has {n}",
                    column.len()
                )));
            }
            if let Feature::Categorical { codes, n_categories } = column
                && let Some(bad) = codes.iter().find(|&&c| c >= *n_categories && c != u32::MAX)
            {
                return Err(Error::InvalidData(format!(
                    "{what} feature column {i} has category code {bad}, expected codes below {n_categories} \
                     (or `u32::MAX` for missing)"
                )));
            }
        }
        Ok(n)
    }
}

/// What the model learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// Two classes, labels 0 and 1; log loss.
    Binary,
    /// `classes` classes, labels `0..classes`; softmax cross-entropy, one tree per class per iteration.
    Multiclass {
        /// Number of classes (at least 2).
        classes: usize,
    },
    /// Real-valued target; squared error.
    Regression,
}

/// Settings, with scikit-learn's defaults (early stopping is always off).
#[derive(Clone, Debug, PartialEq)]
pub struct GbmParams {
    /// Number of boosting iterations (default 100).
    pub max_iter: usize,
    /// Shrinkage applied to every leaf value (default 0.1).
    pub learning_rate: f64,
    /// Maximum number of leaves per tree, at least 2 (default 31).
    pub max_leaf_nodes: usize,
    /// Minimum number of training rows per leaf, at least 1 (default 20).
    pub min_samples_leaf: usize,
    /// L2 regularisation of leaf values, at least 0 (default 0).
    pub l2_regularization: f64,
    /// Maximum number of bins for non-missing values, 2 to 255 (default 255); missing values get one more.
    pub max_bins: usize,
    /// Maximum depth of a tree (edges from the root to a leaf), at least 1; `None` = unlimited (default).
    pub max_depth: Option<usize>,
}

impl Default for GbmParams {
    fn default() -> Self {
        GbmParams {
            max_iter: 100,
            learning_rate: 0.1,
            max_leaf_nodes: 31,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            max_depth: None,
        }
    }
}

impl GbmParams {
    fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::InvalidConfig(message));
        if self.max_iter == 0 {
            return bad("`max_iter` must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!("`learning_rate` must be a positive number, got {}", self.learning_rate));
        }
        if self.max_leaf_nodes < 2 {
            return bad(format!("`max_leaf_nodes` must be at least 2, got {}", self.max_leaf_nodes));
        }
        if self.min_samples_leaf == 0 {
            return bad("`min_samples_leaf` must be at least 1".into());
        }
        if !(self.l2_regularization.is_finite() && self.l2_regularization >= 0.0) {
            return bad(format!("`l2_regularization` must be at least 0, got {}", self.l2_regularization));
        }
        if !(2..=255).contains(&self.max_bins) {
            return bad(format!("`max_bins` must be between 2 and 255, got {}", self.max_bins));
        }
        if self.max_depth == Some(0) {
            return bad("`max_depth` must be at least 1".into());
        }
        Ok(())
    }
}

/// A fitted gradient-boosting model.
#[derive(Clone, Debug)]
pub struct GradientBoosting {
    objective: Objective,
    binnings: Vec<FeatureBinning>,
    missing_bin: u8,
    baseline: Vec<f64>,
    /// Iteration-major: the trees of iteration `i` are `trees[i * k..(i + 1) * k]`.
    trees: Vec<Tree>,
}

impl GradientBoosting {
    /// Fits a model.
    ///
    /// `labels`: the class index (`0..classes`) as f64 for [`Objective::Binary`] (0 or 1) and
    /// [`Objective::Multiclass`], the target value for [`Objective::Regression`]. A class absent
    /// from the training labels keeps a near-zero probability (scikit-learn would drop it).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for out-of-range settings or fewer than 2 classes;
    /// [`Error::InvalidData`] for no columns or rows, columns of different lengths, category codes
    /// out of range, a label count that differs from the row count, and NaN, infinite or
    /// out-of-range labels.
    pub fn fit(train: &Features<'_>, labels: &[f64], objective: Objective, params: &GbmParams) -> Result<Self> {
        params.validate()?;
        if let Objective::Multiclass { classes } = objective
            && classes < 2
        {
            return Err(Error::InvalidConfig(format!(
                "a multiclass objective needs at least 2 classes, got {classes}"
            )));
        }
        let n = train.validate("training")?;
        if n == 0 {
            return Err(Error::InvalidData("training data has no rows".into()));
        }
        if labels.len() != n {
            return Err(Error::InvalidData(format!("got {} labels for {n} training rows", labels.len())));
        }
        validate_labels(labels, objective)?;

        let missing_bin = binning::missing_bin(params.max_bins);
        let (binnings, columns): (Vec<FeatureBinning>, Vec<Vec<u8>>) = train
            .columns
            .par_iter()
            .map(|column| FeatureBinning::fit_transform(column, params.max_bins))
            .collect::<Vec<_>>()
            .into_iter()
            .unzip();

        let k = loss::trees_per_iteration(objective);
        let constant_hessians = loss::constant_hessians(objective);
        let baseline = loss::baseline(objective, labels);
        let mut raw: Vec<f64> = baseline.iter().flat_map(|&b| std::iter::repeat_n(b, n)).collect();
        let mut gradients = vec![0f32; n * k];
        let mut hessians = if constant_hessians { Vec::new() } else { vec![0f32; n * k] };
        let mut probabilities = Vec::new();
        let grower = Grower {
            columns: &columns,
            features: &binnings,
            missing_bin,
            max_leaf_nodes: params.max_leaf_nodes,
            max_depth: params.max_depth,
            min_samples_leaf: params.min_samples_leaf,
            l2: params.l2_regularization,
            shrinkage: params.learning_rate,
        };
        let mut workspace = Workspace::default();
        let mut trees = Vec::with_capacity(params.max_iter * k);
        for _ in 0..params.max_iter {
            loss::gradients(objective, labels, &raw, &mut gradients, &mut hessians, &mut probabilities);
            for class in 0..k {
                let g = &gradients[class * n..(class + 1) * n];
                let h = if constant_hessians { &[][..] } else { &hessians[class * n..(class + 1) * n] };
                let (tree, leaves) = grower.grow(g, h, &mut workspace);
                let raw_k = &mut raw[class * n..(class + 1) * n];
                for leaf in leaves {
                    for &row in &workspace.partition[leaf.start..leaf.stop] {
                        raw_k[row as usize] += leaf.value;
                    }
                }
                trees.push(tree);
            }
        }
        Ok(GradientBoosting { objective, binnings, missing_bin, baseline, trees })
    }

    /// Predicts.
    ///
    /// [`Objective::Binary`]: P(class 1) per row; [`Objective::Multiclass`]: row-major class
    /// probabilities, `n_rows * classes` values; [`Objective::Regression`]: predicted values.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidData`] when the columns differ in number or kind from the training data,
    /// have different lengths or hold out-of-range category codes.
    pub fn predict(&self, data: &Features<'_>) -> Result<Vec<f64>> {
        let n = data.validate("prediction")?;
        if data.columns.len() != self.binnings.len() {
            return Err(Error::InvalidData(format!(
                "the model was fitted on {} feature columns but got {}",
                self.binnings.len(),
                data.columns.len()
            )));
        }
        for (i, (column, binning)) in data.columns.iter().zip(&self.binnings).enumerate() {
            let expected = if binning.is_categorical() { "categorical" } else { "numeric" };
            if column.kind() != expected {
                return Err(Error::InvalidData(format!(
                    "feature column {i} was {expected} in training but is {} now",
                    column.kind()
                )));
            }
        }
        let columns: Vec<Vec<u8>> = data
            .columns
            .par_iter()
            .zip(&self.binnings)
            .map(|(column, binning)| binning.transform(column, self.missing_bin))
            .collect();

        const CHUNK_ROWS: usize = 1024;
        let k = self.baseline.len();
        let mut out = vec![0.0; n * k];
        out.par_chunks_mut(CHUNK_ROWS * k).enumerate().for_each(|(chunk, values)| {
            let first = chunk * CHUNK_ROWS;
            // Raw scores, row-major; tree by tree over the chunk (keeps a tree's nodes in cache),
            // which adds up each row's terms in the same order as fitting does.
            let mut raw: Vec<f64> = values.chunks(k).flat_map(|_| self.baseline.iter().copied()).collect();
            for (t, tree) in self.trees.iter().enumerate() {
                let class = t % k;
                for (offset, row_raw) in raw.chunks_mut(k).enumerate() {
                    row_raw[class] += tree.predict_row(&columns, first + offset, self.missing_bin);
                }
            }
            for (row_out, row_raw) in values.chunks_mut(k).zip(raw.chunks(k)) {
                match self.objective {
                    Objective::Binary => row_out[0] = loss::expit(row_raw[0]),
                    Objective::Regression => row_out[0] = row_raw[0],
                    Objective::Multiclass { .. } => loss::softmax_into(row_raw.iter().copied(), row_out),
                }
            }
        });
        Ok(out)
    }

    /// The objective the model was fitted for.
    pub fn objective(&self) -> Objective {
        self.objective
    }

    /// Number of boosting iterations fitted.
    pub fn n_iter(&self) -> usize {
        self.trees.len() / self.baseline.len().max(1)
    }

    /// Number of feature columns the model expects.
    pub fn n_features(&self) -> usize {
        self.binnings.len()
    }

    /// Total number of leaves over all trees (a size measure).
    pub fn n_leaves(&self) -> usize {
        self.trees.iter().map(Tree::n_leaves).sum()
    }
}

fn validate_labels(labels: &[f64], objective: Objective) -> Result<()> {
    let classes = match objective {
        Objective::Binary => Some(2),
        Objective::Multiclass { classes } => Some(classes),
        Objective::Regression => None,
    };
    for (i, &y) in labels.iter().enumerate() {
        if !y.is_finite() {
            return Err(Error::InvalidData(format!("label {i} is {y}, expected a finite number")));
        }
        if let Some(classes) = classes
            && (y < 0.0 || y.fract() != 0.0 || y >= classes as f64)
        {
            return Err(Error::InvalidData(format!("label {i} is {y}, expected a class index 0 to {}", classes - 1)));
        }
    }
    Ok(())
}
