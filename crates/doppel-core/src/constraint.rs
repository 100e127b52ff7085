//! Business rules that every sampled row must meet.
//!
//! Users declare [`Constraint`]s in the metadata file (`"constraints": [...]`).
//! [`check_definitions`] checks them against the metadata (known columns of the right types,
//! parsable literals and expressions, no contradictions); [`ConstraintSet::fit`] also checks that
//! the training data meets them and learns what some of them need (the combinations seen in
//! training), giving the [`ConstraintSet`] stored in model files. When sampling, rows that break
//! a rule are rejected ([`ConstraintSet::check_rows`]) and formula columns are computed from the
//! others ([`ConstraintSet::apply_formulas`]). [`suggest`] proposes rules that hold in a table.
//!
//! Columns are read by their semantic type whatever their storage: text cells of a date column
//! are parsed with its pattern, a date stored as a `YYYYMMDD` integer is a date, and so on. Dates
//! are compared as days and datetimes as microseconds since 1970-01-01.
//!
//! ```
//! use doppel_core::{Column, ColumnData, Constraint, ConstraintSet, Metadata, Table, UniqueSeen};
//!
//! let dates = |values: &[&str]| ColumnData::Text(values.iter().map(|v| Some(v.to_string())).collect());
//! let training = Table::try_new(vec![
//!     Column::new("admit_date", dates(&["2020-01-01", "2020-02-01"])),
//!     Column::new("discharge_date", dates(&["2020-01-03", "2020-02-01"])),
//! ])?;
//! let (mut metadata, _profiles) = Metadata::detect(&training);
//! metadata.constraints.push(Constraint::Inequality {
//!     low: "admit_date".into(),
//!     high: "discharge_date".into(),
//!     strict: false,
//! });
//! let constraints = ConstraintSet::fit(&metadata.constraints, &training, &metadata, 1)?;
//! assert_eq!(constraints.describe_all(), ["`discharge_date >= admit_date`"]);
//!
//! // Sampled tables are typed: dates are days since 1970-01-01.
//! let sampled = Table::try_new(vec![
//!     Column::new("admit_date", ColumnData::Date(vec![Some(18_300), Some(18_300), None])),
//!     Column::new("discharge_date", ColumnData::Date(vec![Some(18_302), Some(18_299), Some(1)])),
//! ])?;
//! assert_eq!(constraints.check_rows(&sampled, &mut UniqueSeen::default()), [true, false, true]);
//! # Ok::<(), doppel_core::Error>(())
//! ```

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::metadata::{ColumnKind, ColumnMeta, Metadata, NumberFormat, Storage};
use crate::table::{Column, ColumnData, Table};
use crate::temporal::{self, MICROS_PER_DAY};
use crate::value::Value;
use crate::{Error, Result};

// === Literals ===

/// A value written in a constraint: a number, a text or a boolean, as in the JSON.
///
/// Dates and datetimes are texts (`"2020-01-31"`), read with the column's pattern or as ISO 8601.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A whole number (`5`).
    Integer(i64),
    /// Any other number (`2.5`).
    Float(f64),
    /// A text (`"NY"`, `"2020-01-31"`).
    Text(String),
    /// `true` or `false`.
    Bool(bool),
}

impl Literal {
    /// The literal as text, as a cell of a text file would hold it.
    pub fn to_text(&self) -> String {
        match self {
            Literal::Integer(x) => x.to_string(),
            Literal::Float(x) => x.to_string(),
            Literal::Text(text) => text.clone(),
            Literal::Bool(b) => b.to_string(),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl From<i64> for Literal {
    fn from(value: i64) -> Self {
        Literal::Integer(value)
    }
}

impl From<f64> for Literal {
    fn from(value: f64) -> Self {
        Literal::Float(value)
    }
}

impl From<&str> for Literal {
    fn from(value: &str) -> Self {
        Literal::Text(value.to_string())
    }
}

impl From<bool> for Literal {
    fn from(value: bool) -> Self {
        Literal::Bool(value)
    }
}

impl Serialize for Literal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Literal::Integer(x) => serializer.serialize_i64(*x),
            Literal::Float(x) => serializer.serialize_f64(*x),
            Literal::Text(text) => serializer.serialize_str(text),
            Literal::Bool(b) => serializer.serialize_bool(*b),
        }
    }
}

struct LiteralVisitor;

