//! Reversible column transforms: each column of a table becomes zero or more *encoded columns* of
//! uniform scores in (0, 1), and back.
//!
//! Engines model the joint distribution of the encoded columns; the transforms own everything
//! that is specific to a column type: marginal distributions, categories, rounding, date formats,
//! missingness and generated columns (identifiers, free text, personal data), which have no
//! encoded columns at all.
//!
//! As in RDT, the configuration and the fitted state are different things: [`TransformState::fit`]
//! reads a column and its [`ColumnMeta`] and returns a new state; states serialise with a `type`
//! tag and never hold a training row.
//!
//! ```
//! use doppel_core::{Column, ColumnData, ColumnKind, ColumnMeta, Storage, stream_rng};
//! use doppel_transform::{FitSettings, TransformState};
//!
//! let column = Column::new("colour", ColumnData::Text(["red", "blue", "red", "red", "blue", "red", "blue", "red", "blue", "blue"]
//!     .iter().map(|s| Some(s.to_string())).collect()));
//! let meta = ColumnMeta { name: "colour".into(), kind: ColumnKind::Categorical { storage: Storage::Text } };
//! let mut warnings = Vec::new();
//! let state = TransformState::fit(&column, &meta, &FitSettings::default(), &mut warnings)?;
//! let encoded = state.transform(&column.data)?;
//! let scores: Vec<f64> = encoded[0].iter().map(|s| s.unwrap_or(0.5)).collect();
//! let back = state.reverse_transform(&[&scores], 0, scores.len(), &mut stream_rng(1, 0))?;
//! assert_eq!(back.data.text_at(0).as_deref(), Some("red"));
//! # Ok::<(), doppel_core::Error>(())
//! ```

pub mod categorical;
pub mod cdf;
pub mod generated;
pub mod locale;
pub mod numeric;
pub mod personal;
pub mod values;

use serde::{Deserialize, Serialize};

use doppel_core::{Column, ColumnData, ColumnKind, ColumnMeta, Error, Result, SeededRng, Warning};

pub use categorical::CategoricalState;
pub use generated::{FakeState, FreeTextState, IdentifierState};
pub use locale::Locale;
pub use numeric::NumericState;
pub use personal::FakeDetails;

/// Settings shared by every transform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FitSettings {
    /// The fewest training rows that a stored value (a category, a CDF point) may stand for;
    /// rarer values are left out of the model.
    pub min_category_count: usize,
    /// The most interpolation points of a numeric marginal.
    pub max_cdf_points: usize,
    /// Columns exempted from rare-value protection by the user's decision (`--keep-rare`): every
    /// value seen at least once is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_rare: Vec<String>,
    /// The locale of fake names and of the emails made from them (absent: English).
    #[serde(default, skip_serializing_if = "Locale::is_english")]
    pub locale: Locale,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings { min_category_count: 5, max_cdf_points: 1000, keep_rare: Vec::new(), locale: Locale::English }
    }
}

/// One encoded column: a uniform score per row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedColumn {
    /// `column.value` or `column.missing`.
    pub name: String,
    /// Whether the score takes only a few values (categories, missing or not).
    pub discrete: bool,
}

/// The fitted state of any transform. Serialised with a `type` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransformState {
    /// Numbers, dates and datetimes.
    Numeric(NumericState),
    /// Categories and booleans.
    Categorical(CategoricalState),
    /// Fresh keys in the source's format.
    Identifier(IdentifierState),
    /// Placeholder text.
    FreeText(FreeTextState),
    /// Fake personal data.
    Fake(FakeState),
}

/// The uniform score of the "missing" indicator: present values take the lower part of (0, 1),
/// missing ones the upper `missing_share`.
pub(crate) fn missing_score(is_missing: bool, missing_share: f64) -> f64 {
    if is_missing { 1.0 - missing_share / 2.0 } else { (1.0 - missing_share) / 2.0 }
}

/// A stable 64-bit hash of a label (FNV-1a), used to key generators.
pub(crate) fn stable_hash(label: &str) -> u64 {
    doppel_core::rng::stream_id(label)
}

