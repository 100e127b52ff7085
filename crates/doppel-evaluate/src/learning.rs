//! ML utility (train on synthetic, test on real) and detectability (a classifier that tries to
//! tell real rows from synthetic ones), both with doppel-learn's gradient-boosted trees, which
//! follow scikit-learn's HistGradientBoosting (100 iterations, learning rate 0.1, 31 leaves, 20
//! rows per leaf, 255 bins, no early stopping).

use std::collections::BTreeMap;

use doppel_core::{Error, Result};
use doppel_learn::{Feature, Features, GbmParams, GradientBoosting, Objective, metrics};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, MISSING, Schema, Values};
use crate::sampling::sample_rows;

fn features<'a>(schema: &Schema, data: &'a Dataset, leave_out: Option<usize>) -> Features<'a> {
    let columns = data
        .columns
        .iter()
        .enumerate()
        .filter(|(c, _)| Some(*c) != leave_out)
        .map(|(c, values)| match values {
            Values::Continuous(v) => Feature::Numeric(v),
            Values::Discrete(codes) => {
                Feature::Categorical { codes, n_categories: schema.columns[c].dictionary.len() as u32 }
            }
        })
        .collect();
    Features { columns }
}

/// The kind of prediction task the target defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Two classes; scored by ROC AUC.
    Binary,
    /// More than two classes; scored by macro-averaged F1.
    Multiclass,
    /// A number; scored by R².
    Regression,
}

/// The utility section of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utility {
    /// The target column (null when none was given).
    pub target: Option<String>,
    /// The task.
    pub task: Option<Task>,
    /// `roc_auc`, `macro_f1` or `r2`.
    pub metric: Option<String>,
    /// Train on synthetic, test on the real holdout.
    pub tstr: Option<f64>,
    /// Train on the real training data, test on the real holdout.
    pub trtr: Option<f64>,
    /// TSTR / TRTR.
    pub ratio: Option<f64>,
    /// Holdout rows scored.
    pub test_rows: usize,
    /// Why the numbers are null, when they are.
    pub note: Option<String>,
}

impl Utility {
    /// A utility section with nothing computed, and why.
    pub fn not_computed(note: &str) -> Utility {
        Utility {
            target: None,
            task: None,
            metric: None,
            tstr: None,
            trtr: None,
            ratio: None,
            test_rows: 0,
            note: Some(note.to_string()),
        }
    }
}

/// Labels of the target column: class indices (classification) or values (regression); `None`
/// for rows that cannot be used (missing target, a class the real data does not have).
struct Labels {
    task: Task,
    classes: usize,
    map: BTreeMap<u64, usize>,
}

impl Labels {
    fn fit(values: &Values, column: &str) -> Result<Labels> {
        let mut distinct: BTreeMap<u64, usize> = BTreeMap::new();
        let keys: Vec<u64> = match values {
            Values::Discrete(codes) => codes.iter().filter(|&&c| c != MISSING).map(|&c| u64::from(c)).collect(),
            Values::Continuous(v) => v.iter().filter(|x| !x.is_nan()).map(|x| ordered_bits(*x)).collect(),
        };
        for k in keys {
            distinct.entry(k).or_insert(0);
        }
        let n = distinct.len();
        if n < 2 {
            return Err(Error::InvalidData(format!(
                "target column `{column}` has {n} distinct value(s) in the real data; utility needs at least two"
            )));
        }
        for (i, v) in distinct.values_mut().enumerate() {
            *v = i;
        }
        let task = match (values, n) {
            (_, 2) => Task::Binary,
            (Values::Discrete(_), _) => Task::Multiclass,
            (Values::Continuous(_), _) => Task::Regression,
        };
        Ok(Labels { task, classes: n, map: distinct })
    }

    fn label(&self, values: &Values, row: usize) -> Option<f64> {
        match (self.task, values) {
            (Task::Regression, Values::Continuous(v)) => (!v[row].is_nan()).then_some(v[row]),
            (_, Values::Discrete(c)) => self.map.get(&u64::from(c[row])).map(|&i| i as f64),
            (_, Values::Continuous(v)) => self.map.get(&ordered_bits(v[row])).map(|&i| i as f64),
        }
    }