impl Visitor<'_> for LiteralVisitor {
    type Value = Literal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, a string or a boolean")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Literal, E> {
        Ok(Literal::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Literal, E> {
        Ok(Literal::Integer(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Literal, E> {
        Ok(i64::try_from(value).map_or(Literal::Float(value as f64), Literal::Integer))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Literal, E> {
        Ok(Literal::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Literal, E> {
        Ok(Literal::Text(value.to_string()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Literal, E> {
        Ok(Literal::Text(value))
    }
}

impl<'de> Deserialize<'de> for Literal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LiteralVisitor)
    }
}

// === Declared constraints ===

/// A business rule, as declared in the metadata file. Serialised with a `type` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Constraint {
    /// `min <= column <= max` (either end optional) for a numerical, date or datetime column.
    Range {
        /// The column.
        column: String,
        /// The smallest value allowed: a number, or a date or datetime written as text in the
        /// column's pattern or ISO 8601.
        #[serde(default)]
        min: Option<Literal>,
        /// The largest value allowed.
        #[serde(default)]
        max: Option<Literal>,
    },
    /// `low <= high` (or `low < high` when strict); rows where either is missing pass.
    Inequality {
        /// The column holding the smaller value.
        low: String,
        /// The column holding the larger value.
        high: String,
        /// Whether the values may not be equal.
        #[serde(default)]
        strict: bool,
    },
    /// Only the combinations of these columns' values seen in training (often enough, see
    /// [`ConstraintSet::fit`]) occur; rows with any of them missing pass.
    FixedCombinations {
        /// The columns, at least two.
        columns: Vec<String>,
    },
    /// `column = expression`, within a tolerance; the column is computed when sampling.
    Formula {
        /// The computed column.
        column: String,
        /// The expression, of other numerical columns: numbers, column names (or `` `any name` ``),
        /// `+ - * /`, parentheses and the functions `abs`, `min`, `max` and `round`.
        expression: String,
        /// The largest absolute difference allowed; by default half a unit of the column's last
        /// decimal place (0.5 for integers), or a relative 1e-9 when it has no fixed decimals.
        #[serde(default)]
        tolerance: Option<f64>,
    },
    /// No two rows share a value (missing values are not compared).
    Unique {
        /// The column.
        column: String,
    },
    /// Every present value matches the regular expression, as a whole.
    Regex {
        /// The column.
        column: String,
        /// The regular expression (Rust `regex` syntax); it is anchored at both ends.
        pattern: String,
    },
    /// Every present value is one of these.
    AllowedValues {
        /// The column.
        column: String,
        /// The values allowed.
        values: Vec<Literal>,
    },
}

impl Constraint {
    /// The rule in words, naming its columns: `` `discharge_date >= admit_date` ``.
    pub fn describe(&self) -> String {
        match self {
            Constraint::Range { column, min, max } => match (min, max) {
                (Some(min), Some(max)) => format!("`{min} <= {column} <= {max}`"),
                (Some(min), None) => format!("`{column} >= {min}`"),
                (None, Some(max)) => format!("`{column} <= {max}`"),
                (None, None) => format!("`{column}` in a range without bounds"),
            },
            Constraint::Inequality { low, high, strict } => {
                format!("`{high} {} {low}`", if *strict { ">" } else { ">=" })
            }
            Constraint::FixedCombinations { columns } => {
                format!("`{}` only in combinations seen in training", columns.join(", "))
            }
            Constraint::Formula { column, expression, tolerance } => {
                let rule = format!("`{column} = {}`", expression.trim());
                match tolerance {
                    Some(tolerance) => format!("{rule} (within {tolerance})"),
                    None => rule,
                }
            }
            Constraint::Unique { column } => format!("`{column}` unique"),
            Constraint::Regex { column, pattern } => format!("`{column}` matches `{pattern}`"),
            Constraint::AllowedValues { column, values } => {
                format!("`{column}` one of {}", list_values(values.iter().map(Literal::to_text)))
            }
        }
    }

    /// The columns the rule involves, each once, in the order they appear.
    pub fn columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = match self {
            Constraint::Range { column, .. }
            | Constraint::Unique { column }
            | Constraint::Regex { column, .. }
            | Constraint::AllowedValues { column, .. } => vec![column],
            Constraint::Inequality { low, high, .. } => vec![low, high],
            Constraint::FixedCombinations { columns } => columns.iter().map(String::as_str).collect(),
            Constraint::Formula { column, expression, .. } => {
                let mut columns = vec![column.as_str()];
                columns.extend(referenced_names(expression));
                columns
            }
        };
        let mut seen = HashSet::new();
        columns.retain(|c| seen.insert(*c));
        columns
    }
}

/// `` `a`, `b`, `c` ``, at most 10 of them.
fn list_values(values: impl ExactSizeIterator<Item = String>) -> String {
    let n = values.len();
    if n == 0 {
        return "nothing".into();
    }
    let shown: Vec<String> = values.take(10).map(|v| format!("`{v}`")).collect();
    if n > 10 { format!("{}, ... ({n} values)", shown.join(", ")) } else { shown.join(", ") }
}

// === Checking definitions ===

/// Whether a kind has an order (numbers, dates, datetimes).
fn is_ordered(kind: &ColumnKind) -> bool {
    matches!(kind, ColumnKind::Numerical { .. } | ColumnKind::Date { .. } | ColumnKind::Datetime { .. })
}

/// Whether doppel generates a kind's values without copying real ones (so no value list can
/// restrict them).
fn is_generated(kind: &ColumnKind) -> bool {
    matches!(kind, ColumnKind::Text | ColumnKind::Identifier { .. } | ColumnKind::Pii { .. })
}

/// What a literal for a column of `kind` must look like, for messages.
fn expected_literal(kind: &ColumnKind) -> String {
    match kind {
        ColumnKind::Numerical { .. } => "a number".into(),
        ColumnKind::Date { pattern, .. } if pattern == temporal::ISO_DATE => "a date written as `%Y-%m-%d`".into(),
        ColumnKind::Date { pattern, .. } => format!("a date written as `{pattern}` or `%Y-%m-%d`"),
        ColumnKind::Datetime { pattern, .. } => {
            format!("a date and time written as `{pattern}` or ISO 8601 (`2024-01-31T08:30:00`)")
        }
        ColumnKind::Boolean { true_token, false_token, .. } => format!("`{true_token}` or `{false_token}`"),
        ColumnKind::Categorical { storage: Storage::Integer | Storage::Float } => "a number".into(),
        _ => "a text".into(),
    }
}

/// Parses a literal as a value of a column of `kind` (dates as days, datetimes as microseconds).
fn parse_literal(literal: &Literal, kind: &ColumnKind) -> Option<Value<'static>> {
    match read_text(&literal.to_text(), kind) {
        Value::Missing => None,
        Value::Text(_) if is_ordered(kind) || matches!(kind, ColumnKind::Boolean { .. }) => None,
        Value::Text(_) if matches!(kind, ColumnKind::Categorical { storage: Storage::Integer | Storage::Float }) => {
            None
        }
        value => Some(value.into_owned()),
    }
}

/// How to bring a column's numbers into the unit of another's: dates compared with datetimes
/// become microseconds.
fn unit_scale(kind: &ColumnKind, other: &ColumnKind) -> f64 {
    match (kind, other) {
        (ColumnKind::Date { .. }, ColumnKind::Datetime { .. }) => MICROS_PER_DAY as f64,
        _ => 1.0,
    }
}

fn is_temporal(kind: &ColumnKind) -> bool {
    matches!(kind, ColumnKind::Date { .. } | ColumnKind::Datetime { .. })
}

/// A range constraint with its bounds parsed.
struct ParsedRange<'a> {
    index: usize,
    column: &'a str,
    min: Option<f64>,
    max: Option<f64>,
}

/// An inequality as an edge `low -> high` of the graph of inequalities.
struct Edge<'a> {
    index: usize,
    low: &'a str,
    high: &'a str,
    strict: bool,
}

/// Checks constraint definitions against the metadata: every column exists and has a type the
/// rule applies to, literals parse for their column, expressions and patterns are valid, and no
/// two rules contradict each other (ranges that do not overlap, allowed values outside a range,
/// inequalities that form an impossible cycle such as `a <= b < a`, ...). Errors are
/// [`Error::InvalidConfig`] naming the rule and the column.
pub fn check_definitions(constraints: &[Constraint], metadata: &Metadata) -> Result<()> {
    let mut ranges: Vec<ParsedRange<'_>> = Vec::new();
    let mut allowed: Vec<(usize, &str, Vec<Value<'static>>)> = Vec::new();
    let mut edges: Vec<Edge<'_>> = Vec::new();
    let mut formulas: Vec<(usize, &str, Vec<String>)> = Vec::new();
    for (index, constraint) in constraints.iter().enumerate() {
        let rule = constraint.describe();
        let fail = |message: String| Error::InvalidConfig(format!("constraint {rule}: {message}"));
        for column in constraint.columns() {
            if metadata.column(column).is_none() {
                return Err(fail(format!("column `{column}` is not in the metadata{}", column_hint(metadata))));
            }
        }
        let kind_of = |column: &str| &metadata.column(column).expect("invariant: columns were checked").kind;
        match constraint {
            Constraint::Range { column, min, max } => {
                let kind = kind_of(column);
                if !is_ordered(kind) {
                    return Err(fail(format!(
                        "column `{column}` is {}; a range applies to numerical, date and datetime columns{}",
                        kind.name(),
                        if matches!(kind, ColumnKind::Categorical { .. } | ColumnKind::Boolean { .. }) {
                            " (use `allowed_values` to restrict categories)"
                        } else {
                            ""
                        }
                    )));
                }
                if min.is_none() && max.is_none() {
                    return Err(fail("give `min`, `max` or both".into()));
                }
                let bound = |literal: &Option<Literal>, name: &str| -> Result<Option<f64>> {
                    let Some(literal) = literal else { return Ok(None) };
                    match parse_literal(literal, kind) {
                        Some(Value::Number(x)) => Ok(Some(x)),
                        _ => Err(fail(format!(
                            "`{name}` is `{literal}`, expected {} like the values of `{column}`",
                            expected_literal(kind)
                        ))),
                    }
                };
                let (min_value, max_value) = (bound(min, "min")?, bound(max, "max")?);
                if let (Some(low), Some(high)) = (min_value, max_value)
                    && low > high
                {
                    return Err(fail(format!(
                        "`min` ({}) is larger than `max` ({}), so no value of `{column}` is allowed",
                        min.as_ref().map(Literal::to_text).unwrap_or_default(),
                        max.as_ref().map(Literal::to_text).unwrap_or_default()
                    )));
                }
                ranges.push(ParsedRange { index, column, min: min_value, max: max_value });
            }
            Constraint::Inequality { low, high, strict } => {
                if low == high {
                    return Err(fail(format!("it compares `{low}` with itself")));
                }
                let (low_kind, high_kind) = (kind_of(low), kind_of(high));
                for (column, kind) in [(low, low_kind), (high, high_kind)] {
                    if !is_ordered(kind) {
                        return Err(fail(format!(
                            "column `{column}` is {}; an inequality compares numerical, date or datetime columns",
                            kind.name()
                        )));
                    }
                }
                if is_temporal(low_kind) != is_temporal(high_kind) {
                    return Err(fail(format!(
                        "`{low}` is {} and `{high}` is {}; an inequality compares two numerical columns or two \
                         date or datetime columns",
                        low_kind.name(),
                        high_kind.name()
                    )));
                }
                edges.push(Edge { index, low, high, strict: *strict });
            }
            Constraint::FixedCombinations { columns } => {
                if columns.len() < 2 {
                    return Err(fail("list at least two columns".into()));
                }
                let mut seen = HashSet::new();
                for column in columns {
                    if !seen.insert(column.as_str()) {
                        return Err(fail(format!("column `{column}` is listed twice")));
                    }
                    let kind = kind_of(column);
                    if is_generated(kind) {
                        return Err(fail(format!(
                            "column `{column}` is {}, whose values doppel generates afresh, so they never repeat a \
                             combination seen in training",
                            kind.name()
                        )));
                    }
                }
            }
            Constraint::Formula { column, expression, tolerance } => {
                let kind = kind_of(column);
                if !matches!(kind, ColumnKind::Numerical { .. }) {
                    return Err(fail(format!(
                        "column `{column}` is {}; a formula computes a numerical column",
                        kind.name()
                    )));
                }
                if let Some(tolerance) = tolerance
                    && !(tolerance.is_finite() && *tolerance >= 0.0)
                {
                    return Err(fail(format!("`tolerance` is {tolerance}, expected a number of 0 or more")));
                }
                let expr = Expr::parse(expression).map_err(|e| fail(format!("cannot read the expression: {e}")))?;
                let inputs: Vec<String> = expr.columns().into_iter().map(str::to_string).collect();
                for input in &inputs {
                    if input == column {
                        return Err(fail(format!("the expression uses `{column}` itself")));
                    }
                    let input_kind = kind_of(input);
                    if !matches!(input_kind, ColumnKind::Numerical { .. }) {
                        return Err(fail(format!(
                            "the expression uses `{input}`, which is {}; formulas use numerical columns",
                            input_kind.name()
                        )));
                    }
                }
                if let Some((other, _, _)) = formulas.iter().find(|(_, target, _)| target == column) {
                    return Err(fail(format!(
                        "constraint {} already computes `{column}`; give one formula per column",
                        constraints[*other].describe()
                    )));
                }
                formulas.push((index, column, inputs));
            }
            Constraint::Unique { column } => {
                let kind = kind_of(column);
                if matches!(kind, ColumnKind::Boolean { .. }) {
                    return Err(fail(format!("column `{column}` is boolean: it has only two values")));
                }
            }
            Constraint::Regex { column, pattern } => {
                let kind = kind_of(column);
                if is_ordered(kind) || matches!(kind, ColumnKind::Boolean { .. }) {
                    return Err(fail(format!(
                        "column `{column}` is {}; a pattern applies to categorical, text, identifier and personal \
                         data columns (use `range` or `allowed_values` for others)",
                        kind.name()
                    )));
                }
                Pattern::new(pattern)
                    .map_err(|e| fail(format!("the pattern is not a valid regular expression: {e}")))?;
            }
            Constraint::AllowedValues { column, values } => {
                let kind = kind_of(column);
                if is_generated(kind) {
                    return Err(fail(format!(
                        "column `{column}` is {}, whose values doppel generates afresh; allowed values apply to \
                         categorical, boolean, numerical, date and datetime columns (use `regex` to shape text)",
                        kind.name()
                    )));
                }
                if values.is_empty() {
                    return Err(fail("the list of values is empty, so no value would be allowed".into()));
                }
                let mut parsed = Vec::with_capacity(values.len());
                for value in values {
                    parsed.push(parse_literal(value, kind).ok_or_else(|| {
                        fail(format!("value `{value}` is not {} like the values of `{column}`", expected_literal(kind)))
                    })?);
                }
                allowed.push((index, column, parsed));
            }
        }
    }
    let contradiction = |first: usize, second: usize, why: String| {
        Error::InvalidConfig(format!(
            "constraints {} and {} contradict each other: {why}",
            constraints[first].describe(),
            constraints[second].describe()
        ))
    };
    // Ranges on one column must overlap.
    for (i, a) in ranges.iter().enumerate() {
        for b in ranges[i + 1..].iter().filter(|b| b.column == a.column) {
            let low = max_option(a.min, b.min);
            let high = min_option(a.max, b.max);
            if let (Some(low), Some(high)) = (low, high)
                && low > high
            {
                return Err(contradiction(a.index, b.index, format!("no value of `{}` meets both", a.column)));
            }
        }
    }
    // Allowed values must meet every range on their column, and other allowed values.
    for (i, (index, column, values)) in allowed.iter().enumerate() {
        let kind = &metadata.column(column).expect("invariant: columns were checked").kind;
        for range in ranges.iter().filter(|r| r.column == *column) {
            let inside = values.iter().any(|value| {
                value.as_number().is_some_and(|x| range.min.is_none_or(|m| x >= m) && range.max.is_none_or(|m| x <= m))
            });
            if !inside {
                return Err(contradiction(
                    range.index,
                    *index,
                    format!("none of the allowed values of `{column}` is in the range"),
                ));
            }
        }
        let keys: HashSet<String> = values.iter().filter_map(|v| value_key(v, kind)).collect();
        for (other, _, other_values) in allowed[i + 1..].iter().filter(|(_, c, _)| c == column) {
            if !other_values.iter().filter_map(|v| value_key(v, kind)).any(|key| keys.contains(&key)) {
                return Err(contradiction(*index, *other, format!("no value of `{column}` is in both lists")));
            }
        }
    }
    // Inequalities must not contradict the ranges of their columns.
    for edge in &edges {
        let low_kind = &metadata.column(edge.low).expect("invariant: columns were checked").kind;
        let high_kind = &metadata.column(edge.high).expect("invariant: columns were checked").kind;
        let (low_scale, high_scale) = (unit_scale(low_kind, high_kind), unit_scale(high_kind, low_kind));
        let low_min = ranges.iter().filter(|r| r.column == edge.low).filter_map(|r| r.min.map(|m| (r.index, m)));
        let high_max = ranges.iter().filter(|r| r.column == edge.high).filter_map(|r| r.max.map(|m| (r.index, m)));
        let high_max: Vec<(usize, f64)> = high_max.collect();
        for (low_index, min) in low_min {
            for &(high_index, max) in &high_max {
                let (min, max) = (min * low_scale, max * high_scale);
                if min > max || (edge.strict && min >= max) {
                    return Err(Error::InvalidConfig(format!(
                        "constraints {}, {} and {} contradict each other: `{}` is at least what `{}` is at most",
                        constraints[edge.index].describe(),
                        constraints[low_index].describe(),
                        constraints[high_index].describe(),
                        edge.low,
                        edge.high
                    )));
                }
            }
        }
    }
    check_inequality_cycles(constraints, &edges)?;
    // A formula may use columns that earlier formulas compute, not later ones (they are computed
    // in order).
    for (index, column, inputs) in &formulas {
        for input in inputs {
            if let Some((later, _, _)) = formulas.iter().find(|(i, target, _)| target == input && i > index) {
                return Err(Error::InvalidConfig(format!(
                    "constraint {} uses `{input}`, which constraint {} computes later; formulas are computed in the \
                     order they are declared, so declare the formula for `{input}` before the one for `{column}`",
                    constraints[*index].describe(),
                    constraints[*later].describe()
                )));
            }
        }
    }
    Ok(())
}

fn column_hint(metadata: &Metadata) -> String {
    if metadata.columns.is_empty() {
        return String::new();
    }
    let names: Vec<String> = metadata.columns.iter().take(20).map(|c| format!("`{}`", c.name)).collect();
    let more = if metadata.columns.len() > 20 { ", ..." } else { "" };
    format!("; the columns are {}{more}", names.join(", "))
}

fn max_option(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn min_option(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Finds a cycle of inequalities with at least one strict edge (`a <= b < a`), which no row can
/// meet.
fn check_inequality_cycles(constraints: &[Constraint], edges: &[Edge<'_>]) -> Result<()> {
    for strict in edges.iter().filter(|e| e.strict) {
        // A path back from `strict.high` to `strict.low`, breadth first (shortest).
        let mut parent: HashMap<&str, usize> = HashMap::new();
        let mut queue = VecDeque::from([strict.high]);
        let mut visited: HashSet<&str> = HashSet::from([strict.high]);
        let mut found = false;
        while let Some(node) = queue.pop_front() {
            if node == strict.low {
                found = true;
                break;
            }
            for (i, edge) in edges.iter().enumerate().filter(|(_, e)| e.low == node) {
                if visited.insert(edge.high) {
                    parent.insert(edge.high, i);
                    queue.push_back(edge.high);
                }
            }
        }
        if !found {
            continue;
        }
        let mut path = Vec::new();
        let mut node = strict.low;
        while node != strict.high {
            let edge = &edges[parent[node]];
            path.push(edge);
            node = edge.low;
        }
        path.reverse();
        let cycle: Vec<&Edge<'_>> = std::iter::once(strict).chain(path).collect();
        let mut chain = format!("`{}", strict.low);
        for edge in &cycle {
            chain.push_str(if edge.strict { " < " } else { " <= " });
            chain.push_str(edge.high);
        }
        chain.push('`');
        let mut indices: Vec<usize> = cycle.iter().map(|e| e.index).collect();
        indices.sort_unstable();
        indices.dedup();
        let rules: Vec<String> = indices.iter().map(|&i| constraints[i].describe()).collect();
        return Err(Error::InvalidConfig(format!(
            "constraints {} contradict each other: together they say {chain}, which no row can meet",
            rules.join(", ")
        )));
    }
    Ok(())
}

// === Expressions ===

/// A binary arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Subtract,
    /// `*`
    Multiply,
    /// `/` (division by zero gives a missing value)
    Divide,
}

impl BinaryOp {
    fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Add | BinaryOp::Subtract => 1,
            BinaryOp::Multiply | BinaryOp::Divide => 2,
        }
    }
}

/// A function of a formula expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `abs(x)`
    Abs,
    /// `min(a, b, ...)`
    Min,
    /// `max(a, b, ...)`
    Max,
    /// `round(x)`: to the nearest whole number, halves away from zero.
    Round,
}

impl Function {
    const ALL: [Function; 4] = [Function::Abs, Function::Min, Function::Max, Function::Round];

    fn name(self) -> &'static str {
        match self {
            Function::Abs => "abs",
            Function::Min => "min",
            Function::Max => "max",
            Function::Round => "round",
        }
    }

    fn arity(self) -> (usize, usize) {
        match self {
            Function::Abs | Function::Round => (1, 1),
            Function::Min | Function::Max => (2, usize::MAX),
        }
    }
}

/// A parsed formula expression. Serialised as its text.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number.
    Number(f64),
    /// A column's value.
    Column(String),
    /// `-x`
    Negate(Box<Expr>),
    /// `left op right`
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// `function(args)`
    Call {
        /// The function.
        function: Function,
        /// Its arguments.
        args: Vec<Expr>,
    },
}

impl Expr {
    /// Parses an expression; errors say at which character and what was expected.
    pub fn parse(text: &str) -> Result<Expr> {
        let (tokens, error) = tokenize(text);
        if let Some(error) = error {
            return Err(Error::InvalidConfig(error.render(text)));
        }
        let mut parser = Parser { tokens, position: 0, depth: 0 };
        let expr = parser.expression().map_err(|e| Error::InvalidConfig(e.render(text)))?;
        match parser.peek() {
            (Token::End, _) => Ok(expr),
            (token, at) => Err(Error::InvalidConfig(
                ParseError { at, message: format!("expected an operator or the end, got {}", token.describe()) }
                    .render(text),
            )),
        }
    }

