//! doppel's validation: how faithful, useful and private a synthetic table is compared with the
//! real one.
//!
//! [`evaluate`] computes every section of an [`Evaluation`] (the JSON that `doppel evaluate`
//! writes, documented in `docs/evaluation.md`); [`html::render`] turns one into a self-contained
//! HTML report. Each figure is also available as a [`Metric`] for library users who want one
//! number:
//!
//! ```no_run
//! # fn main() -> doppel_core::Result<()> {
//! use doppel_evaluate::{EvaluationData, Metric, metric::ColumnShapes};
//! # let (real, synthetic): (doppel_core::Table, doppel_core::Table) = todo!();
//! let metadata = doppel_core::Metadata::detect(&real).0;
//! let data = EvaluationData::new(&metadata, &real, &synthetic, None)?;
//! let result = ColumnShapes.compute(&data)?;
//! println!("{:?} {:?}", result.score, result.breakdown);
//! # Ok(()) }
//! ```

pub mod charts;
pub mod data;
pub mod fidelity;
pub mod html;
pub mod learning;
pub mod metric;
pub mod parity;
pub mod privacy;
pub mod sampling;
mod svg;
mod thresholds;

use std::collections::HashMap;

pub use doppel_core::{Error, Result};
use doppel_core::{Metadata, Table};
use serde::{Deserialize, Serialize};

pub use data::{Dataset, Schema, SdType, Values};
pub use fidelity::{Accuracy, ColumnPairTrend, ColumnShape, ColumnSummary, Quality};
pub use learning::{Detection, Task, Utility};
pub use metric::{EvaluationData, Goal, Metric, MetricResult};
pub use privacy::Privacy;
pub use thresholds::{FailUnder, Shortfall};

/// The format name written into every evaluation JSON.
pub const FORMAT: &str = "doppel.evaluation";
/// The version of the evaluation JSON schema.
pub const FORMAT_VERSION: u32 = 1;

/// Settings of an evaluation.
#[derive(Debug, Clone)]
pub struct EvaluateOptions {
    /// The column to predict for ML utility.
    pub target: Option<String>,
    /// Repeat fidelity and privacy per value of this column.
    pub by: Option<String>,
    /// Columns an attacker tries to infer (attribute inference).
    pub sensitive: Vec<String>,
    /// At most this many rows of each table in the distance-based privacy metrics.
    pub privacy_rows: usize,
    /// At most this many rows of each kind in the detection classifier.
    pub detection_rows: usize,
    /// Cross-validation folds of the detection classifier.
    pub detection_folds: usize,
    /// At most this many groups in the `by` breakdown (the most frequent ones).
    pub max_groups: usize,
    /// Seed of every subsample and split.
    pub seed: u64,
    /// Measure statistical parity of an outcome between groups.
    pub parity: Option<parity::ParitySpec>,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        EvaluateOptions {
            target: None,
            by: None,
            sensitive: Vec::new(),
            privacy_rows: 5_000,
            detection_rows: 10_000,
            detection_folds: 5,
            max_groups: 20,
            seed: 0,
            parity: None,
        }
    }
}

/// A table taking part in an evaluation, for the `inputs` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    /// Where it came from (a path, as the user gave it).
    pub source: String,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub columns: usize,
}

/// What was evaluated, with which settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// The real (training) data.
    pub real: TableInfo,
    /// The synthetic data.
    pub synthetic: TableInfo,
    /// The real holdout, if one was given.
    pub holdout: Option<TableInfo>,
    /// The utility target.
    pub target: Option<String>,
    /// The breakdown column.
    pub by: Option<String>,
    /// Sensitive columns.
    pub sensitive: Vec<String>,
    /// The seed of subsamples and splits.
    pub seed: u64,
}

/// A column left out of the metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedColumn {
    /// The column.
    pub column: String,
    /// Why.
    pub reason: String,
}

/// The quality section: SDMetrics' QualityReport figures and their breakdowns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualitySection {
    /// The scores.
    #[serde(flatten)]
    pub scores: Quality,
    /// Per-column shape scores.
    pub columns: Vec<ColumnShape>,
    /// Per-pair trend scores.
    pub pairs: Vec<ColumnPairTrend>,
    /// The thresholds of the as-shipped score.
    pub real_correlation_threshold: f64,
    /// The thresholds of the as-shipped score.
    pub real_association_threshold: f64,
}

