//! Conditions on one column's values (`age>=65`, `region=north|south`, `churn!=yes`): parsed
//! from the text users write, and checked against [`Value`]s.

use crate::error::{Error, Result};
use crate::metadata::ColumnKind;
use crate::value::Value;

/// A comparison of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Less,
    /// `<=`
    AtMost,
    /// `>`
    Greater,
    /// `>=`
    AtLeast,
}

impl Op {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Less => "<",
            Op::AtMost => "<=",
            Op::Greater => ">",
            Op::AtLeast => ">=",
        }
    }
}

/// What a condition asks of its column's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// The value is one of these (`None`: missing).
    In(Vec<Option<String>>),
    /// The value compares with this one so (missing values never do).
    Compare(Op, String),
}

/// A condition on one column: `region=south`, `region=north|south`, `age>=65`, `churn!=yes`,
/// `income=` (missing), `income!=` (present).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The column.
    pub column: String,
    /// The test.
    pub test: Test,
    /// Whether the test must fail instead (`!=`; a negated comparison also holds for missing
    /// values).
    pub negated: bool,
}

impl Condition {
    /// `column` equals `value` (`None`: is missing).
    pub fn equals(column: &str, value: Option<&str>) -> Condition {
        Condition { column: column.to_string(), test: Test::In(vec![value.map(str::to_string)]), negated: false }
    }

    /// Parses `COLUMN OP VALUE` with OP one of `=`, `!=`, `<`, `<=`, `>`, `>=`; `=` and `!=` take
    /// several values separated by `|`, and an empty value means missing.
    pub fn parse(text: &str) -> Result<Condition> {
        let invalid = || {
            Error::InvalidConfig(format!(
                "condition `{text}`: expected `COLUMN=VALUE`, `COLUMN=A|B`, `COLUMN!=VALUE` or a comparison such as \
                 `COLUMN>=VALUE`"
            ))
        };
        let at = text.find(['=', '!', '<', '>']).ok_or_else(invalid)?;
        let column = text[..at].trim();
        if column.is_empty() {
            return Err(invalid());
        }
        let rest = &text[at..];
        let (operator, value) = ["!=", ">=", "<=", "=", ">", "<"]
            .iter()
            .find_map(|op| rest.strip_prefix(op).map(|value| (*op, value)))
            .ok_or_else(invalid)?;
        let values = || value.split('|').map(|v| (!v.trim().is_empty()).then(|| v.trim().to_string())).collect();
        let compare = |op: Op| {
            if value.trim().is_empty() {
                Err(Error::InvalidConfig(format!("condition `{text}`: `{}` needs a value after it", op.symbol())))
            } else {
                Ok(Test::Compare(op, value.trim().to_string()))
            }
        };
        let (test, negated) = match operator {
            "=" => (Test::In(values()), false),
            "!=" => (Test::In(values()), true),
            ">=" => (compare(Op::AtLeast)?, false),
            "<=" => (compare(Op::AtMost)?, false),
            ">" => (compare(Op::Greater)?, false),
            _ => (compare(Op::Less)?, false),
        };
        Ok(Condition { column: column.to_string(), test, negated })
    }

    /// The opposite condition (rows that fail this one, missing values included).
    pub fn negate(&self) -> Condition {
        Condition { negated: !self.negated, ..self.clone() }
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.test {
            Test::In(values) => {
                let values: Vec<&str> = values.iter().map(|v| v.as_deref().unwrap_or("")).collect();
                let op = if self.negated { "!=" } else { "=" };
                write!(f, "{}{op}{}", self.column, values.join("|"))
            }
            Test::Compare(op, value) => {
                let not = if self.negated { "not " } else { "" };
                write!(f, "{not}{}{}{value}", self.column, op.symbol())
            }
        }
    }
}

/// A condition whose literals are parsed for one column's type.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Parsed values of `Test::In`, or the one value compared with.
    pub values: Vec<Value<'static>>,
    /// `None` for a set test.
    pub op: Option<Op>,
    /// Whether the test must fail.
    pub negated: bool,
}