impl TransformState {
    /// Fits the transform that `meta` calls for on `column`.
    pub fn fit(
        column: &Column,
        meta: &ColumnMeta,
        settings: &FitSettings,
        warnings: &mut Vec<Warning>,
    ) -> Result<Self> {
        if column.data.is_empty() {
            return Err(Error::InvalidData(format!("column `{}` has no rows", column.name)));
        }
        let exempt;
        let settings = if settings.keep_rare.contains(&column.name) {
            exempt = FitSettings { min_category_count: 1, ..settings.clone() };
            &exempt
        } else {
            settings
        };
        Ok(match &meta.kind {
            ColumnKind::Numerical { .. } | ColumnKind::Date { .. } | ColumnKind::Datetime { .. } => {
                TransformState::Numeric(NumericState::fit(column, &meta.kind, settings, warnings)?)
            }
            ColumnKind::Categorical { .. } | ColumnKind::Boolean { .. } => {
                TransformState::Categorical(CategoricalState::fit(column, &meta.kind, settings, warnings)?)
            }
            ColumnKind::Identifier { storage } => {
                TransformState::Identifier(IdentifierState::fit(column, *storage, warnings)?)
            }
            ColumnKind::Text => {
                TransformState::FreeText(FreeTextState::fit(column, settings.min_category_count, warnings))
            }
            ColumnKind::Pii { kind } => TransformState::Fake(FakeState::fit(
                column,
                *kind,
                settings.min_category_count,
                settings.locale,
                warnings,
            )),
        })
    }

    /// The name of the source column.
    pub fn column(&self) -> &str {
        match self {
            TransformState::Numeric(s) => &s.column,
            TransformState::Categorical(s) => &s.column,
            TransformState::Identifier(s) => s.column(),
            TransformState::FreeText(s) => &s.column,
            TransformState::Fake(s) => &s.column,
        }
    }

    /// The encoded columns this transform produces, in order (none for generated columns).
    pub fn output_columns(&self) -> Vec<EncodedColumn> {
        match self {
            TransformState::Numeric(s) => s.output_columns(),
            TransformState::Categorical(s) => s.output_columns(),
            _ => Vec::new(),
        }
    }

    /// Encodes a column: one vector of uniform scores per output column. A score is `None` where
    /// it does not apply (the value is missing, or belongs to a protected rare category).
    pub fn transform(&self, data: &ColumnData) -> Result<Vec<Vec<Option<f64>>>> {
        match self {
            TransformState::Numeric(s) => s.transform(data),
            TransformState::Categorical(s) => s.transform(data),
            _ => Ok(Vec::new()),
        }
    }

    /// Decodes uniform scores (one slice per output column, all of the same length) back into a
    /// column of `n_rows` values in the source's type and format. `first_row` is the global
    /// number of the first row (generated keys depend on it); `rng` draws generated values.
    pub fn reverse_transform(
        &self,
        encoded: &[&[f64]],
        first_row: u64,
        n_rows: usize,
        rng: &mut SeededRng,
    ) -> Result<Column> {
        let expected = self.output_columns().len();
        if encoded.len() != expected {
            return Err(Error::InvalidData(format!(
                "column `{}`: expected {expected} encoded columns, got {}",
                self.column(),
                encoded.len()
            )));
        }
        if let Some(bad) = encoded.iter().find(|e| e.len() != n_rows) {
            return Err(Error::InvalidData(format!(
                "column `{}`: expected {n_rows} encoded scores, got {}",
                self.column(),
                bad.len()
            )));
        }
        Ok(match self {
            TransformState::Numeric(s) => s.reverse_transform(encoded),
            TransformState::Categorical(s) => s.reverse_transform(encoded, n_rows),
            _ => self.generate(first_row, n_rows, rng),
        })
    }

    /// Generates `n_rows` values of a generated column (identifiers, free text, personal data).
    /// For modelled columns, use [`TransformState::reverse_transform`].
    pub fn generate(&self, first_row: u64, n_rows: usize, rng: &mut SeededRng) -> Column {
        match self {
            TransformState::Identifier(s) => s.generate(first_row, n_rows, rng),
            TransformState::FreeText(s) => s.generate(n_rows, rng),
            TransformState::Fake(s) => s.generate(n_rows, rng),
            TransformState::Numeric(s) => Column::new(s.column.clone(), ColumnData::Float(vec![None; n_rows])),
            TransformState::Categorical(s) => Column::new(s.column.clone(), ColumnData::Text(vec![None; n_rows])),
        }
    }
}
