//! Categories (and booleans): a frequency table with rare categories left out, laid out as
//! intervals of (0, 1) so that a uniform score picks a category.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use doppel_core::{Column, ColumnData, ColumnKind, Error, Result, Storage, TextFormat, Warning};

use crate::values::{check_label, label_values};
use crate::{EncodedColumn, FitSettings};

/// The fitted state of a categorical or boolean column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalState {
    /// The column's name.
    pub column: String,
    /// How values are written back.
    pub storage: Storage,
    /// For booleans, the tokens `(true, false)` of text sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boolean_tokens: Option<(String, String)>,
    /// The categories, most frequent first (shared with every sampled batch, not copied).
    pub categories: Arc<[String]>,
    /// The upper end of each category's interval of (0, 1): cumulative shares among the rows
    /// that have a kept category.
    pub cumulative: Vec<f64>,
    /// The share of missing values (0 when the column had none); missingness is its own
    /// encoded column, so that it can depend on other columns.
    pub missing_share: f64,
    /// Categories left out as rare, and the share of rows they held (reported, not sampled).
    pub protected_share: f64,
}

impl CategoricalState {
    pub(crate) fn fit(
        column: &Column,
        kind: &ColumnKind,
        settings: &FitSettings,
        warnings: &mut Vec<Warning>,
    ) -> Result<Self> {
        let labels = label_values(&column.name, &column.data, kind)?;
        let (storage, boolean_tokens) = match kind {
            ColumnKind::Categorical { storage } => (*storage, None),
            ColumnKind::Boolean { true_token, false_token, storage } => {
                let storage = if *storage == Storage::Text { Storage::Boolean } else { *storage };
                (storage, Some((true_token.clone(), false_token.clone())))
            }
            _ => unreachable!("invariant: only categorical kinds reach CategoricalState::fit"),
        };
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut n_missing = 0usize;
        for label in &labels {
            match label {
                Some(label) => *counts.entry(label.as_ref()).or_default() += 1,
                None => n_missing += 1,
            }
        }
        let mut entries: Vec<(&str, usize)> = counts.into_iter().collect();
        entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let total = labels.len();
        let mut kept = Vec::new();
        let mut protected_rows = 0usize;
        let mut protected_categories = 0usize;
        for (label, count) in entries {
            if count < settings.min_category_count {
                protected_rows += count;
                protected_categories += 1;
            } else {
                kept.push((label, count));
            }
        }
        if protected_categories > 0 {
            warnings.push(Warning::column(
                &column.name,
                format!(
                    "{protected_categories} rare categories (fewer than {} rows each, {:.2}% of rows) were left out of the model",
                    settings.min_category_count,
                    100.0 * protected_rows as f64 / total.max(1) as f64
                ),
            ));
        }
        if kept.is_empty() && protected_categories > 0 {
            return Err(Error::InvalidData(format!(
                "column `{}`: every category appears fewer than {} times, so none can be kept; \
                 mark the column `text` or `identifier` in the metadata, or lower `--min-category-count`",
                column.name, settings.min_category_count
            )));
        }
        if kept.is_empty() {
            warnings.push(Warning::column(&column.name, "every value is missing; the output column will be empty"));
        } else if kept.len() == 1 {
            let message = if protected_categories > 0 {
                "only one category is left after leaving out the rare ones; the column will be constant"
            } else {
                "the column is constant; it is reproduced as such"
            };
            warnings.push(Warning::column(&column.name, message));
        }
        for (label, _) in &kept {
            check_label(&column.name, label, storage)?;
        }
        let kept_total: usize = kept.iter().map(|(_, c)| c).sum();
        let mut cumulative = Vec::with_capacity(kept.len());
        let mut running = 0usize;
        for (_, count) in &kept {
            running += count;
            cumulative.push(running as f64 / kept_total as f64);
        }
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Ok(CategoricalState {
            column: column.name.clone(),
            storage,
            boolean_tokens,
            categories: kept.into_iter().map(|(label, _)| label.to_string()).collect::<Vec<_>>().into(),
            cumulative,
            missing_share: n_missing as f64 / total.max(1) as f64,
            protected_share: protected_rows as f64 / total.max(1) as f64,
        })
    }

    pub(crate) fn output_columns(&self) -> Vec<EncodedColumn> {
        let mut columns = Vec::new();
        if !self.categories.is_empty() {
            columns.push(EncodedColumn { name: format!("{}.value", self.column), discrete: true });
        }
        if self.missing_share > 0.0 && !self.categories.is_empty() {
            columns.push(EncodedColumn { name: format!("{}.missing", self.column), discrete: true });
        }
        columns
    }

    fn kind_for_parsing(&self) -> ColumnKind {
        match &self.boolean_tokens {
            Some((true_token, false_token)) => ColumnKind::Boolean {
                true_token: true_token.clone(),
                false_token: false_token.clone(),
                storage: self.storage,
            },
            None => ColumnKind::Categorical { storage: self.storage },
        }
    }

    pub(crate) fn transform(&self, data: &ColumnData) -> Result<Vec<Vec<Option<f64>>>> {
        let labels = label_values(&self.column, data, &self.kind_for_parsing())?;
        if self.categories.is_empty() {
            return Ok(Vec::new());
        }
        let index: HashMap<&str, usize> = self.categories.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
        let scores = labels
            .iter()
            .map(|label| {
                label.as_deref().and_then(|label| index.get(label)).map(|&i| {
                    let low = if i == 0 { 0.0 } else { self.cumulative[i - 1] };
                    (low + self.cumulative[i]) / 2.0
                })
            })
            .collect();
        let mut encoded = vec![scores];
        if self.missing_share > 0.0 {
            encoded.push(labels.iter().map(|l| Some(crate::missing_score(l.is_none(), self.missing_share))).collect());
        }
        Ok(encoded)
    }

    /// The category index for a uniform score.
    pub fn index_of(&self, u: f64) -> usize {
        self.cumulative.partition_point(|&c| c < u).min(self.categories.len() - 1)
    }

    pub(crate) fn reverse_transform(&self, encoded: &[&[f64]], n_rows: usize) -> Column {
        // `None` is a missing value.
        let codes: Vec<Option<usize>> = match encoded.first() {
            None => vec![None; n_rows],
            Some(scores) => scores
                .iter()
                .enumerate()
                .map(|(row, &u)| {
                    let missing = encoded.get(1).is_some_and(|m| m[row] >= 1.0 - self.missing_share);
                    (!missing).then(|| self.index_of(u))
                })
                .collect(),
        };
        let name = self.column.clone();
        match self.storage {
            Storage::Integer => Column::new(
                name,
                ColumnData::Int(codes.iter().map(|i| i.and_then(|i| self.categories[i].parse().ok())).collect()),
            ),
            Storage::Float => Column::new(
                name,
                ColumnData::Float(codes.iter().map(|i| i.and_then(|i| self.categories[i].parse().ok())).collect()),
            ),
            Storage::Boolean => {
                let column = Column::new(
                    name,
                    ColumnData::Bool(codes.iter().map(|i| i.map(|i| self.categories[i] == "true")).collect()),
                );
                match &self.boolean_tokens {
                    Some((true_token, false_token)) => column.with_format(TextFormat::Boolean {
                        true_token: true_token.clone(),
                        false_token: false_token.clone(),
                    }),
                    None => column,
                }
            }
            _ => {
                let categories = Arc::clone(&self.categories);
                let codes = codes.iter().map(|i| i.map(|i| i as u32)).collect();
                Column::new(name, ColumnData::Category(categories, codes))
            }
        }
    }
}
