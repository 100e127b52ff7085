//! Column metadata: each column's semantic type and the format it is stored in, detected from
//! the data and editable as a versioned JSON file (`doppel inspect --output data.meta.json`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::constraint::Constraint;
use crate::pii;
use crate::table::{ColumnData, Table};
use crate::temporal::{self, DATE_PATTERNS, DATETIME_PATTERNS};
use crate::{Error, Result};

/// The format tag written at the top of every metadata file.
pub const METADATA_FORMAT: &str = "doppel.metadata";
/// The metadata file version this build writes and reads.
pub const METADATA_VERSION: u32 = 1;

/// How a column's values are stored in the source, and so how they are written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// Strings.
    Text,
    /// Whole numbers.
    Integer,
    /// Floating-point numbers.
    Float,
    /// Booleans.
    Boolean,
    /// Native dates.
    Date,
    /// Native datetimes.
    Datetime,
}

/// How numbers are rounded and written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NumberFormat {
    /// The most places after the decimal point seen in the source (`None` when some value used
    /// an exponent, so no rounding is applied).
    #[serde(default)]
    pub max_decimals: Option<u8>,
    /// The fewest places after the decimal point seen in the source.
    #[serde(default)]
    pub min_decimals: u8,
    /// Whether every value had exactly `max_decimals` places.
    #[serde(default)]
    pub fixed: bool,
    /// For integers: every value is a multiple of this (10, 100, ...).
    #[serde(default = "one")]
    pub step: i64,
}

fn one() -> i64 {
    1
}

/// The kinds of personal data doppel recognises (see [`crate::pii`] for how). New kinds are
/// appended, so that older metadata and model files still parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// Email addresses.
    Email,
    /// Phone numbers.
    Phone,
    /// Given names.
    FirstName,
    /// Family names.
    LastName,
    /// Full person names.
    PersonName,
    /// US social security numbers (`123-45-6789`, or nine digits in a column named so).
    Ssn,
    /// Payment card numbers (13 to 19 digits with a scheme's prefix and a valid Luhn checksum).
    CreditCard,
    /// International bank account numbers (valid mod-97 check digits).
    Iban,
    /// IPv4 and IPv6 addresses.
    IpAddress,
    /// Street addresses (`123 Main St, Springfield, IL 62704`).
    PostalAddress,
    /// Dates of birth: date values in a column named so. Replaced by fake dates drawn from
    /// decades that enough rows share, never modelled from the real dates.
    DateOfBirth,
}

/// The semantic type of a column, with what is needed to write its values back as the source had
/// them. Serialised with a `type` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnKind {
    /// Numbers with an order and a distance.
    Numerical {
        /// Whether the values are whole numbers (stored as integers).
        integer: bool,
        /// Rounding and decimal places.
        #[serde(default)]
        format: NumberFormat,
    },
    /// A small set of values without an order.
    Categorical {
        /// How the values are stored (text or integer).
        storage: Storage,
    },
    /// Two values, true and false.
    Boolean {
        /// How `true` is written in text sources.
        true_token: String,
        /// How `false` is written in text sources.
        false_token: String,
        /// How the values are stored (text or boolean).
        storage: Storage,
    },
    /// Calendar dates.
    Date {
        /// The pattern of text sources (`%Y-%m-%d`, or `%Y%m%d` for integer storage).
        pattern: String,
        /// Text, integer (`YYYYMMDD`) or date.
        storage: Storage,
    },
    /// Dates with a time of day.
    Datetime {
        /// The pattern of text sources.
        pattern: String,
        /// Text or datetime.
        storage: Storage,
        /// The UTC offset the source wrote its values in, in seconds east, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset_seconds: Option<i32>,
    },
    /// A unique key: generated afresh in the same format, never copied.
    Identifier {
        /// Text or integer.
        storage: Storage,
    },
    /// Free text: until a text model exists, generated without any real value.
    Text,
    /// Personal data, replaced by fake values.
    Pii {
        /// Which kind of personal data.
        kind: PiiKind,
    },
}