impl Check {
    /// Whether `value` meets the condition.
    pub fn holds(&self, value: &Value<'_>) -> bool {
        let base = match self.op {
            None => self.values.iter().any(|v| v.same_as(value)),
            Some(op) => value.compare(&self.values[0]).is_some_and(|order| match op {
                Op::Less => order.is_lt(),
                Op::AtMost => order.is_le(),
                Op::Greater => order.is_gt(),
                Op::AtLeast => order.is_ge(),
            }),
        };
        base != self.negated
    }
}

impl Condition {
    /// The condition with its literals parsed by `parse` (which says what it expected on
    /// failure); comparisons need a numeric, date or datetime column (`ordered`).
    pub fn check_with(
        &self,
        ordered: bool,
        parse: &dyn Fn(&str) -> std::result::Result<Value<'static>, String>,
    ) -> Result<Check> {
        let parse = |literal: &str| {
            parse(literal).map_err(|expected| {
                Error::InvalidConfig(format!(
                    "condition `{self}`: `{literal}` is not a value of `{}`; expected {expected}",
                    self.column
                ))
            })
        };
        match &self.test {
            Test::In(values) => Ok(Check {
                values: values.iter().map(|v| v.as_deref().map_or(Ok(Value::Missing), parse)).collect::<Result<_>>()?,
                op: None,
                negated: self.negated,
            }),
            Test::Compare(op, literal) => {
                if !ordered {
                    return Err(Error::InvalidConfig(format!(
                        "condition `{self}`: `{}` is categorical; `<`, `<=`, `>` and `>=` need a numeric, date or \
                         datetime column (use `=` with values separated by `|`)",
                        self.column
                    )));
                }
                Ok(Check { values: vec![parse(literal)?], op: Some(*op), negated: self.negated })
            }
        }
    }

    /// The condition for a column of kind `kind` (values read with [`Value::read`]).
    pub fn check_for_kind(&self, kind: &ColumnKind) -> Result<Check> {
        let ordered =
            matches!(kind, ColumnKind::Numerical { .. } | ColumnKind::Date { .. } | ColumnKind::Datetime { .. });
        let expected = match kind {
            ColumnKind::Numerical { .. } => "a number",
            ColumnKind::Date { .. } => "a date such as `2024-01-31`",
            ColumnKind::Datetime { .. } => "a date and time such as `2024-01-31T08:30:00`",
            ColumnKind::Boolean { .. } => "`true` or `false` (or the column's own tokens)",
            _ => "a value",
        };
        self.check_with(ordered, &|text| Value::parse_as(text, kind).ok_or_else(|| expected.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_print() {
        for text in ["region=south", "region=north|south", "age>=65", "age<30", "churn!=yes", "income=", "income!="] {
            assert_eq!(Condition::parse(text).expect("parses").to_string(), text);
        }
        assert_eq!(Condition::parse("age >= 65").expect("parses").to_string(), "age>=65");
        assert!(Condition::parse("age").is_err());
        assert!(Condition::parse("=5").is_err());
        assert!(Condition::parse("age>=").is_err());
        assert_eq!(Condition::parse("age>=65").expect("parses").negate().to_string(), "not age>=65");
    }

    #[test]
    fn checks_follow_the_column_kind() {
        let kind = ColumnKind::Numerical { integer: true, format: Default::default() };
        let check = Condition::parse("age>=65").expect("parses").check_for_kind(&kind).expect("a number");
        assert!(check.holds(&Value::Number(70.0)) && !check.holds(&Value::Missing));
        assert!(
            !Condition::parse("age>=65")
                .expect("parses")
                .negate()
                .check_for_kind(&kind)
                .expect("ok")
                .holds(&Value::Number(70.0))
        );
        assert!(Condition::parse("age>=x").expect("parses").check_for_kind(&kind).is_err());
        let text = ColumnKind::Categorical { storage: crate::metadata::Storage::Text };
        assert!(Condition::parse("region>=a").expect("parses").check_for_kind(&text).is_err());
        let check = Condition::parse("region=a|").expect("parses").check_for_kind(&text).expect("ok");
        assert!(check.holds(&Value::Missing) && check.holds(&Value::Text("a".into())));
    }
}
