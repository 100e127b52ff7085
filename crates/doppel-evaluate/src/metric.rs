//! The [`Metric`] trait: one figure with its goal, range, normalised score and per-column
//! breakdown, in the spirit of SDMetrics' metrics.

use doppel_core::{Metadata, Result, Table};

use crate::data::{Dataset, NamedTable, Schema, prepare};
use crate::{fidelity, learning, privacy};

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// Higher is better.
    Maximize,
    /// Lower is better.
    Minimize,
    /// Closest to this value is best (e.g. 0.5 for a detection AUC).
    Target(f64),
}

/// What a metric computes.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricResult {
    /// The raw figure, on the metric's own range; `None` when it cannot be computed.
    pub score: Option<f64>,
    /// The figure mapped to [0, 1], 1 best.
    pub normalized: Option<f64>,
    /// Per-column (or per-pair, `a, b`) figures.
    pub breakdown: Vec<(String, Option<f64>)>,
}

/// The tables prepared once for any number of metrics.
pub struct EvaluationData<'a> {
    /// The evaluated columns.
    pub schema: Schema,
    /// The real training data.
    pub real: Dataset,
    /// The synthetic data.
    pub synthetic: Dataset,
    /// The real holdout, if any.
    pub holdout: Option<Dataset>,
    /// The metadata of the real data.
    pub metadata: &'a Metadata,
}

impl<'a> EvaluationData<'a> {
    /// Prepares tables that need no names in error messages.
    pub fn new(metadata: &'a Metadata, real: &Table, synthetic: &Table, holdout: Option<&Table>) -> Result<Self> {
        Self::from_sources(
            metadata,
            (real, "the real data"),
            (synthetic, "the synthetic data"),
            holdout.map(|h| (h, "the holdout")),
        )
    }

    /// Prepares tables, naming each by `origin` (a path) in error messages.
    pub fn from_sources(
        metadata: &'a Metadata,
        real: (&Table, &str),
        synthetic: (&Table, &str),
        holdout: Option<(&Table, &str)>,
    ) -> Result<Self> {
        let mut tables = vec![
            NamedTable { table: real.0, origin: real.1.to_string() },
            NamedTable { table: synthetic.0, origin: synthetic.1.to_string() },
        ];
        for (table, origin) in [real, synthetic].into_iter().chain(holdout) {
            if table.n_rows() == 0 {
                return Err(doppel_core::Error::InvalidData(format!(
                    "{origin}: has no rows; there is nothing to evaluate"
                )));
            }
        }
        if let Some((table, origin)) = holdout {
            tables.push(NamedTable { table, origin: origin.to_string() });
        }
        let (schema, mut datasets) = prepare(metadata, &tables)?;
        let holdout = (datasets.len() == 3).then(|| datasets.pop()).flatten();
        let synthetic = datasets.pop().unwrap_or(Dataset { columns: Vec::new(), n_rows: 0 });
        let real = datasets.pop().unwrap_or(Dataset { columns: Vec::new(), n_rows: 0 });
        Ok(EvaluationData { schema, real, synthetic, holdout, metadata })
    }
}

