//! The tables as the metrics see them: one value vector per evaluated column, with category
//! dictionaries shared by the real, synthetic and holdout data.

use std::collections::HashMap;

use doppel_core::{ColumnKind, Error, Metadata, Result, Table};
use doppel_transform::values::{label_values, numeric_values};
use serde::{Deserialize, Serialize};

/// A missing category code.
pub const MISSING: u32 = u32::MAX;

/// How the metrics treat a column, named as SDMetrics names its sdtypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SdType {
    /// Numbers.
    Numerical,
    /// Dates and datetimes (compared as numbers: days or microseconds since the epoch).
    Datetime,
    /// Labels without an order.
    Categorical,
    /// True and false.
    Boolean,
}

impl SdType {
    /// Whether the column is compared as numbers (KS, correlation, binning).
    pub fn is_continuous(self) -> bool {
        matches!(self, SdType::Numerical | SdType::Datetime)
    }

    /// The sdtype of a doppel column kind; `None` for kinds the metrics leave out (identifiers,
    /// free text, personal data).
    pub fn of(kind: &ColumnKind) -> Option<SdType> {
        match kind {
            ColumnKind::Numerical { .. } => Some(SdType::Numerical),
            ColumnKind::Date { .. } | ColumnKind::Datetime { .. } => Some(SdType::Datetime),
            ColumnKind::Categorical { .. } => Some(SdType::Categorical),
            ColumnKind::Boolean { .. } => Some(SdType::Boolean),
            ColumnKind::Identifier { .. } | ColumnKind::Text | ColumnKind::Pii { .. } => None,
        }
    }
}

/// One column's values: numbers (NaN = missing) or category codes ([`MISSING`] = missing).
#[derive(Debug, Clone)]
pub enum Values {
    /// Numbers, dates as days and datetimes as microseconds since the epoch.
    Continuous(Vec<f64>),
    /// Codes into the column's dictionary.
    Discrete(Vec<u32>),
}

impl Values {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            Values::Continuous(v) => v.len(),
            Values::Discrete(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the value in `row` is missing.
    pub fn is_missing(&self, row: usize) -> bool {
        match self {
            Values::Continuous(v) => v[row].is_nan(),
            Values::Discrete(v) => v[row] == MISSING,
        }
    }

    /// The share of missing values.
    pub fn missing_rate(&self) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        (0..self.len()).filter(|&r| self.is_missing(r)).count() as f64 / self.len() as f64
    }

    /// The values of the given rows.
    pub fn select(&self, rows: &[usize]) -> Values {
        match self {
            Values::Continuous(v) => Values::Continuous(rows.iter().map(|&r| v[r]).collect()),
            Values::Discrete(v) => Values::Discrete(rows.iter().map(|&r| v[r]).collect()),
        }
    }

    /// The numbers; empty for a discrete column (callers check the sdtype).
    pub fn continuous(&self) -> &[f64] {
        match self {
            Values::Continuous(v) => v,
            Values::Discrete(_) => &[],
        }
    }

    /// The codes; empty for a continuous column (callers check the sdtype).
    pub fn discrete(&self) -> &[u32] {
        match self {
            Values::Discrete(v) => v,
            Values::Continuous(_) => &[],
        }
    }
}

/// An evaluated column: its name, sdtype and (for discrete columns) its dictionary.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    /// The column's name.
    pub name: String,
    /// How it is compared.
    pub sdtype: SdType,
    /// The labels of the codes, for categorical and boolean columns.
    pub dictionary: Vec<String>,
    /// How a continuous column's numbers read as text: plain numbers, dates (days since the
    /// epoch) or datetimes (microseconds since the epoch).
    pub unit: Unit,
}

/// The scale of a continuous column's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Numbers as they are (also used for discrete columns).
    Number,
    /// Days since 1970-01-01.
    Days,
    /// Microseconds since 1970-01-01T00:00:00Z.
    Microseconds,
}

impl Unit {
    /// A value as a person reads it.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Number => format_number(value),
            Unit::Days => doppel_core::temporal::format_date(value.round() as i32, doppel_core::temporal::ISO_DATE),
            Unit::Microseconds => doppel_core::temporal::format_datetime(value.round() as i64, "%Y-%m-%d %H:%M", None),
        }
    }
}

