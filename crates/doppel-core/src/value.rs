//! Single cell values, as conditions and constraints compare them.
//!
//! A [`Value`] is what one cell holds once its column's type is known: a number (integers,
//! floats, and dates and datetimes as days and microseconds since 1970-01-01), a text (categories
//! and strings), a boolean, or nothing. Values read from a typed column ([`Value::of`]) and values
//! parsed from text the user wrote ([`Value::parse_like`], [`Value::parse_as`]) compare with each
//! other: a condition's `age>=65` is parsed into the same kind of value as the sampled `age`.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::metadata::ColumnKind;
use crate::table::{Column, ColumnData, TextFormat};
use crate::temporal::{DATE_PATTERNS, DATETIME_PATTERNS, MICROS_PER_DAY, parse_date, parse_datetime};

/// One cell's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A missing value.
    Missing,
    /// A number; dates are days and datetimes microseconds since 1970-01-01.
    Number(f64),
    /// A text or a category.
    Text(Cow<'a, str>),
    /// A boolean.
    Bool(bool),
}

impl<'a> Value<'a> {
    /// The value of `row` in a typed column (text columns give texts).
    pub fn of(data: &'a ColumnData, row: usize) -> Value<'a> {
        let number = |x: Option<f64>| x.map_or(Value::Missing, Value::Number);
        match data {
            ColumnData::Float(v) => number(v[row]),
            ColumnData::Int(v) => number(v[row].map(|x| x as f64)),
            ColumnData::Date(v) => number(v[row].map(f64::from)),
            ColumnData::DateTime(v) => number(v[row].map(|x| x as f64)),
            ColumnData::Bool(v) => v[row].map_or(Value::Missing, Value::Bool),
            ColumnData::Text(v) => v[row].as_deref().map_or(Value::Missing, |s| Value::Text(Cow::Borrowed(s))),
            ColumnData::Category(c, v) => {
                v[row].map_or(Value::Missing, |code| Value::Text(Cow::Borrowed(c[code as usize].as_str())))
            }
        }
    }

    /// The value of `row` of a column whose semantic type is `kind`: text cells of numerical,
    /// date, datetime and boolean columns are parsed (an unparsable cell reads as text).
    pub fn read(data: &'a ColumnData, row: usize, kind: &ColumnKind) -> Value<'a> {
        match data {
            ColumnData::Text(v) => match v[row].as_deref() {
                None => Value::Missing,
                Some(text) if text.trim().is_empty() => Value::Missing,
                Some(text) => Value::parse_as(text, kind).unwrap_or(Value::Text(Cow::Borrowed(text))),
            },
            _ => Value::of(data, row),
        }
    }

    /// Parses `text` as a value of a column of kind `kind`; `None` when it is not one.
    pub fn parse_as(text: &str, kind: &ColumnKind) -> Option<Value<'static>> {
        let text = text.trim();
        match kind {
            ColumnKind::Numerical { .. } => text.parse::<f64>().ok().filter(|x| x.is_finite()).map(Value::Number),
            ColumnKind::Date { pattern, .. } => parse_any_date(text, Some(pattern)),
            ColumnKind::Datetime { pattern, .. } => parse_any_datetime(text, Some(pattern)),
            ColumnKind::Boolean { true_token, false_token, .. } => parse_bool(text, true_token, false_token),
            _ => Some(Value::Text(Cow::Owned(text.to_string()))),
        }
    }

    /// Parses `text` as a value of the same type as `column` (a sampled column: its storage and
    /// format say the type). `Err` says what was expected.
    pub fn parse_like(text: &str, column: &Column) -> Result<Value<'static>, String> {
        let text = text.trim();
        let pattern = match &column.format {
            TextFormat::Temporal { pattern, .. } => Some(pattern.as_str()),
            _ => None,
        };
        match &column.data {
            ColumnData::Float(_) | ColumnData::Int(_) => text
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Value::Number)
                .ok_or_else(|| "a number".to_string()),
            ColumnData::Date(_) => parse_any_date(text, pattern).ok_or_else(|| "a date such as `2024-01-31`".into()),
            ColumnData::DateTime(_) => parse_any_datetime(text, pattern)
                .ok_or_else(|| "a date and time such as `2024-01-31T08:30:00` (or a date)".into()),
            ColumnData::Bool(_) => {
                let (t, f) = match &column.format {
                    TextFormat::Boolean { true_token, false_token } => (true_token.as_str(), false_token.as_str()),
                    _ => ("true", "false"),
                };
                parse_bool(text, t, f).ok_or_else(|| format!("`{t}` or `{f}`"))
            }
            ColumnData::Text(_) | ColumnData::Category(..) => Ok(Value::Text(Cow::Owned(text.to_string()))),
        }
    }

    /// Whether the value is missing.
    pub fn is_missing(&self) -> bool {
        matches!(self, Value::Missing)
    }

    /// The value as a number: numbers, booleans (1 or 0) and texts that parse as numbers.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(x) => Some(*x),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Text(t) => t.trim().parse().ok(),
            Value::Missing => None,
        }
    }

    /// Orders two present values of comparable types (numbers with numbers, or with texts that
    /// parse as numbers; texts with texts; booleans with booleans). `None` when either is missing
    /// or the types do not compare.
    pub fn compare(&self, other: &Value<'_>) -> Option<Ordering> {
        match (self, other) {
            (Value::Missing, _) | (_, Value::Missing) => None,
            (Value::Text(a), Value::Text(b)) => Some(a.as_ref().cmp(b.as_ref())),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (a, b) => a.as_number()?.partial_cmp(&b.as_number()?),
        }
    }

    /// Whether two values are the same: both missing, or equal under [`Value::compare`], with
    /// numbers equal up to a relative 1e-9 (a rounded float is equal to the decimal written).
    pub fn same_as(&self, other: &Value<'_>) -> bool {
        match (self, other) {
            (Value::Missing, Value::Missing) => true,
            (Value::Number(a), b) | (b, Value::Number(a)) if !matches!(b, Value::Missing) => {
                b.as_number().is_some_and(|b| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0))
            }
            (a, b) => a.compare(b) == Some(Ordering::Equal),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Missing => Value::Missing,
            Value::Number(x) => Value::Number(x),
            Value::Bool(b) => Value::Bool(b),
            Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
        }
    }
}

