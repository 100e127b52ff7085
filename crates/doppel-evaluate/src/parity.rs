//! Statistical parity: how often a positive outcome comes in each group of a protected
//! attribute, in the real data and in the synthetic data, and the largest gap between groups.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use doppel_core::condition::Condition;
use doppel_core::{Error, Metadata, Result, Table, Value};

/// Groups with fewer rows than this are listed but left out of the difference (their rate is
/// noise).
pub const MIN_GROUP_ROWS: usize = 10;

/// What to measure: the rate of `outcome` in each value of `group`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParitySpec {
    /// The protected attribute.
    pub group: String,
    /// The positive outcome.
    pub outcome: Condition,
}

impl ParitySpec {
    /// Parses `GROUP:CONDITION`, for example `sex:income=high` or `ethnicity:wage>=600`.
    pub fn parse(text: &str) -> Result<ParitySpec> {
        let (group, outcome) = text.split_once(':').ok_or_else(|| {
            Error::InvalidConfig(format!(
                "parity `{text}`: expected `GROUP:OUTCOME`, for example `sex:income=high` or `ethnicity:wage>=600`"
            ))
        })?;
        Ok(ParitySpec { group: group.trim().to_string(), outcome: Condition::parse(outcome)? })
    }
}

/// One group's outcome rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRate {
    /// The group's value (`(missing)` for missing values).
    pub value: String,
    /// Rows in the group.
    pub rows: usize,
    /// The share of them with the positive outcome.
    pub rate: Option<f64>,
}

/// The rates in one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityResult {
    /// Every group, in the order of the group's values.
    pub groups: Vec<GroupRate>,
    /// The largest rate minus the smallest, over groups with at least [`MIN_GROUP_ROWS`] rows.
    pub difference: Option<f64>,
}

/// Statistical parity in the real and the synthetic data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parity {
    /// The protected attribute.
    pub group: String,
    /// The positive outcome, as written.
    pub outcome: String,
    /// In the real data.
    pub real: ParityResult,
    /// In the synthetic data.
    pub synthetic: ParityResult,
}

/// Measures `spec` in both tables (columns read with the real data's metadata).
pub fn parity(metadata: &Metadata, real: &Table, synthetic: &Table, spec: &ParitySpec) -> Result<Parity> {
    let column_of = |name: &str| {
        metadata.column(name).ok_or_else(|| Error::ColumnNotFound {
            column: name.to_string(),
            available: metadata.columns.iter().map(|c| c.name.clone()).collect(),
        })
    };
    column_of(&spec.group)?;
    let outcome_meta = column_of(&spec.outcome.column)?;
    let check = spec.outcome.check_for_kind(&outcome_meta.kind)?;
    let measure = |table: &Table| -> Result<ParityResult> {
        let groups = &table.column(&spec.group)?.data;
        let outcome = &table.column(&spec.outcome.column)?.data;
        let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for row in 0..table.n_rows() {
            let value = groups.text_at(row).map_or_else(|| "(missing)".to_string(), |v| v.into_owned());
            let entry = counts.entry(value).or_default();
            entry.0 += 1;
            if check.holds(&Value::read(outcome, row, &outcome_meta.kind)) {
                entry.1 += 1;
            }
        }
        let groups: Vec<GroupRate> = counts
            .into_iter()
            .map(|(value, (rows, positive))| GroupRate {
                value,
                rows,
                rate: (rows > 0).then(|| positive as f64 / rows as f64),
            })
            .collect();
        let rates: Vec<f64> = groups.iter().filter(|g| g.rows >= MIN_GROUP_ROWS).filter_map(|g| g.rate).collect();
        let difference = (rates.len() >= 2)
            .then(|| rates.iter().copied().fold(f64::MIN, f64::max) - rates.iter().copied().fold(f64::MAX, f64::min));
        Ok(ParityResult { groups, difference })
    };
    Ok(Parity {
        group: spec.group.clone(),
        outcome: spec.outcome.to_string(),
        real: measure(real)?,
        synthetic: measure(synthetic)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_core::{Column, ColumnData};

    fn table(groups: &[&str], wages: &[f64]) -> Table {
        Table::try_new(vec![
            Column::new("g", ColumnData::Text(groups.iter().map(|g| Some(g.to_string())).collect())),
            Column::new("wage", ColumnData::Float(wages.iter().map(|w| Some(*w)).collect())),
        ])
        .expect("a table")
    }

    #[test]
    fn rates_and_difference() {
        let groups: Vec<&str> = (0..40).map(|i| if i < 20 { "a" } else { "b" }).collect();
        let wages: Vec<f64> = (0..40).map(|i| if i < 20 { (i % 2) as f64 * 100.0 } else { 100.0 }).collect();
        let real = table(&groups, &wages);
        let (metadata, _) = Metadata::detect(&real);
        let spec = ParitySpec::parse("g:wage>=50").expect("parses");
        let result = parity(&metadata, &real, &real, &spec).expect("measures");
        assert_eq!(result.real.groups[0].rate, Some(0.5));
        assert_eq!(result.real.groups[1].rate, Some(1.0));
        assert_eq!(result.real.difference, Some(0.5));
        assert!(ParitySpec::parse("g").is_err());
        let bad = ParitySpec::parse("nope:wage>=50").expect("parses");
        assert!(parity(&metadata, &real, &real, &bad).is_err());
    }
}
