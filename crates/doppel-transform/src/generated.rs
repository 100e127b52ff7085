//! Columns that are generated rather than modelled: identifiers (fresh keys in the source's
//! format), free text (placeholder words, so no real value is emitted) and personal data (fake
//! names, emails, phone numbers, card and social security numbers, IBANs, IP and street
//! addresses, dates of birth; see [`crate::personal`]). None of them stores a training value.

use std::collections::HashMap;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use doppel_core::rng::mix64;
use doppel_core::{Column, ColumnData, Error, PiiKind, Result, SeededRng, Storage, Warning};

use crate::locale::Locale;

use crate::personal::{self, FakeDetails, common_layout};

/// What one position of a patterned identifier may hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", content = "chars", rename_all = "snake_case")]
pub enum CharClass {
    /// The same character in every value.
    Literal(char),
    /// `0-9`.
    Digit,
    /// `0-9a-f`.
    HexLower,
    /// `0-9A-F`.
    HexUpper,
    /// `A-Z`.
    Upper,
    /// `a-z`.
    Lower,
    /// `0-9A-Z`.
    AlnumUpper,
    /// `0-9a-z`.
    AlnumLower,
    /// `0-9A-Za-z`.
    Alnum,
    /// Characters that no training key has at this position, so that generated keys can never
    /// equal a real one.
    Unused(String),
}

const DIGITS: &str = "0123456789";
const HEX_LOWER: &str = "0123456789abcdef";
const HEX_UPPER: &str = "0123456789ABCDEF";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const ALNUM_UPPER: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM_LOWER: &str = "0123456789abcdefghijklmnopqrstuvwxyz";
const ALNUM: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl CharClass {
    fn alphabet(&self) -> &str {
        match self {
            CharClass::Literal(_) => "",
            CharClass::Unused(chars) => chars,
            CharClass::Digit => DIGITS,
            CharClass::HexLower => HEX_LOWER,
            CharClass::HexUpper => HEX_UPPER,
            CharClass::Upper => UPPER,
            CharClass::Lower => LOWER,
            CharClass::AlnumUpper => ALNUM_UPPER,
            CharClass::AlnumLower => ALNUM_LOWER,
            CharClass::Alnum => ALNUM,
        }
    }

    fn size(&self) -> u128 {
        match self {
            CharClass::Literal(_) => 1,
            other => other.alphabet().len() as u128,
        }
    }

    fn of(chars: &[char]) -> CharClass {
        if let Some(&first) = chars.first()
            && chars.iter().all(|&c| c == first)
            && chars.len() > 1
        {
            return CharClass::Literal(first);
        }
        let all = |alphabet: &str| chars.iter().all(|c| alphabet.contains(*c));
        for class in [
            CharClass::Digit,
            CharClass::HexLower,
            CharClass::HexUpper,
            CharClass::Upper,
            CharClass::Lower,
            CharClass::AlnumUpper,
            CharClass::AlnumLower,
        ] {
            if all(class.alphabet()) {
                return class;
            }
        }
        CharClass::Alnum
    }
}

/// The fitted state of an identifier column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum IdentifierState {
    /// Whole numbers counted up from `start`, a round number above every training key, so no
    /// generated key equals a real one.
    Integer {
        /// The column's name.
        column: String,
        /// The first key.
        start: i64,
        /// The share of missing values.
        missing_share: f64,
    },
    /// Keys built position by position from character classes learned from the source; row
    /// numbers are spread over the key space by a keyed bijection, so keys never repeat.
    Pattern {
        /// The column's name.
        column: String,
        /// What each position may hold.
        classes: Vec<CharClass>,
        /// The key of the bijection.
        key: u64,
        /// The share of missing values.
        missing_share: f64,
    },
}

fn missing_share_of(data: &ColumnData) -> f64 {
    data.null_count() as f64 / data.len().max(1) as f64
}

