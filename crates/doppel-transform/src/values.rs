//! Reading a column's values as numbers, dates or category labels, with errors that name the
//! column and the row.

use std::borrow::Cow;
use std::collections::HashMap;

use doppel_core::temporal;
use doppel_core::{ColumnData, ColumnKind, Error, Result, Storage};

fn row_error(column: &str, row: usize, value: &str, expected: &str) -> Error {
    let shown: String = value.chars().take(40).collect();
    let ellipsis = if value.chars().count() > 40 { "..." } else { "" };
    Error::InvalidData(format!("column `{column}`, row {}: `{shown}{ellipsis}` is not {expected}", row + 1))
}

/// The column's values as finite numbers on the scale the numeric model works on: the number
/// itself, days since 1970-01-01 for dates, microseconds since the epoch for datetimes.
pub fn numeric_values(column: &str, data: &ColumnData, kind: &ColumnKind) -> Result<Vec<Option<f64>>> {
    let hint = "\n\nhint: add the token to the null values, or mark the column `categorical` in the metadata";
    match kind {
        ColumnKind::Numerical { .. } => match data {
            ColumnData::Float(values) => values
                .iter()
                .enumerate()
                .map(|(row, v)| match v {
                    Some(x) if !x.is_finite() => Err(row_error(column, row, &x.to_string(), "a finite number")),
                    other => Ok(*other),
                })
                .collect(),
            ColumnData::Int(values) => Ok(values.iter().map(|v| v.map(|x| x as f64)).collect()),
            ColumnData::Bool(values) => Ok(values.iter().map(|v| v.map(|b| if b { 1.0 } else { 0.0 })).collect()),
            _ => (0..data.len())
                .map(|row| match data.text_at(row) {
                    None => Ok(None),
                    Some(text) => match text.trim().parse::<f64>() {
                        Ok(x) if x.is_finite() => Ok(Some(x)),
                        Ok(_) => Err(Error::InvalidData(format!(
                            "{}{hint}",
                            row_error(column, row, &text, "a finite number; infinities cannot be modelled")
                        ))),
                        Err(_) => Err(Error::InvalidData(format!(
                            "{}{hint}",
                            row_error(column, row, &text, "a number, but the column is numerical")
                        ))),
                    },
                })
                .collect(),
        },
        ColumnKind::Date { pattern, .. } => match data {
            ColumnData::Date(values) => Ok(values.iter().map(|v| v.map(f64::from)).collect()),
            ColumnData::DateTime(values) => {
                Ok(values.iter().map(|v| v.map(|m| m.div_euclid(temporal::MICROS_PER_DAY) as f64)).collect())
            }
            ColumnData::Int(values) => values
                .iter()
                .enumerate()
                .map(|(row, v)| match v {
                    None => Ok(None),
                    Some(x) => temporal::parse_yyyymmdd(*x)
                        .map(|d| Some(f64::from(d)))
                        .ok_or_else(|| row_error(column, row, &x.to_string(), "a valid `YYYYMMDD` date")),
                })
                .collect(),
            _ => parse_memoized(
                column,
                data,
                |text| temporal::parse_date(text.trim(), pattern).map(f64::from),
                &format!("a valid date in the format `{pattern}`"),
            ),
        },
        ColumnKind::Datetime { pattern, .. } => match data {
            ColumnData::DateTime(values) => Ok(values.iter().map(|v| v.map(|x| x as f64)).collect()),
            ColumnData::Date(values) => {
                Ok(values.iter().map(|v| v.map(|d| i64::from(d) as f64 * temporal::MICROS_PER_DAY as f64)).collect())
            }
            _ => parse_memoized(
                column,
                data,
                |text| temporal::parse_datetime(text.trim(), pattern).map(|d| d.micros as f64),
                &format!("a valid datetime in the format `{pattern}`"),
            ),
        },
        other => {
            Err(Error::InvalidConfig(format!("column `{column}`: a {} column has no numeric values", other.name())))
        }
    }
}

/// Parses text values with `parse`, once per distinct text (dates repeat a lot, and parsing
/// them is slow).
fn parse_memoized(
    column: &str,
    data: &ColumnData,
    parse: impl Fn(&str) -> Option<f64>,
    expected: &str,
) -> Result<Vec<Option<f64>>> {
    let mut memo: HashMap<Cow<'_, str>, f64> = HashMap::new();
    let mut values = Vec::with_capacity(data.len());
    for row in 0..data.len() {
        let Some(text) = data.text_at(row) else {
            values.push(None);
            continue;
        };
        if let Some(value) = memo.get(&text) {
            values.push(Some(*value));
            continue;
        }
        let value = parse(&text).ok_or_else(|| row_error(column, row, &text, expected))?;
        memo.insert(text, value);
        values.push(Some(value));
    }
    Ok(values)
}

/// The column's values as category labels. Booleans become `true`/`false` whatever the source's
/// tokens were.
pub fn label_values<'a>(column: &str, data: &'a ColumnData, kind: &ColumnKind) -> Result<Vec<Option<Cow<'a, str>>>> {
    if let ColumnKind::Boolean { true_token, false_token, .. } = kind {
        return (0..data.len())
            .map(|row| match data {
                ColumnData::Bool(values) => Ok(values[row].map(|b| Cow::Borrowed(if b { "true" } else { "false" }))),
                _ => match data.text_at(row) {
                    None => Ok(None),
                    Some(text) if *text == **true_token => Ok(Some(Cow::Borrowed("true"))),
                    Some(text) if *text == **false_token => Ok(Some(Cow::Borrowed("false"))),
                    Some(text) => Err(row_error(column, row, &text, &format!("`{true_token}` or `{false_token}`"))),
                },
            })
            .collect();
    }
    Ok((0..data.len()).map(|row| data.text_at(row)).collect())
}

/// Checks that a category label can be written back with `storage`.
pub(crate) fn check_label(column: &str, label: &str, storage: Storage) -> Result<()> {
    let ok = match storage {
        Storage::Integer => label.parse::<i64>().is_ok(),
        Storage::Float => label.parse::<f64>().is_ok(),
        Storage::Boolean => label == "true" || label == "false",
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "column `{column}`: the category `{label}` cannot be stored as {}; fix the column's `storage` in the metadata",
            match storage {
                Storage::Integer => "an integer",
                Storage::Float => "a number",
                _ => "a boolean",
            }
        )))
    }
}