    /// The columns the expression uses, each once, in order.
    pub fn columns(&self) -> Vec<&str> {
        fn walk<'a>(expr: &'a Expr, out: &mut Vec<&'a str>) {
            match expr {
                Expr::Number(_) => {}
                Expr::Column(name) => {
                    if !out.contains(&name.as_str()) {
                        out.push(name);
                    }
                }
                Expr::Negate(operand) => walk(operand, out),
                Expr::Binary { left, right, .. } => {
                    walk(left, out);
                    walk(right, out);
                }
                Expr::Call { args, .. } => args.iter().for_each(|a| walk(a, out)),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Evaluates the expression with `column` giving each column's value; `None` (missing) when
    /// an input is missing, on division by zero, or when the result is not finite.
    pub fn evaluate<F: Fn(&str) -> Option<f64>>(&self, column: &F) -> Option<f64> {
        let x = match self {
            Expr::Number(x) => *x,
            Expr::Column(name) => column(name)?,
            Expr::Negate(operand) => -operand.evaluate(column)?,
            Expr::Binary { op, left, right } => {
                let (a, b) = (left.evaluate(column)?, right.evaluate(column)?);
                match op {
                    BinaryOp::Add => a + b,
                    BinaryOp::Subtract => a - b,
                    BinaryOp::Multiply => a * b,
                    BinaryOp::Divide if b == 0.0 => return None,
                    BinaryOp::Divide => a / b,
                }
            }
            Expr::Call { function, args } => {
                let values = args.iter().map(|a| a.evaluate(column)).collect::<Option<Vec<f64>>>()?;
                match function {
                    Function::Abs => values[0].abs(),
                    Function::Round => values[0].round(),
                    Function::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
                    Function::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                }
            }
        };
        x.is_finite().then_some(x)
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary { op, .. } => op.precedence(),
            Expr::Negate(_) => 3,
            Expr::Number(x) if x.is_sign_negative() => 3,
            _ => 4,
        }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, min_precedence: u8) -> fmt::Result {
        let parenthesised = self.precedence() < min_precedence;
        if parenthesised {
            f.write_str("(")?;
        }
        match self {
            Expr::Number(x) => write!(f, "{x}")?,
            Expr::Column(name) => {
                if is_plain_name(name) {
                    f.write_str(name)?;
                } else {
                    write!(f, "`{name}`")?;
                }
            }
            Expr::Negate(operand) => {
                f.write_str("-")?;
                operand.write(f, 3)?;
            }
            Expr::Binary { op, left, right } => {
                left.write(f, op.precedence())?;
                write!(f, " {} ", op.symbol())?;
                right.write(f, op.precedence() + 1)?;
            }
            Expr::Call { function, args } => {
                write!(f, "{}(", function.name())?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    arg.write(f, 0)?;
                }
                f.write_str(")")?;
            }
        }
        if parenthesised {
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, 0)
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Expr::parse(&text).map_err(|e| de::Error::custom(format!("expression `{text}`: {e}")))
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Whether a column name can be written without backquotes.
fn is_plain_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && name.chars().all(is_name_char)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token<'a> {
    Number(f64),
    Name(&'a str),
    Plus,
    Minus,
    Star,
    Slash,
    Open,
    Close,
    Comma,
    End,
}

impl Token<'_> {
    fn describe(&self) -> String {
        match self {
            Token::Number(x) => format!("the number `{x}`"),
            Token::Name(name) => format!("`{name}`"),
            Token::Plus => "`+`".into(),
            Token::Minus => "`-`".into(),
            Token::Star => "`*`".into(),
            Token::Slash => "`/`".into(),
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
            Token::Comma => "`,`".into(),
            Token::End => "the end of the expression".into(),
        }
    }
}

/// A parse error at a byte offset of the expression.
#[derive(Debug)]
struct ParseError {
    at: usize,
    message: String,
}

impl ParseError {
    fn render(&self, text: &str) -> String {
        let character = text[..self.at.min(text.len())].chars().count() + 1;
        format!("at character {character} of `{text}`: {}", self.message)
    }
}

/// Splits an expression into tokens (each with its byte offset); stops at the first error,
/// returning the tokens before it.
fn tokenize(text: &str) -> (Vec<(Token<'_>, usize)>, Option<ParseError>) {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().expect("invariant: i is a char boundary below the length");
        let single = match c {
            '+' => Some(Token::Plus),
            '-' => Some(Token::Minus),
            '*' => Some(Token::Star),
            '/' => Some(Token::Slash),
            '(' => Some(Token::Open),
            ')' => Some(Token::Close),
            ',' => Some(Token::Comma),
            _ => None,
        };
        if let Some(token) = single {
            tokens.push((token, i));
            i += 1;
        } else if c.is_whitespace() {
            i += c.len_utf8();
        } else if c == '`' {
            let Some(length) = text[i + 1..].find('`') else {
                return (tokens, Some(ParseError { at: i, message: "this backquote is never closed".into() }));
            };
            if length == 0 {
                return (tokens, Some(ParseError { at: i, message: "empty column name ``".into() }));
            }
            tokens.push((Token::Name(&text[i + 1..i + 1 + length]), i));
            i += length + 2;
        } else if is_name_char(c) {
            let run_end = text[i..].find(|c: char| !is_name_char(c)).map_or(text.len(), |n| i + n);
            let starts_number = c.is_ascii_digit() || (c == '.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
            let number_end = if starts_number { number_length(&text[i..]).map(|n| i + n) } else { None };
            match number_end {
                // A number not followed by name characters (`2e-3`, `1.5`); `1st` is a name.
                Some(end) if text[end..].chars().next().is_none_or(|c| !is_name_char(c)) => {
                    match text[i..end].parse::<f64>() {
                        Ok(x) if x.is_finite() => tokens.push((Token::Number(x), i)),
                        _ => {
                            let message = format!("`{}` is not a finite number", &text[i..end]);
                            return (tokens, Some(ParseError { at: i, message }));
                        }
                    }
                    i = end;
                }
                _ => {
                    tokens.push((Token::Name(&text[i..run_end]), i));
                    i = run_end;
                }
            }
        } else {
            let message =
                format!("unexpected character `{c}` (write column names with other characters in backquotes)");
            return (tokens, Some(ParseError { at: i, message }));
        }
    }
    tokens.push((Token::End, text.len()));
    (tokens, None)
}

/// The length of the number at the start of `text` (digits, a fraction, an exponent).
fn number_length(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut end = digits(0);
    if bytes.get(end) == Some(&b'.') {
        end += 1 + digits(end + 1);
    }
    if end == 0 || (end == 1 && bytes[0] == b'.') {
        return None;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        let exponent = digits(end + 1 + sign);
        if exponent > 0 {
            end += 1 + sign + exponent;
        }
    }
    Some(end)
}

/// The column names an expression uses (without parsing it fully), each as written.
fn referenced_names(expression: &str) -> Vec<&str> {
    let (tokens, _) = tokenize(expression);
    tokens
        .windows(2)
        .filter_map(|pair| match (pair[0].0, pair[1].0) {
            (Token::Name(name), next) if next != Token::Open => Some(name),
            _ => None,
        })
        .chain(match tokens.last() {
            Some((Token::Name(name), _)) => Some(*name),
            _ => None,
        })
        .collect()
}

const MAX_DEPTH: usize = 100;

struct Parser<'a> {
    tokens: Vec<(Token<'a>, usize)>,
    position: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> (Token<'a>, usize) {
        self.tokens[self.position.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> (Token<'a>, usize) {
        let token = self.peek();
        if token.0 != Token::End {
            self.position += 1;
        }
        token
    }

    fn expect(&mut self, expected: Token<'_>, what: &str) -> Result<(), ParseError> {
        match self.next() {
            (token, _) if token == expected => Ok(()),
            (token, at) => Err(ParseError { at, message: format!("expected {what}, got {}", token.describe()) }),
        }
    }

    fn expression(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError { at: self.peek().1, message: "the expression is nested too deeply".into() });
        }
        let mut left = self.term()?;
        loop {
            let op = match self.peek().0 {
                Token::Plus => BinaryOp::Add,
                Token::Minus => BinaryOp::Subtract,
                _ => break,
            };
            self.next();
            let right = self.term()?;
            left = Expr::Binary { op, left: Box::new(left), right: Box::new(right) };
        }
        self.depth -= 1;
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek().0 {
                Token::Star => BinaryOp::Multiply,
                Token::Slash => BinaryOp::Divide,
                _ => break,
            };
            self.next();
            let right = self.unary()?;
            left = Expr::Binary { op, left: Box::new(left), right: Box::new(right) };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.peek().0 == Token::Minus {
            self.next();
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(ParseError { at: self.peek().1, message: "the expression is nested too deeply".into() });
            }
            let operand = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Negate(Box::new(operand)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.next() {
            (Token::Number(x), _) => Ok(Expr::Number(x)),
            (Token::Name(name), at) if self.peek().0 == Token::Open => {
                let function = Function::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| ParseError {
                    at,
                    message: format!("unknown function `{name}`; the functions are `abs`, `min`, `max` and `round`"),
                })?;
                self.next();
                let mut args = vec![self.expression()?];
                while self.peek().0 == Token::Comma {
                    self.next();
                    args.push(self.expression()?);
                }
                self.expect(Token::Close, "`,` or `)`")?;
                let (least, most) = function.arity();
                if args.len() < least || args.len() > most {
                    let wanted = if least == most { format!("{least}") } else { format!("at least {least}") };
                    return Err(ParseError {
                        at,
                        message: format!("`{name}` takes {wanted} argument(s), got {}", args.len()),
                    });
                }
                Ok(Expr::Call { function, args })
            }
            (Token::Name(name), _) => Ok(Expr::Column(name.to_string())),
            (Token::Open, _) => {
                let inner = self.expression()?;
                self.expect(Token::Close, "`)`")?;
                Ok(inner)
            }
            (token, at) => Err(ParseError {
                at,
                message: format!("expected a number, a column name, a function or `(`, got {}", token.describe()),
            }),
        }
    }
}

// === Reading cells by semantic type ===

/// The kind used to read formula inputs (any numerical column).
const NUMBER_KIND: ColumnKind = ColumnKind::Numerical {
    integer: false,
    format: NumberFormat { max_decimals: None, min_decimals: 0, fixed: false, step: 1 },
};

/// Reads a text cell of a column of `kind`: blank is missing; numbers, dates, datetimes and
/// booleans are parsed (unparsable text stays text); other kinds keep the text.
fn read_text<'a>(text: &'a str, kind: &ColumnKind) -> Value<'a> {
    if text.trim().is_empty() {
        return Value::Missing;
    }
    match kind {
        ColumnKind::Categorical { storage: Storage::Integer | Storage::Float } => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map_or(Value::Text(Cow::Borrowed(text)), Value::Number),
        ColumnKind::Categorical { .. } | ColumnKind::Text | ColumnKind::Identifier { .. } | ColumnKind::Pii { .. } => {
            Value::Text(Cow::Borrowed(text))
        }
        _ => Value::parse_as(text, kind).unwrap_or(Value::Text(Cow::Borrowed(text))),
    }
}

/// Reads one cell of a column of `kind`, whatever its storage: dates are days and datetimes
/// microseconds since 1970-01-01 (a date stored as a `YYYYMMDD` integer included).
fn read_cell<'a>(data: &'a ColumnData, row: usize, kind: &ColumnKind) -> Value<'a> {
    match (kind, data) {
        (_, ColumnData::Text(values)) => values[row].as_deref().map_or(Value::Missing, |t| read_text(t, kind)),
        (_, ColumnData::Category(categories, codes)) => {
            codes[row].map_or(Value::Missing, |code| read_text(&categories[code as usize], kind))
        }
        (ColumnKind::Date { .. }, ColumnData::Int(values)) => match values[row] {
            None => Value::Missing,
            Some(x) => temporal::parse_yyyymmdd(x)
                .map_or_else(|| Value::Text(Cow::Owned(x.to_string())), |days| Value::Number(f64::from(days))),
        },
        (ColumnKind::Date { .. }, ColumnData::DateTime(values)) => {
            values[row].map_or(Value::Missing, |m| Value::Number(m.div_euclid(MICROS_PER_DAY) as f64))
        }
        (ColumnKind::Datetime { .. }, ColumnData::Date(values)) => {
            values[row].map_or(Value::Missing, |d| Value::Number(i64::from(d) as f64 * MICROS_PER_DAY as f64))
        }
        (ColumnKind::Boolean { .. }, ColumnData::Int(values)) => {
            values[row].map_or(Value::Missing, |x| Value::Bool(x != 0))
        }
        _ => Value::of(data, row),
    }
}

/// A column's cells as numbers (dates in days, datetimes in microseconds); cells that are not
/// numbers are `None`. Texts are parsed once per distinct text.
fn read_numbers(data: &ColumnData, kind: &ColumnKind) -> Vec<Option<f64>> {
    let number = |text: &str| match read_text(text, kind) {
        Value::Number(x) => Some(x),
        _ => None,
    };
    match data {
        ColumnData::Text(values) => {
            let mut memo: HashMap<&str, Option<f64>> = HashMap::new();
            values.iter().map(|v| v.as_deref().and_then(|t| *memo.entry(t).or_insert_with(|| number(t)))).collect()
        }
        ColumnData::Category(categories, codes) => {
            let parsed: Vec<Option<f64>> = categories.iter().map(|c| number(c)).collect();
            codes.iter().map(|code| code.and_then(|c| parsed[c as usize])).collect()
        }
        _ => (0..data.len())
            .map(|row| match read_cell(data, row, kind) {
                Value::Number(x) => Some(x),
                _ => None,
            })
            .collect(),
    }
}

/// The text of a number that is the same for equal values, whatever rounding noise they carry
/// (`0.1 + 0.2` and `0.3` give `0.3`); whole numbers are written exactly.
fn number_key(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if x.fract() == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let rounded: f64 = format!("{x:.14e}").parse().unwrap_or(x);
    format!("{rounded}")
}

/// A number with at most 6 significant digits, for messages.
fn short_number(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return number_key(x);
    }
    let rounded: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    format!("{rounded}")
}

/// The canonical text of a value of a column of `kind`: what fixed combinations, uniqueness and
/// allowed values compare. Dates and datetimes are ISO 8601.
fn value_key(value: &Value<'_>, kind: &ColumnKind) -> Option<String> {
    match value {
        Value::Missing => None,
        Value::Number(x) => Some(match kind {
            ColumnKind::Date { .. } => temporal::format_date(*x as i32, temporal::ISO_DATE),
            ColumnKind::Datetime { .. } => temporal::format_datetime(*x as i64, temporal::ISO_DATETIME, None),
            _ => number_key(*x),
        }),
        Value::Text(text) => Some(text.to_string()),
        Value::Bool(b) => Some(b.to_string()),
    }
}

/// A column's cells as canonical texts (see [`value_key`]).
fn read_keys(data: &ColumnData, kind: &ColumnKind) -> Vec<Option<String>> {
    match data {
        ColumnData::Category(categories, codes) => {
            let keys: Vec<Option<String>> = categories.iter().map(|c| value_key(&read_text(c, kind), kind)).collect();
            codes.iter().map(|code| code.and_then(|c| keys[c as usize].clone())).collect()
        }
        _ => (0..data.len()).map(|row| value_key(&read_cell(data, row, kind), kind)).collect(),
    }
}

