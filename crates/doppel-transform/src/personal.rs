//! Fake values of the personal-data kinds that have a format of their own: card numbers and
//! social security numbers (digit layouts), IBANs, IP addresses, street addresses and dates of
//! birth. What is fitted is the format and, where fakes must stay apart from real values, ranges
//! that no training value falls in; never a training value.
//!
//! - Card numbers: a scheme's prefix for the layout's length, then an issuer number that no
//!   training card starts with, and a valid Luhn check digit.
//! - Social security numbers: areas 900-999, which the SSA never issues, with groups 01-49, which
//!   ITINs (also 9xx) do not use; only areas that no training value has.
//! - IBANs: the most common country of the source when enough rows share it (else Germany), a
//!   bank code that no training IBAN of that country starts with, valid mod-97 check digits.
//! - IP addresses: the documentation ranges (RFC 5737 and RFC 3849), never routed; with the
//!   benchmarking range (RFC 2544) too when the source has many distinct IPv4 addresses.
//! - Street addresses: built-in street names, suffixes and cities with random house numbers.
//! - Dates of birth: decades of birth that at least `min_count` rows share, weighted by their
//!   share of rows, and uniform days inside them; never the real dates or their exact range.

use std::collections::{HashMap, HashSet};

use rand::RngExt;
use serde::{Deserialize, Serialize};

use doppel_core::temporal::{self, DATE_PATTERNS, DATETIME_PATTERNS, MICROS_PER_DAY};
use doppel_core::{Column, ColumnData, PiiKind, SeededRng, Storage, TextFormat, Warning, pii, stream_rng};

use crate::generated::Casing;

/// What a personal-data kind with a format of its own learned from the source. Serialised with a
/// `type` tag; the kinds that have nothing to learn (emails, phones, names) are `plain`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FakeDetails {
    /// Nothing beyond the casing and the layout.
    #[default]
    Plain,
    /// Card numbers and social security numbers: the layout's `#` filled with digits that start
    /// with one of `prefixes`, which no training value starts with.
    Digits {
        /// The digits fake values start with.
        prefixes: Vec<String>,
        /// Whether the source stored integers (so fakes are integers too).
        integer: bool,
    },
    /// IBANs of one country.
    Iban {
        /// The country code.
        country: String,
        /// The first characters of the BBAN (bank code), which no training IBAN of the country has.
        prefixes: Vec<String>,
        /// Whether the source wrote IBANs in groups of four (`DE89 3704 ...`).
        grouped: bool,
    },
    /// IP addresses in the documentation ranges.
    IpAddress {
        /// The share of IPv6 addresses (0 or 1 when fewer than `min_count` rows are of one
        /// version).
        ipv6_share: f64,
        /// Whether IPv4 addresses also use the benchmarking range 198.18.0.0/15 (RFC 2544, never
        /// routed either): when the source has more distinct IPv4 addresses than the 762 of the
        /// documentation ranges can stand for one to one (`doppel anonymize`).
        #[serde(default)]
        wide: bool,
    },
    /// Street addresses.
    PostalAddress {
        /// Whether suffixes are written in full (`Street`) rather than short (`St`).
        long_suffixes: bool,
        /// Whether addresses go on with `, City, ST 12345`.
        with_city: bool,
    },
    /// Dates of birth, in the source's date format.
    DateOfBirth {
        /// The pattern text sources are written in.
        pattern: String,
        /// How the source stored them: text, `YYYYMMDD` integers, dates or datetimes.
        storage: Storage,
        /// Whether the pattern has a time of day (written as midnight).
        with_time: bool,
        /// The UTC offset of datetime patterns with one, in seconds east.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset_seconds: Option<i32>,
        /// Decades of birth (their first year) and their shares of the fake dates.
        decades: Vec<(i32, f64)>,
    },
}

