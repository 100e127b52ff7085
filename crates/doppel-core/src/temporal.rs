//! Dates and datetimes: the patterns doppel recognises, and parsing and rendering with them.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Date patterns tried during detection, most specific first.
pub const DATE_PATTERNS: &[&str] = &["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d"];

/// Datetime patterns tried during detection. `%.f` accepts an optional fraction when parsing and
/// writes one only when it is not zero.
pub const DATETIME_PATTERNS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%d %H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
];

/// The pattern used for native date columns (Parquet `date32`).
pub const ISO_DATE: &str = "%Y-%m-%d";
/// The pattern used for native datetime columns (Parquet timestamps).
pub const ISO_DATETIME: &str = "%Y-%m-%dT%H:%M:%S%.f";

const EPOCH_DAYS_FROM_CE: i32 = 719_163;
/// Microseconds in one day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Whether a datetime pattern carries a UTC offset (`%z`, `%:z`).
pub fn pattern_has_offset(pattern: &str) -> bool {
    pattern.contains("%z") || pattern.contains("%:z")
}

/// Parses a date with `pattern` into days since 1970-01-01.
pub fn parse_date(text: &str, pattern: &str) -> Option<i32> {
    if pattern == "%Y%m%d" && text.len() != 8 {
        return None;
    }
    let date = NaiveDate::parse_from_str(text, pattern).ok()?;
    Some(date_to_days(date))
}

/// Days since 1970-01-01 of a date.
pub fn date_to_days(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// The date `days` after 1970-01-01, if representable.
pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(EPOCH_DAYS_FROM_CE)?)
}

/// Renders days since 1970-01-01 with `pattern`.
pub fn format_date(days: i32, pattern: &str) -> String {
    match days_to_date(days) {
        Some(date) => date.format(pattern).to_string(),
        None => String::new(),
    }
}

/// Renders days since 1970-01-01 as a `YYYYMMDD` integer.
pub fn date_to_yyyymmdd(days: i32) -> Option<i64> {
    use chrono::Datelike;
    let date = days_to_date(days)?;
    Some(i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day()))
}

/// Parses a `YYYYMMDD` integer into days since 1970-01-01 (years 1000 to 2999 only, so that
/// ordinary 8-digit numbers are not taken for dates).
pub fn parse_yyyymmdd(value: i64) -> Option<i32> {
    if !(10_000_101..=29_991_231).contains(&value) {
        return None;
    }
    let year = i32::try_from(value / 10_000).ok()?;
    let month = u32::try_from((value / 100) % 100).ok()?;
    let day = u32::try_from(value % 100).ok()?;
    NaiveDate::from_ymd_opt(year, month, day).map(date_to_days)
}

/// A parsed datetime: microseconds since the epoch (UTC when the text had an offset) and the
/// offset in seconds, when the text had one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDateTime {
    /// Microseconds since 1970-01-01T00:00:00 UTC (or naive).
    pub micros: i64,
    /// The UTC offset written in the text, in seconds east.
    pub offset_seconds: Option<i32>,
}

/// Parses a datetime with `pattern`.
pub fn parse_datetime(text: &str, pattern: &str) -> Option<ParsedDateTime> {
    if pattern_has_offset(pattern) {
        let parsed = DateTime::parse_from_str(text, pattern).ok()?;
        Some(ParsedDateTime {
            micros: parsed.timestamp_micros(),
            offset_seconds: Some(parsed.offset().local_minus_utc()),
        })
    } else {
        let parsed = NaiveDateTime::parse_from_str(text, pattern).ok()?;
        Some(ParsedDateTime { micros: parsed.and_utc().timestamp_micros(), offset_seconds: None })
    }
}

/// Renders microseconds since the epoch with `pattern`, in the given fixed offset (when the
/// pattern has one).
pub fn format_datetime(micros: i64, pattern: &str, offset_seconds: Option<i32>) -> String {
    let Some(utc) = DateTime::from_timestamp_micros(micros) else {
        return String::new();
    };
    match offset_seconds.and_then(chrono::FixedOffset::east_opt) {
        Some(offset) if pattern_has_offset(pattern) => utc.with_timezone(&offset).format(pattern).to_string(),
        _ => utc.naive_utc().format(pattern).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_z_roundtrips() {
        let pattern = "%Y-%m-%dT%H:%M:%S%.fZ";
        let parsed = parse_datetime("2013-01-01T06:00:00Z", pattern).expect("parses");
        assert_eq!(format_datetime(parsed.micros, pattern, None), "2013-01-01T06:00:00Z");
        let parsed = parse_datetime("2013-01-01T06:00:00.25Z", pattern).expect("parses");
        assert_eq!(format_datetime(parsed.micros, pattern, None), "2013-01-01T06:00:00.250Z");
    }

    #[test]
    fn offsets_roundtrip() {
        let pattern = "%Y-%m-%dT%H:%M:%S%.f%:z";
        let parsed = parse_datetime("2020-03-01T10:30:00+02:00", pattern).expect("parses");
        assert_eq!(parsed.offset_seconds, Some(7200));
        assert_eq!(format_datetime(parsed.micros, pattern, parsed.offset_seconds), "2020-03-01T10:30:00+02:00");
    }

    #[test]
    fn yyyymmdd() {
        let days = parse_yyyymmdd(20130101).expect("a date");
        assert_eq!(date_to_yyyymmdd(days), Some(20130101));
        assert_eq!(parse_yyyymmdd(20131301), None);
        assert_eq!(parse_yyyymmdd(12345678), None);
        assert_eq!(format_date(days, "%Y-%m-%d"), "2013-01-01");
    }
}