impl IdentifierState {
    pub(crate) fn fit(column: &Column, storage: Storage, warnings: &mut Vec<Warning>) -> Result<Self> {
        let missing_share = missing_share_of(&column.data);
        if storage == Storage::Integer || matches!(column.data, ColumnData::Int(_)) {
            let mut max = i64::MIN;
            for row in 0..column.data.len() {
                if let Some(text) = column.data.text_at(row) {
                    let value: i64 = text.parse().map_err(|_| {
                        Error::InvalidData(format!(
                            "column `{}`, row {}: `{text}` is not an integer key",
                            column.name,
                            row + 1
                        ))
                    })?;
                    max = max.max(value);
                }
            }
            let start = if max < 1 {
                1
            } else {
                let magnitude = 10i64.saturating_pow(max.ilog10());
                (max / magnitude + 1).saturating_mul(magnitude)
            };
            return Ok(IdentifierState::Integer { column: column.name.clone(), start, missing_share });
        }
        let texts: Vec<Vec<char>> =
            (0..column.data.len()).filter_map(|row| column.data.text_at(row)).map(|t| t.chars().collect()).collect();
        let mut lengths: HashMap<usize, usize> = HashMap::new();
        for text in &texts {
            *lengths.entry(text.len()).or_default() += 1;
        }
        let length = lengths.into_iter().max_by_key(|(len, count)| (*count, *len)).map_or(8, |(len, _)| len.max(1));
        let same_length: Vec<&Vec<char>> = texts.iter().filter(|t| t.len() == length).collect();
        let mut classes: Vec<CharClass> = (0..length)
            .map(|position| {
                let chars: Vec<char> = same_length.iter().map(|t| t[position]).collect();
                match CharClass::of(&chars) {
                    CharClass::Literal(c) if !c.is_ascii_alphanumeric() || same_length.len() >= 5 => {
                        CharClass::Literal(c)
                    }
                    CharClass::Literal(c) if c.is_ascii_digit() => CharClass::Digit,
                    CharClass::Literal(_) => CharClass::Alnum,
                    other => other,
                }
            })
            .collect();
        // Restrict one position to characters no training key has there: then no generated key
        // can equal a real one. Prefer the leftmost position that leaves most room.
        let candidates: Vec<(usize, String)> = (0..length)
            .filter_map(|position| {
                let alphabet = classes[position].alphabet().to_string();
                let used: std::collections::HashSet<char> = same_length.iter().map(|t| t[position]).collect();
                let unused: String = alphabet.chars().filter(|c| !used.contains(c)).collect();
                (!unused.is_empty()).then_some((position, unused))
            })
            .collect();
        // The leftmost position with a quarter of its alphabet free, else the one with most free.
        let restricted = candidates
            .iter()
            .find(|(position, unused)| unused.len() * 4 >= classes[*position].alphabet().len())
            .or_else(|| candidates.iter().max_by_key(|(position, unused)| (unused.len(), usize::MAX - position)))
            .cloned();
        match restricted {
            Some((position, unused)) => classes[position] = CharClass::Unused(unused),
            None => warnings.push(Warning::column(
                &column.name,
                "the key format leaves no room to keep generated keys apart from real ones; they are unique but may coincide with real keys by chance",
            )),
        }
        let space: f64 = classes.iter().map(|c| c.size() as f64).product();
        if space < 10.0 * texts.len() as f64 {
            warnings.push(Warning::column(
                &column.name,
                format!("the key format allows only about {space:.0} distinct keys; large samples may repeat keys"),
            ));
        }
        let key = crate::stable_hash(&column.name);
        Ok(IdentifierState::Pattern { column: column.name.clone(), classes, key, missing_share })
    }

    pub(crate) fn column(&self) -> &str {
        match self {
            IdentifierState::Integer { column, .. } | IdentifierState::Pattern { column, .. } => column,
        }
    }