/// A cell as the user would recognise it in messages: text as written, dates and datetimes in
/// the column's pattern, other values in their canonical form.
fn display_cell(data: &ColumnData, row: usize, kind: &ColumnKind) -> String {
    // Messages go to logs: the values of personal data, keys and free text never do.
    if let ColumnKind::Pii { .. } | ColumnKind::Identifier { .. } | ColumnKind::Text = kind {
        return if data.is_null(row) {
            "(missing)".into()
        } else {
            "(withheld: a personal, key or free-text value)".into()
        };
    }
    if let ColumnData::Text(_) | ColumnData::Category(..) = data {
        return data.text_at(row).map_or_else(|| "(missing)".into(), Cow::into_owned);
    }
    match (read_cell(data, row, kind), kind) {
        (Value::Number(days), ColumnKind::Date { pattern, .. }) => temporal::format_date(days as i32, pattern),
        (Value::Number(micros), ColumnKind::Datetime { pattern, offset_seconds, .. }) => {
            temporal::format_datetime(micros as i64, pattern, *offset_seconds)
        }
        (value, _) => value_key(&value, kind).unwrap_or_else(|| "(missing)".into()),
    }
}

// === Fitted constraints ===

/// A regular expression, anchored at both ends. Serialised as the pattern the user wrote.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles `text` so that it must match a whole value.
    pub fn new(text: &str) -> Result<Pattern, regex::Error> {
        Ok(Pattern { text: text.to_string(), regex: regex::Regex::new(&format!("^(?:{text})$"))? })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Pattern::new(&text).map_err(|e| de::Error::custom(format!("pattern `{text}`: {e}")))
    }
}

/// A constraint ready to check sampled rows, as stored in model files. Each keeps the metadata
/// of its columns, so that it reads them whatever their storage. Serialised with a `type` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FittedConstraint {
    /// `min <= column <= max`.
    Range {
        /// The rule in words.
        description: String,
        /// The column.
        column: ColumnMeta,
        /// The smallest value allowed (dates in days, datetimes in microseconds since 1970).
        min: Option<f64>,
        /// The largest value allowed.
        max: Option<f64>,
    },
    /// `low <= high` (or `<`).
    Inequality {
        /// The rule in words.
        description: String,
        /// The smaller column.
        low: ColumnMeta,
        /// The larger column.
        high: ColumnMeta,
        /// Whether equal values break the rule.
        strict: bool,
    },
    /// Only the combinations seen in training.
    FixedCombinations {
        /// The rule in words.
        description: String,
        /// The columns.
        columns: Vec<ColumnMeta>,
        /// The combinations allowed, as canonical texts (dates in ISO 8601), sorted.
        allowed: Vec<Vec<String>>,
    },
    /// `column = expression`.
    Formula {
        /// The rule in words.
        description: String,
        /// The computed column.
        column: ColumnMeta,
        /// The expression.
        expression: Expr,
        /// The largest absolute difference allowed (a relative 1e-9 is always allowed too).
        tolerance: f64,
    },
    /// No repeated values.
    Unique {
        /// The rule in words.
        description: String,
        /// The column.
        column: ColumnMeta,
    },
    /// Every present value matches a pattern.
    Regex {
        /// The rule in words.
        description: String,
        /// The column.
        column: ColumnMeta,
        /// The pattern.
        pattern: Pattern,
    },
    /// Every present value is one of a list.
    AllowedValues {
        /// The rule in words.
        description: String,
        /// The column.
        column: ColumnMeta,
        /// The values allowed, as canonical texts (dates in ISO 8601).
        values: Vec<String>,
    },
}

impl FittedConstraint {
    /// The rule in words.
    pub fn description(&self) -> &str {
        match self {
            FittedConstraint::Range { description, .. }
            | FittedConstraint::Inequality { description, .. }
            | FittedConstraint::FixedCombinations { description, .. }
            | FittedConstraint::Formula { description, .. }
            | FittedConstraint::Unique { description, .. }
            | FittedConstraint::Regex { description, .. }
            | FittedConstraint::AllowedValues { description, .. } => description,
        }
    }

    /// The columns the rule involves, each once.
    pub fn columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = match self {
            FittedConstraint::Range { column, .. }
            | FittedConstraint::Unique { column, .. }
            | FittedConstraint::Regex { column, .. }
            | FittedConstraint::AllowedValues { column, .. } => vec![&column.name],
            FittedConstraint::Inequality { low, high, .. } => vec![&low.name, &high.name],
            FittedConstraint::FixedCombinations { columns, .. } => columns.iter().map(|c| c.name.as_str()).collect(),
            FittedConstraint::Formula { column, expression, .. } => {
                std::iter::once(column.name.as_str()).chain(expression.columns()).collect()
            }
        };
        let mut seen = HashSet::new();
        columns.retain(|c| seen.insert(*c));
        columns
    }

    /// Which rows meet the rule, for every rule but uniqueness (which depends on other rows).
    fn check_each_row(&self, table: &Table) -> Result<Vec<bool>> {
        let n_rows = table.n_rows();
        Ok(match self {
            FittedConstraint::Range { column, min, max, .. } => {
                let values = read_numbers(&table.column(&column.name)?.data, &column.kind);
                values
                    .iter()
                    .map(|x| x.is_none_or(|x| min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m)))
                    .collect()
            }
            FittedConstraint::Inequality { low, high, strict, .. } => {
                let (low_scale, high_scale) = (unit_scale(&low.kind, &high.kind), unit_scale(&high.kind, &low.kind));
                let lows = read_numbers(&table.column(&low.name)?.data, &low.kind);
                let highs = read_numbers(&table.column(&high.name)?.data, &high.kind);
                lows.iter()
                    .zip(&highs)
                    .map(|pair| match pair {
                        (Some(l), Some(h)) => {
                            let (l, h) = (l * low_scale, h * high_scale);
                            if *strict { l < h } else { l <= h }
                        }
                        _ => true,
                    })
                    .collect()
            }
            FittedConstraint::FixedCombinations { columns, allowed, .. } => {
                let keys = columns
                    .iter()
                    .map(|c| Ok(read_keys(&table.column(&c.name)?.data, &c.kind)))
                    .collect::<Result<Vec<_>>>()?;
                let allowed: HashSet<&[String]> = allowed.iter().map(Vec::as_slice).collect();
                let mut tuple: Vec<String> = Vec::with_capacity(columns.len());
                (0..n_rows)
                    .map(|row| {
                        tuple.clear();
                        for column in &keys {
                            match &column[row] {
                                Some(key) => tuple.push(key.clone()),
                                None => return true,
                            }
                        }
                        allowed.contains(tuple.as_slice())
                    })
                    .collect()
            }
            FittedConstraint::Formula { column, expression, tolerance, .. } => {
                let actual = read_numbers(&table.column(&column.name)?.data, &column.kind);
                let expected = evaluate_on(expression, table)?;
                actual
                    .iter()
                    .zip(&expected)
                    .map(|pair| match pair {
                        (Some(a), Some(e)) => within(*a, *e, *tolerance),
                        _ => true,
                    })
                    .collect()
            }
            FittedConstraint::Unique { .. } => vec![true; n_rows],
            FittedConstraint::Regex { column, pattern, .. } => {
                let keys = read_keys(&table.column(&column.name)?.data, &column.kind);
                keys.iter().map(|key| key.as_deref().is_none_or(|k| pattern.is_match(k))).collect()
            }
            FittedConstraint::AllowedValues { column, values, .. } => {
                let keys = read_keys(&table.column(&column.name)?.data, &column.kind);
                let values: HashSet<&str> = values.iter().map(String::as_str).collect();
                keys.iter().map(|key| key.as_deref().is_none_or(|k| values.contains(k))).collect()
            }
        })
    }

    /// "row 17 has a = 1, b = 2" for a row that breaks the rule.
    fn explain(&self, table: &Table, row: usize) -> Result<String> {
        let cells = |columns: &[&ColumnMeta]| -> Result<String> {
            let mut parts = Vec::new();
            for column in columns {
                let data = &table.column(&column.name)?.data;
                parts.push(format!("{} = {}", column.name, display_cell(data, row, &column.kind)));
            }
            Ok(format!("row {} has {}", row + 1, parts.join(", ")))
        };
        Ok(match self {
            FittedConstraint::Range { column, .. }
            | FittedConstraint::Regex { column, .. }
            | FittedConstraint::AllowedValues { column, .. }
            | FittedConstraint::Unique { column, .. } => cells(&[column])?,
            FittedConstraint::Inequality { low, high, .. } => cells(&[high, low])?,
            FittedConstraint::FixedCombinations { columns, .. } => cells(&columns.iter().collect::<Vec<_>>())?,
            FittedConstraint::Formula { column, expression, tolerance, .. } => {
                let mut metas = vec![column.clone()];
                for name in expression.columns() {
                    metas.push(ColumnMeta { name: name.to_string(), kind: NUMBER_KIND });
                }
                let text = cells(&metas.iter().collect::<Vec<_>>())?;
                let expected = evaluate_on(expression, &table.slice(row, row + 1))?[0];
                let actual = read_numbers(&table.column(&column.name)?.data.slice(row, row + 1), &column.kind)[0];
                match (expected, actual) {
                    (Some(e), Some(a)) => format!(
                        "{text}, but {expression} = {}, off by {} (the tolerance is {})",
                        short_number(e),
                        short_number((a - e).abs()),
                        short_number(*tolerance)
                    ),
                    _ => text,
                }
            }
        })
    }

    /// Checks that the training table meets the rule; the error names the first row that does
    /// not.
    fn check_training(&self, table: &Table) -> Result<()> {
        let violation = |detail: String| {
            Error::InvalidData(format!(
                "constraint {} is violated by the training data itself: {detail}; fix the data or the constraint",
                self.description()
            ))
        };
        if let FittedConstraint::FixedCombinations { .. } = self {
            // Holds by construction, but for the combinations too rare to keep.
            return Ok(());
        }
        if let FittedConstraint::Unique { column, .. } = self {
            let data = &table.column(&column.name)?.data;
            let mut first_row: HashMap<String, usize> = HashMap::new();
            for (row, key) in read_keys(data, &column.kind).into_iter().enumerate() {
                let Some(key) = key else { continue };
                if let Some(first) = first_row.insert(key, row) {
                    return Err(violation(format!("{}, as row {} does", self.explain(table, row)?, first + 1)));
                }
            }
            return Ok(());
        }
        if let Some(row) = self.check_each_row(table)?.iter().position(|ok| !ok) {
            return Err(violation(self.explain(table, row)?));
        }
        Ok(())
    }
}

/// Whether `actual` is `expected` within `tolerance` (plus a relative 1e-9 for rounding noise).
fn within(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance + 1e-9 * actual.abs().max(expected.abs()).max(1.0)
}

/// Evaluates an expression on every row of a table (its inputs read as numbers).
fn evaluate_on(expression: &Expr, table: &Table) -> Result<Vec<Option<f64>>> {
    let inputs = expression
        .columns()
        .into_iter()
        .map(|name| Ok((name, read_numbers(&table.column(name)?.data, &NUMBER_KIND))))
        .collect::<Result<Vec<_>>>()?;
    Ok((0..table.n_rows())
        .map(|row| expression.evaluate(&|name: &str| inputs.iter().find(|(n, _)| *n == name).and_then(|(_, v)| v[row])))
        .collect())
}

/// The default tolerance of a formula computing a column of `kind`: half a unit of its last
/// decimal place (0.5 for integers), or 0 when it has no fixed decimals (only the relative 1e-9
/// then applies).
fn default_tolerance(kind: &ColumnKind) -> f64 {
    match kind {
        ColumnKind::Numerical { integer: true, .. } => 0.5,
        ColumnKind::Numerical { format, .. } => {
            format.max_decimals.map_or(0.0, |decimals| 0.5 * 10f64.powi(-i32::from(decimals)))
        }
        _ => 0.0,
    }
}

/// The values of columns with a uniqueness rule that earlier sampled tables already used, per
/// column (as canonical texts), so that uniqueness holds across the batches of one sampling run.
#[derive(Debug, Clone, Default)]
pub struct UniqueSeen {
    values: HashMap<String, HashSet<String>>,
}

impl UniqueSeen {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many values of `column` have been used.
    pub fn count(&self, column: &str) -> usize {
        self.values.get(column).map_or(0, HashSet::len)
    }

    /// Whether `value` (a canonical text) of `column` has been used.
    pub fn contains(&self, column: &str, value: &str) -> bool {
        self.values.get(column).is_some_and(|set| set.contains(value))
    }
}

/// The outcome of checking sampled rows: which rows are valid, and how many rows each
/// constraint rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowCheck {
    /// Per row: whether it meets every constraint.
    pub valid: Vec<bool>,
    /// Per constraint, in order: how many rows break it (a row may break several).
    pub rejected: Vec<usize>,
}

/// A value of a [`ColumnRule`], in two forms.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleValue {
    /// The value as [`Value::of`] reads the sampled column: a number (dates as days since
    /// 1970-01-01, or as the `YYYYMMDD` number when the date is stored as an integer; datetimes
    /// as microseconds), a text or a boolean.
    pub value: Value<'static>,
    /// The value written as the column's values are (dates and datetimes in the column's
    /// pattern, numbers in their shortest form, booleans as `true`/`false`), for conditions
    /// parsed from text.
    pub text: String,
}

impl RuleValue {
    /// A value of a column of `kind` (dates in days, datetimes in microseconds) in both forms.
    fn new(value: Value<'static>, kind: &ColumnKind) -> RuleValue {
        let text = match (&value, kind) {
            (Value::Number(days), ColumnKind::Date { pattern, .. }) => temporal::format_date(*days as i32, pattern),
            (Value::Number(micros), ColumnKind::Datetime { pattern, offset_seconds, .. }) => {
                temporal::format_datetime(*micros as i64, pattern, *offset_seconds)
            }
            (value, _) => value_key(value, kind).unwrap_or_default(),
        };
        let value = match (kind, value) {
            (ColumnKind::Date { storage: Storage::Integer, .. }, Value::Number(days)) => {
                temporal::date_to_yyyymmdd(days as i32).map_or(Value::Number(days), |x| Value::Number(x as f64))
            }
            (_, value) => value,
        };
        RuleValue { value, text }
    }
}