/// BBAN structures of the countries whose IBANs doppel can fake, in the registry's notation
/// (`8n10n`: 8 digits, then 10; `a` letters, `c` letters or digits).
const BBAN_STRUCTURES: &[(&str, &str)] = &[
    ("AT", "5n11n"),
    ("BE", "3n7n2n"),
    ("BG", "4a4n2n8c"),
    ("CH", "5n12c"),
    ("CY", "3n5n16c"),
    ("CZ", "4n6n10n"),
    ("DE", "8n10n"),
    ("DK", "4n9n1n"),
    ("EE", "2n2n11n1n"),
    ("ES", "4n4n1n1n10n"),
    ("FI", "3n11n"),
    ("FR", "5n5n11c2n"),
    ("GB", "4a6n8n"),
    ("GR", "3n4n16c"),
    ("HR", "7n10n"),
    ("HU", "3n4n1n15n1n"),
    ("IE", "4a6n8n"),
    ("IS", "4n2n6n10n"),
    ("IT", "1a5n5n12c"),
    ("LI", "5n12c"),
    ("LT", "5n11n"),
    ("LU", "3n13c"),
    ("LV", "4a13c"),
    ("MC", "5n5n11c2n"),
    ("MT", "4a5n18c"),
    ("NL", "4a10n"),
    ("NO", "4n6n1n"),
    ("PL", "8n16n"),
    ("PT", "4n4n11n2n"),
    ("RO", "4a16c"),
    ("SE", "3n16n1n"),
    ("SI", "5n8n2n"),
    ("SK", "4n6n10n"),
    ("SM", "1a5n5n12c"),
    ("TR", "5n1n16c"),
];

/// The country whose IBANs are faked when the source has no country that enough rows share.
const DEFAULT_IBAN_COUNTRY: &str = "DE";

/// The BBAN of `country` as one class letter per character (`nnnn...`), if doppel knows it.
fn bban_classes(country: &str) -> Option<Vec<u8>> {
    let (_, structure) = BBAN_STRUCTURES.iter().find(|(code, _)| *code == country)?;
    let mut classes = Vec::new();
    let mut count = 0usize;
    for byte in structure.bytes() {
        if byte.is_ascii_digit() {
            count = count * 10 + usize::from(byte - b'0');
        } else {
            classes.extend(std::iter::repeat_n(byte, count));
            count = 0;
        }
    }
    Some(classes)
}

fn random_of_class(class: u8, rng: &mut SeededRng) -> char {
    const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    match class {
        b'a' => char::from(LETTERS[rng.random_range(0..LETTERS.len())]),
        b'c' => char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())]),
        _ => random_digit(rng),
    }
}

fn random_digit(rng: &mut SeededRng) -> char {
    char::from(b'0' + rng.random_range(0..10u8))
}

/// How many prefixes are kept, so that fakes vary in their first digits too.
const PREFIXES_KEPT: usize = 4;

/// Up to [`PREFIXES_KEPT`] candidates that no training value starts with (`used` holds the
/// training values' prefixes of the candidates' length).
fn unused_prefixes(candidates: impl Iterator<Item = String>, used: &HashSet<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for candidate in candidates.take(10_000) {
        if !used.contains(&candidate) && !kept.contains(&candidate) {
            kept.push(candidate);
            if kept.len() == PREFIXES_KEPT {
                break;
            }
        }
    }
    kept
}

/// The scheme prefixes a fake card number of `digits` digits may start with.
fn card_scheme_prefixes(digits: usize) -> &'static [&'static str] {
    match digits {
        14 => &["36", "38"],
        15 => &["34", "37"],
        16 => &["4", "51", "52", "53", "54", "55", "6011"],
        17 | 18 => &["62"],
        19 => &["4", "62"],
        _ => &["4"],
    }
}

/// The most common layout (`#` for a digit) held by at least `min_count` values, else `default`.
pub(crate) fn common_layout<'a>(texts: impl Iterator<Item = &'a str>, min_count: usize, default: &str) -> String {
    let mut layouts: HashMap<String, usize> = HashMap::new();
    for text in texts {
        let layout: String = text.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
        *layouts.entry(layout).or_default() += 1;
    }
    layouts
        .into_iter()
        .filter(|(_, count)| *count >= min_count)
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map_or_else(|| default.to_string(), |(layout, _)| layout)
}

