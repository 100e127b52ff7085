//! An in-memory columnar table: the unit that readers produce, transforms consume and samplers
//! emit, one batch at a time.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The values of one column. Missing values are `None`.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// 64-bit floating point numbers.
    Float(Vec<Option<f64>>),
    /// 64-bit signed integers.
    Int(Vec<Option<i64>>),
    /// Booleans.
    Bool(Vec<Option<bool>>),
    /// UTF-8 strings (what every CSV column starts as).
    Text(Vec<Option<String>>),
    /// Calendar dates, as days since 1970-01-01.
    Date(Vec<Option<i32>>),
    /// Instants, as microseconds since 1970-01-01T00:00:00 (UTC, or naive local time when the
    /// column has no time zone).
    DateTime(Vec<Option<i64>>),
    /// Strings drawn from a small set: codes into `categories`. Samplers emit this instead of
    /// [`ColumnData::Text`] so that no string is allocated per value.
    Category(Arc<[String]>, Vec<Option<u32>>),
}

impl ColumnData {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Float(v) => v.len(),
            ColumnData::Int(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Text(v) => v.len(),
            ColumnData::Date(v) => v.len(),
            ColumnData::DateTime(v) => v.len(),
            ColumnData::Category(_, v) => v.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the value at `row` is missing.
    pub fn is_null(&self, row: usize) -> bool {
        match self {
            ColumnData::Float(v) => v[row].is_none(),
            ColumnData::Int(v) => v[row].is_none(),
            ColumnData::Bool(v) => v[row].is_none(),
            ColumnData::Text(v) => v[row].is_none(),
            ColumnData::Date(v) => v[row].is_none(),
            ColumnData::DateTime(v) => v[row].is_none(),
            ColumnData::Category(_, v) => v[row].is_none(),
        }
    }

    /// The number of missing values.
    pub fn null_count(&self) -> usize {
        (0..self.len()).filter(|&row| self.is_null(row)).count()
    }

    /// The value at `row` as text (categories and text as they are, other types in their plain
    /// form), or `None` when missing. Used by type detection and by checks; not a hot path.
    pub fn text_at(&self, row: usize) -> Option<Cow<'_, str>> {
        match self {
            ColumnData::Float(v) => v[row].map(|x| Cow::Owned(x.to_string())),
            ColumnData::Int(v) => v[row].map(|x| Cow::Owned(x.to_string())),
            ColumnData::Bool(v) => v[row].map(|x| Cow::Owned(x.to_string())),
            ColumnData::Text(v) => v[row].as_deref().map(Cow::Borrowed),
            ColumnData::Date(v) => v[row].map(|x| Cow::Owned(x.to_string())),
            ColumnData::DateTime(v) => v[row].map(|x| Cow::Owned(x.to_string())),
            ColumnData::Category(c, v) => v[row].map(|code| Cow::Borrowed(c[code as usize].as_str())),
        }
    }

    /// A short name of the storage type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ColumnData::Float(_) => "float",
            ColumnData::Int(_) => "integer",
            ColumnData::Bool(_) => "boolean",
            ColumnData::Text(_) => "text",
            ColumnData::Date(_) => "date",
            ColumnData::DateTime(_) => "datetime",
            ColumnData::Category(..) => "text",
        }
    }

    /// Appends the values of `other`, which must be of the same type.
    pub fn extend(&mut self, other: ColumnData) -> Result<()> {
        match (self, other) {
            (ColumnData::Float(a), ColumnData::Float(b)) => a.extend(b),
            (ColumnData::Int(a), ColumnData::Int(b)) => a.extend(b),
            (ColumnData::Bool(a), ColumnData::Bool(b)) => a.extend(b),
            (ColumnData::Text(a), ColumnData::Text(b)) => a.extend(b),
            (ColumnData::Date(a), ColumnData::Date(b)) => a.extend(b),
            (ColumnData::DateTime(a), ColumnData::DateTime(b)) => a.extend(b),
            (ColumnData::Category(ca, a), ColumnData::Category(cb, b)) if ca[..] == cb[..] => a.extend(b),
            (a, b) => {
                return Err(Error::InvalidData(format!(
                    "cannot append {} values to a {} column",
                    b.type_name(),
                    a.type_name()
                )));
            }
        }
        Ok(())
    }

    /// The rows `start..end` as a new column.
    pub fn slice(&self, start: usize, end: usize) -> ColumnData {
        match self {
            ColumnData::Float(v) => ColumnData::Float(v[start..end].to_vec()),
            ColumnData::Int(v) => ColumnData::Int(v[start..end].to_vec()),
            ColumnData::Bool(v) => ColumnData::Bool(v[start..end].to_vec()),
            ColumnData::Text(v) => ColumnData::Text(v[start..end].to_vec()),
            ColumnData::Date(v) => ColumnData::Date(v[start..end].to_vec()),
            ColumnData::DateTime(v) => ColumnData::DateTime(v[start..end].to_vec()),
            ColumnData::Category(c, v) => ColumnData::Category(c.clone(), v[start..end].to_vec()),
        }
    }
}