/// The holdout-anchored accuracy: synthetic against training, next to holdout against training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracySection {
    /// Synthetic data against the training data.
    pub synthetic: Accuracy,
    /// The holdout against the training data: the ceiling real data itself reaches.
    pub holdout: Option<Accuracy>,
}

/// Fidelity and privacy within one group of the `by` column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// The group's value.
    pub value: String,
    /// Real rows in the group.
    pub rows_real: usize,
    /// Synthetic rows in the group.
    pub rows_synthetic: usize,
    /// The group's share of the real rows.
    pub share_real: f64,
    /// The group's share of the synthetic rows.
    pub share_synthetic: f64,
    /// Quality within the group (the `by` column itself left out).
    pub quality: Option<Quality>,
    /// DCR share within the group (null without a holdout or with too few rows).
    pub dcr_share: Option<f64>,
    /// Exact-copy rate within the group.
    pub exact_copy_rate: Option<f64>,
}

/// The per-group breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    /// The column.
    pub column: String,
    /// The groups, most frequent in the real data first.
    pub groups: Vec<GroupResult>,
    /// Groups left out beyond the limit.
    pub groups_left_out: usize,
}

/// A complete evaluation: what `doppel evaluate` writes as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Always `doppel.evaluation`.
    pub format: String,
    /// The schema version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The doppel version that wrote it.
    pub doppel_version: String,
    /// What was evaluated.
    pub inputs: Inputs,
    /// SDMetrics-compatible quality.
    pub quality: QualitySection,
    /// mostlyai-qa-style accuracy.
    pub accuracy: AccuracySection,
    /// Missing rates and coverage per column.
    pub columns: Vec<ColumnSummary>,
    /// ML utility.
    pub utility: Utility,
    /// Detectability.
    pub detection: Detection,
    /// Privacy.
    pub privacy: Privacy,
    /// The per-group breakdown, when asked for.
    pub groups: Option<Groups>,
    /// Statistical parity of an outcome between groups, real and synthetic, when asked for.
    #[serde(default)]
    pub parity: Option<parity::Parity>,
    /// Data for the report's charts.
    pub charts: charts::Charts,
    /// Columns the metrics leave out.
    pub skipped_columns: Vec<SkippedColumn>,
    /// Things the reader should know (subsampling, dropped rows, ...).
    pub warnings: Vec<String>,
    /// The provenance manifest that sat beside the synthetic data, if any.
    pub provenance: Option<serde_json::Value>,
}

impl Evaluation {
    /// Parses an evaluation JSON, checking its format and version.
    pub fn from_json(text: &str, origin: &str) -> Result<Evaluation> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Format(format!("{origin}: not valid JSON: {e}")))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            other => {
                return Err(Error::Format(format!(
                    "{origin}: not a doppel evaluation (format is {}, expected `{FORMAT}`)",
                    other.map_or("missing".to_string(), |f| format!("`{f}`"))
                )));
            }
        }
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            other => {
                return Err(Error::Format(format!(
                    "{origin}: evaluation format version {} is not supported (this doppel reads version {FORMAT_VERSION})",
                    other.map_or("missing".to_string(), |v| v.to_string())
                )));
            }
        }
        serde_json::from_value(value).map_err(|e| Error::Format(format!("{origin}: {e}")))
    }

    /// The JSON text, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The stages of an evaluation, for progress reports.
pub const STAGES: [&str; 4] = ["fidelity", "models and privacy", "groups", "charts"];