/// A number with about four significant digits.
pub fn format_number(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-4..=9).contains(&magnitude) {
        return format!("{value:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// One table restricted to the evaluated columns, in the order of [`Schema::columns`].
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The values, a vector per column.
    pub columns: Vec<Values>,
    /// The number of rows.
    pub n_rows: usize,
}

impl Dataset {
    /// The rows with the given indices.
    pub fn select(&self, rows: &[usize]) -> Dataset {
        Dataset { columns: self.columns.iter().map(|c| c.select(rows)).collect(), n_rows: rows.len() }
    }
}

/// The evaluated columns, and the ones left out with the reason.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// The columns the metrics use.
    pub columns: Vec<ColumnSpec>,
    /// Columns left out, with why.
    pub skipped: Vec<(String, String)>,
}

impl Schema {
    /// The index of a column among the evaluated ones.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// A role of a table in an evaluation, for error messages.
#[derive(Debug, Clone)]
pub struct NamedTable<'a> {
    /// The table.
    pub table: &'a Table,
    /// How to name it in messages (usually its path).
    pub origin: String,
}

/// Converts the tables to datasets over the evaluable columns of `metadata` (which describes the
/// real data). All tables must have the metadata's columns; values that do not fit the column's
/// type are errors naming the table, column and row.
pub fn prepare(metadata: &Metadata, tables: &[NamedTable<'_>]) -> Result<(Schema, Vec<Dataset>)> {
    let mut schema = Schema::default();
    for table in tables {
        check_columns(metadata, table)?;
    }
    let mut per_table: Vec<Vec<Values>> = vec![Vec::new(); tables.len()];
    for meta in &metadata.columns {
        let Some(sdtype) = SdType::of(&meta.kind) else {
            schema.skipped.push((meta.name.clone(), format!("{} columns are not compared", meta.kind.name())));
            continue;
        };
        let mut dictionary: Vec<String> = Vec::new();
        let mut lookup: HashMap<String, u32> = HashMap::new();
        for (t, named) in tables.iter().enumerate() {
            let column = named.table.column(&meta.name)?;
            let with_origin = |e: Error| Error::Context { message: named.origin.clone(), source: Box::new(e) };
            let values = if sdtype.is_continuous() {
                let numbers = numeric_values(&meta.name, &column.data, &meta.kind).map_err(with_origin)?;
                Values::Continuous(numbers.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
            } else {
                let labels = label_values(&meta.name, &column.data, &meta.kind).map_err(with_origin)?;
                Values::Discrete(
                    labels
                        .into_iter()
                        .map(|label| match label {
                            None => MISSING,
                            Some(label) => match lookup.get(label.as_ref()) {
                                Some(&code) => code,
                                None => {
                                    let code = dictionary.len() as u32;
                                    dictionary.push(label.to_string());
                                    lookup.insert(label.into_owned(), code);
                                    code
                                }
                            },
                        })
                        .collect(),
                )
            };
            per_table[t].push(values);
        }
        let unit = match meta.kind {
            ColumnKind::Date { .. } => Unit::Days,
            ColumnKind::Datetime { .. } => Unit::Microseconds,
            _ => Unit::Number,
        };
        schema.columns.push(ColumnSpec { name: meta.name.clone(), sdtype, dictionary, unit });
    }
    let datasets = per_table
        .into_iter()
        .zip(tables)
        .map(|(columns, named)| Dataset { columns, n_rows: named.table.n_rows() })
        .collect();
    Ok((schema, datasets))
}

fn check_columns(metadata: &Metadata, named: &NamedTable<'_>) -> Result<()> {
    let names = named.table.column_names();
    let expected: Vec<&str> = metadata.columns.iter().map(|c| c.name.as_str()).collect();
    let missing: Vec<&str> = expected.iter().copied().filter(|n| !names.iter().any(|m| m == n)).collect();
    let extra: Vec<&str> = names.iter().map(String::as_str).filter(|n| !expected.contains(n)).collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    let quote = |list: &[&str]| list.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("lacks {}", quote(&missing)));
    }
    if !extra.is_empty() {
        parts.push(format!("has {} that the real data does not", quote(&extra)));
    }
    Err(Error::InvalidData(format!(
        "{}: the columns differ from the real data's: it {}; both tables must have the same columns",
        named.origin,
        parts.join(" and ")
    )))
}