/// A single-column rule that restricts a column's values (a range or a list of allowed values),
/// for turning into sampling conditions.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnRule {
    /// `min <= column <= max`, bounds included; missing values pass.
    Range {
        /// The column.
        column: String,
        /// The smallest value allowed.
        min: Option<RuleValue>,
        /// The largest value allowed.
        max: Option<RuleValue>,
        /// The rule in words.
        description: String,
    },
    /// The column holds one of these values; missing values pass.
    AllowedValues {
        /// The column.
        column: String,
        /// The values allowed.
        values: Vec<RuleValue>,
        /// The rule in words.
        description: String,
    },
}

/// The constraints of a model, fitted: what sampling enforces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConstraintSet {
    /// The constraints, in the order they were declared.
    pub constraints: Vec<FittedConstraint>,
}

impl ConstraintSet {
    /// Validates the definitions ([`check_definitions`]), then checks that every training row
    /// meets every constraint: the error names the constraint, the first row that breaks it
    /// (1-based, as in "row 17") and its values.
    ///
    /// Fixed combinations keep only the combinations seen at least `min_count` times (value
    /// protection: rarer combinations are not stored, and so never generated); combinations with
    /// a missing member are not constrained.
    pub fn fit(
        constraints: &[Constraint],
        table: &Table,
        metadata: &Metadata,
        min_count: usize,
    ) -> Result<ConstraintSet> {
        check_definitions(constraints, metadata)?;
        let meta = |name: &str| -> Result<ColumnMeta> {
            table.column(name)?;
            Ok(metadata.column(name).expect("invariant: check_definitions found every column").clone())
        };
        let mut fitted = Vec::with_capacity(constraints.len());
        for constraint in constraints {
            let description = constraint.describe();
            let fitted_constraint = match constraint {
                Constraint::Range { column, min, max } => {
                    let column = meta(column)?;
                    let bound = |literal: &Option<Literal>| {
                        literal.as_ref().and_then(|l| parse_literal(l, &column.kind)).and_then(|v| v.as_number())
                    };
                    let (min, max) = (bound(min), bound(max));
                    FittedConstraint::Range { description, column, min, max }
                }
                Constraint::Inequality { low, high, strict } => {
                    FittedConstraint::Inequality { description, low: meta(low)?, high: meta(high)?, strict: *strict }
                }
                Constraint::FixedCombinations { columns } => {
                    let columns = columns.iter().map(|c| meta(c)).collect::<Result<Vec<_>>>()?;
                    let allowed = frequent_combinations(&columns, table, min_count)?;
                    if allowed.is_empty() && has_complete_tuple(&columns, table)? {
                        return Err(Error::InvalidData(format!(
                            "constraint {description}: no combination occurs at least {min_count} times in the \
                             training data, so none could be generated; drop the constraint or lower the minimum count"
                        )));
                    }
                    FittedConstraint::FixedCombinations { description, columns, allowed }
                }
                Constraint::Formula { column, expression, tolerance } => {
                    let column = meta(column)?;
                    let expression = Expr::parse(expression)?;
                    for input in expression.columns() {
                        table.column(input)?;
                    }
                    let tolerance = tolerance.unwrap_or_else(|| default_tolerance(&column.kind));
                    FittedConstraint::Formula { description, column, expression, tolerance }
                }
                Constraint::Unique { column } => FittedConstraint::Unique { description, column: meta(column)? },
                Constraint::Regex { column, pattern } => {
                    let pattern = Pattern::new(pattern)
                        .map_err(|e| Error::InvalidConfig(format!("constraint {description}: {e}")))?;
                    FittedConstraint::Regex { description, column: meta(column)?, pattern }
                }
                Constraint::AllowedValues { column, values } => {
                    let column = meta(column)?;
                    let mut keys: Vec<String> = values
                        .iter()
                        .filter_map(|v| parse_literal(v, &column.kind))
                        .filter_map(|v| value_key(&v, &column.kind))
                        .collect();
                    let mut seen = HashSet::new();
                    keys.retain(|k| seen.insert(k.clone()));
                    FittedConstraint::AllowedValues { description, column, values: keys }
                }
            };
            fitted_constraint.check_training(table)?;
            fitted.push(fitted_constraint);
        }
        Ok(ConstraintSet { constraints: fitted })
    }

    /// Whether there are no constraints.
    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// Checks that a table has every column the constraints use (else [`Self::check_rows`]
    /// rejects every row).
    pub fn check_columns(&self, table: &Table) -> Result<()> {
        for constraint in &self.constraints {
            for column in constraint.columns() {
                table.column(column)?;
            }
        }
        Ok(())
    }

    /// Per row of a sampled table with the same column names: whether it meets every
    /// constraint. A value of a unique column already used by an earlier valid row of this table
    /// or recorded in `seen` (earlier tables of the same run) makes the row invalid; the values
    /// of valid rows are added to `seen`. A table that lacks a column a constraint uses has no
    /// valid rows (see [`Self::check_columns`]).
    pub fn check_rows(&self, table: &Table, seen: &mut UniqueSeen) -> Vec<bool> {
        self.check_rows_counted(table, seen).valid
    }

    /// [`Self::check_rows`], also counting the rows each constraint rejects (for messages when
    /// sampling cannot find enough valid rows). Uniqueness is counted only for rows that meet
    /// every other constraint.
    pub fn check_rows_counted(&self, table: &Table, seen: &mut UniqueSeen) -> RowCheck {
        let n_rows = table.n_rows();
        let mut valid = vec![true; n_rows];
        let mut rejected = vec![0; self.constraints.len()];
        let mut unique: Vec<(usize, &str, Vec<Option<String>>)> = Vec::new();
        for (index, constraint) in self.constraints.iter().enumerate() {
            if let FittedConstraint::Unique { column, .. } = constraint {
                match table.column(&column.name) {
                    Ok(data) => unique.push((index, &column.name, read_keys(&data.data, &column.kind))),
                    Err(_) => {
                        valid.fill(false);
                        rejected[index] = n_rows;
                    }
                }
                continue;
            }
            match constraint.check_each_row(table) {
                Ok(ok) => {
                    for (row, ok) in ok.into_iter().enumerate() {
                        if !ok {
                            valid[row] = false;
                            rejected[index] += 1;
                        }
                    }
                }
                Err(_) => {
                    valid.fill(false);
                    rejected[index] = n_rows;
                }
            }
        }
        if !unique.is_empty() {
            for (row, row_valid) in valid.iter_mut().enumerate() {
                if !*row_valid {
                    continue;
                }
                for (index, column, keys) in &unique {
                    if keys[row].as_ref().is_some_and(|key| seen.contains(column, key)) {
                        *row_valid = false;
                        rejected[*index] += 1;
                    }
                }
                if *row_valid {
                    for (_, column, keys) in &unique {
                        if let Some(key) = &keys[row] {
                            seen.values.entry(column.to_string()).or_default().insert(key.clone());
                        }
                    }
                }
            }
        }
        RowCheck { valid, rejected }
    }

    /// Recomputes every formula's column from the other columns, in declaration order, rounded
    /// to the column's decimals (`max_decimals` of its number format; integers to whole numbers)
    /// and written in the column's storage (float or integer; other storage is an error). Rows
    /// with a missing input (or a division by zero) get a missing value.
    pub fn apply_formulas(&self, table: &mut Table) -> Result<()> {
        for constraint in &self.constraints {
            let FittedConstraint::Formula { description, column, expression, .. } = constraint else { continue };
            let values = evaluate_on(expression, table)?;
            let decimals = match &column.kind {
                ColumnKind::Numerical { integer: true, .. } => Some(0),
                ColumnKind::Numerical { format, .. } => format.max_decimals.filter(|d| *d <= 15),
                _ => None,
            };
            let round = |x: f64| match decimals {
                Some(d) => {
                    let scale = 10f64.powi(i32::from(d));
                    (x * scale).round() / scale
                }
                None => x,
            };
            let current = table.column(&column.name)?;
            let data = match &current.data {
                ColumnData::Float(_) => ColumnData::Float(values.iter().map(|v| v.map(round)).collect()),
                ColumnData::Int(_) => ColumnData::Int(
                    values
                        .iter()
                        .map(|v| v.map(|x| x.round()).filter(|x| x.abs() < 9.0e18).map(|x| x as i64))
                        .collect(),
                ),
                other => {
                    return Err(Error::InvalidData(format!(
                        "constraint {description}: column `{}` holds {} values, expected floats or integers to write \
                         the formula's results into",
                        column.name,
                        other.type_name()
                    )));
                }
            };
            let replacement = Column { name: current.name.clone(), data, format: current.format.clone() };
            let mut columns = std::mem::take(table).into_columns();
            for slot in columns.iter_mut().filter(|c| c.name == replacement.name) {
                *slot = replacement.clone();
            }
            *table = Table::try_new(columns)?;
        }
        Ok(())
    }

    /// The single-column rules that restrict a column's values (ranges and allowed values),
    /// with their values parsed, for turning into sampling conditions.
    pub fn column_rules(&self) -> Vec<ColumnRule> {
        self.constraints
            .iter()
            .filter_map(|constraint| match constraint {
                FittedConstraint::Range { description, column, min, max } => Some(ColumnRule::Range {
                    column: column.name.clone(),
                    min: min.map(|x| RuleValue::new(Value::Number(x), &column.kind)),
                    max: max.map(|x| RuleValue::new(Value::Number(x), &column.kind)),
                    description: description.clone(),
                }),
                FittedConstraint::AllowedValues { description, column, values } => Some(ColumnRule::AllowedValues {
                    column: column.name.clone(),
                    values: values
                        .iter()
                        .map(|key| RuleValue::new(read_text(key, &column.kind).into_owned(), &column.kind))
                        .collect(),
                    description: description.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Every constraint in words, in order.
    pub fn describe_all(&self) -> Vec<String> {
        self.constraints.iter().map(|c| c.description().to_string()).collect()
    }
}

/// The combinations of the columns' values seen at least `min_count` times, sorted.
fn frequent_combinations(columns: &[ColumnMeta], table: &Table, min_count: usize) -> Result<Vec<Vec<String>>> {
    let keys =
        columns.iter().map(|c| Ok(read_keys(&table.column(&c.name)?.data, &c.kind))).collect::<Result<Vec<_>>>()?;
    let mut counts: HashMap<Vec<String>, usize> = HashMap::new();
    'rows: for row in 0..table.n_rows() {
        let mut tuple = Vec::with_capacity(keys.len());
        for column in &keys {
            match &column[row] {
                Some(key) => tuple.push(key.clone()),
                None => continue 'rows,
            }
        }
        *counts.entry(tuple).or_default() += 1;
    }
    let mut allowed: Vec<Vec<String>> =
        counts.into_iter().filter(|(_, count)| *count >= min_count.max(1)).map(|(tuple, _)| tuple).collect();
    allowed.sort();
    Ok(allowed)
}

fn has_complete_tuple(columns: &[ColumnMeta], table: &Table) -> Result<bool> {
    let data = columns.iter().map(|c| Ok(&table.column(&c.name)?.data)).collect::<Result<Vec<_>>>()?;
    Ok((0..table.n_rows()).any(|row| data.iter().all(|d| !d.is_null(row))))
}

// === Suggestions ===

/// A constraint that holds in a table, with why it is proposed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// The rule.
    pub constraint: Constraint,
    /// What in the data suggests it.
    pub reason: String,
}

/// The fewest rows (with the values involved present) a suggestion needs.
const MIN_SUGGESTION_ROWS: usize = 20;
/// The most distinct values of a column that determines another.
const MAX_DETERMINING_VALUES: usize = 1000;
/// The most numerical columns searched for formulas.
const MAX_FORMULA_COLUMNS: usize = 40;
/// How often unrelated columns would be out of order, at least, for an inequality to be
/// suggested (otherwise the order follows from where their values lie).
const MIN_OUT_OF_ORDER_SHARE: f64 = 0.01;
/// Without zeros, a `min: 0` range is suggested when the smallest value is below this share of
/// the largest.
const NEAR_ZERO_SHARE: f64 = 0.1;
/// The rows a candidate formula is tried on before all rows.
const FORMULA_PROBE_ROWS: usize = 200;

/// Proposes constraints that hold on every row of `table` (for `doppel inspect
/// --suggest-constraints`), in a fixed order:
///
/// 1. inequalities between numerical (or date and datetime) columns ordered on every row (at
///    least 20 rows with both present) whose ranges overlap, so that the order is not implied by
///    the ranges: values drawn independently from the two columns would be out of order at least
///    1% of the time;
/// 2. fixed combinations of a categorical column that determines another (each of its values
///    goes with one value of the other; it has more values than the other, at most 1000, each
///    seen twice on average; the other has at least 2);
/// 3. formulas `c = a + b` and `c = a * b` (which cover `a = c - b`) between numerical columns
///    (the first 40), within the default tolerance on every row with all three present;
/// 4. `min: 0` ranges for numerical columns without negative values (at least 20, or a 0) that
///    hold a 0 or reach down towards it (the smallest value is below a tenth of the largest);
/// 5. uniqueness for columns (other than identifiers) whose values are all distinct.
pub fn suggest(table: &Table, metadata: &Metadata) -> Vec<Suggestion> {
    let columns: Vec<(&Column, &ColumnKind)> = table
        .columns()
        .iter()
        .filter_map(|column| metadata.column(&column.name).map(|meta| (column, &meta.kind)))
        .collect();
    let mut suggestions = Vec::new();
    let ordered: Vec<(&str, &ColumnKind, Vec<Option<f64>>)> = columns
        .iter()
        .filter(|(_, kind)| is_ordered(kind))
        .map(|(column, kind)| (column.name.as_str(), *kind, read_numbers(&column.data, kind)))
        .collect();
    suggest_inequalities(&ordered, &mut suggestions);
    suggest_combinations(&columns, &mut suggestions);
    let numerical: Vec<(&str, &ColumnKind, &[Option<f64>])> = ordered
        .iter()
        .filter(|(_, kind, _)| matches!(kind, ColumnKind::Numerical { .. }))
        .map(|(name, kind, values)| (*name, *kind, values.as_slice()))
        .collect();
    suggest_formulas(&numerical, &mut suggestions);
    for (name, _, values) in &numerical {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let zeros = present.iter().filter(|x| **x == 0.0).count();
        if present.is_empty() || present.iter().any(|x| *x < 0.0) {
            continue;
        }
        let smallest = present.iter().copied().fold(f64::INFINITY, f64::min);
        let largest = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // Without zeros, only columns reaching down towards 0 (`year >= 0` says nothing).
        if zeros == 0 && (present.len() < MIN_SUGGESTION_ROWS || smallest > NEAR_ZERO_SHARE * largest) {
            continue;
        }
        let reason = if zeros > 0 {
            format!("no negative value among {} values, and {zeros} are 0", present.len())
        } else {
            format!(
                "no negative value among {} values, and the smallest ({}) is near 0 (below a tenth of the largest, {})",
                present.len(),
                number_key(smallest),
                number_key(largest)
            )
        };
        suggestions.push(Suggestion {
            constraint: Constraint::Range { column: name.to_string(), min: Some(Literal::Integer(0)), max: None },
            reason,
        });
    }
    for (column, kind) in &columns {
        if matches!(kind, ColumnKind::Identifier { .. } | ColumnKind::Boolean { .. }) {
            continue;
        }
        let keys = read_keys(&column.data, kind);
        let present = keys.iter().flatten().count();
        if present < MIN_SUGGESTION_ROWS {
            continue;
        }
        let distinct: HashSet<&String> = keys.iter().flatten().collect();
        if distinct.len() == present {
            suggestions.push(Suggestion {
                constraint: Constraint::Unique { column: column.name.clone() },
                reason: format!("all {present} present values are distinct"),
            });
        }
    }
    suggestions
}

fn suggest_inequalities(ordered: &[(&str, &ColumnKind, Vec<Option<f64>>)], suggestions: &mut Vec<Suggestion>) {
    let extent = |values: &[Option<f64>], scale: f64| {
        values
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x * scale), hi.max(x * scale)))
    };
    for (i, (a_name, a_kind, a_values)) in ordered.iter().enumerate() {
        for (b_name, b_kind, b_values) in &ordered[i + 1..] {
            if is_temporal(a_kind) != is_temporal(b_kind) {
                continue;
            }
            let (a_scale, b_scale) = (unit_scale(a_kind, b_kind), unit_scale(b_kind, a_kind));
            let (mut n, mut equal, mut a_le_b, mut a_ge_b) = (0usize, 0usize, true, true);
            for (a, b) in a_values.iter().zip(b_values) {
                let (Some(a), Some(b)) = (a, b) else { continue };
                let (a, b) = (a * a_scale, b * b_scale);
                n += 1;
                if a == b {
                    equal += 1;
                } else if a < b {
                    a_ge_b = false;
                } else {
                    a_le_b = false;
                }
                if !a_le_b && !a_ge_b {
                    break;
                }
            }
            if n < MIN_SUGGESTION_ROWS || equal == n || !(a_le_b || a_ge_b) {
                continue;
            }
            let ((low, low_values, low_scale), (high, high_values, high_scale)) = if a_le_b {
                ((a_name, a_values, a_scale), (b_name, b_values, b_scale))
            } else {
                ((b_name, b_values, b_scale), (a_name, a_values, a_scale))
            };
            let (_, low_max) = extent(low_values, low_scale);
            let (high_min, _) = extent(high_values, high_scale);
            if low_max <= high_min {
                continue;
            }
            let out_of_order = share_out_of_order(low_values, low_scale, high_values, high_scale);
            if out_of_order < MIN_OUT_OF_ORDER_SHARE {
                continue;
            }
            suggestions.push(Suggestion {
                constraint: Constraint::Inequality { low: low.to_string(), high: high.to_string(), strict: false },
                reason: format!(
                    "`{high}` >= `{low}` on all {n} rows with both present ({:.1}% equal), though values drawn \
                     independently from the two columns would be out of order {:.1}% of the time",
                    100.0 * equal as f64 / n as f64,
                    100.0 * out_of_order
                ),
            });
        }
    }
}