/// How a column's values are written as text (CSV, JSON Lines), so that output keeps the
/// source's formats. Binary formats (Parquet) use the typed values and ignore this.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TextFormat {
    /// The shortest text that reads back as the same value.
    #[default]
    Plain,
    /// Floats rounded to `max_decimals` places; `fixed` pads every value to that many places
    /// (`12.50`), otherwise the shortest form is used with at least `min_decimals` places
    /// (`12.5`, `45.0`).
    Decimal {
        /// Places after the decimal point, at most.
        max_decimals: u8,
        /// Places after the decimal point, at least.
        min_decimals: u8,
        /// Whether every value has exactly `max_decimals` places.
        fixed: bool,
    },
    /// Dates and datetimes rendered with a `chrono` format string.
    Temporal {
        /// The `strftime`-style pattern, for example `%Y-%m-%dT%H:%M:%SZ`.
        pattern: String,
        /// The UTC offset to render instants in, for patterns with `%z`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset_seconds: Option<i32>,
    },
    /// Booleans written with the source's tokens.
    Boolean {
        /// The text for `true`.
        true_token: String,
        /// The text for `false`.
        false_token: String,
    },
}

/// A named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name, as in the source's header.
    pub name: String,
    /// Its values.
    pub data: ColumnData,
    /// How to write its values as text.
    pub format: TextFormat,
}

impl Column {
    /// A column with the default text format.
    pub fn new(name: impl Into<String>, data: ColumnData) -> Self {
        Column { name: name.into(), data, format: TextFormat::Plain }
    }

    /// The same column with another text format.
    pub fn with_format(mut self, format: TextFormat) -> Self {
        self.format = format;
        self
    }
}

/// A table: columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    columns: Vec<Column>,
}

impl Table {
    /// Builds a table, checking that the columns have equal lengths and distinct names.
    pub fn try_new(columns: Vec<Column>) -> Result<Self> {
        if let Some(first) = columns.first() {
            let n_rows = first.data.len();
            for column in &columns {
                if column.data.len() != n_rows {
                    return Err(Error::InvalidData(format!(
                        "column `{}` has {} rows, expected {n_rows} like column `{}`",
                        column.name,
                        column.data.len(),
                        first.name
                    )));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for column in &columns {
            if !seen.insert(column.name.as_str()) {
                return Err(Error::InvalidData(format!(
                    "column name `{}` appears more than once; expected unique column names",
                    column.name
                )));
            }
        }
        Ok(Table { columns })
    }

    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.data.len())
    }

    /// The number of columns.
    pub fn n_columns(&self) -> usize {
        self.columns.len()
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Takes the columns out.
    pub fn into_columns(self) -> Vec<Column> {
        self.columns
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Result<&Column> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::ColumnNotFound { column: name.to_string(), available: self.column_names() })
    }

    /// Appends the rows of `other`, which must have the same columns and types.
    pub fn append(&mut self, other: Table) -> Result<()> {
        if self.columns.is_empty() {
            *self = other;
            return Ok(());
        }
        if other.columns.len() != self.columns.len() {
            return Err(Error::InvalidData(format!(
                "cannot append a table of {} columns to one of {}",
                other.columns.len(),
                self.columns.len()
            )));
        }
        for (mine, theirs) in self.columns.iter_mut().zip(other.columns) {
            mine.data.extend(theirs.data)?;
        }
        Ok(())
    }

    /// The rows `start..end` as a new table.
    pub fn slice(&self, start: usize, end: usize) -> Table {
        Table {
            columns: self
                .columns
                .iter()
                .map(|c| Column { name: c.name.clone(), data: c.data.slice(start, end), format: c.format.clone() })
                .collect(),
        }
    }
}
