//! Numbers, dates and datetimes: a [`PiecewiseCdf`] marginal, rounding as the source had it, and
//! missingness as its own encoded column.

use serde::{Deserialize, Serialize};

use doppel_core::temporal;
use doppel_core::{Column, ColumnData, ColumnKind, NumberFormat, Result, Storage, TextFormat, Warning};

use crate::cdf::{CdfSettings, PiecewiseCdf};
use crate::values::numeric_values;
use crate::{EncodedColumn, FitSettings, missing_score};

/// How sampled numbers are turned back into the source's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NumericOutput {
    /// Floats, rounded to the source's decimals.
    Float {
        /// Rounding and decimal places.
        format: NumberFormat,
    },
    /// Whole numbers, multiples of `step`.
    Integer {
        /// Every value is a multiple of this.
        step: i64,
    },
    /// Dates (the model works in days since 1970-01-01).
    Date {
        /// The text pattern.
        pattern: String,
        /// Text, date or `YYYYMMDD` integer.
        storage: Storage,
    },
    /// Datetimes (the model works in microseconds since the epoch).
    Datetime {
        /// The text pattern.
        pattern: String,
        /// The offset to render in.
        offset_seconds: Option<i32>,
        /// Every value is a multiple of this many microseconds (1 s, 1 min, 1 h, 1 day, ...).
        step_micros: i64,
    },
}

/// The fitted state of a numeric column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericState {
    /// The column's name.
    pub column: String,
    /// The marginal distribution of the present values.
    pub cdf: PiecewiseCdf,
    /// The share of missing values (0 when the column had none).
    pub missing_share: f64,
    /// How values are written back.
    pub output: NumericOutput,
}

const DATETIME_STEPS: &[i64] = &[86_400_000_000, 3_600_000_000, 60_000_000, 1_000_000, 1_000, 1];

impl NumericState {
    pub(crate) fn fit(
        column: &Column,
        kind: &ColumnKind,
        settings: &FitSettings,
        warnings: &mut Vec<Warning>,
    ) -> Result<Self> {
        let values = numeric_values(&column.name, &column.data, kind)?;
        let mut present: Vec<f64> = values.iter().flatten().copied().collect();
        present.sort_by(f64::total_cmp);
        let missing_share = (values.len() - present.len()) as f64 / values.len().max(1) as f64;
        let output = match kind {
            ColumnKind::Numerical { integer: true, format } => NumericOutput::Integer { step: format.step.max(1) },
            ColumnKind::Numerical { format, .. } => NumericOutput::Float { format: format.clone() },
            ColumnKind::Date { pattern, storage } => {
                NumericOutput::Date { pattern: pattern.clone(), storage: *storage }
            }
            ColumnKind::Datetime { pattern, offset_seconds, .. } => {
                let step_micros = DATETIME_STEPS
                    .iter()
                    .copied()
                    .find(|step| present.iter().all(|v| (*v as i64).rem_euclid(*step) == 0))
                    .unwrap_or(1);
                NumericOutput::Datetime { pattern: pattern.clone(), offset_seconds: *offset_seconds, step_micros }
            }
            _ => unreachable!("invariant: only numeric kinds reach NumericState::fit"),
        };
        let cdf = if present.is_empty() {
            warnings.push(Warning::column(&column.name, "every value is missing; the output column will be empty"));
            PiecewiseCdf { xs: vec![0.0, 0.0], ps: vec![0.0, 1.0] }
        } else {
            let cdf = PiecewiseCdf::fit(
                &present,
                CdfSettings { min_count: settings.min_category_count, max_points: settings.max_cdf_points },
            );
            if present.first() == present.last() {
                warnings.push(Warning::column(&column.name, "the column is constant; it is reproduced as such"));
            } else if present.len() < settings.min_category_count {
                warnings.push(Warning::column(
                    &column.name,
                    format!(
                        "only {} values present, fewer than {}; the column is generated from their mean",
                        present.len(),
                        settings.min_category_count
                    ),
                ));
            }
            cdf
        };
        Ok(NumericState { column: column.name.clone(), cdf, missing_share, output })
    }

    pub(crate) fn output_columns(&self) -> Vec<EncodedColumn> {
        let mut columns = vec![EncodedColumn { name: format!("{}.value", self.column), discrete: false }];
        if self.missing_share > 0.0 {
            columns.push(EncodedColumn { name: format!("{}.missing", self.column), discrete: true });
        }
        columns
    }

    fn kind_for_parsing(&self) -> ColumnKind {
        match &self.output {
            NumericOutput::Float { format } => ColumnKind::Numerical { integer: false, format: format.clone() },
            NumericOutput::Integer { .. } => ColumnKind::Numerical { integer: true, format: NumberFormat::default() },
            NumericOutput::Date { pattern, storage } => {
                ColumnKind::Date { pattern: pattern.clone(), storage: *storage }
            }
            NumericOutput::Datetime { pattern, offset_seconds, .. } => ColumnKind::Datetime {
                pattern: pattern.clone(),
                storage: Storage::Text,
                offset_seconds: *offset_seconds,
            },
        }
    }