/// The share of pairs of a value of `low` and a value of `high`, drawn independently, in which
/// the first is larger: how often the order would break if the columns were unrelated.
fn share_out_of_order(low: &[Option<f64>], low_scale: f64, high: &[Option<f64>], high_scale: f64) -> f64 {
    let mut highs: Vec<f64> = high.iter().flatten().map(|x| x * high_scale).collect();
    highs.sort_by(f64::total_cmp);
    let (mut above, mut n) = (0.0, 0usize);
    for value in low.iter().flatten().map(|x| x * low_scale) {
        above += highs.partition_point(|h| *h < value) as f64;
        n += 1;
    }
    if n == 0 || highs.is_empty() { 0.0 } else { above / (n as f64 * highs.len() as f64) }
}

fn suggest_combinations(columns: &[(&Column, &ColumnKind)], suggestions: &mut Vec<Suggestion>) {
    let categorical: Vec<(&str, Vec<Option<String>>, usize)> = columns
        .iter()
        .filter(|(_, kind)| matches!(kind, ColumnKind::Categorical { .. } | ColumnKind::Boolean { .. }))
        .map(|(column, kind)| {
            let keys = read_keys(&column.data, kind);
            let distinct = keys.iter().flatten().collect::<HashSet<_>>().len();
            (column.name.as_str(), keys, distinct)
        })
        .collect();
    for (a_name, a_keys, a_distinct) in &categorical {
        if *a_distinct > MAX_DETERMINING_VALUES || *a_distinct < 2 {
            continue;
        }
        for (b_name, b_keys, b_distinct) in &categorical {
            if a_name == b_name || a_distinct <= b_distinct || *b_distinct < 2 {
                continue;
            }
            let mut map: HashMap<&str, &str> = HashMap::new();
            let mut n = 0usize;
            let determines = a_keys.iter().zip(b_keys).all(|pair| match pair {
                (Some(a), Some(b)) => {
                    n += 1;
                    *map.entry(a.as_str()).or_insert(b.as_str()) == b.as_str()
                }
                _ => true,
            });
            let b_seen = map.values().collect::<HashSet<_>>().len();
            if !determines || n < MIN_SUGGESTION_ROWS || n < 2 * map.len() || b_seen < 2 {
                continue;
            }
            suggestions.push(Suggestion {
                constraint: Constraint::FixedCombinations { columns: vec![a_name.to_string(), b_name.to_string()] },
                reason: format!(
                    "each of the {} values of `{a_name}` goes with a single value of `{b_name}` ({b_seen} values) on \
                     all {n} rows with both present",
                    map.len()
                ),
            });
        }
    }
}