    pub(crate) fn generate(&self, first_row: u64, n_rows: usize, rng: &mut SeededRng) -> Column {
        match self {
            IdentifierState::Integer { column, start, missing_share } => {
                let values = (0..n_rows)
                    .map(|i| {
                        let missing = *missing_share > 0.0 && rng.random::<f64>() < *missing_share;
                        (!missing).then(|| start.saturating_add((first_row + i as u64) as i64))
                    })
                    .collect();
                Column::new(column.clone(), ColumnData::Int(values))
            }
            IdentifierState::Pattern { column, classes, key, missing_share } => {
                let space: u128 = classes.iter().fold(1u128, |acc, c| acc.saturating_mul(c.size()));
                let multiplier = coprime_multiplier(space, *key);
                let offset = u128::from(mix64(*key, 1)) % space.max(1);
                let values = (0..n_rows)
                    .map(|i| {
                        let missing = *missing_share > 0.0 && rng.random::<f64>() < *missing_share;
                        if missing {
                            return None;
                        }
                        let index = u128::from(first_row + i as u64);
                        let mut code = (index.wrapping_mul(multiplier).wrapping_add(offset)) % space.max(1);
                        let mut out = String::with_capacity(classes.len());
                        for class in classes.iter().rev() {
                            match class {
                                CharClass::Literal(c) => out.push(*c),
                                other => {
                                    let alphabet = other.alphabet().as_bytes();
                                    let size = alphabet.len() as u128;
                                    out.push(alphabet[(code % size) as usize] as char);
                                    code /= size;
                                }
                            }
                        }
                        Some(out.chars().rev().collect())
                    })
                    .collect();
                Column::new(column.clone(), ColumnData::Text(values))
            }
        }
    }
}

/// A multiplier coprime with `space`, so that `i -> (i * m + b) mod space` is a bijection.
fn coprime_multiplier(space: u128, key: u64) -> u128 {
    if space <= 1 {
        return 1;
    }
    let mut candidate = (u128::from(mix64(key, 7)) % space) | 1;
    loop {
        if gcd(candidate, space) == 1 {
            return candidate;
        }
        candidate = (candidate + 2) % space;
        if candidate == 0 {
            candidate = 1;
        }
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

const LOREM: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "in",
    "reprehenderit",
    "voluptate",
    "velit",
    "esse",
    "cillum",
    "fugiat",
    "nulla",
    "pariatur",
    "excepteur",
    "sint",
    "occaecat",
    "cupidatat",
    "non",
    "proident",
    "sunt",
    "culpa",
    "qui",
    "officia",
    "deserunt",
    "mollit",
    "anim",
    "id",
    "est",
    "laborum",
];

/// The fitted state of a free-text column: only the distribution of word counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreeTextState {
    /// The column's name.
    pub column: String,
    /// The share of missing values.
    pub missing_share: f64,
    /// Word counts and their cumulative shares (buckets held by fewer than the protection
    /// threshold of rows are merged into their neighbours).
    pub word_counts: Vec<(u32, f64)>,
}

impl FreeTextState {
    pub(crate) fn fit(column: &Column, min_count: usize, warnings: &mut Vec<Warning>) -> Self {
        let mut counts: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
        for row in 0..column.data.len() {
            if let Some(text) = column.data.text_at(row) {
                let words = text.split_whitespace().count().clamp(1, 1000) as u32;
                *counts.entry(words).or_default() += 1;
            }
        }
        // Merge small buckets upwards so that every published word count stands for
        // `min_count` rows or more.
        let mut merged: Vec<(u32, usize)> = Vec::new();
        let mut pending = 0usize;
        let mut pending_words = 0u64;
        for (words, count) in counts {
            pending += count;
            pending_words += u64::from(words) * count as u64;
            if pending >= min_count {
                merged.push(((pending_words / pending as u64) as u32, pending));
                pending = 0;
                pending_words = 0;
            }
        }
        if pending > 0 {
            match merged.last_mut() {
                Some(last) => last.1 += pending,
                None => merged.push(((pending_words / pending as u64).max(1) as u32, pending)),
            }
        }
        let total: usize = merged.iter().map(|(_, c)| c).sum();
        let mut running = 0usize;
        let word_counts = merged
            .into_iter()
            .map(|(words, count)| {
                running += count;
                (words.max(1), running as f64 / total.max(1) as f64)
            })
            .collect();
        warnings.push(Warning::column(
            &column.name,
            "free text is not modelled yet; it is generated as placeholder words with the source's lengths, so no real value is emitted",
        ));
        FreeTextState { column: column.name.clone(), missing_share: missing_share_of(&column.data), word_counts }
    }