/// Whether more than half of `texts` contain `separator`.
fn mostly_contain(texts: &[String], separator: char) -> bool {
    texts.iter().filter(|t| t.contains(separator)).count() * 2 > texts.len()
}

/// The layout and details of card numbers or social security numbers.
pub(crate) fn fit_digits(
    column: &Column,
    kind: PiiKind,
    texts: &[String],
    min_count: usize,
    warnings: &mut Vec<Warning>,
) -> (String, FakeDetails) {
    let integer = matches!(column.data, ColumnData::Int(_));
    let ssn = kind == PiiKind::Ssn;
    let mut digit_strings: Vec<String> =
        texts.iter().map(|t| t.chars().filter(char::is_ascii_digit).collect::<String>()).collect();
    let layout = if ssn {
        if integer {
            // Integers lose leading zeros: social security numbers are nine digits.
            for digits in &mut digit_strings {
                *digits = format!("{digits:0>9}");
            }
            "#########".to_string()
        } else {
            let default = if mostly_contain(texts, '-') { "###-##-####" } else { "#########" };
            let layout = common_layout(texts.iter().map(String::as_str), min_count, default);
            if layout.chars().filter(|c| *c == '#').count() == 9 { layout } else { default.to_string() }
        }
    } else {
        let default = if integer || !(mostly_contain(texts, ' ') || mostly_contain(texts, '-')) {
            "################"
        } else if mostly_contain(texts, ' ') {
            "#### #### #### ####"
        } else {
            "####-####-####-####"
        };
        let layout = common_layout(texts.iter().map(String::as_str), min_count, default);
        let digits = layout.chars().filter(|c| *c == '#').count();
        if (12..=19).contains(&digits) && (!integer || digits <= 18) { layout } else { default.to_string() }
    };
    let mut rng = stream_rng(crate::stable_hash(&column.name), 0x5afe);
    let prefixes = if ssn {
        let used: HashSet<String> = digit_strings.iter().filter_map(|d| d.get(..3)).map(str::to_string).collect();
        let mut areas: Vec<u32> = (900..1000).collect();
        shuffle(&mut areas, &mut rng);
        let mut prefixes = unused_prefixes(areas.iter().map(u32::to_string), &used);
        if prefixes.is_empty() {
            let used: HashSet<String> = digit_strings.iter().filter_map(|d| d.get(..5)).map(str::to_string).collect();
            let candidates =
                (0..).map(|_| format!("{}{:02}", rng.random_range(900..1000u32), rng.random_range(1..50u32)));
            prefixes = unused_prefixes(candidates, &used);
        }
        prefixes
    } else {
        let digits = layout.chars().filter(|c| *c == '#').count();
        let used: HashSet<String> = digit_strings.iter().filter_map(|d| d.get(..6)).map(str::to_string).collect();
        let schemes = card_scheme_prefixes(digits);
        let candidates = (0..).map(|_| {
            let mut prefix = schemes[rng.random_range(0..schemes.len())].to_string();
            while prefix.len() < 6 {
                prefix.push(random_digit(&mut rng));
            }
            prefix
        });
        unused_prefixes(candidates, &used)
    };
    let prefixes = if prefixes.is_empty() {
        warnings.push(Warning::column(
            &column.name,
            "every candidate prefix is taken by a real value; fake values may coincide with real ones by chance",
        ));
        vec![if ssn { "900".to_string() } else { "400000".to_string() }]
    } else {
        prefixes
    };
    (layout, FakeDetails::Digits { prefixes, integer })
}