impl ColumnKind {
    /// The short name of the kind, as in the `type` tag.
    pub fn name(&self) -> &'static str {
        match self {
            ColumnKind::Numerical { integer: true, .. } => "numerical (integer)",
            ColumnKind::Numerical { .. } => "numerical",
            ColumnKind::Categorical { .. } => "categorical",
            ColumnKind::Boolean { .. } => "boolean",
            ColumnKind::Date { .. } => "date",
            ColumnKind::Datetime { .. } => "datetime",
            ColumnKind::Identifier { .. } => "identifier",
            ColumnKind::Text => "text",
            ColumnKind::Pii { kind: PiiKind::Email } => "pii (email)",
            ColumnKind::Pii { kind: PiiKind::Phone } => "pii (phone)",
            ColumnKind::Pii { kind: PiiKind::FirstName } => "pii (first name)",
            ColumnKind::Pii { kind: PiiKind::LastName } => "pii (last name)",
            ColumnKind::Pii { kind: PiiKind::PersonName } => "pii (person name)",
            ColumnKind::Pii { kind: PiiKind::Ssn } => "pii (ssn)",
            ColumnKind::Pii { kind: PiiKind::CreditCard } => "pii (card number)",
            ColumnKind::Pii { kind: PiiKind::Iban } => "pii (iban)",
            ColumnKind::Pii { kind: PiiKind::IpAddress } => "pii (ip address)",
            ColumnKind::Pii { kind: PiiKind::PostalAddress } => "pii (postal address)",
            ColumnKind::Pii { kind: PiiKind::DateOfBirth } => "pii (date of birth)",
        }
    }
}

/// One column's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnMeta {
    /// The column's name.
    pub name: String,
    /// Its semantic type.
    #[serde(flatten)]
    pub kind: ColumnKind,
}

/// The metadata of a table: one entry per column, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Always [`METADATA_FORMAT`].
    pub format: String,
    /// The file version, [`METADATA_VERSION`].
    pub version: u32,
    /// The columns.
    pub columns: Vec<ColumnMeta>,
    /// Business rules every sampled row must meet (see [`crate::constraint`]). Left out of the
    /// JSON when there are none, so that files without them are unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
}

/// What detection saw in one column, for `doppel inspect`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnProfile {
    /// The column's name.
    pub name: String,
    /// Missing values.
    pub n_missing: usize,
    /// Distinct non-missing values.
    pub n_distinct: usize,
    /// Why detection chose the type it did.
    pub reason: String,
}

impl Metadata {
    /// Metadata from a list of columns.
    pub fn new(columns: Vec<ColumnMeta>) -> Self {
        Metadata { format: METADATA_FORMAT.to_string(), version: METADATA_VERSION, columns, constraints: Vec::new() }
    }

    /// Parses a metadata file's JSON text; `origin` names the file in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::InvalidConfig(format!("{origin}: not valid JSON: {e}")))?;
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or_default();
        if format != METADATA_FORMAT {
            return Err(Error::InvalidConfig(format!(
                "{origin}: not a doppel metadata file (expected `\"format\": \"{METADATA_FORMAT}\"`)"
            )));
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version > u64::from(METADATA_VERSION) {
            return Err(Error::InvalidConfig(format!(
                "{origin}: metadata version {version} is newer than this doppel understands \
                 (up to {METADATA_VERSION}); upgrade doppel"
            )));
        }
        serde_json::from_value(value).map_err(|e| Error::InvalidConfig(format!("{origin}: {e}")))
    }