impl std::fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Missing => f.write_str("(missing)"),
            Value::Number(x) => write!(f, "{x}"),
            Value::Text(t) => f.write_str(t),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

fn parse_bool(text: &str, true_token: &str, false_token: &str) -> Option<Value<'static>> {
    let lower = text.to_ascii_lowercase();
    if text == true_token || lower == "true" {
        Some(Value::Bool(true))
    } else if text == false_token || lower == "false" {
        Some(Value::Bool(false))
    } else {
        None
    }
}

fn parse_any_date(text: &str, pattern: Option<&str>) -> Option<Value<'static>> {
    pattern
        .into_iter()
        .chain(DATE_PATTERNS.iter().copied())
        .find_map(|p| parse_date(text, p))
        .map(|days| Value::Number(f64::from(days)))
}

fn parse_any_datetime(text: &str, pattern: Option<&str>) -> Option<Value<'static>> {
    pattern
        .into_iter()
        .chain(DATETIME_PATTERNS.iter().copied())
        .find_map(|p| parse_datetime(text, p))
        .map(|parsed| Value::Number(parsed.micros as f64))
        .or_else(|| {
            // A plain date stands for its midnight.
            DATE_PATTERNS
                .iter()
                .find_map(|p| parse_date(text, p))
                .map(|d| Value::Number(d as f64 * MICROS_PER_DAY as f64))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_and_parsed_values_compare() {
        let ages = ColumnData::Int(vec![Some(70), None]);
        let literal = Value::parse_like("65", &Column::new("age", ages.clone())).expect("a number");
        assert_eq!(Value::of(&ages, 0).compare(&literal), Some(Ordering::Greater));
        assert_eq!(Value::of(&ages, 1).compare(&literal), None);
        assert!(Value::parse_like("abc", &Column::new("age", ages)).is_err());
    }

    #[test]
    fn dates_parse_in_the_columns_pattern_or_iso() {
        let column = Column::new("day", ColumnData::Date(vec![Some(0)]))
            .with_format(TextFormat::Temporal { pattern: "%d/%m/%Y".into(), offset_seconds: None });
        assert_eq!(Value::parse_like("02/01/1970", &column), Ok(Value::Number(1.0)));
        assert_eq!(Value::parse_like("1970-01-03", &column), Ok(Value::Number(2.0)));
    }

    #[test]
    fn text_cells_are_read_by_kind() {
        let data = ColumnData::Text(vec![Some("12.5".into()), Some("".into()), Some("n/a".into())]);
        let kind = ColumnKind::Numerical { integer: false, format: Default::default() };
        assert_eq!(Value::read(&data, 0, &kind), Value::Number(12.5));
        assert_eq!(Value::read(&data, 1, &kind), Value::Missing);
        assert_eq!(Value::read(&data, 2, &kind), Value::Text(Cow::Borrowed("n/a")));
    }

    #[test]
    fn numbers_equal_their_decimal_text() {
        assert!(Value::Number(0.1 + 0.2).same_as(&Value::Text(Cow::Borrowed("0.3"))));
        assert!(!Value::Number(1.0).same_as(&Value::Missing));
        assert!(Value::Missing.same_as(&Value::Missing));
    }
}