/// A deterministic Fisher-Yates shuffle.
fn shuffle<T>(items: &mut [T], rng: &mut SeededRng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

pub(crate) fn fit_iban(column: &Column, texts: &[String], min_count: usize) -> FakeDetails {
    let compact: Vec<String> = texts.iter().map(|t| t.replace(' ', "").to_ascii_uppercase()).collect();
    let mut countries: HashMap<&str, usize> = HashMap::new();
    for iban in &compact {
        if let Some(country) = iban.get(..2).filter(|c| c.bytes().all(|b| b.is_ascii_uppercase())) {
            *countries.entry(country).or_default() += 1;
        }
    }
    let country = countries
        .into_iter()
        .filter(|(country, count)| *count >= min_count && bban_classes(country).is_some())
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map_or(DEFAULT_IBAN_COUNTRY, |(country, _)| country)
        .to_string();
    let classes = bban_classes(&country).expect("invariant: the country has a known BBAN structure");
    let used: HashSet<String> = compact
        .iter()
        .filter(|iban| iban.starts_with(&country))
        .filter_map(|iban| iban.get(4..8))
        .map(str::to_string)
        .collect();
    let mut rng = stream_rng(crate::stable_hash(&column.name), 0x1ba4);
    let candidates =
        (0..).map(|_| classes[..4].iter().map(|class| random_of_class(*class, &mut rng)).collect::<String>());
    let prefixes = unused_prefixes(candidates, &used);
    FakeDetails::Iban { country, prefixes, grouped: mostly_contain(texts, ' ') }
}

pub(crate) fn fit_ip(texts: &[String], min_count: usize) -> FakeDetails {
    let ipv6 = texts.iter().filter(|t| t.contains(':')).count();
    let ipv4 = texts.len() - ipv6;
    let distinct_ipv4 = texts.iter().filter(|t| !t.contains(':')).collect::<HashSet<_>>().len();
    let ipv6_share = if ipv6 < min_count {
        0.0
    } else if ipv4 < min_count {
        1.0
    } else {
        (ipv6 as f64 / texts.len() as f64 * 100.0).round() / 100.0
    };
    FakeDetails::IpAddress { ipv6_share, wide: distinct_ipv4 > WIDE_IPV4_ABOVE }
}

/// The number of distinct IPv4 addresses above which fakes also use the benchmarking range.
const WIDE_IPV4_ABOVE: usize = 250;

/// Street suffixes written short and in full.
const SUFFIXES: &[(&str, &str)] = &[
    ("St", "Street"),
    ("Ave", "Avenue"),
    ("Rd", "Road"),
    ("Blvd", "Boulevard"),
    ("Ln", "Lane"),
    ("Dr", "Drive"),
    ("Way", "Way"),
    ("Ct", "Court"),
    ("Pl", "Place"),
];

const STREET_NAMES: &[&str] = &[
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Willow",
    "Birch",
    "Walnut",
    "Chestnut",
    "Spruce",
    "Aspen",
    "Hickory",
    "Magnolia",
    "Laurel",
    "Juniper",
    "Sycamore",
    "Lake",
    "Hill",
    "Park",
    "Meadow",
    "Spring",
    "River",
    "Sunset",
    "Highland",
    "Forest",
    "Valley",
    "Ridge",
    "Orchard",
    "Garden",
    "Church",
    "Mill",
    "Bridge",
    "Center",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Franklin",
    "Madison",
    "Jackson",
    "Adams",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
];

const CITIES: &[(&str, &str)] = &[
    ("Springfield", "IL"),
    ("Riverside", "CA"),
    ("Fairview", "TX"),
    ("Franklin", "TN"),
    ("Greenville", "SC"),
    ("Bristol", "CT"),
    ("Clinton", "IA"),
    ("Salem", "OR"),
    ("Madison", "WI"),
    ("Georgetown", "KY"),
    ("Arlington", "VA"),
    ("Ashland", "OH"),
    ("Burlington", "VT"),
    ("Dover", "DE"),
    ("Milford", "NH"),
    ("Oxford", "MS"),
    ("Auburn", "AL"),
    ("Marion", "IN"),
    ("Jackson", "MI"),
    ("Newport", "RI"),
];

pub(crate) fn fit_postal_address(texts: &[String]) -> FakeDetails {
    let long = texts
        .iter()
        .filter(|text| {
            let street = text.split(',').next().unwrap_or_default();
            street.split_whitespace().any(|word| {
                let word = word.trim_end_matches('.');
                SUFFIXES.iter().any(|(short, full)| short != full && word.eq_ignore_ascii_case(full))
            })
        })
        .count();
    let with_city = texts
        .iter()
        .filter(|text| {
            let parts: Vec<&str> = text.split(", ").collect();
            parts.len() >= 3
                && parts.last().is_some_and(|last| {
                    let (state, zip) = last.split_once(' ').unwrap_or_default();
                    state.len() == 2 && zip.len() >= 5 && zip.bytes().take(5).all(|b| b.is_ascii_digit())
                })
        })
        .count();
    FakeDetails::PostalAddress { long_suffixes: long * 2 > texts.len(), with_city: with_city * 2 > texts.len() }
}

/// The years in which fake dates of birth fall when too few rows share a decade.
const DEFAULT_DECADES: [i32; 5] = [1950, 1960, 1970, 1980, 1990];

pub(crate) fn fit_date_of_birth(column: &Column, min_count: usize, warnings: &mut Vec<Warning>) -> FakeDetails {
    let data = &column.data;
    let mut offset_seconds = None;
    let (pattern, storage, with_time, days): (String, Storage, bool, Vec<i32>) = match data {
        ColumnData::Date(values) => {
            (temporal::ISO_DATE.into(), Storage::Date, false, values.iter().flatten().copied().collect())
        }
        ColumnData::DateTime(values) => (
            temporal::ISO_DATETIME.into(),
            Storage::Datetime,
            true,
            values.iter().flatten().map(|micros| micros.div_euclid(MICROS_PER_DAY) as i32).collect(),
        ),
        ColumnData::Int(values) => (
            "%Y%m%d".into(),
            Storage::Integer,
            false,
            values.iter().flatten().filter_map(|v| temporal::parse_yyyymmdd(*v)).collect(),
        ),
        _ => {
            let texts: Vec<String> =
                (0..data.len()).filter_map(|row| data.text_at(row)).map(|t| t.into_owned()).collect();
            match text_date_format(&texts) {
                Some((pattern, with_time, offset, days)) => {
                    offset_seconds = offset;
                    (pattern, Storage::Text, with_time, days)
                }
                None => {
                    warnings.push(Warning::column(
                        &column.name,
                        "the values are not dates in a known format; fake dates of birth are written as `%Y-%m-%d`",
                    ));
                    (temporal::ISO_DATE.into(), Storage::Text, false, Vec::new())
                }
            }
        }
    };
    let mut counts: HashMap<i32, usize> = HashMap::new();
    for day in &days {
        if let Some(yyyymmdd) = temporal::date_to_yyyymmdd(*day) {
            *counts.entry((yyyymmdd / 10_000) as i32 / 10 * 10).or_default() += 1;
        }
    }
    let mut kept: Vec<(i32, usize)> = counts.into_iter().filter(|(_, count)| *count >= min_count.max(1)).collect();
    kept.sort_unstable();
    let total: usize = kept.iter().map(|(_, count)| count).sum();
    let decades = if kept.is_empty() {
        warnings.push(Warning::column(
            &column.name,
            format!(
                "no decade of birth is shared by {} rows or more; fake dates of birth fall in {}-{}",
                min_count.max(1),
                DEFAULT_DECADES[0],
                DEFAULT_DECADES[DEFAULT_DECADES.len() - 1] + 9
            ),
        ));
        DEFAULT_DECADES.iter().map(|decade| (*decade, 1.0 / DEFAULT_DECADES.len() as f64)).collect()
    } else {
        kept.into_iter()
            .map(|(decade, count)| (decade, (count as f64 / total as f64 * 1000.0).round() / 1000.0))
            .collect()
    };
    FakeDetails::DateOfBirth { pattern, storage, with_time, offset_seconds, decades }
}

/// The first date or datetime pattern that reads at least 90% of the texts, whether it has a
/// time, its offset (the most common one) and the days read.
fn text_date_format(texts: &[String]) -> Option<(String, bool, Option<i32>, Vec<i32>)> {
    if texts.is_empty() {
        return None;
    }
    let enough = |read: usize| read as f64 >= pii::VALUE_SHARE * texts.len() as f64;
    for pattern in DATE_PATTERNS {
        let days: Vec<i32> = texts.iter().filter_map(|t| temporal::parse_date(t, pattern)).collect();
        if enough(days.len()) {
            return Some((pattern.to_string(), false, None, days));
        }
    }
    for pattern in DATETIME_PATTERNS {
        let parsed: Vec<temporal::ParsedDateTime> =
            texts.iter().filter_map(|t| temporal::parse_datetime(t, pattern)).collect();
        if enough(parsed.len()) {
            let mut offsets: HashMap<Option<i32>, usize> = HashMap::new();
            for value in &parsed {
                *offsets.entry(value.offset_seconds).or_default() += 1;
            }
            let offset =
                offsets.into_iter().max_by_key(|(offset, count)| (*count, *offset)).and_then(|(offset, _)| offset);
            let local = |value: &temporal::ParsedDateTime| {
                value.micros + i64::from(value.offset_seconds.unwrap_or(0)) * 1_000_000
            };
            let days = parsed.iter().map(|value| local(value).div_euclid(MICROS_PER_DAY) as i32).collect();
            return Some((pattern.to_string(), true, offset, days));
        }
    }
    None
}

/// Days since 1970-01-01 of 1 January of `year`.
fn first_of_january(year: i32) -> i32 {
    temporal::parse_yyyymmdd(i64::from(year) * 10_000 + 101).unwrap_or(0)
}

impl FakeDetails {
    /// Whether there are no details (emails, phones, names, and states from older model files).
    pub fn is_plain(&self) -> bool {
        *self == FakeDetails::Plain
    }

    /// One fake value as text (for the kinds generated as text).
    pub(crate) fn text_value(&self, kind: PiiKind, layout: &str, casing: Casing, rng: &mut SeededRng) -> String {
        match self {
            FakeDetails::Digits { prefixes, .. } => {
                let prefix = &prefixes[rng.random_range(0..prefixes.len())];
                let n = layout.chars().filter(|c| *c == '#').count();
                let mut digits: String = prefix.chars().take(n.saturating_sub(1)).collect();
                if kind == PiiKind::Ssn {
                    if digits.len() == 3 {
                        digits.push_str(&format!("{:02}", rng.random_range(1..50u32)));
                    }
                    while digits.len() < n.saturating_sub(4) {
                        digits.push(random_digit(rng));
                    }
                    digits.push_str(&format!("{:04}", rng.random_range(1..10_000u32)));
                    digits.truncate(n);
                } else {
                    while digits.len() + 1 < n {
                        digits.push(random_digit(rng));
                    }
                    let check = pii::luhn_check_digit(&digits);
                    digits.push(check);
                }
                let mut digits = digits.chars();
                layout.chars().map(|c| if c == '#' { digits.next().unwrap_or('0') } else { c }).collect()
            }
            FakeDetails::Iban { country, prefixes, grouped } => {
                let classes = bban_classes(country).unwrap_or_else(|| vec![b'n'; 18]);
                let mut bban: String =
                    prefixes.get(rng.random_range(0..prefixes.len().max(1))).cloned().unwrap_or_default();
                for class in classes.iter().skip(bban.len()) {
                    bban.push(random_of_class(*class, rng));
                }
                let compact = format!("{country}{}{bban}", pii::iban_check_digits(country, &bban));
                let text = if *grouped {
                    compact
                        .as_bytes()
                        .chunks(4)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                } else {
                    compact
                };
                if casing == Casing::Lower { text.to_lowercase() } else { text }
            }
            FakeDetails::IpAddress { ipv6_share, wide } => {
                if *ipv6_share > 0.0 && rng.random::<f64>() < *ipv6_share {
                    let groups: Vec<u16> = (0..6).map(|_| rng.random::<u16>()).collect();
                    let address = std::net::Ipv6Addr::new(
                        0x2001, 0x0db8, groups[0], groups[1], groups[2], groups[3], groups[4], groups[5],
                    );
                    let text = address.to_string();
                    if casing == Casing::Upper { text.to_uppercase() } else { text }
                } else if *wide && rng.random::<f64>() < 0.99 {
                    format!(
                        "198.{}.{}.{}",
                        rng.random_range(18..20u32),
                        rng.random::<u8>(),
                        rng.random_range(1..255u32)
                    )
                } else {
                    let network = ["192.0.2", "198.51.100", "203.0.113"][rng.random_range(0..3)];
                    format!("{network}.{}", rng.random_range(1..255u32))
                }
            }
            FakeDetails::PostalAddress { long_suffixes, with_city } => {
                let (short, full) = SUFFIXES[rng.random_range(0..SUFFIXES.len())];
                let street = STREET_NAMES[rng.random_range(0..STREET_NAMES.len())];
                let number = rng.random_range(1..10_000u32);
                let mut text = format!("{number} {street} {}", if *long_suffixes { full } else { short });
                if *with_city {
                    let (city, state) = CITIES[rng.random_range(0..CITIES.len())];
                    text.push_str(&format!(", {city}, {state} {:05}", rng.random_range(10_000..100_000u32)));
                }
                match casing {
                    Casing::Lower => text.to_lowercase(),
                    Casing::Upper => text.to_uppercase(),
                    Casing::Title => text,
                }
            }
            FakeDetails::DateOfBirth { .. } | FakeDetails::Plain => String::new(),
        }
    }

    /// One fake date of birth, as days since 1970-01-01.
    fn date_of_birth(decades: &[(i32, f64)], rng: &mut SeededRng) -> i32 {
        let total: f64 = decades.iter().map(|(_, share)| share).sum();
        let mut u = rng.random::<f64>() * total;
        let mut decade = decades.last().map_or(1970, |(decade, _)| *decade);
        for (candidate, share) in decades {
            if u < *share {
                decade = *candidate;
                break;
            }
            u -= share;
        }
        let (start, end) = (first_of_january(decade), first_of_january(decade + 10));
        rng.random_range(start..end.max(start + 1))
    }

    /// A column of fake dates of birth, typed as the source was; `present` says which rows have
    /// a value.
    pub(crate) fn dates_of_birth(&self, name: &str, present: &[bool], rng: &mut SeededRng) -> Option<Column> {
        let FakeDetails::DateOfBirth { pattern, storage, with_time, offset_seconds, decades } = self else {
            return None;
        };
        let days: Vec<Option<i32>> =
            present.iter().map(|present| present.then(|| Self::date_of_birth(decades, rng))).collect();
        let name = name.to_string();
        let format = TextFormat::Temporal { pattern: pattern.clone(), offset_seconds: *offset_seconds };
        // Midnight in the source's offset.
        let midnight = |day: i32| i64::from(day) * MICROS_PER_DAY - i64::from(offset_seconds.unwrap_or(0)) * 1_000_000;
        Some(match storage {
            Storage::Integer => Column::new(
                name,
                ColumnData::Int(days.iter().map(|d| d.and_then(temporal::date_to_yyyymmdd)).collect()),
            ),
            Storage::Date => Column::new(name, ColumnData::Date(days)).with_format(format),
            Storage::Datetime => {
                Column::new(name, ColumnData::DateTime(days.iter().map(|d| d.map(midnight)).collect()))
                    .with_format(format)
            }
            _ => {
                let texts = days
                    .iter()
                    .map(|day| {
                        day.map(|day| {
                            if *with_time {
                                temporal::format_datetime(midnight(day), pattern, *offset_seconds)
                            } else {
                                temporal::format_date(day, pattern)
                            }
                        })
                    })
                    .collect();
                Column::new(name, ColumnData::Text(texts))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bban_structures_match_the_iban_lengths() {
        for (country, _) in BBAN_STRUCTURES {
            let classes = bban_classes(country).expect("known");
            assert_eq!(Some(classes.len() + 4), pii::iban_length(country), "{country}");
        }
    }

    #[test]
    fn shuffles_are_permutations() {
        let mut items: Vec<u32> = (0..100).collect();
        shuffle(&mut items, &mut stream_rng(1, 2));
        assert_ne!(items, (0..100).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
    }
}