    pub(crate) fn generate(&self, n_rows: usize, rng: &mut SeededRng) -> Column {
        let values = (0..n_rows)
            .map(|_| {
                if self.missing_share > 0.0 && rng.random::<f64>() < self.missing_share {
                    return None;
                }
                let u: f64 = rng.random();
                let words =
                    self.word_counts.iter().find(|(_, c)| u <= *c).or(self.word_counts.last()).map_or(3, |(w, _)| *w);
                let mut text = String::new();
                for i in 0..words {
                    if i > 0 {
                        text.push(' ');
                    }
                    text.push_str(LOREM[rng.random_range(0..LOREM.len())]);
                }
                Some(text)
            })
            .collect();
        Column::new(self.column.clone(), ColumnData::Text(values))
    }
}

/// How the source wrote names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Casing {
    /// `mary`.
    Lower,
    /// `MARY`.
    Upper,
    /// `Mary`.
    Title,
}

/// The fitted state of a personal-data column: only the kind, the casing, the missing share, (for
/// phone, card and social security numbers) the most common digit layout, and the formats and
/// ranges of [`FakeDetails`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeState {
    /// The column's name.
    pub column: String,
    /// What kind of personal data.
    pub kind: PiiKind,
    /// The share of missing values.
    pub missing_share: f64,
    /// How names are written.
    pub casing: Casing,
    /// For phone, card and social security numbers: the layout, `#` standing for a digit
    /// (`(###) ###-####`).
    pub layout: String,
    /// What the kinds with a format of their own learned (absent from older model files).
    #[serde(default, skip_serializing_if = "FakeDetails::is_plain")]
    pub details: FakeDetails,
    /// The locale of names and of the emails made from them (absent: English).
    #[serde(default, skip_serializing_if = "Locale::is_english")]
    pub locale: Locale,
}

impl FakeState {
    pub(crate) fn fit(
        column: &Column,
        kind: PiiKind,
        min_count: usize,
        locale: Locale,
        warnings: &mut Vec<Warning>,
    ) -> Self {
        let texts: Vec<std::borrow::Cow<'_, str>> =
            (0..column.data.len()).filter_map(|row| column.data.text_at(row)).collect();
        let lower = texts.iter().filter(|t| *t == &t.to_lowercase()).count();
        let upper = texts.iter().filter(|t| *t == &t.to_uppercase()).count();
        let casing = if lower * 2 > texts.len() {
            Casing::Lower
        } else if upper * 2 > texts.len() {
            Casing::Upper
        } else {
            Casing::Title
        };
        const PHONE_LAYOUT: &str = "###-###-####";
        let owned: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        let (layout, details) = match kind {
            PiiKind::Phone => {
                (common_layout(owned.iter().map(String::as_str), min_count, PHONE_LAYOUT), FakeDetails::Plain)
            }
            PiiKind::Ssn | PiiKind::CreditCard => personal::fit_digits(column, kind, &owned, min_count, warnings),
            PiiKind::Iban => (PHONE_LAYOUT.to_string(), personal::fit_iban(column, &owned, min_count)),
            PiiKind::IpAddress => (PHONE_LAYOUT.to_string(), personal::fit_ip(&owned, min_count)),
            PiiKind::PostalAddress => (PHONE_LAYOUT.to_string(), personal::fit_postal_address(&owned)),
            PiiKind::DateOfBirth => {
                (PHONE_LAYOUT.to_string(), personal::fit_date_of_birth(column, min_count, warnings))
            }
            PiiKind::Email | PiiKind::FirstName | PiiKind::LastName | PiiKind::PersonName => {
                (PHONE_LAYOUT.to_string(), FakeDetails::Plain)
            }
        };
        warnings
            .push(Warning::column(&column.name, "personal data: replaced by fake values, none taken from the data"));
        FakeState {
            column: column.name.clone(),
            kind,
            missing_share: missing_share_of(&column.data),
            casing,
            layout,
            details,
            locale,
        }
    }