/// Evaluates `synthetic` against `real` (and `holdout`). `metadata` describes the real data;
/// `progress` is called with the name of each stage as it starts.
pub fn evaluate(
    metadata: &Metadata,
    real: (&Table, &str),
    synthetic: (&Table, &str),
    holdout: Option<(&Table, &str)>,
    options: &EvaluateOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Evaluation> {
    let data = EvaluationData::from_sources(metadata, real, synthetic, holdout)?;
    let schema = &data.schema;
    let mut warnings = Vec::new();
    for name in options.target.iter().chain(&options.by).chain(&options.sensitive) {
        if metadata.column(name).is_none() {
            return Err(Error::ColumnNotFound {
                column: name.clone(),
                available: metadata.columns.iter().map(|c| c.name.clone()).collect(),
            });
        }
        if schema.index_of(name).is_none() {
            let kind = metadata.column(name).map_or("unknown", |c| c.kind.name());
            return Err(Error::InvalidConfig(format!(
                "column `{name}` is a {kind} column, which the metrics do not compare; \
                 choose a numerical, date, categorical or boolean column"
            )));
        }
    }
    if schema.columns.is_empty() {
        return Err(Error::InvalidData(format!(
            "{}: none of the columns can be compared (they are all identifiers, free text or personal data)",
            real.1
        )));
    }

    let parity = options.parity.as_ref().map(|spec| parity::parity(metadata, real.0, synthetic.0, spec)).transpose()?;

    progress("fidelity");
    let shapes = fidelity::column_shapes(schema, &data.real, &data.synthetic);
    let pairs = fidelity::column_pair_trends(schema, &data.real, &data.synthetic);
    let scores = Quality::from_parts(&shapes, &pairs);
    let bins = fidelity::AccuracyBins::fit(schema, &data.real);
    let accuracy = AccuracySection {
        synthetic: fidelity::accuracy(&bins, &data.real, &data.synthetic),
        holdout: data.holdout.as_ref().map(|h| fidelity::accuracy(&bins, &data.real, h)),
    };
    let columns = fidelity::column_summaries(schema, &data.real, &data.synthetic);

    // Utility, detection and privacy are independent: they run side by side.
    progress("models and privacy");
    let privacy_options = privacy::PrivacyOptions {
        max_rows: options.privacy_rows,
        seed: options.seed,
        sensitive: options.sensitive.clone(),
        attacks: true,
    };
    let (utility, (detection, privacy)) = rayon::join(
        || match &options.target {
            None => Ok(Utility::not_computed("no target column was given (--target)")),
            Some(name) => {
                let target = schema.index_of(name).unwrap_or_default();
                learning::utility(schema, target, &data.real, &data.synthetic, data.holdout.as_ref())
            }
        },
        || {
            rayon::join(
                || {
                    learning::detection(
                        schema,
                        &data.real,
                        &data.synthetic,
                        options.detection_rows,
                        options.detection_folds.max(2),
                        options.seed,
                    )
                },
                || privacy::privacy(schema, &data.real, &data.synthetic, data.holdout.as_ref(), &privacy_options),
            )
        },
    );
    let (utility, detection, privacy) = (utility?, detection?, privacy?);
    if detection.rows_per_class < data.real.n_rows.min(data.synthetic.n_rows) {
        warnings.push(format!(
            "detection used a sample of {} real and {} synthetic rows (--detection-rows)",
            detection.rows_per_class, detection.rows_per_class
        ));
    }
    if privacy.subsampled {
        warnings.push(format!(
            "privacy distances used a sample of {} training, {} synthetic and {} holdout rows (--privacy-rows)",
            privacy.rows_used.training, privacy.rows_used.synthetic, privacy.rows_used.holdout
        ));
    }

    progress("groups");
    let groups = match &options.by {
        None => None,
        Some(name) => Some(group_breakdown(&data, name, options)?),
    };

    progress("charts");
    let charts = charts::Charts::compute(schema, &data.real, &data.synthetic);

    Ok(Evaluation {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        doppel_version: env!("CARGO_PKG_VERSION").into(),
        inputs: Inputs {
            real: TableInfo { source: real.1.into(), rows: real.0.n_rows(), columns: real.0.n_columns() },
            synthetic: TableInfo {
                source: synthetic.1.into(),
                rows: synthetic.0.n_rows(),
                columns: synthetic.0.n_columns(),
            },
            holdout: holdout.map(|(t, s)| TableInfo { source: s.into(), rows: t.n_rows(), columns: t.n_columns() }),
            target: options.target.clone(),
            by: options.by.clone(),
            sensitive: options.sensitive.clone(),
            seed: options.seed,
        },
        quality: QualitySection {
            scores,
            columns: shapes,
            pairs,
            real_correlation_threshold: fidelity::REAL_CORRELATION_THRESHOLD,
            real_association_threshold: fidelity::REAL_ASSOCIATION_THRESHOLD,
        },
        accuracy,
        columns,
        utility,
        detection,
        privacy,
        groups,
        parity,
        charts,
        skipped_columns: schema
            .skipped
            .iter()
            .map(|(column, reason)| SkippedColumn { column: column.clone(), reason: reason.clone() })
            .collect(),
        warnings,
        provenance: None,
    })
}

fn rows_with(values: &Values, code: u32) -> Vec<usize> {
    values.discrete().iter().enumerate().filter(|(_, c)| **c == code).map(|(r, _)| r).collect()
}

fn group_breakdown(data: &EvaluationData<'_>, name: &str, options: &EvaluateOptions) -> Result<Groups> {
    let schema = &data.schema;
    let by = schema.index_of(name).unwrap_or_default();
    let spec = &schema.columns[by];
    if spec.sdtype.is_continuous() {
        return Err(Error::InvalidConfig(format!(
            "--by `{name}`: the breakdown needs a categorical or boolean column, and `{name}` is {}",
            match spec.sdtype {
                SdType::Datetime => "a date column",
                _ => "numerical",
            }
        )));
    }
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &c in data.real.columns[by].discrete() {
        if c != data::MISSING {
            *counts.entry(c).or_insert(0) += 1;
        }
    }
    let mut order: Vec<(u32, usize)> = counts.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let left_out = order.len().saturating_sub(options.max_groups);
    order.truncate(options.max_groups);

    // The breakdown leaves the `by` column itself out of the compared columns.
    let keep: Vec<usize> = (0..schema.columns.len()).filter(|&c| c != by).collect();
    let sub_schema = Schema { columns: keep.iter().map(|&c| schema.columns[c].clone()).collect(), skipped: Vec::new() };
    let project = |d: &Dataset, rows: &[usize]| {
        let s = d.select(rows);
        Dataset { columns: keep.iter().map(|&c| s.columns[c].clone()).collect(), n_rows: s.n_rows }
    };
    let mut groups = Vec::new();
    for (code, n_real) in order {
        let real_rows = rows_with(&data.real.columns[by], code);
        let synth_rows = rows_with(&data.synthetic.columns[by], code);
        let real = project(&data.real, &real_rows);
        let synthetic = project(&data.synthetic, &synth_rows);
        let holdout =
            data.holdout.as_ref().map(|h| project(h, &rows_with(&h.columns[by], code))).filter(|h| h.n_rows > 0);
        let quality = (synthetic.n_rows > 0 && !sub_schema.columns.is_empty()).then(|| {
            Quality::from_parts(
                &fidelity::column_shapes(&sub_schema, &real, &synthetic),
                &fidelity::column_pair_trends(&sub_schema, &real, &synthetic),
            )
        });
        let (dcr_share, exact_copy_rate) = if synthetic.n_rows > 0 && !sub_schema.columns.is_empty() {
            let p = privacy::privacy(
                &sub_schema,
                &real,
                &synthetic,
                holdout.as_ref(),
                &privacy::PrivacyOptions {
                    max_rows: options.privacy_rows.min(2_000),
                    seed: options.seed,
                    sensitive: Vec::new(),
                    attacks: false,
                },
            )?;
            (p.dcr_share, Some(p.exact_copy_rate))
        } else {
            (None, None)
        };
        groups.push(GroupResult {
            value: spec.dictionary[code as usize].clone(),
            rows_real: n_real,
            rows_synthetic: synth_rows.len(),
            share_real: n_real as f64 / data.real.n_rows.max(1) as f64,
            share_synthetic: synth_rows.len() as f64 / data.synthetic.n_rows.max(1) as f64,
            quality,
            dcr_share,
            exact_copy_rate,
        });
    }
    Ok(Groups { column: name.to_string(), groups, groups_left_out: left_out })
}