    fn objective(&self) -> Objective {
        match self.task {
            Task::Binary => Objective::Binary,
            Task::Multiclass => Objective::Multiclass { classes: self.classes },
            Task::Regression => Objective::Regression,
        }
    }
}

fn ordered_bits(x: f64) -> u64 {
    let b = (x + 0.0).to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

fn usable(labels: &Labels, data: &Dataset, target: usize) -> (Vec<usize>, Vec<f64>) {
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for r in 0..data.n_rows {
        if let Some(v) = labels.label(&data.columns[target], r) {
            rows.push(r);
            y.push(v);
        }
    }
    (rows, y)
}

fn score(labels: &Labels, model: &GradientBoosting, test: &Features, truth: &[f64]) -> Result<f64> {
    let predicted = model.predict(test)?;
    Ok(match labels.task {
        Task::Binary => {
            let positive: Vec<bool> = truth.iter().map(|&y| y == 1.0).collect();
            metrics::roc_auc(&predicted, &positive).unwrap_or(f64::NAN)
        }
        Task::Multiclass => {
            let predicted = metrics::argmax_rows(&predicted, labels.classes);
            let truth: Vec<usize> = truth.iter().map(|&y| y as usize).collect();
            metrics::macro_f1(&predicted, &truth, labels.classes)
        }
        Task::Regression => metrics::r2(&predicted, truth),
    })
}

/// Computes TSTR and TRTR for `target` (an index into the schema); null figures without a holdout.
pub fn utility(
    schema: &Schema,
    target: usize,
    real: &Dataset,
    synthetic: &Dataset,
    holdout: Option<&Dataset>,
) -> Result<Utility> {
    let name = schema.columns[target].name.clone();
    let labels = Labels::fit(&real.columns[target], &name)?;
    let metric = match labels.task {
        Task::Binary => "roc_auc",
        Task::Multiclass => "macro_f1",
        Task::Regression => "r2",
    };
    let mut result = Utility {
        target: Some(name.clone()),
        task: Some(labels.task),
        metric: Some(metric.into()),
        tstr: None,
        trtr: None,
        ratio: None,
        test_rows: 0,
        note: None,
    };
    let Some(holdout) = holdout else {
        result.note = Some("utility needs a real holdout to test on (--holdout)".into());
        return Ok(result);
    };
    let (test_rows, test_y) = usable(&labels, holdout, target);
    if test_rows.is_empty() {
        result.note = Some(format!("the holdout has no rows with a usable `{name}`"));
        return Ok(result);
    }
    let test = holdout.select(&test_rows);
    let test_features = features(schema, &test, Some(target));
    result.test_rows = test_rows.len();
    let params = GbmParams::default();
    let train_and_score = |data: &Dataset| -> Result<Option<f64>> {
        let (rows, y) = usable(&labels, data, target);
        let present: std::collections::BTreeSet<u64> = y.iter().map(|v| v.to_bits()).collect();
        if rows.len() < 2 || (labels.task != Task::Regression && present.len() < 2) {
            return Ok(None);
        }
        let train = data.select(&rows);
        let model = GradientBoosting::fit(&features(schema, &train, Some(target)), &y, labels.objective(), &params)?;
        Ok(Some(score(&labels, &model, &test_features, &test_y)?))
    };
    let (tstr, trtr) = rayon::join(|| train_and_score(synthetic), || train_and_score(real));
    result.tstr = tstr?;
    result.trtr = trtr?;
    if result.tstr.is_none() {
        result.note = Some(format!("the synthetic data has too few usable values of `{name}` to train on"));
    }
    result.ratio = match (result.tstr, result.trtr) {
        (Some(s), Some(r)) if r != 0.0 => Some(s / r),
        _ => None,
    };
    Ok(result)
}

/// The detection section of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Mean cross-validated ROC AUC of telling synthetic rows from real ones (0.5 = indistinguishable).
    pub auc: Option<f64>,
    /// The AUC of each fold.
    pub fold_aucs: Vec<f64>,
    /// Rows of each kind used.
    pub rows_per_class: usize,
    /// The number of folds.
    pub folds: usize,
    /// SDMetrics' normalisation: 1 − (max(AUC, 0.5) × 2 − 1); 1 = indistinguishable.
    pub score: Option<f64>,
}