    fn cased(&self, text: &str) -> String {
        match self.casing {
            Casing::Lower => text.to_lowercase(),
            Casing::Upper => text.to_uppercase(),
            Casing::Title => text.to_string(),
        }
    }

    pub(crate) fn generate(&self, n_rows: usize, rng: &mut SeededRng) -> Column {
        if self.kind == PiiKind::DateOfBirth {
            let present: Vec<bool> =
                (0..n_rows).map(|_| !(self.missing_share > 0.0 && rng.random::<f64>() < self.missing_share)).collect();
            let details = match &self.details {
                FakeDetails::DateOfBirth { .. } => self.details.clone(),
                // A state without its details (edited by hand): ISO dates from the default decades.
                _ => personal::fit_date_of_birth(
                    &Column::new(self.column.clone(), ColumnData::Text(Vec::new())),
                    1,
                    &mut Vec::new(),
                ),
            };
            return details.dates_of_birth(&self.column, &present, rng).expect("invariant: date-of-birth details");
        }
        let values: Vec<Option<String>> = (0..n_rows)
            .map(|_| {
                if self.missing_share > 0.0 && rng.random::<f64>() < self.missing_share {
                    return None;
                }
                if !self.details.is_plain() {
                    return Some(self.details.text_value(self.kind, &self.layout, self.casing, rng));
                }
                let (firsts, lasts) = (self.locale.first_names(), self.locale.last_names());
                let first = firsts[rng.random_range(0..firsts.len())];
                let last = lasts[rng.random_range(0..lasts.len())];
                Some(match self.kind {
                    PiiKind::FirstName => self.cased(first),
                    PiiKind::LastName => self.cased(last),
                    PiiKind::PersonName => self.cased(&self.locale.full_name(first, last)),
                    PiiKind::Email => {
                        let domain = ["example.com", "example.org", "example.net"][rng.random_range(0..3)];
                        let number = rng.random_range(1..100);
                        match (ascii_mailbox(first), ascii_mailbox(last)) {
                            (Some(first), Some(last)) => format!("{first}.{last}{number}@{domain}"),
                            // Names in other scripts: a plain mailbox.
                            _ => format!("user{number}{:04}@{domain}", rng.random_range(0..10_000)),
                        }
                    }
                    PiiKind::Phone => self
                        .layout
                        .chars()
                        .map(|c| if c == '#' { char::from(b'0' + rng.random_range(0..10u8)) } else { c })
                        .collect(),
                    // The kinds with details are generated above; a state of one of them without its
                    // details (edited by hand) falls back to digits in the layout.
                    PiiKind::Ssn
                    | PiiKind::CreditCard
                    | PiiKind::Iban
                    | PiiKind::IpAddress
                    | PiiKind::PostalAddress
                    | PiiKind::DateOfBirth => self
                        .layout
                        .chars()
                        .map(|c| if c == '#' { char::from(b'0' + rng.random_range(0..10u8)) } else { c })
                        .collect(),
                })
            })
            .collect();
        if let FakeDetails::Digits { integer: true, .. } = self.details {
            let numbers = values.iter().map(|v| v.as_deref().and_then(|v| v.parse::<i64>().ok())).collect();
            return Column::new(self.column.clone(), ColumnData::Int(numbers));
        }
        Column::new(self.column.clone(), ColumnData::Text(values))
    }
}

/// A name as the ASCII part of an email address: lower case, common Latin accents folded
/// (`Müller` → `mueller`), other characters dropped; `None` for names in other scripts.
fn ascii_mailbox(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    for c in name.to_lowercase().chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'ä' | 'æ' => out.push_str("ae"),
            'ö' | 'ø' | 'œ' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'à' | 'á' | 'â' | 'ã' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' | 'ı' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' => out.push('o'),
            'ù' | 'ú' | 'û' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ş' => out.push('s'),
            'ğ' => out.push('g'),
            ' ' | '-' | '\'' | '.' => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}