/// A figure that judges synthetic data against real data.
pub trait Metric {
    /// The metric's name.
    fn name(&self) -> &'static str;
    /// Which way is better.
    fn goal(&self) -> Goal;
    /// The range of the raw score.
    fn range(&self) -> (f64, f64);
    /// Computes the metric.
    fn compute(&self, data: &EvaluationData<'_>) -> Result<MetricResult>;
    /// Maps a raw score to [0, 1], 1 best.
    fn normalize(&self, raw: f64) -> f64 {
        let (lo, hi) = self.range();
        let unit = if hi > lo { ((raw - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.0 };
        match self.goal() {
            Goal::Maximize => unit,
            Goal::Minimize => 1.0 - unit,
            Goal::Target(t) => {
                let t = ((t - lo) / (hi - lo)).clamp(0.0, 1.0);
                let span = t.max(1.0 - t);
                if span > 0.0 { 1.0 - (unit - t).abs() / span } else { 1.0 }
            }
        }
    }
}

fn result<M: Metric + ?Sized>(metric: &M, score: Option<f64>, breakdown: Vec<(String, Option<f64>)>) -> MetricResult {
    MetricResult { score, normalized: score.map(|s| metric.normalize(s)), breakdown }
}

/// SDMetrics' Column Shapes property (KSComplement / TVComplement per column).
pub struct ColumnShapes;

impl Metric for ColumnShapes {
    fn name(&self) -> &'static str {
        "column_shapes"
    }
    fn goal(&self) -> Goal {
        Goal::Maximize
    }
    fn range(&self) -> (f64, f64) {
        (0.0, 1.0)
    }
    fn compute(&self, data: &EvaluationData<'_>) -> Result<MetricResult> {
        let shapes = fidelity::column_shapes(&data.schema, &data.real, &data.synthetic);
        let score = fidelity::Quality::from_parts(&shapes, &[]).column_shapes;
        Ok(result(self, score, shapes.into_iter().map(|s| (s.column, s.score)).collect()))
    }
}

/// SDMetrics' Column Pair Trends property; `all_pairs` counts every pair, otherwise only pairs
/// with a strong real association count (as SDMetrics ships it).
pub struct ColumnPairTrends {
    /// Count every pair.
    pub all_pairs: bool,
}

impl Metric for ColumnPairTrends {
    fn name(&self) -> &'static str {
        if self.all_pairs { "column_pair_trends_all_pairs" } else { "column_pair_trends" }
    }
    fn goal(&self) -> Goal {
        Goal::Maximize
    }
    fn range(&self) -> (f64, f64) {
        (0.0, 1.0)
    }
    fn compute(&self, data: &EvaluationData<'_>) -> Result<MetricResult> {
        let pairs = fidelity::column_pair_trends(&data.schema, &data.real, &data.synthetic);
        let q = fidelity::Quality::from_parts(&[], &pairs);
        let score = if self.all_pairs { q.column_pair_trends_all_pairs } else { q.column_pair_trends };
        let breakdown = pairs
            .into_iter()
            .filter(|p| self.all_pairs || p.meets_threshold)
            .map(|p| (format!("{}, {}", p.columns[0], p.columns[1]), p.score))
            .collect();
        Ok(result(self, score, breakdown))
    }
}

/// Cross-validated detection ROC AUC (0.5 best).
pub struct DetectionAuc {
    /// Rows of each kind at most.
    pub max_rows: usize,
    /// Seed of the sample and folds.
    pub seed: u64,
}

impl Metric for DetectionAuc {
    fn name(&self) -> &'static str {
        "detection_auc"
    }
    fn goal(&self) -> Goal {
        Goal::Target(0.5)
    }
    fn range(&self) -> (f64, f64) {
        (0.0, 1.0)
    }
    fn compute(&self, data: &EvaluationData<'_>) -> Result<MetricResult> {
        let d = learning::detection(&data.schema, &data.real, &data.synthetic, self.max_rows, 5, self.seed)?;
        Ok(result(self, d.auc, Vec::new()))
    }
}

/// Train on synthetic, test on real (needs a holdout): the score of the target's task.
pub struct Tstr {
    /// The target column.
    pub target: String,
}

impl Metric for Tstr {
    fn name(&self) -> &'static str {
        "tstr"
    }
    fn goal(&self) -> Goal {
        Goal::Maximize
    }
    fn range(&self) -> (f64, f64) {
        (0.0, 1.0)
    }
    fn compute(&self, data: &EvaluationData<'_>) -> Result<MetricResult> {
        let target = data.schema.index_of(&self.target).ok_or_else(|| doppel_core::Error::ColumnNotFound {
            column: self.target.clone(),
            available: data.schema.columns.iter().map(|c| c.name.clone()).collect(),
        })?;
        let u = learning::utility(&data.schema, target, &data.real, &data.synthetic, data.holdout.as_ref())?;
        Ok(result(self, u.tstr, Vec::new()))
    }
}

/// The DCR share (needs a holdout): 0.5 best, 1.0 for copies of the training data.
pub struct DcrShare {
    /// Rows per table at most.
    pub max_rows: usize,
    /// Seed of the samples.
    pub seed: u64,
}

impl Metric for DcrShare {
    fn name(&self) -> &'static str {
        "dcr_share"
    }
    fn goal(&self) -> Goal {
        Goal::Target(0.5)
    }
    fn range(&self) -> (f64, f64) {
        (0.0, 1.0)
    }
    fn normalize(&self, raw: f64) -> f64 {
        // Being further from the training data than new real rows are is no privacy risk.
        (2.0 * (1.0 - raw)).clamp(0.0, 1.0)
    }
    fn compute(&self, data: &EvaluationData<'_>) -> Result<MetricResult> {
        let options =
            privacy::PrivacyOptions { max_rows: self.max_rows, seed: self.seed, sensitive: Vec::new(), attacks: false };
        let p = privacy::privacy(&data.schema, &data.real, &data.synthetic, data.holdout.as_ref(), &options)?;
        Ok(result(self, p.dcr_share, Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_follows_the_goal() {
        assert_eq!(ColumnShapes.normalize(0.8), 0.8);
        let d = DetectionAuc { max_rows: 1, seed: 0 };
        assert_eq!(d.normalize(0.5), 1.0);
        assert_eq!(d.normalize(1.0), 0.0);
        assert_eq!(d.normalize(0.75), 0.5);
        let s = DcrShare { max_rows: 1, seed: 0 };
        assert_eq!(s.normalize(0.4), 1.0);
        assert_eq!(s.normalize(0.75), 0.5);
    }
}