    pub(crate) fn transform(&self, data: &ColumnData) -> Result<Vec<Vec<Option<f64>>>> {
        let values = numeric_values(&self.column, data, &self.kind_for_parsing())?;
        let scores: Vec<Option<f64>> = values.iter().map(|v| v.map(|x| self.cdf.mid_cdf(x))).collect();
        let mut encoded = vec![scores];
        if self.missing_share > 0.0 {
            encoded.push(values.iter().map(|v| Some(missing_score(v.is_none(), self.missing_share))).collect());
        }
        Ok(encoded)
    }

    /// How sampled values are rounded, worked out once per call rather than once per value.
    fn rounding(&self) -> Rounding {
        match &self.output {
            NumericOutput::Float { format } => {
                format.max_decimals.map_or(Rounding::Exact, |d| Rounding::Scale(10f64.powi(i32::from(d))))
            }
            NumericOutput::Integer { step } => Rounding::Step(*step as f64),
            NumericOutput::Date { .. } => Rounding::Step(1.0),
            NumericOutput::Datetime { step_micros, .. } => Rounding::Step(*step_micros as f64),
        }
    }

    pub(crate) fn reverse_transform(&self, encoded: &[&[f64]]) -> Column {
        let scores = encoded[0];
        let missing = encoded.get(1);
        let rounding = self.rounding();
        // Rounding may step outside the learned range: the bounds are the rounded values inside it.
        let (low, high) = (rounding.up(self.cdf.min()), rounding.down(self.cdf.max()));
        let (low, high) = (low.min(high), high.max(low));
        let values = scores.iter().enumerate().map(|(row, &u)| {
            let is_missing = missing.is_some_and(|m| m[row] >= 1.0 - self.missing_share);
            (!is_missing).then(|| rounding.round(self.cdf.quantile(u)).clamp(low, high))
        });
        let name = self.column.clone();
        match &self.output {
            NumericOutput::Float { format } => {
                let text_format = match format.max_decimals {
                    Some(max_decimals) => {
                        TextFormat::Decimal { max_decimals, min_decimals: format.min_decimals, fixed: format.fixed }
                    }
                    None => TextFormat::Plain,
                };
                Column::new(name, ColumnData::Float(values.collect())).with_format(text_format)
            }
            NumericOutput::Integer { .. } => {
                Column::new(name, ColumnData::Int(values.map(|v| v.map(|x| x as i64)).collect()))
            }
            NumericOutput::Date { pattern, storage } => {
                let days = values.map(|v| v.map(|x| x as i32));
                match storage {
                    Storage::Integer => Column::new(
                        name,
                        ColumnData::Int(days.map(|d| d.and_then(temporal::date_to_yyyymmdd)).collect()),
                    ),
                    _ => Column::new(name, ColumnData::Date(days.collect()))
                        .with_format(TextFormat::Temporal { pattern: pattern.clone(), offset_seconds: None }),
                }
            }
            NumericOutput::Datetime { pattern, offset_seconds, .. } => {
                Column::new(name, ColumnData::DateTime(values.map(|v| v.map(|x| x as i64)).collect()))
                    .with_format(TextFormat::Temporal { pattern: pattern.clone(), offset_seconds: *offset_seconds })
            }
        }
    }
}

/// Rounding to the source's precision.
#[derive(Debug, Clone, Copy)]
enum Rounding {
    /// No rounding (the source used exponents).
    Exact,
    /// To `1 / scale` (decimals: scale 100 rounds to 0.01).
    Scale(f64),
    /// To multiples of a step (integers, days, time granularity).
    Step(f64),
}

impl Rounding {
    fn round(self, x: f64) -> f64 {
        match self {
            Rounding::Exact => x,
            Rounding::Scale(scale) if (x * scale).abs() < 9.0e15 => (x * scale).round() / scale,
            Rounding::Scale(_) => x,
            Rounding::Step(step) => (x / step).round() * step,
        }
    }

    fn unit(self) -> f64 {
        match self {
            Rounding::Exact => 0.0,
            Rounding::Scale(scale) => 1.0 / scale,
            Rounding::Step(step) => step,
        }
    }

    /// The nearest rounded value not below `x`.
    fn up(self, x: f64) -> f64 {
        let rounded = self.round(x);
        if rounded < x { self.round(rounded + self.unit()) } else { rounded }
    }

    /// The nearest rounded value not above `x`.
    fn down(self, x: f64) -> f64 {
        let rounded = self.round(x);
        if rounded > x { self.round(rounded - self.unit()) } else { rounded }
    }
}