fn suggest_formulas(numerical: &[(&str, &ColumnKind, &[Option<f64>])], suggestions: &mut Vec<Suggestion>) {
    let candidates: Vec<&(&str, &ColumnKind, &[Option<f64>])> = numerical
        .iter()
        .filter(|(_, _, values)| {
            let mut present = values.iter().flatten();
            present.next().is_some_and(|first| present.any(|x| x != first))
        })
        .take(MAX_FORMULA_COLUMNS)
        .collect();
    let n = candidates.len();
    for i in 0..n {
        for j in i + 1..n {
            for k in j + 1..n {
                let triple = [candidates[i], candidates[j], candidates[k]];
                let rows: Vec<usize> = (0..triple[0].2.len())
                    .filter(|&row| triple.iter().all(|(_, _, values)| values[row].is_some()))
                    .collect();
                if rows.len() < MIN_SUGGESTION_ROWS {
                    continue;
                }
                // The later column first as the computed one: totals tend to follow their parts.
                'forms: for target in [2, 1, 0] {
                    let (c_name, c_kind, c) = triple[target];
                    let others: Vec<usize> = (0..3).filter(|&o| o != target).collect();
                    let (a_name, _, a) = triple[others[0]];
                    let (b_name, _, b) = triple[others[1]];
                    let tolerance = default_tolerance(c_kind);
                    for op in [BinaryOp::Add, BinaryOp::Multiply] {
                        let holds = |row: &usize| {
                            let (x, y, z) = (a[*row].unwrap_or(0.0), b[*row].unwrap_or(0.0), c[*row].unwrap_or(0.0));
                            let value = if op == BinaryOp::Add { x + y } else { x * y };
                            within(z, value, tolerance)
                        };
                        if rows.iter().take(FORMULA_PROBE_ROWS).all(holds) && rows.iter().all(holds) {
                            let expression = Expr::Binary {
                                op,
                                left: Box::new(Expr::Column(a_name.to_string())),
                                right: Box::new(Expr::Column(b_name.to_string())),
                            };
                            suggestions.push(Suggestion {
                                constraint: Constraint::Formula {
                                    column: c_name.to_string(),
                                    expression: expression.to_string(),
                                    tolerance: None,
                                },
                                reason: format!(
                                    "holds on all {} rows with all three present (within {})",
                                    rows.len(),
                                    number_key(tolerance)
                                ),
                            });
                            break 'forms;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::ColumnMeta;

    fn text(values: &[&str]) -> ColumnData {
        ColumnData::Text(values.iter().map(|v| if v.is_empty() { None } else { Some(v.to_string()) }).collect())
    }

    fn table(columns: &[(&str, &[&str])]) -> Table {
        Table::try_new(columns.iter().map(|(name, values)| Column::new(*name, text(values))).collect()).expect("table")
    }

    fn numerical(integer: bool, decimals: u8) -> ColumnKind {
        ColumnKind::Numerical {
            integer,
            format: NumberFormat { max_decimals: Some(decimals), min_decimals: 0, fixed: false, step: 1 },
        }
    }

    fn date_kind() -> ColumnKind {
        ColumnKind::Date { pattern: "%Y-%m-%d".into(), storage: Storage::Text }
    }

    fn categorical() -> ColumnKind {
        ColumnKind::Categorical { storage: Storage::Text }
    }

    fn metadata(columns: &[(&str, ColumnKind)]) -> Metadata {
        Metadata::new(
            columns.iter().map(|(name, kind)| ColumnMeta { name: name.to_string(), kind: kind.clone() }).collect(),
        )
    }

    fn fit_error(constraints: &[Constraint], table: &Table, metadata: &Metadata) -> String {
        ConstraintSet::fit(constraints, table, metadata, 1).expect_err("a violation").to_string()
    }

    fn definition_error(constraints: &[Constraint], metadata: &Metadata) -> String {
        check_definitions(constraints, metadata).expect_err("an invalid definition").to_string()
    }

    fn no_seen() -> UniqueSeen {
        UniqueSeen::default()
    }

    fn range(column: &str, min: Option<Literal>, max: Option<Literal>) -> Constraint {
        Constraint::Range { column: column.into(), min, max }
    }

    fn inequality(low: &str, high: &str, strict: bool) -> Constraint {
        Constraint::Inequality { low: low.into(), high: high.into(), strict }
    }

    fn formula(column: &str, expression: &str) -> Constraint {
        Constraint::Formula { column: column.into(), expression: expression.into(), tolerance: None }
    }

    #[test]
    fn literal_serde_roundtrip() {
        let literals = vec![Literal::Integer(5), Literal::Float(2.5), Literal::Text("NY".into()), Literal::Bool(true)];
        let json = serde_json::to_string(&literals).expect("serialises");
        assert_eq!(json, r#"[5,2.5,"NY",true]"#);
        assert_eq!(serde_json::from_str::<Vec<Literal>>(&json).expect("parses"), literals);
        assert_eq!(
            serde_json::from_str::<Literal>("18446744073709551615").expect("u64"),
            Literal::Float(u64::MAX as f64)
        );
        let error = serde_json::from_str::<Literal>("[1]").expect_err("not a literal").to_string();
        assert!(error.contains("a number, a string or a boolean"), "{error}");
        assert_eq!(Literal::Float(1.5).to_text(), "1.5");
        assert_eq!(Literal::Text("2020-01-01".into()).to_text(), "2020-01-01");
    }

    #[test]
    fn constraint_json_format() {
        let json = r#"[
            {"type": "range", "column": "age", "min": 0, "max": 120},
            {"type": "inequality", "low": "admit_date", "high": "discharge_date"},
            {"type": "fixed_combinations", "columns": ["city", "state"]},
            {"type": "formula", "column": "total", "expression": "price * quantity", "tolerance": 0.01},
            {"type": "unique", "column": "code"},
            {"type": "regex", "column": "zip", "pattern": "[0-9]{5}"},
            {"type": "allowed_values", "column": "status", "values": ["open", "closed", 3]}
        ]"#;
        let constraints: Vec<Constraint> = serde_json::from_str(json).expect("parses");
        assert_eq!(constraints[0], range("age", Some(0.into()), Some(120.into())));
        assert_eq!(constraints[1], inequality("admit_date", "discharge_date", false));
        let descriptions: Vec<String> = constraints.iter().map(Constraint::describe).collect();
        assert_eq!(
            descriptions,
            [
                "`0 <= age <= 120`",
                "`discharge_date >= admit_date`",
                "`city, state` only in combinations seen in training",
                "`total = price * quantity` (within 0.01)",
                "`code` unique",
                "`zip` matches `[0-9]{5}`",
                "`status` one of `open`, `closed`, `3`",
            ]
        );
        assert_eq!(constraints[3].columns(), ["total", "price", "quantity"]);
        let back: Vec<Constraint> =
            serde_json::from_str(&serde_json::to_string(&constraints).expect("serialises")).expect("reparses");
        assert_eq!(back, constraints);
        let typo = r#"{"type": "range", "column": "age", "minimum": 0}"#;
        let error = serde_json::from_str::<Constraint>(typo).expect_err("unknown field").to_string();
        assert!(error.contains("minimum"), "{error}");
    }

    #[test]
    fn metadata_without_constraints_serialises_as_before() {
        let meta = metadata(&[("a", categorical())]);
        assert!(!meta.to_json().contains("constraints"));
        let mut with = meta.clone();
        with.constraints.push(Constraint::Unique { column: "a".into() });
        let json = with.to_json();
        assert!(json.contains("\"constraints\""), "{json}");
        assert_eq!(Metadata::from_json(&json, "m.json").expect("parses"), with);
    }

    #[test]
    fn expressions_parse_print_and_evaluate() {
        let expr = Expr::parse("price * quantity - abs(`discount %`) / 2").expect("parses");
        assert_eq!(expr.columns(), ["price", "quantity", "discount %"]);
        assert_eq!(expr.to_string(), "price * quantity - abs(`discount %`) / 2");
        let values = |name: &str| match name {
            "price" => Some(2.5),
            "quantity" => Some(4.0),
            "discount %" => Some(-3.0),
            _ => None,
        };
        assert_eq!(expr.evaluate(&values), Some(8.5));
        for (text, expected) in [
            ("-(1 + 2) * 3", Some(-9.0)),
            ("1 - 2 - 3", Some(-4.0)),
            ("1 - (2 - 3)", Some(2.0)),
            ("8 / 4 / 2", Some(1.0)),
            ("min(3, 1, 2) + max(1, 5)", Some(6.0)),
            ("round(2.5) + round(-2.5)", Some(0.0)),
            ("1.5e2 + .5", Some(150.5)),
            ("price / 0", None),
            ("missing + 1", None),
            ("--price", Some(2.5)),
        ] {
            let parsed = Expr::parse(text).expect(text);
            assert_eq!(parsed.evaluate(&values), expected, "{text}");
            // Printing keeps the meaning.
            let reparsed = Expr::parse(&parsed.to_string()).expect("reparses");
            assert_eq!(reparsed, parsed, "{text} printed as {parsed}");
        }
        assert_eq!(Expr::parse("1st_value + x.y").expect("names").columns(), ["1st_value", "x.y"]);
        let json = serde_json::to_string(&expr).expect("serialises");
        assert_eq!(serde_json::from_str::<Expr>(&json).expect("parses"), expr);
    }

    #[test]
    fn expression_parse_errors_say_where() {
        for (text, expected) in [
            ("price * * quantity", "at character 9 of `price * * quantity`: expected a number, a column name"),
            ("(a + b", "expected `)`, got the end of the expression"),
            ("a + b)", "at character 6"),
            ("sqrt(a)", "unknown function `sqrt`"),
            ("abs(a, b)", "`abs` takes 1 argument(s), got 2"),
            ("min(a)", "`min` takes at least 2 argument(s), got 1"),
            ("a # b", "unexpected character `#`"),
            ("`a + b", "never closed"),
            ("", "expected a number, a column name, a function or `(`, got the end"),
            ("a b", "expected an operator or the end, got `b`"),
        ] {
            let error = Expr::parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(Expr::parse(&deep).expect_err("too deep").to_string().contains("nested too deeply"));
    }

    #[test]
    fn range_constraint() {
        let meta = metadata(&[("age", numerical(true, 0)), ("day", date_kind())]);
        let constraints =
            [range("age", Some(0.into()), Some(120.into())), range("day", Some("2020-01-01".into()), None)];
        let good = table(&[("age", &["0", "", "120"]), ("day", &["2020-01-01", "2021-05-05", ""])]);
        let set = ConstraintSet::fit(&constraints, &good, &meta, 1).expect("fits");
        let bad = table(&[("age", &["5", "121", "7"]), ("day", &["2020-01-01", "2021-05-05", ""])]);
        let error = fit_error(&constraints, &bad, &meta);
        assert_eq!(
            error,
            "constraint `0 <= age <= 120` is violated by the training data itself: row 2 has age = 121; fix the \
             data or the constraint"
        );
        let bad = table(&[("age", &["5", "1", "7"]), ("day", &["2020-01-01", "2019-12-31", ""])]);
        let error = fit_error(&constraints, &bad, &meta);
        assert!(error.contains("`day >= 2020-01-01`") && error.contains("row 2 has day = 2019-12-31"), "{error}");
        // Sampled: typed columns.
        let sampled = Table::try_new(vec![
            Column::new("age", ColumnData::Int(vec![Some(3), Some(-1), None, Some(50)])),
            Column::new("day", ColumnData::Date(vec![Some(18_262), Some(18_262), Some(18_261), None])),
        ])
        .expect("table");
        assert_eq!(set.check_rows(&sampled, &mut no_seen()), [true, false, false, true]);
        let counted = set.check_rows_counted(&sampled, &mut no_seen());
        assert_eq!(counted.rejected, [1, 1]);
        assert_eq!(
            set.column_rules()[1],
            ColumnRule::Range {
                column: "day".into(),
                min: Some(RuleValue { value: Value::Number(18_262.0), text: "2020-01-01".into() }),
                max: None,
                description: "`day >= 2020-01-01`".into()
            }
        );
    }

    #[test]
    fn dates_stored_as_integers_are_read_as_dates() {
        let kind = ColumnKind::Date { pattern: "%Y%m%d".into(), storage: Storage::Integer };
        let meta = metadata(&[("day", kind)]);
        let constraints = [range("day", Some("2020-01-01".into()), Some(20201231.into()))];
        let set =
            ConstraintSet::fit(&constraints, &table(&[("day", &["20200101", "20200505"])]), &meta, 1).expect("fits");
        let sampled = Table::try_new(vec![Column::new("day", ColumnData::Int(vec![Some(20200301), Some(20210101)]))])
            .expect("table");
        assert_eq!(set.check_rows(&sampled, &mut no_seen()), [true, false]);
        let ColumnRule::Range { min: Some(min), max: Some(max), .. } = &set.column_rules()[0] else {
            panic!("a range with both bounds")
        };
        assert_eq!((&min.value, min.text.as_str()), (&Value::Number(20200101.0), "20200101"));
        assert_eq!((&max.value, max.text.as_str()), (&Value::Number(20201231.0), "20201231"));
    }

    #[test]
    fn inequality_constraint() {
        let meta = metadata(&[("admit_date", date_kind()), ("discharge_date", date_kind())]);
        let constraints = [inequality("admit_date", "discharge_date", false)];
        let good = table(&[
            ("admit_date", &["2020-01-01", "2020-01-05", ""]),
            ("discharge_date", &["2020-01-01", "2020-01-09", "2019-01-01"]),
        ]);
        let set = ConstraintSet::fit(&constraints, &good, &meta, 1).expect("fits");
        let bad =
            table(&[("admit_date", &["2020-01-01", "2020-01-05"]), ("discharge_date", &["2020-01-01", "2020-01-02"])]);
        assert_eq!(
            fit_error(&constraints, &bad, &meta),
            "constraint `discharge_date >= admit_date` is violated by the training data itself: row 2 has \
             discharge_date = 2020-01-02, admit_date = 2020-01-05; fix the data or the constraint"
        );
        let sampled = Table::try_new(vec![
            Column::new("admit_date", ColumnData::Date(vec![Some(10), Some(10), Some(10)])),
            Column::new("discharge_date", ColumnData::Date(vec![Some(10), Some(9), None])),
        ])
        .expect("table");
        assert_eq!(set.check_rows(&sampled, &mut no_seen()), [true, false, true]);
        let strict = ConstraintSet::fit(
            &[inequality("admit_date", "discharge_date", true)],
            &table(&[("admit_date", &["2020-01-01"]), ("discharge_date", &["2020-01-02"])]),
            &meta,
            1,
        )
        .expect("fits");
        assert_eq!(strict.check_rows(&sampled, &mut no_seen()), [false, false, true]);
    }

    #[test]
    fn inequality_between_a_date_and_a_datetime() {
        let meta = metadata(&[
            ("day", date_kind()),
            (
                "at",
                ColumnKind::Datetime {
                    pattern: "%Y-%m-%dT%H:%M:%S".into(),
                    storage: Storage::Text,
                    offset_seconds: None,
                },
            ),
        ]);
        let constraints = [inequality("day", "at", false)];
        let good =
            table(&[("day", &["2020-01-01", "2020-01-02"]), ("at", &["2020-01-01T00:00:00", "2020-01-02T10:00:00"])]);
        ConstraintSet::fit(&constraints, &good, &meta, 1).expect("fits");
        let bad = table(&[("day", &["2020-01-02"]), ("at", &["2020-01-01T23:00:00"])]);
        assert!(fit_error(&constraints, &bad, &meta).contains("row 1 has at = 2020-01-01T23:00:00, day = 2020-01-02"));
    }

    #[test]
    fn fixed_combinations_constraint() {
        let meta = metadata(&[("city", categorical()), ("state", categorical())]);
        let constraints = [Constraint::FixedCombinations { columns: vec!["city".into(), "state".into()] }];
        let training = table(&[
            ("city", &["Austin", "Austin", "Boston", "Boston", "Paris", "", "Dallas"]),
            ("state", &["TX", "TX", "MA", "MA", "TX", "CA", "TX"]),
        ]);
        let set = ConstraintSet::fit(&constraints, &training, &meta, 2).expect("fits");
        let FittedConstraint::FixedCombinations { allowed, .. } = &set.constraints[0] else { panic!("fixed") };
        // Rare combinations (seen fewer than 2 times) are not kept.
        assert_eq!(allowed, &[vec!["Austin".to_string(), "TX".to_string()], vec!["Boston".into(), "MA".into()]]);
        let categories: std::sync::Arc<[String]> = ["Austin", "Boston", "TX", "MA"].map(String::from).into();
        let sampled = Table::try_new(vec![
            Column::new("city", ColumnData::Category(categories.clone(), vec![Some(0), Some(0), Some(1), None])),
            Column::new("state", ColumnData::Category(categories, vec![Some(2), Some(3), Some(3), Some(2)])),
        ])
        .expect("table");
        assert_eq!(set.check_rows(&sampled, &mut no_seen()), [true, false, true, true]);
        let error = ConstraintSet::fit(&constraints, &training, &meta, 10).expect_err("nothing frequent").to_string();
        assert!(error.contains("no combination occurs at least 10 times"), "{error}");
    }

    #[test]
    fn formula_constraint_checks_and_applies() {
        let meta = metadata(&[
            ("price", numerical(false, 2)),
            ("quantity", numerical(true, 0)),
            ("total", numerical(false, 2)),
        ]);
        let constraints = [formula("total", "price * quantity")];
        let good = table(&[
            ("price", &["1.25", "0.10", "2"]),
            ("quantity", &["3", "3", ""]),
            ("total", &["3.75", "0.30", "9"]),
        ]);
        let set = ConstraintSet::fit(&constraints, &good, &meta, 1).expect("fits");
        let bad = table(&[("price", &["1.25", "0.10"]), ("quantity", &["3", "3"]), ("total", &["3.75", "0.31"])]);
        assert_eq!(
            fit_error(&constraints, &bad, &meta),
            "constraint `total = price * quantity` is violated by the training data itself: row 2 has total = 0.31, \
             price = 0.10, quantity = 3, but price * quantity = 0.3, off by 0.01 (the tolerance is 0.005); fix the \
             data or the constraint"
        );
        let mut sampled = Table::try_new(vec![
            Column::new("price", ColumnData::Float(vec![Some(0.333), Some(2.0), None])),
            Column::new("quantity", ColumnData::Int(vec![Some(3), Some(2), Some(1)])),
            Column::new("total", ColumnData::Float(vec![Some(5.0), Some(4.0), Some(1.0)])),
        ])
        .expect("table");
        assert_eq!(set.check_rows(&sampled, &mut no_seen()), [false, true, true]);
        set.apply_formulas(&mut sampled).expect("applies");
        assert_eq!(sampled.column("total").expect("total").data, ColumnData::Float(vec![Some(1.0), Some(4.0), None]));
        assert_eq!(set.check_rows(&sampled, &mut no_seen()), [true, true, true]);
    }

    #[test]
    fn formulas_apply_in_order_into_integer_columns() {
        let meta = metadata(&[("a", numerical(true, 0)), ("b", numerical(true, 0)), ("c", numerical(true, 0))]);
        let constraints = [formula("b", "a / 2"), formula("c", "b + 1")];
        let training = table(&[("a", &["4", "6"]), ("b", &["2", "3"]), ("c", &["3", "4"])]);
        let set = ConstraintSet::fit(&constraints, &training, &meta, 1).expect("fits");
        let mut sampled = Table::try_new(vec![
            Column::new("a", ColumnData::Int(vec![Some(5), None])),
            Column::new("b", ColumnData::Int(vec![Some(0), Some(0)])),
            Column::new("c", ColumnData::Int(vec![Some(0), Some(0)])),
        ])
        .expect("table");
        set.apply_formulas(&mut sampled).expect("applies");
        assert_eq!(sampled.column("b").expect("b").data, ColumnData::Int(vec![Some(3), None]));
        assert_eq!(sampled.column("c").expect("c").data, ColumnData::Int(vec![Some(4), None]));
        assert_eq!(sampled.column_names(), ["a", "b", "c"]);
        let mut wrong = Table::try_new(vec![
            Column::new("a", ColumnData::Int(vec![Some(5)])),
            Column::new("b", text(&["x"])),
            Column::new("c", ColumnData::Int(vec![Some(0)])),
        ])
        .expect("table");
        let error = set.apply_formulas(&mut wrong).expect_err("text column").to_string();
        assert!(error.contains("column `b` holds text values"), "{error}");
    }

    #[test]
    fn unique_constraint_spans_tables_through_seen() {
        let meta = metadata(&[("code", categorical())]);
        let constraints = [Constraint::Unique { column: "code".into() }];
        let set = ConstraintSet::fit(&constraints, &table(&[("code", &["a", "b", "", ""])]), &meta, 1).expect("fits");
        assert_eq!(
            fit_error(&constraints, &table(&[("code", &["a", "b", "a"])]), &meta),
            "constraint `code` unique is violated by the training data itself: row 3 has code = a, as row 1 does; \
             fix the data or the constraint"
        );
        let mut seen = UniqueSeen::new();
        let first = table(&[("code", &["x", "y", "x", ""])]);
        assert_eq!(set.check_rows(&first, &mut seen), [true, true, false, true]);
        let second = table(&[("code", &["y", "z", ""])]);
        assert_eq!(set.check_rows(&second, &mut seen), [false, true, true]);
        assert_eq!(seen.count("code"), 3);
        assert!(seen.contains("code", "z"));
    }

    #[test]
    fn rows_rejected_by_other_rules_do_not_use_up_unique_values() {
        let meta = metadata(&[("code", numerical(true, 0)), ("n", numerical(true, 0))]);
        let constraints = [Constraint::Unique { column: "code".into() }, range("n", Some(0.into()), None)];
        let set = ConstraintSet::fit(&constraints, &table(&[("code", &["1"]), ("n", &["1"])]), &meta, 1).expect("fits");
        let sampled = Table::try_new(vec![
            Column::new("code", ColumnData::Int(vec![Some(1), Some(1)])),
            Column::new("n", ColumnData::Int(vec![Some(-1), Some(1)])),
        ])
        .expect("table");
        assert_eq!(set.check_rows(&sampled, &mut no_seen()), [false, true]);
    }

    #[test]
    fn regex_constraint() {
        let meta = metadata(&[("zip", categorical())]);
        let constraints = [Constraint::Regex { column: "zip".into(), pattern: "[0-9]{5}".into() }];
        let set =
            ConstraintSet::fit(&constraints, &table(&[("zip", &["02139", "", "10001"])]), &meta, 1).expect("fits");
        assert_eq!(
            fit_error(&constraints, &table(&[("zip", &["02139", "1000123"])]), &meta),
            "constraint `zip` matches `[0-9]{5}` is violated by the training data itself: row 2 has zip = 1000123; \
             fix the data or the constraint"
        );
        assert_eq!(
            set.check_rows(&table(&[("zip", &["12345", "1234", "a12345", ""])]), &mut no_seen()),
            [true, false, false, true]
        );
        let json = serde_json::to_string(&set).expect("serialises");
        assert_eq!(serde_json::from_str::<ConstraintSet>(&json).expect("parses"), set);
    }

    #[test]
    fn allowed_values_constraint() {
        let meta = metadata(&[("status", categorical()), ("score", numerical(false, 1))]);
        let constraints = [
            Constraint::AllowedValues { column: "status".into(), values: vec!["open".into(), "closed".into()] },
            Constraint::AllowedValues { column: "score".into(), values: vec![0.5.into(), 1.into(), "0.3".into()] },
        ];
        let good = table(&[("status", &["open", "", "closed"]), ("score", &["0.5", "1.0", "0.3"])]);
        let set = ConstraintSet::fit(&constraints, &good, &meta, 1).expect("fits");
        let bad = table(&[("status", &["open", "pending"]), ("score", &["0.5", "1"])]);
        assert!(fit_error(&constraints, &bad, &meta).contains(
            "`status` one of `open`, `closed` is violated by the training data itself: row 2 has status = pending"
        ));
        let sampled = Table::try_new(vec![
            Column::new("status", text(&["open", "closed", "open"])),
            Column::new("score", ColumnData::Float(vec![Some(0.1 + 0.2), Some(1.0), Some(0.4)])),
        ])
        .expect("table");
        assert_eq!(set.check_rows(&sampled, &mut no_seen()), [true, true, false]);
        let rules = set.column_rules();
        assert_eq!(
            rules[1],
            ColumnRule::AllowedValues {
                column: "score".into(),
                values: [0.5, 1.0, 0.3]
                    .into_iter()
                    .map(|x| RuleValue { value: Value::Number(x), text: number_key(x) })
                    .collect(),
                description: "`score` one of `0.5`, `1`, `0.3`".into()
            }
        );
    }

    #[test]
    fn fitted_sets_roundtrip_through_json() {
        let meta = metadata(&[
            ("a", numerical(false, 2)),
            ("b", numerical(false, 2)),
            ("c", numerical(false, 2)),
            ("s", categorical()),
        ]);
        let constraints = [
            range("a", Some(0.into()), None),
            inequality("a", "c", false),
            formula("c", "a + b"),
            Constraint::FixedCombinations { columns: vec!["s".into(), "a".into()] },
            Constraint::AllowedValues { column: "s".into(), values: vec!["x".into(), "y".into()] },
        ];
        let training =
            table(&[("a", &["1.5", "2"]), ("b", &["1", "0.25"]), ("c", &["2.5", "2.25"]), ("s", &["x", "y"])]);
        let set = ConstraintSet::fit(&constraints, &training, &meta, 1).expect("fits");
        let json = serde_json::to_string_pretty(&set).expect("serialises");
        assert!(json.contains("\"expression\": \"a + b\""), "{json}");
        assert_eq!(serde_json::from_str::<ConstraintSet>(&json).expect("parses"), set);
        assert_eq!(set.describe_all().len(), 5);
        assert!(!set.is_empty() && ConstraintSet::default().is_empty());
    }

    #[test]
    fn missing_columns_reject_every_row() {
        let meta = metadata(&[("a", numerical(true, 0))]);
        let set =
            ConstraintSet::fit(&[range("a", Some(0.into()), None)], &table(&[("a", &["1"])]), &meta, 1).expect("fits");
        let other = table(&[("b", &["1", "2"])]);
        assert_eq!(set.check_rows(&other, &mut no_seen()), [false, false]);
        assert!(set.check_columns(&other).is_err());
    }

    #[test]
    fn definition_errors() {
        let meta = metadata(&[
            ("n", numerical(true, 0)),
            ("m", numerical(false, 2)),
            ("k", numerical(false, 2)),
            ("day", date_kind()),
            ("s", categorical()),
            (
                "flag",
                ColumnKind::Boolean { true_token: "yes".into(), false_token: "no".into(), storage: Storage::Text },
            ),
            ("notes", ColumnKind::Text),
        ]);
        let cases: Vec<(Vec<Constraint>, &str)> = vec![
            (
                vec![range("nope", Some(0.into()), None)],
                "constraint `nope >= 0`: column `nope` is not in the metadata; the columns are `n`",
            ),
            (vec![range("s", Some(0.into()), None)], "column `s` is categorical; a range applies to numerical"),
            (vec![range("n", None, None)], "give `min`, `max` or both"),
            (vec![range("n", Some("abc".into()), None)], "`min` is `abc`, expected a number like the values of `n`"),
            (vec![range("day", Some("31.31.2020".into()), None)], "expected a date written as `%Y-%m-%d`"),
            (vec![range("n", Some(5.into()), Some(1.into()))], "`min` (5) is larger than `max` (1)"),
            (
                vec![range("n", Some(10.into()), None), range("n", None, Some(5.into()))],
                "constraints `n >= 10` and `n <= 5` contradict each other: no value of `n` meets both",
            ),
            (vec![inequality("n", "s", false)], "column `s` is categorical; an inequality compares"),
            (vec![inequality("n", "day", false)], "`n` is numerical (integer) and `day` is date"),
            (vec![inequality("n", "n", false)], "compares `n` with itself"),
            (
                vec![inequality("n", "m", false), inequality("m", "n", true)],
                "constraints `m >= n`, `n > m` contradict each other: together they say `m < n <= m`",
            ),
            (
                vec![inequality("n", "m", false), inequality("m", "k", false), inequality("k", "n", true)],
                "together they say `k < n <= m <= k`",
            ),
            (
                vec![inequality("n", "m", true), range("n", Some(5.into()), None), range("m", None, Some(5.into()))],
                "constraints `m > n`, `n >= 5` and `m <= 5` contradict each other",
            ),
            (vec![Constraint::FixedCombinations { columns: vec!["s".into()] }], "list at least two columns"),
            (vec![Constraint::FixedCombinations { columns: vec!["s".into(), "s".into()] }], "`s` is listed twice"),
            (vec![Constraint::FixedCombinations { columns: vec!["s".into(), "notes".into()] }], "generates afresh"),
            (vec![formula("s", "n + 1")], "column `s` is categorical; a formula computes a numerical column"),
            (vec![formula("m", "n + s")], "the expression uses `s`, which is categorical"),
            (vec![formula("m", "m * 2")], "the expression uses `m` itself"),
            (vec![formula("m", "n +")], "cannot read the expression: at character 4 of `n +`"),
            (vec![formula("m", "n + 1"), formula("m", "n + 2")], "constraint `m = n + 1` already computes `m`"),
            (vec![formula("m", "k + 1"), formula("k", "n")], "uses `k`, which constraint `k = n` computes later"),
            (
                vec![Constraint::Formula { column: "m".into(), expression: "n".into(), tolerance: Some(-1.0) }],
                "`tolerance` is -1",
            ),
            (vec![Constraint::Regex { column: "s".into(), pattern: "[a-".into() }], "not a valid regular expression"),
            (vec![Constraint::Regex { column: "n".into(), pattern: "1".into() }], "a pattern applies to categorical"),
            (vec![Constraint::Unique { column: "flag".into() }], "`flag` is boolean"),
            (vec![Constraint::AllowedValues { column: "s".into(), values: vec![] }], "the list of values is empty"),
            (vec![Constraint::AllowedValues { column: "notes".into(), values: vec!["a".into()] }], "generates afresh"),
            (
                vec![Constraint::AllowedValues { column: "n".into(), values: vec!["x".into()] }],
                "value `x` is not a number like the values of `n`",
            ),
            (
                vec![Constraint::AllowedValues { column: "flag".into(), values: vec!["maybe".into()] }],
                "value `maybe` is not `yes` or `no`",
            ),
            (
                vec![
                    range("n", Some(10.into()), None),
                    Constraint::AllowedValues { column: "n".into(), values: vec![1.into(), 2.into()] },
                ],
                "none of the allowed values of `n` is in the range",
            ),
            (
                vec![
                    Constraint::AllowedValues { column: "s".into(), values: vec!["a".into()] },
                    Constraint::AllowedValues { column: "s".into(), values: vec!["b".into()] },
                ],
                "no value of `s` is in both lists",
            ),
        ];
        for (constraints, expected) in cases {
            let error = definition_error(&constraints, &meta);
            assert!(error.contains(expected), "expected {expected:?} in {error:?}");
        }
        // Consistent definitions pass, including non-strict cycles and overlapping ranges.
        check_definitions(
            &[
                inequality("n", "m", false),
                inequality("m", "n", false),
                range("n", Some(0.into()), Some(10.into())),
                range("n", Some(10.into()), None),
                Constraint::AllowedValues { column: "n".into(), values: vec![10.into(), 20.into()] },
                range("day", Some("2020-01-01".into()), Some("2020/12/31".into())),
                Constraint::AllowedValues { column: "flag".into(), values: vec!["yes".into(), true.into()] },
            ],
            &meta,
        )
        .expect("consistent");
    }

    #[test]
    fn suggestions_find_rules_that_hold() {
        let n = 60;
        let column = |f: &dyn Fn(usize) -> String| -> Vec<String> { (0..n).map(f).collect() };
        let price = column(&|i| format!("{}.{:02}", i % 7, (i * 13) % 100));
        let quantity = column(&|i| format!("{}", i % 5 + 1));
        let total = column(&|i| {
            let p: f64 = price[i].parse().expect("number");
            let q: f64 = quantity[i].parse().expect("number");
            format!("{:.2}", p * q)
        });
        let start = column(&|i| format!("2020-01-{:02}", i % 28 + 1));
        let end = column(&|i| format!("2020-02-{:02}", i % 27 + 1 + usize::from(i % 3 == 0)));
        let city = column(&|i| ["Austin", "Dallas", "Boston", "Salem"][i % 4].to_string());
        let state = column(&|i| ["TX", "TX", "MA", "MA"][i % 4].to_string());
        let code = column(&|i| format!("c{i}"));
        let columns: Vec<(&str, &Vec<String>)> = vec![
            ("price", &price),
            ("quantity", &quantity),
            ("total", &total),
            ("start", &start),
            ("end", &end),
            ("city", &city),
            ("state", &state),
            ("code", &code),
        ];
        let table = Table::try_new(
            columns
                .iter()
                .map(|(name, values)| Column::new(*name, ColumnData::Text(values.iter().cloned().map(Some).collect())))
                .collect(),
        )
        .expect("table");
        let meta = metadata(&[
            ("price", numerical(false, 2)),
            ("quantity", numerical(true, 0)),
            ("total", numerical(false, 2)),
            ("start", date_kind()),
            ("end", date_kind()),
            ("city", categorical()),
            ("state", categorical()),
            ("code", categorical()),
        ]);
        let suggestions = suggest(&table, &meta);
        let rules: Vec<String> = suggestions.iter().map(|s| s.constraint.describe()).collect();
        assert!(rules.contains(&"`total = price * quantity`".to_string()), "{rules:?}");
        assert!(rules.contains(&"`city, state` only in combinations seen in training".to_string()), "{rules:?}");
        assert!(rules.contains(&"`price >= 0`".to_string()), "{rules:?}");
        assert!(rules.contains(&"`code` unique".to_string()), "{rules:?}");
        // `end` is always after `start`, but their ranges do not overlap: not suggested.
        assert!(!rules.iter().any(|r| r.contains("end >= start")), "{rules:?}");
        // Every suggestion holds on the data it came from, and the order is fixed.
        let constraints: Vec<Constraint> = suggestions.iter().map(|s| s.constraint.clone()).collect();
        ConstraintSet::fit(&constraints, &table, &meta, 1).expect("suggestions hold");
        assert_eq!(suggest(&table, &meta), suggestions);
    }

    #[test]
    fn inequality_suggestions_need_overlapping_ranges() {
        let n = 30;
        let low: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let high: Vec<String> = (0..n).map(|i| (i + i % 3).to_string()).collect();
        let table = Table::try_new(vec![
            Column::new("low", ColumnData::Text(low.into_iter().map(Some).collect())),
            Column::new("high", ColumnData::Text(high.into_iter().map(Some).collect())),
        ])
        .expect("table");
        let meta = metadata(&[("low", numerical(true, 0)), ("high", numerical(true, 0))]);
        let suggestions = suggest(&table, &meta);
        let found = suggestions.iter().find(|s| matches!(s.constraint, Constraint::Inequality { .. })).expect("one");
        assert_eq!(found.constraint, inequality("low", "high", false));
        assert!(found.reason.contains("33.3% equal"), "{}", found.reason);
    }
}