    /// The metadata as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("invariant: metadata serialises")
    }

    /// The entry for `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Checks that the metadata and the table name the same columns; `origin` names the data.
    pub fn check_against(&self, table: &Table, origin: &str) -> Result<()> {
        let names = table.column_names();
        for meta in &self.columns {
            if !names.contains(&meta.name) {
                return Err(Error::InvalidConfig(format!(
                    "the metadata names column `{}`, which {origin} does not have; the data's columns are {}",
                    meta.name,
                    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        for name in &names {
            if self.column(name).is_none() {
                return Err(Error::InvalidConfig(format!(
                    "column `{name}` of {origin} is missing from the metadata; add an entry for it"
                )));
            }
        }
        Ok(())
    }

    /// Detects the metadata of a table.
    pub fn detect(table: &Table) -> (Metadata, Vec<ColumnProfile>) {
        let mut columns = Vec::new();
        let mut profiles = Vec::new();
        for column in table.columns() {
            let (kind, profile) = detect_column(&column.name, &column.data);
            columns.push(ColumnMeta { name: column.name.clone(), kind });
            profiles.push(profile);
        }
        (Metadata::new(columns), profiles)
    }
}

/// How many distinct values of a text column make it too varied to be categorical.
const MAX_CATEGORIES: usize = 1000;

fn id_name_hint(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "id"
        || lower.ends_with("_id")
        || lower.ends_with(".id")
        || lower.ends_with("-id")
        || lower.ends_with(" id")
        || lower.contains("uuid")
        || lower.ends_with("_key")
        || lower.ends_with("_no")
        || lower.ends_with("_number")
        || (name.ends_with("Id") && name.len() > 2)
        || (name.ends_with("ID") && name.len() > 2)
}

fn looks_like_phone(text: &str) -> bool {
    if looks_like_date(text) {
        return false;
    }
    // A ZIP+4 code (`12345-6789`) is not a phone number.
    let bytes = text.as_bytes();
    if bytes.len() == 10 && bytes[5] == b'-' && bytes.iter().enumerate().all(|(i, b)| i == 5 || b.is_ascii_digit()) {
        return false;
    }
    let digits = text.chars().filter(char::is_ascii_digit).count();
    // Nor is an ISBN-13 (`978-3-16-148410-0`).
    if digits == 13 && (text.starts_with("978") || text.starts_with("979")) {
        return false;
    }
    (7..=15).contains(&digits)
        && text.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && (text.contains('-') || text.contains(' ') || text.contains('(') || text.starts_with('+'))
}

/// Whether text has the shape of a date (`2020-01-01`, `99999-12-31`, `01/02/2020`), valid or not.
fn looks_like_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && parts.iter().filter(|p| p.len() >= 4).count() == 1
        && parts.iter().filter(|p| p.len() <= 2).count() == 2
}

/// Parses an integer written canonically (no leading zeros or plus sign), so that writing it back
/// gives the same text.
pub fn parse_canonical_int(text: &str) -> Option<i64> {
    let value: i64 = text.parse().ok()?;
    (value.to_string() == text).then_some(value)
}

/// The number of places after the decimal point in a number's text, or `None` when it uses an
/// exponent.
pub fn decimals_of(text: &str) -> Option<u8> {
    if text.contains(['e', 'E']) {
        return None;
    }
    Some(text.split_once('.').map_or(0, |(_, fraction)| fraction.len().min(255) as u8))
}

/// Whether a number's text has a leading zero (`007`, `-01.5`): such columns are codes, and
/// writing them back as numbers would change them.
fn has_leading_zero(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    digits.len() > 1 && digits.starts_with('0') && digits.as_bytes()[1].is_ascii_digit()
}

const BOOL_TOKENS: &[(&str, &str)] = &[("true", "false"), ("True", "False"), ("TRUE", "FALSE"), ("t", "f"), ("T", "F")];

/// Finds the largest power of ten (up to 10^9) that divides every value.
fn integer_step(values: impl Iterator<Item = i64> + Clone) -> i64 {
    if values.clone().filter(|v| *v != 0).count() < 10 {
        return 1;
    }
    let mut step = 1i64;
    while step < 1_000_000_000 && values.clone().all(|v| v % (step * 10) == 0) {
        step *= 10;
    }
    step
}

fn number_format_from_texts<'a>(texts: impl Iterator<Item = &'a str>) -> NumberFormat {
    let mut max_decimals: Option<u8> = Some(0);
    let mut min_decimals = u8::MAX;
    let mut any = false;
    for text in texts {
        any = true;
        match decimals_of(text) {
            Some(d) => {
                max_decimals = max_decimals.map(|m| m.max(d));
                min_decimals = min_decimals.min(d);
            }
            None => max_decimals = None,
        }
    }
    if !any {
        min_decimals = 0;
    }
    let min_decimals = min_decimals.min(max_decimals.unwrap_or(0));
    let fixed = max_decimals.is_some_and(|m| m == min_decimals && m > 0);
    NumberFormat { max_decimals, min_decimals, fixed, step: 1 }
}

fn profile(name: &str, n_missing: usize, n_distinct: usize, reason: impl Into<String>) -> ColumnProfile {
    ColumnProfile { name: name.to_string(), n_missing, n_distinct, reason: reason.into() }
}

fn detect_column(name: &str, data: &ColumnData) -> (ColumnKind, ColumnProfile) {
    let (kind, mut profile) = detect_column_type(name, data);
    // A date of birth is known by its name alone, but only dates are taken for one.
    if matches!(kind, ColumnKind::Date { .. } | ColumnKind::Datetime { .. })
        && pii::name_hint(name) == Some(PiiKind::DateOfBirth)
    {
        profile.reason = format!(
            "the name reads as {} and the values are dates ({})",
            pii_label(PiiKind::DateOfBirth),
            profile.reason
        );
        return (ColumnKind::Pii { kind: PiiKind::DateOfBirth }, profile);
    }
    (kind, profile)
}

fn detect_column_type(name: &str, data: &ColumnData) -> (ColumnKind, ColumnProfile) {
    let n = data.len();
    let n_missing = data.null_count();
    let n_present = n - n_missing;
    match data {
        ColumnData::Bool(_) => {
            let distinct = distinct_count(data);
            (
                ColumnKind::Boolean {
                    true_token: "true".into(),
                    false_token: "false".into(),
                    storage: Storage::Boolean,
                },
                profile(name, n_missing, distinct, "stored as booleans"),
            )
        }
        ColumnData::Date(_) => (
            ColumnKind::Date { pattern: temporal::ISO_DATE.into(), storage: Storage::Date },
            profile(name, n_missing, distinct_count(data), "stored as dates"),
        ),
        ColumnData::DateTime(_) => (
            ColumnKind::Datetime {
                pattern: temporal::ISO_DATETIME.into(),
                storage: Storage::Datetime,
                offset_seconds: None,
            },
            profile(name, n_missing, distinct_count(data), "stored as timestamps"),
        ),
        ColumnData::Int(values) => {
            let present: Vec<i64> = values.iter().flatten().copied().collect();
            let distinct = distinct_count(data);
            if let Some((kind, reason)) = pii::kind_from_integers(name, &present) {
                return (ColumnKind::Pii { kind }, profile(name, n_missing, distinct, reason));
            }
            (
                detect_integer(name, &present, distinct, Storage::Integer),
                profile(name, n_missing, distinct, integer_reason(name, &present, distinct)),
            )
        }
        ColumnData::Float(values) => {
            let texts: Vec<String> = values.iter().flatten().map(|v| v.to_string()).collect();
            let format = number_format_from_texts(texts.iter().map(String::as_str));
            (
                ColumnKind::Numerical { integer: false, format },
                profile(name, n_missing, distinct_count(data), "stored as floating-point numbers"),
            )
        }
        ColumnData::Text(_) | ColumnData::Category(..) => {
            let texts: Vec<std::borrow::Cow<'_, str>> = (0..n).filter_map(|row| data.text_at(row)).collect();
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for text in &texts {
                *counts.entry(text.as_ref()).or_default() += 1;
            }
            let distinct = counts.len();
            let (kind, reason) = detect_text(name, &texts, &counts, n_present);
            (kind, profile(name, n_missing, distinct, reason))
        }
    }
}

fn integer_reason(name: &str, present: &[i64], distinct: usize) -> String {
    match detect_integer(name, present, distinct, Storage::Integer) {
        ColumnKind::Date { .. } => "every value is a valid `YYYYMMDD` date".into(),
        ColumnKind::Identifier { .. } => "whole numbers, nearly all distinct, and the name reads as a key".into(),
        ColumnKind::Categorical { .. } => format!("whole numbers with only {distinct} distinct values"),
        _ => "whole numbers".into(),
    }
}

fn detect_integer(name: &str, present: &[i64], distinct: usize, storage: Storage) -> ColumnKind {
    let n = present.len();
    if n >= 2 && distinct > 1 && present.iter().all(|v| temporal::parse_yyyymmdd(*v).is_some()) {
        return ColumnKind::Date { pattern: "%Y%m%d".into(), storage: Storage::Integer };
    }
    if id_name_hint(name) && n >= 10 && distinct * 2 > n {
        return ColumnKind::Identifier { storage };
    }
    if distinct <= 2 && n > 0 {
        return ColumnKind::Categorical { storage };
    }
    let step = integer_step(present.iter().copied());
    ColumnKind::Numerical {
        integer: true,
        format: NumberFormat { max_decimals: Some(0), min_decimals: 0, fixed: false, step },
    }
}

fn distinct_count(data: &ColumnData) -> usize {
    let mut seen = std::collections::HashSet::new();
    for row in 0..data.len() {
        if let Some(text) = data.text_at(row) {
            seen.insert(text.into_owned());
        }
    }
    seen.len()
}

fn share_matching(texts: &[std::borrow::Cow<'_, str>], predicate: impl Fn(&str) -> bool) -> f64 {
    if texts.is_empty() {
        return 0.0;
    }
    texts.iter().filter(|t| predicate(t)).count() as f64 / texts.len() as f64
}

fn detect_text(
    name: &str,
    texts: &[std::borrow::Cow<'_, str>],
    counts: &HashMap<&str, usize>,
    n_present: usize,
) -> (ColumnKind, String) {
    let distinct = counts.len();
    if n_present == 0 {
        return (ColumnKind::Categorical { storage: Storage::Text }, "every value is missing".into());
    }
    // Booleans written as words.
    for (true_token, false_token) in BOOL_TOKENS {
        if counts.keys().all(|k| k == true_token || k == false_token) {
            return (
                ColumnKind::Boolean {
                    true_token: true_token.to_string(),
                    false_token: false_token.to_string(),
                    storage: Storage::Text,
                },
                format!("only `{true_token}` and `{false_token}`"),
            );
        }
    }
    // Personal data that the values show (emails, IBANs, card numbers, social security numbers,
    // IP and street addresses): before numbers, as card numbers and plain SSNs are digits.
    if let Some((kind, reason)) = pii::kind_from_values(name, texts) {
        return (ColumnKind::Pii { kind }, reason);
    }
    // Whole numbers.
    if counts.keys().all(|k| parse_canonical_int(k).is_some()) {
        let present: Vec<i64> = texts.iter().filter_map(|t| parse_canonical_int(t)).collect();
        let kind = detect_integer(name, &present, distinct, Storage::Integer);
        let reason = integer_reason(name, &present, distinct);
        return (kind, reason);
    }
    // Numbers with a fraction. Non-finite values are not numbers here; they make the column
    // mixed, which is reported when it is fitted as numerical.
    let is_finite_number = |k: &str| {
        k.parse::<f64>().is_ok_and(f64::is_finite) && !k.contains(char::is_whitespace) && !has_leading_zero(k)
    };
    if counts.keys().all(|k| is_finite_number(k)) {
        let format = number_format_from_texts(counts.keys().copied());
        return (ColumnKind::Numerical { integer: false, format }, "numbers with a fractional part".into());
    }
    // Dates and datetimes: the first pattern that reads every value.
    for pattern in DATE_PATTERNS {
        if *pattern != "%Y%m%d" && counts.keys().all(|k| temporal::parse_date(k, pattern).is_some()) {
            return (
                ColumnKind::Date { pattern: pattern.to_string(), storage: Storage::Text },
                format!("every value is a date like `{pattern}`"),
            );
        }
    }
    for pattern in DATETIME_PATTERNS {
        let mut offsets = std::collections::HashSet::new();
        if counts.keys().all(|k| match temporal::parse_datetime(k, pattern) {
            Some(parsed) => {
                offsets.insert(parsed.offset_seconds);
                true
            }
            None => false,
        }) {
            let offset_seconds = if offsets.len() == 1 { offsets.into_iter().next().flatten() } else { None };
            return (
                ColumnKind::Datetime { pattern: pattern.to_string(), storage: Storage::Text, offset_seconds },
                format!("every value is a datetime like `{pattern}`"),
            );
        }
    }
    // Mostly numbers or dates, with a few odd values: numerical, and fitting names the odd rows.
    let numeric_share = share_matching(texts, |t| t.parse::<f64>().is_ok());
    let non_numeric_distinct = counts.keys().filter(|k| k.parse::<f64>().is_err()).count();
    if numeric_share >= 0.9 && non_numeric_distinct <= 3 && distinct > 20 {
        let format = number_format_from_texts(counts.keys().copied().filter(|k| is_finite_number(k)));
        return (
            ColumnKind::Numerical { integer: false, format },
            format!("{:.1}% of the values are numbers", numeric_share * 100.0),
        );
    }
    for pattern in DATE_PATTERNS.iter().filter(|p| **p != "%Y%m%d") {
        let share = share_matching(texts, |t| temporal::parse_date(t, pattern).is_some());
        if share >= 0.9 {
            return (
                ColumnKind::Date { pattern: pattern.to_string(), storage: Storage::Text },
                format!("{:.1}% of the values are dates like `{pattern}`", share * 100.0),
            );
        }
    }
    // Personal data by name, then phone numbers by the look of the values.
    if let Some(kind) = pii::name_hint(name).filter(|kind| name_alone_suffices(*kind, texts)) {
        return (ColumnKind::Pii { kind }, format!("the name reads as {}", pii_label(kind)));
    }
    if share_matching(texts, looks_like_phone) >= pii::VALUE_SHARE {
        return (ColumnKind::Pii { kind: PiiKind::Phone }, "the values look like phone numbers".into());
    }
    let mean_length = texts.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / texts.len() as f64;
    let has_spaces = share_matching(texts, |t| t.contains(char::is_whitespace)) > 0.5;
    if distinct == n_present && n_present >= 10 && !has_spaces && mean_length <= 64.0 {
        return (
            ColumnKind::Identifier { storage: Storage::Text },
            "every value is distinct and none has spaces".into(),
        );
    }
    if id_name_hint(name) && distinct * 2 > n_present && !has_spaces {
        return (
            ColumnKind::Identifier { storage: Storage::Text },
            "nearly all values are distinct and the name reads as a key".into(),
        );
    }
    if (distinct * 2 > n_present && n_present >= 20) || mean_length > 200.0 {
        return (ColumnKind::Text, format!("{distinct} distinct values, too varied to be categories"));
    }
    // Many categories are fine (they cost no one-hot columns) as long as most rows hold a value
    // that several rows share; otherwise the column is text.
    let common_rows: usize = counts.values().filter(|count| **count >= 5).sum();
    if distinct > MAX_CATEGORIES && common_rows * 2 < n_present {
        return (ColumnKind::Text, format!("{distinct} distinct values, most of them rare"));
    }
    (ColumnKind::Categorical { storage: Storage::Text }, format!("{distinct} distinct values"))
}

/// Whether a column whose name reads as `kind` is that kind whatever its (non-numeric,
/// non-date) values look like. Dates of birth must be dates (see `detect_column`), and `ip` is
/// also short for other things (inpatient, intellectual property): at least half the values must
/// be IP addresses.
fn name_alone_suffices(kind: PiiKind, texts: &[std::borrow::Cow<'_, str>]) -> bool {
    match kind {
        PiiKind::DateOfBirth => false,
        PiiKind::IpAddress => share_matching(texts, pii::is_ip_address) >= 0.5,
        _ => true,
    }
}

/// What a value of `kind` is, for reasons (`the name reads as a phone number`).
pub(crate) fn pii_label(kind: PiiKind) -> &'static str {
    match kind {
        PiiKind::Email => "an email address",
        PiiKind::Phone => "a phone number",
        PiiKind::FirstName => "a first name",
        PiiKind::LastName => "a last name",
        PiiKind::PersonName => "a person's name",
        PiiKind::Ssn => "a US social security number",
        PiiKind::CreditCard => "a payment card number",
        PiiKind::Iban => "an IBAN",
        PiiKind::IpAddress => "an IP address",
        PiiKind::PostalAddress => "a postal address",
        PiiKind::DateOfBirth => "a date of birth",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Column;

    fn text(values: &[&str]) -> ColumnData {
        ColumnData::Text(values.iter().map(|v| if v.is_empty() { None } else { Some(v.to_string()) }).collect())
    }

    fn kind_of(name: &str, values: &[&str]) -> ColumnKind {
        let table = Table::try_new(vec![Column::new(name, text(values))]).expect("table");
        Metadata::detect(&table).0.columns.remove(0).kind
    }

    #[test]
    fn detects_common_types() {
        assert!(matches!(kind_of("x", &["1.5", "2.25", "", "3.0"]), ColumnKind::Numerical { integer: false, .. }));
        assert!(matches!(kind_of("x", &["1", "0", "1", "0"]), ColumnKind::Categorical { storage: Storage::Integer }));
        assert!(matches!(kind_of("x", &["True", "False", ""]), ColumnKind::Boolean { .. }));
        assert!(matches!(kind_of("x", &["2020-01-01", "2021-02-03"]), ColumnKind::Date { .. }));
        assert!(matches!(kind_of("x", &["20200101", "20210203"]), ColumnKind::Date { storage: Storage::Integer, .. }));
        assert!(matches!(kind_of("x", &["2013-01-01T06:00:00Z", "2013-01-01T07:00:00Z"]), ColumnKind::Datetime { .. }));
        assert!(matches!(kind_of("email", &["a@b.com", "c@d.org"]), ColumnKind::Pii { kind: PiiKind::Email }));
        assert!(matches!(kind_of("x", &["555-123-4567", "(555) 987-6543"]), ColumnKind::Pii { kind: PiiKind::Phone }));
        assert!(!matches!(kind_of("x", &["2020-01-01", "99999-01-01", "2021-01-01"]), ColumnKind::Pii { .. }));
        assert!(matches!(kind_of("x", &["a", "b", "a"]), ColumnKind::Categorical { storage: Storage::Text }));
        assert!(matches!(kind_of("x", &["007", "008", "1"]), ColumnKind::Categorical { .. }));
    }

    fn kind_and_reason(name: &str, data: ColumnData) -> (ColumnKind, String) {
        let table = Table::try_new(vec![Column::new(name, data)]).expect("table");
        let (mut metadata, profiles) = Metadata::detect(&table);
        (metadata.columns.remove(0).kind, profiles[0].reason.clone())
    }

    fn pii_of(name: &str, values: &[&str]) -> Option<PiiKind> {
        match kind_of(name, values) {
            ColumnKind::Pii { kind } => Some(kind),
            _ => None,
        }
    }

    #[test]
    fn detects_the_newer_personal_data_kinds_by_their_values() {
        let cases: &[(&str, &[&str], PiiKind)] = &[
            ("x", &["123-45-6789", "078-05-1121", "219-09-9999", "", "457-55-5462"], PiiKind::Ssn),
            ("ssn", &["123456789", "078051121", "219099999", "457555462"], PiiKind::Ssn),
            (
                "x",
                &["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"],
                PiiKind::CreditCard,
            ),
            ("x", &["4111 1111 1111 1111", "5555 5555 5555 4444", "4012 8888 8888 1881"], PiiKind::CreditCard),
            ("x", &["DE89370400440532013000", "GB29 NWBK 6016 1331 9268 19", "NL91ABNA0417164300"], PiiKind::Iban),
            ("x", &["192.168.1.1", "10.0.0.7", "2001:db8::1", "8.8.8.8"], PiiKind::IpAddress),
            ("x", &["123 Main St", "4500 Oak Avenue, Springfield, IL 62704", "9 Elm Rd"], PiiKind::PostalAddress),
        ];
        for (name, values, expected) in cases {
            assert_eq!(pii_of(name, values), Some(*expected), "{values:?}");
        }
        // Card numbers stored as integers (Parquet), and social security numbers that lost their
        // leading zero.
        let cards = ColumnData::Int(vec![Some(4_111_111_111_111_111), Some(5_555_555_555_554_444), None]);
        assert_eq!(kind_and_reason("x", cards).0, ColumnKind::Pii { kind: PiiKind::CreditCard });
        let ssns = ColumnData::Int(vec![Some(78_051_121), Some(123_456_789), Some(219_099_999)]);
        assert_eq!(kind_and_reason("ssn", ssns).0, ColumnKind::Pii { kind: PiiKind::Ssn });
    }

    #[test]
    fn look_alikes_are_not_personal_data() {
        let cases: &[(&str, &[&str])] = &[
            ("amount", &["1234.56", "99.10", "100000.00", "-2500.75"]),
            ("zip", &["02134", "90210", "10001", "60614"]),
            ("zip", &["02134-1234", "90210-0001", "10001-4321"]),
            ("year", &["1987", "2001", "1999", "2024"]),
            ("order_id", &["ORD-2023-000123", "ORD-2023-000124", "ORD-2023-000125"]),
            // 16 digits that fail the Luhn checksum, and Luhn-valid numbers with no card scheme.
            ("x", &["4111111111111112", "5555555555554445", "4012888888881882"]),
            ("x", &["1234567812345670", "79927398713", "356938035643809"]),
            // Nine plain digits are not social security numbers without the name saying so.
            ("account", &["123456789", "078051121", "219099999"]),
            ("x", &["2020-01-15", "2021-03-04", "1999-12-31"]),
            ("app_version", &["1.2.0.4", "2.10.3.1", "1.0.0.0"]),
            ("x", &["we went down the road", "3 of us took the road", "the end"]),
            ("ip_flag", &["Y", "N", "Y", "N"]),
            ("iban_country", &["DE", "FR", "NL"]),
        ];
        for (name, values) in cases {
            assert_eq!(pii_of(name, values), None, "`{name}`: {values:?} is {:?}", kind_of(name, values));
        }
        // Never-issued areas are no social security numbers (the phone pattern takes them).
        assert_ne!(pii_of("x", &["000-12-3456", "666-12-3456", "912-34-5678"]), Some(PiiKind::Ssn));
        // Phone numbers stay phone numbers.
        assert_eq!(pii_of("x", &["555-123-4567", "(555) 987-6543", "+1 555 765 4321"]), Some(PiiKind::Phone));
    }

    #[test]
    fn dates_of_birth_by_name_when_the_values_are_dates() {
        let dates = ["1980-01-15", "1975-06-30", "", "2001-12-01"];
        assert_eq!(pii_of("date_of_birth", &dates), Some(PiiKind::DateOfBirth));
        assert_eq!(pii_of("customerDOB", &["01/15/1980", "06/30/1975"]), Some(PiiKind::DateOfBirth));
        assert!(matches!(kind_of("created_at", &dates), ColumnKind::Date { .. }));
        assert_eq!(pii_of("dob", &["unknown", "n/a", "unknown"]), None);
        let (kind, reason) = kind_and_reason("birth_date", ColumnData::Date(vec![Some(3000), Some(-2000), None]));
        assert_eq!(kind, ColumnKind::Pii { kind: PiiKind::DateOfBirth });
        assert_eq!(reason, "the name reads as a date of birth and the values are dates (stored as dates)");
        let yyyymmdd = ColumnData::Int(vec![Some(19_800_115), Some(19_750_630)]);
        assert_eq!(kind_and_reason("birthdate", yyyymmdd).0, ColumnKind::Pii { kind: PiiKind::DateOfBirth });
    }

    #[test]
    fn reasons_say_why() {
        let reason = |name: &str, values: &[&str]| {
            let data = text(values);
            kind_and_reason(name, data).1
        };
        assert_eq!(
            reason("x", &["4111 1111 1111 1111", "5555 5555 5555 4444"]),
            "the values are card numbers with valid Luhn checksums"
        );
        assert_eq!(reason("x", &["DE89370400440532013000"]), "the values are IBANs with valid mod-97 check digits");
        assert_eq!(reason("x", &["10.0.0.1", "10.0.0.2"]), "the values are IPv4 addresses");
        assert_eq!(
            reason(
                "x",
                &[
                    "123-45-6789",
                    "123-45-6780",
                    "123-45-6781",
                    "123-45-6782",
                    "123-45-6783",
                    "123-45-6784",
                    "123-45-6785",
                    "123-45-6786",
                    "123-45-6787",
                    "n/a"
                ]
            ),
            "90.0% of the values are US social security numbers (`###-##-####` with an issuable area, group and serial)"
        );
        assert_eq!(reason("street", &["PO Box 12", "PO Box 13"]), "the name reads as a postal address");
    }

    #[test]
    fn personal_data_kinds_roundtrip_through_serde() {
        let kinds = [
            (PiiKind::Email, "email"),
            (PiiKind::Phone, "phone"),
            (PiiKind::FirstName, "first_name"),
            (PiiKind::LastName, "last_name"),
            (PiiKind::PersonName, "person_name"),
            (PiiKind::Ssn, "ssn"),
            (PiiKind::CreditCard, "credit_card"),
            (PiiKind::Iban, "iban"),
            (PiiKind::IpAddress, "ip_address"),
            (PiiKind::PostalAddress, "postal_address"),
            (PiiKind::DateOfBirth, "date_of_birth"),
        ];
        for (kind, tag) in kinds {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{tag}\""));
            assert_eq!(serde_json::from_str::<PiiKind>(&json).expect("parses"), kind);
            let meta = Metadata::new(vec![ColumnMeta { name: "c".into(), kind: ColumnKind::Pii { kind } }]);
            assert_eq!(Metadata::from_json(&meta.to_json(), "m.json").expect("parses"), meta);
        }
        // A file written before the newer kinds existed still reads.
        let older = r#"{"format": "doppel.metadata", "version": 1, "columns": [{"name": "e", "type": "pii", "kind": "email"}]}"#;
        let meta = Metadata::from_json(older, "m.json").expect("parses");
        assert_eq!(meta.columns[0].kind, ColumnKind::Pii { kind: PiiKind::Email });
    }

    #[test]
    fn number_format() {
        let format = number_format_from_texts(["1.50", "2.25"].into_iter());
        assert_eq!(format, NumberFormat { max_decimals: Some(2), min_decimals: 2, fixed: true, step: 1 });
        let format = number_format_from_texts(["1.5", "2.25", "45.0"].into_iter());
        assert_eq!(format, NumberFormat { max_decimals: Some(2), min_decimals: 1, fixed: false, step: 1 });
        assert_eq!(integer_step([100, 200, 3000, 0, 100, 200, 300, 400, 500, 600, 700].into_iter()), 100);
    }

    #[test]
    fn metadata_json_roundtrip_and_versions() {
        let meta = Metadata::new(vec![ColumnMeta {
            name: "a".into(),
            kind: ColumnKind::Categorical { storage: Storage::Text },
        }]);
        let json = meta.to_json();
        assert!(json.contains("\"type\": \"categorical\""));
        assert_eq!(Metadata::from_json(&json, "m.json").expect("parses"), meta);
        let newer = json.replace("\"version\": 1", "\"version\": 99");
        let error = Metadata::from_json(&newer, "m.json").expect_err("newer version").to_string();
        assert!(error.contains("newer"), "{error}");
    }
}