/// A hash of a row's values, for grouping identical rows.
fn row_hash(data: &Dataset, row: usize, seed: u64) -> u64 {
    let mut h = doppel_core::rng::mix64(seed, 0x5eed);
    for column in &data.columns {
        let bits = match column {
            Values::Continuous(v) => (v[row] + 0.0).to_bits(),
            Values::Discrete(v) => u64::from(v[row]),
        };
        h = doppel_core::rng::mix64(h, bits);
    }
    h
}

/// Cross-validated detection: `max_rows` rows of each of the real and synthetic data (or fewer),
/// `folds` folds that keep identical rows together.
pub fn detection(
    schema: &Schema,
    real: &Dataset,
    synthetic: &Dataset,
    max_rows: usize,
    folds: usize,
    seed: u64,
) -> Result<Detection> {
    let n = real.n_rows.min(synthetic.n_rows).min(max_rows);
    if n < folds * 2 || schema.columns.is_empty() {
        return Ok(Detection { auc: None, fold_aucs: Vec::new(), rows_per_class: n, folds, score: None });
    }
    let real_part = real.select(&sample_rows(real.n_rows, n, seed, "detection/real"));
    let synth_part = synthetic.select(&sample_rows(synthetic.n_rows, n, seed, "detection/synthetic"));
    let stacked = Dataset {
        columns: real_part
            .columns
            .iter()
            .zip(&synth_part.columns)
            .map(|(a, b)| match (a, b) {
                (Values::Continuous(a), Values::Continuous(b)) => Values::Continuous([a.as_slice(), b].concat()),
                (Values::Discrete(a), Values::Discrete(b)) => Values::Discrete([a.as_slice(), b].concat()),
                _ => Values::Continuous(vec![f64::NAN; 2 * n]),
            })
            .collect(),
        n_rows: 2 * n,
    };
    let classes: Vec<usize> = (0..2 * n).map(|r| usize::from(r >= n)).collect();
    // Identical rows share a fold (group k-fold): otherwise a row copied into the synthetic data
    // is scored by a model that saw its twin with the opposite label, and a copy of the training
    // data would score far below 0.5 instead of 0.5.
    let fold_of: Vec<usize> = (0..2 * n).map(|r| (row_hash(&stacked, r, seed) % folds as u64) as usize).collect();
    let params = GbmParams::default();
    // The folds are independent: fit them side by side (each fit is deterministic, and the AUCs
    // are collected in fold order).
    let fold_results: Vec<Result<Option<f64>>> = (0..folds)
        .into_par_iter()
        .map(|fold| {
            let train_rows: Vec<usize> = (0..2 * n).filter(|&r| fold_of[r] != fold).collect();
            let test_rows: Vec<usize> = (0..2 * n).filter(|&r| fold_of[r] == fold).collect();
            let train = stacked.select(&train_rows);
            let test = stacked.select(&test_rows);
            let y: Vec<f64> = train_rows.iter().map(|&r| classes[r] as f64).collect();
            let model = GradientBoosting::fit(&features(schema, &train, None), &y, Objective::Binary, &params)?;
            let predicted = model.predict(&features(schema, &test, None))?;
            let positive: Vec<bool> = test_rows.iter().map(|&r| classes[r] == 1).collect();
            Ok(metrics::roc_auc(&predicted, &positive))
        })
        .collect();
    let mut fold_aucs = Vec::with_capacity(folds);
    for result in fold_results {
        fold_aucs.extend(result?);
    }
    let auc = (!fold_aucs.is_empty()).then(|| fold_aucs.iter().sum::<f64>() / fold_aucs.len() as f64);
    Ok(Detection { auc, fold_aucs, rows_per_class: n, folds, score: auc.map(|a| 1.0 - (a.max(0.5) * 2.0 - 1.0)) })
}
