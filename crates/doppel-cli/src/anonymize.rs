//! `doppel anonymize`: the personal data of a table replaced, everything else kept as it is.
//!
//! - Personal-data columns (names, emails, phones, ...) get fake values of the same kind and
//!   format, consistently: a value maps to the same fake value wherever it occurs (so joins on it
//!   still work), two different values never to the same one (names excepted: people share
//!   names), no fake equals a real value of the column, and the mapping follows only from the
//!   value, the column and `--seed`.
//! - Identifier columns get fresh keys in the source's format, consistently too.
//! - Free-text and text category columns keep their text with the personal data inside it
//!   replaced: emails, phone
//!   numbers, US social security numbers, card numbers (Luhn-valid), IP addresses, and the values
//!   of the table's own personal-data columns.
//! - `--pseudonymize COLUMN` replaces a column by keyed pseudonyms, HMAC-SHA256 with a secret key
//!   read from an environment variable: stable across tables and runs for the same key.
//!
//! Nothing is written until the whole table is done (a temporary file, then renamed), and the
//! manifest beside it says what was done to each column, with no value and no key in it.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::Instant;

use anyhow::{Result, bail};
use regex::Regex;
use serde::Serialize;
use sha2::{Digest, Sha256};

use doppel_core::pii;
use doppel_core::rng::{mix64, stream_id};
use doppel_core::{Column, ColumnData, ColumnKind, ColumnMeta, PiiKind, Table, stream_rng};
use doppel_io::open_sink;
use doppel_transform::{FitSettings, TransformState};

use crate::args::AnonymizeArgs;
use crate::commands::{check_output, load, write_text_atomically};
use crate::manifest;

/// What was done to one column, for the manifest.
#[derive(Debug, Serialize)]
struct ColumnAction {
    column: String,
    action: String,
    /// Distinct values replaced (cells, for free text).
    replaced: usize,
}

#[derive(Debug, Serialize)]
struct AnonymizeManifest {
    format: &'static str,
    version: u32,
    doppel_version: &'static str,
    command: &'static str,
    created_at: String,
    input: String,
    input_fingerprint: String,
    output: String,
    rows: usize,
    seed: u64,
    columns: Vec<ColumnAction>,
}

pub fn anonymize(args: AnonymizeArgs) -> Result<()> {
    let started = Instant::now();
    check_output(&args.output, &[&args.data], &args.common)?;
    let secret = match (&args.secret_env, args.pseudonymize.is_empty()) {
        (_, true) => None,
        (None, false) => bail!(
            "`--pseudonymize` needs a secret key: name the environment variable that holds it with `--secret-env VAR`"
        ),
        (Some(var), false) => match std::env::var(var) {
            Ok(secret) if !secret.is_empty() => Some(secret.into_bytes()),
            _ => bail!(
                "`--secret-env {var}`: the environment variable `{var}` is not set or empty; keyed pseudonyms need a \
                 secret key (for example 32 random bytes, hex-encoded)"
            ),
        },
    };
    let settings = FitSettings { locale: doppel_transform::Locale::parse(&args.locale)?, ..FitSettings::default() };
    let loaded = load(&args.data, &args.read)?;
    let (table, metadata) = (&loaded.table, &loaded.metadata);
    for column in &args.pseudonymize {
        if metadata.column(column).is_none() {
            bail!(
                "`--pseudonymize {column}`: the data has no column `{column}`; its columns are {}",
                metadata.columns.iter().map(|c| format!("`{}`", c.name)).collect::<Vec<_>>().join(", ")
            );
        }
    }
    // Values of the table's own personal columns, to find inside free text too.
    let mut known: HashMap<String, String> = HashMap::new();
    let mut columns = Vec::with_capacity(table.n_columns());
    let mut actions = Vec::new();
    let mut free_text = Vec::new();
    for (index, column) in table.columns().iter().enumerate() {
        let meta = metadata.column(&column.name).expect("invariant: the metadata matches the table");
        let pseudonymize = args.pseudonymize.contains(&column.name);
        let (replaced, action) = match (&meta.kind, &secret) {
            (_, Some(secret)) if pseudonymize => {
                let (column, n) = map_values(column, |value, _| Ok(pseudonym(secret, &meta.name, value)))?;
                (Some(column), format!("keyed pseudonyms (HMAC-SHA256), {n} distinct values"))
            }
            (ColumnKind::Pii { .. }, _) => {
                let (mapped, n) = fake_values(column, meta, args.seed, &settings)?;
                collect_known(column, &mapped, &mut known);
                (Some(mapped), format!("consistent fake values ({}), {n} distinct values", meta.kind.name()))
            }
            (ColumnKind::Identifier { .. }, _) => {
                let (mapped, n) = fresh_keys(column, meta, args.seed)?;
                (Some(mapped), format!("fresh keys in the same format, {n} distinct values"))
            }
            (ColumnKind::Text | ColumnKind::Categorical { storage: doppel_core::Storage::Text }, _) => {
                free_text.push((index, matches!(meta.kind, ColumnKind::Text)));
                (None, String::new())
            }
            _ => (None, String::new()),
        };
        if let Some(mapped) = replaced {
            let replaced = distinct_count(column);
            actions.push(ColumnAction { column: column.name.clone(), action, replaced });
            columns.push(mapped);
        } else {
            columns.push(column.clone());
        }
    }
    let redactor = Redactor::new(known, args.seed);
    for (index, prose) in free_text {
        let (redacted, cells) = redactor.redact_column(&columns[index], prose);
        if cells == 0 {
            continue;
        }
        actions.push(ColumnAction {
            column: columns[index].name.clone(),
            action: "free text with the personal data inside it replaced".into(),
            replaced: cells,
        });
        columns[index] = redacted;
    }
    actions.sort_by_key(|a| table.columns().iter().position(|c| c.name == a.column));
    let output = Table::try_new(columns)?;
    let mut sink = open_sink(&args.output, args.common.force, &output.slice(0, 0))?;
    let encoded = sink.encoder().encode(&output, 0)?;
    sink.write_encoded(encoded)?;
    sink.finish()?;
    let manifest = AnonymizeManifest {
        format: manifest::MANIFEST_FORMAT,
        version: 1,
        doppel_version: env!("CARGO_PKG_VERSION"),
        command: "anonymize",
        created_at: manifest::now(),
        input: args.data.display().to_string(),
        input_fingerprint: loaded.fingerprint.clone(),
        output: args.output.display().to_string(),
        rows: output.n_rows(),
        seed: args.seed,
        columns: actions,
    };
    let manifest_path = manifest::path_for(&args.output);
    write_text_atomically(&manifest_path, &(serde_json::to_string_pretty(&manifest)? + "\n"), true)?;
    if !args.common.quiet {
        let mut stderr = std::io::stderr().lock();
        for action in &manifest.columns {
            let _ = writeln!(stderr, "{}: {} ({} replaced)", action.column, action.action, action.replaced);
        }
        if manifest.columns.is_empty() {
            let _ = writeln!(stderr, "no personal data found: the output equals the input (check `doppel inspect`)");
        }
        let _ = writeln!(
            stderr,
            "wrote {} rows to {} in {:.2}s; what was done in {}",
            output.n_rows(),
            args.output.display(),
            started.elapsed().as_secs_f64(),
            manifest_path.display()
        );
    }
    Ok(())
}

fn distinct_count(column: &Column) -> usize {
    (0..column.data.len()).filter_map(|r| column.data.text_at(r)).collect::<HashSet<_>>().len()
}

/// A column with every present value replaced by `map(value, its rank among distinct values)`,
/// the same value always by the same replacement; and the number of distinct values.
fn map_values(column: &Column, mut map: impl FnMut(&str, usize) -> Result<String>) -> Result<(Column, usize)> {
    let mut mapping: HashMap<String, String> = HashMap::new();
    let mut values = Vec::with_capacity(column.data.len());
    for row in 0..column.data.len() {
        values.push(match column.data.text_at(row) {
            None => None,
            Some(value) => {
                if !mapping.contains_key(value.as_ref()) {
                    let replacement = map(&value, mapping.len())?;
                    mapping.insert(value.to_string(), replacement);
                }
                Some(mapping[value.as_ref()].clone())
            }
        });
    }
    // Integer keys stay integers (a Parquet int64 column stays one).
    if let ColumnData::Int(_) = column.data {
        let numbers: Option<Vec<Option<i64>>> =
            values.iter().map(|v| v.as_ref().map_or(Some(None), |v| v.parse().ok().map(Some))).collect();
        if let Some(numbers) = numbers {
            return Ok((Column::new(column.name.clone(), ColumnData::Int(numbers)), mapping.len()));
        }
    }
    // Native dates stay dates.
    if let ColumnData::Date(_) = column.data {
        let days: Option<Vec<Option<i32>>> =
            values.iter().map(|v| v.as_ref().map_or(Some(None), |v| v.parse().ok().map(Some))).collect();
        if let Some(days) = days {
            return Ok((
                Column { name: column.name.clone(), data: ColumnData::Date(days), format: column.format.clone() },
                mapping.len(),
            ));
        }
    }
    Ok((Column::new(column.name.clone(), ColumnData::Text(values)), mapping.len()))
}

/// Fake values of the column's kind, one per distinct value, drawn from a stream keyed by the
/// value itself (so the mapping does not depend on row order) and redrawn on a clash.
fn fake_values(column: &Column, meta: &ColumnMeta, seed: u64, settings: &FitSettings) -> Result<(Column, usize)> {
    let transform = TransformState::fit(column, meta, settings, &mut Vec::new())?;
    // Names repeat in real life, and the name lists are shorter than many columns: two people may
    // share a fake name. Other kinds (emails, phones, ...) are keys people are joined on: never.
    let injective = !matches!(
        meta.kind,
        ColumnKind::Pii { kind: PiiKind::FirstName | PiiKind::LastName | PiiKind::PersonName | PiiKind::DateOfBirth }
    );
    let mut used: HashSet<String> = HashSet::new();
    let originals: HashSet<String> =
        (0..column.data.len()).filter_map(|r| column.data.text_at(r)).map(|v| v.into_owned()).collect();
    map_values(column, |value, _| {
        for attempt in 0u64..1000 {
            let key = mix64(mix64(seed, stream_id(&meta.name)), mix64(stream_id(value), attempt));
            let mut rng = stream_rng(key, 0xfa4e);
            let fake = transform.generate(0, 1, &mut rng).data.text_at(0).map(|t| t.into_owned());
            if let Some(fake) = fake
                && !(injective && used.contains(&fake))
                && !originals.contains(&fake)
            {
                used.insert(fake.clone());
                return Ok(fake);
            }
        }
        bail!("column `{}`: could not find a fresh fake value after 1000 tries", meta.name)
    })
}

/// Fresh keys in the column's format, numbered by first occurrence.
fn fresh_keys(column: &Column, meta: &ColumnMeta, seed: u64) -> Result<(Column, usize)> {
    let transform = TransformState::fit(column, meta, &FitSettings::default(), &mut Vec::new())?;
    let mut rng = stream_rng(seed, stream_id(&meta.name));
    let n = distinct_count(column);
    let keys = transform.generate(0, n, &mut rng);
    map_values(column, |_, rank| Ok(keys.data.text_at(rank).map(|k| k.into_owned()).unwrap_or_default()))
}

fn collect_known(original: &Column, mapped: &Column, known: &mut HashMap<String, String>) {
    for row in 0..original.data.len() {
        if let (Some(from), Some(to)) = (original.data.text_at(row), mapped.data.text_at(row))
            && from.chars().count() >= 3
        {
            known.insert(from.into_owned(), to.into_owned());
        }
    }
}

/// HMAC-SHA256 of `value` under `secret` (RFC 2104), as 32 hex digits (the first 16 bytes); the
/// column's name is mixed in so that equal values of different columns do not link.
fn pseudonym(secret: &[u8], column: &str, value: &str) -> String {
    let mac = hmac_sha256(secret, format!("{column}\u{0}{value}").as_bytes());
    mac[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// Finds personal data inside free text and replaces it, consistently.
struct Redactor {
    patterns: Vec<(&'static str, Regex)>,
    /// Capitalised words, where person names are looked for.
    words: Regex,
    /// The table's own personal values and their fakes.
    known: HashMap<String, String>,
    /// All of them, for free text.
    in_prose: Option<Regex>,
    /// Only those of several words or with an `@` (full names, emails), for categories, where a
    /// single word (a surname such as Ward) is too likely to mean something else.
    in_categories: Option<Regex>,
    seed: u64,
}

impl Redactor {
    fn new(known: HashMap<String, String>, seed: u64) -> Redactor {
        let pattern = |text: &str| Regex::new(text).expect("invariant: the built-in patterns compile");
        // In order of precedence: a span found by an earlier pattern is not looked at again.
        // Candidates are confirmed by the same validators as column detection uses
        // (`doppel_core::pii`), so `inspect`, `anonymize` and detection agree.
        let patterns = vec![
            ("email", pattern(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
            ("iban", pattern(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")),
            ("card", pattern(r"\b(?:\d[ -]?){12,18}\d\b")),
            ("ssn", pattern(r"\b\d{3}-\d{2}-\d{4}\b")),
            ("phone", pattern(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\b\d{3})[ .-]?\d{3}[ .-]?\d{4}\b")),
            ("ip", pattern(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")),
            (
                "address",
                pattern(
                    r"\b\d{1,5} (?:[A-Z][a-z]+ ){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Parkway|Pkwy)\b\.?(?:,? (?:Apt|Suite|Unit) [0-9A-Z]+)?(?:, (?:[A-Z][a-z]+ ){0,2}[A-Z][a-z]+, [A-Z]{2} \d{5}(?:-\d{4})?)?",
                ),
            ),
        ];
        // Longest first, so that a full name wins over a part of it. Too many values for one
        // pattern (beyond 1 GiB compiled) leave only the built-in patterns.
        let alternation = |keep: &dyn Fn(&str) -> bool| -> Option<Regex> {
            let mut values: Vec<&String> = known.keys().filter(|v| keep(v)).collect();
            if values.is_empty() {
                return None;
            }
            values.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
            let alternation = values.iter().map(|v| regex::escape(v)).collect::<Vec<_>>().join("|");
            regex::RegexBuilder::new(&format!(r"\b(?:{alternation})\b")).size_limit(1 << 30).build().ok()
        };
        let in_prose = alternation(&|_| true);
        let in_categories = alternation(&|v| v.contains([' ', '@']) && v.chars().count() >= 6);
        let words = pattern(r"\b\p{Lu}[\p{L}'’]*(?:-\p{Lu}[\p{L}'’]*)*\b");
        Redactor { patterns, words, known, in_prose, in_categories, seed }
    }

    /// A stand-in for a found value of `kind`, the same for the same value.
    fn stand_in(&self, kind: &str, value: &str) -> String {
        let mut hash = mix64(self.seed, stream_id(value));
        let mut digits = || {
            hash = mix64(hash, 0xd161);
            char::from(b'0' + (hash % 10) as u8)
        };
        let pick = mix64(self.seed, stream_id(value));
        match kind {
            "email" => format!("user{:06}@example.com", pick % 1_000_000),
            "name" => {
                let locale = doppel_transform::Locale::English;
                let (firsts, lasts) = (locale.first_names(), locale.last_names());
                format!("{} {}", firsts[pick as usize % firsts.len()], lasts[(pick >> 32) as usize % lasts.len()])
            }
            "ip" => format!("192.0.2.{}", pick % 254 + 1),
            "address" => {
                const STREETS: [&str; 8] = ["Maple", "Cedar", "Willow", "Juniper", "Alder", "Hazel", "Linden", "Rowan"];
                const KINDS: [&str; 4] = ["Street", "Avenue", "Lane", "Road"];
                format!(
                    "{} {} {}",
                    pick % 9000 + 100,
                    STREETS[(pick >> 20) as usize % 8],
                    KINDS[(pick >> 40) as usize % 4]
                )
            }
            // Digits become other digits, the layout stays: `(555) 010-4477`, `900-12-3456`.
            _ => {
                let mut out: String = value.chars().map(|c| if c.is_ascii_digit() { digits() } else { c }).collect();
                if kind == "ssn" {
                    out.replace_range(0..1, "9"); // area 9xx is never issued
                }
                out
            }
        }
    }

    /// The personal values the built-in patterns (and, with `names`, the person-name finder)
    /// find in `text`: kind and byte range, in order, never overlapping.
    fn find(&self, text: &str, names: bool) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let mut found: Vec<(&'static str, std::ops::Range<usize>)> = Vec::new();
        for (kind, regex) in &self.patterns {
            for m in regex.find_iter(text) {
                let value = m.as_str();
                let valid = match *kind {
                    "iban" => pii::is_iban(value),
                    "card" => pii::is_card_number(value),
                    "ssn" => pii::is_ssn(value),
                    "ip" => pii::is_ip_address(value),
                    _ => true,
                };
                if valid && !found.iter().any(|(_, r)| overlaps(r, &m.range())) {
                    found.push((kind, m.range()));
                }
            }
        }
        for range in if names { self.person_names(text) } else { Vec::new() } {
            if !found.iter().any(|(_, r)| overlaps(r, &range)) {
                found.push(("name", range));
            }
        }
        found.sort_by_key(|(_, r)| r.start);
        found
    }

    /// Person names in running text: a title and a capitalised word (`Dr. Okafor`), or a given
    /// name of the name lists followed, after one space (and perhaps a middle initial), by a
    /// family name of the lists, or by any capitalised word that is not a common noun of
    /// addresses, organisations or dates when the given name is not itself a common word.
    fn person_names(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        let words: Vec<std::ops::Range<usize>> = self.words.find_iter(text).map(|m| m.range()).collect();
        let gap = |a: &std::ops::Range<usize>, b: &std::ops::Range<usize>| &text[a.end..b.start];
        let mut names = Vec::new();
        let mut i = 0;
        while i + 1 < words.len() {
            let (word, next) = (&text[words[i].clone()], &words[i + 1]);
            if TITLES.contains(&word) && matches!(gap(&words[i], next), " " | ". ") {
                names.push(words[i].start..next.end);
                i += 2;
                continue;
            }
            // A middle initial: `John F. Kennedy`.
            let last =
                if next.len() == 1 && i + 2 < words.len() && gap(next, &words[i + 2]) == ". " { i + 2 } else { i + 1 };
            if doppel_transform::locale::is_given_name(word) && gap(&words[i], next) == " " {
                let family = &text[words[last].clone()];
                let listed = family.split('-').all(doppel_transform::locale::is_family_name);
                let plausible = !COMMON_WORD_NAMES.contains(&word)
                    && !NOT_SURNAMES.contains(&family)
                    && !pii::STREET_SUFFIXES.iter().any(|s| s.eq_ignore_ascii_case(family));
                if listed || plausible {
                    names.push(words[i].start..words[last].end);
                    i = last + 1;
                    continue;
                }
            }
            i += 1;
        }
        names
    }

    /// `prose`: free text, where every personal value of the table is looked for; in categories
    /// only full names and emails are (a surname can be a ward's name).
    fn redact(&self, text: &str, prose: bool) -> (String, bool) {
        // Patterns first (a value of the table's own columns gets that column's fake), then the
        // values of the table's personal columns, then (in free text) other person names.
        let known = &self.known;
        let mut spans = self.find(text, prose);
        if let Some(regex) = if prose { &self.in_prose } else { &self.in_categories } {
            for m in regex.find_iter(text) {
                let range = m.range();
                spans.retain(|(kind, r)| !(*kind == "name" && overlaps(r, &range)));
                if !spans.iter().any(|(_, r)| overlaps(r, &range)) {
                    spans.push(("known", range));
                }
            }
            spans.sort_by_key(|(_, r)| r.start);
        }
        let mut result = String::with_capacity(text.len());
        let mut at = 0;
        for (kind, range) in spans {
            result.push_str(&text[at..range.start]);
            let value = &text[range.clone()];
            result.push_str(&known.get(value).cloned().unwrap_or_else(|| self.stand_in(kind, value)));
            at = range.end;
        }
        result.push_str(&text[at..]);
        let changed = result != text;
        (result, changed)
    }

    fn redact_column(&self, column: &Column, prose: bool) -> (Column, usize) {
        let mut cells = 0;
        let values = (0..column.data.len())
            .map(|row| {
                column.data.text_at(row).map(|text| {
                    let (redacted, changed) = self.redact(&text, prose);
                    cells += usize::from(changed);
                    redacted
                })
            })
            .collect();
        (Column::new(column.name.clone(), ColumnData::Text(values)), cells)
    }
}

/// Whether two byte ranges share a byte.
fn overlaps(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Titles before a family name.
const TITLES: &[&str] = &["Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Herr", "Frau", "Mme", "Mlle", "Sr", "Sra"];

/// Given names that are also common words, trusted only before a listed family name.
const COMMON_WORD_NAMES: &[&str] = &[
    "Will",
    "May",
    "June",
    "April",
    "August",
    "Grant",
    "Mark",
    "Bill",
    "Rose",
    "General",
    "Baby",
    "Brain",
    "Christ",
    "America",
    "Florida",
    "Easter",
    "Golden",
    "Summer",
    "Autumn",
    "Faith",
    "Hope",
    "Joy",
    "Chance",
    "Destiny",
    "Royal",
    "Major",
    "King",
    "Price",
    "Don",
    "Art",
    "Guy",
    "Sky",
    "River",
    "Dale",
    "Glen",
    "Forest",
    "Ford",
    "Bell",
    "Cliff",
    "Frank",
    "Hunter",
    "Mason",
    "Miles",
    "Jack",
    "Pat",
    "Sue",
    "Ray",
    "Rich",
    "Lance",
    "Page",
    "Paris",
    "Carmen",
    "Camden",
    "Brooklyn",
    "Dallas",
    "Austin",
    "Houston",
    "Jordan",
    "Israel",
    "Asia",
    "Georgia",
    "Virginia",
    "Lincoln",
    "Madison",
    "Washington",
    "Monday",
    "Sunday",
    "Tuesday",
    "Delta",
    "Mercedes",
    "Jaguar",
    "Else",
];

/// Capitalised words that follow given names in text without being family names.
const NOT_SURNAMES: &[&str] = &[
    "Service",
    "Services",
    "Support",
    "Team",
    "Department",
    "Office",
    "Center",
    "Centre",
    "Bank",
    "Hospital",
    "Clinic",
    "School",
    "University",
    "College",
    "Company",
    "Group",
    "Inc",
    "Ltd",
    "Corp",
    "Airlines",
    "Airport",
    "Station",
    "Hotel",
    "Park",
    "County",
    "City",
    "Island",
    "Beach",
    "Valley",
    "Bridge",
    "Church",
    "Foundation",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "The",
    "And",
    "Or",
    "I",
    "We",
    "You",
    "He",
    "She",
    "They",
    "It",
    "Please",
    "Thanks",
    "Thank",
    "Re",
    "See",
    "Note",
    "Called",
];

/// The kinds of personal data found inside a text column, with the rows holding each, most
/// frequent first: what `doppel inspect` reports (and `anonymize` would replace).
pub(crate) fn personal_data_inside(column: &Column) -> Vec<(&'static str, usize)> {
    let redactor = Redactor::new(HashMap::new(), 0);
    let mut rows: HashMap<&'static str, usize> = HashMap::new();
    for row in 0..column.data.len() {
        let Some(text) = column.data.text_at(row) else { continue };
        let mut kinds: Vec<&'static str> = redactor.find(&text, true).into_iter().map(|(kind, _)| kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            *rows.entry(kind).or_default() += 1;
        }
    }
    let mut found: Vec<(&'static str, usize)> = rows.into_iter().collect();
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let long_key = [0xaau8; 131];
        let mac = hmac_sha256(&long_key, b"Test Using Larger Than Block-Size Key - Hash Key First");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    /// Recall and precision of the free-text patterns, per kind, on 3000 generated comments with
    /// planted values (valid checksums) and look-alikes (dates, amounts, order and tracking
    /// numbers, Luhn-invalid card-length numbers, IBANs with wrong check digits, versions,
    /// invalid SSNs, sentences with numbers before capitalised words).
    #[test]
    fn free_text_detection_has_recall_and_precision_above_0_9_per_kind() {
        use rand::RngExt;
        let mut rng = stream_rng(2026, 11);
        let in_fours = |text: &str, separator: &str| -> String {
            text.as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).expect("ascii"))
                .collect::<Vec<_>>()
                .join(separator)
        };
        let digits = |rng: &mut doppel_core::SeededRng, n: usize| -> String {
            (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
        };
        let names = ["maria", "j.smith", "kofi.mensah", "li_wei", "anna-lena", "o.brien", "sam99"];
        let domains = ["example.org", "mail.co.uk", "uni-heidelberg.de", "corp.example.com"];
        let streets = ["Main", "Oak", "Martin Luther King", "Sunset", "Elm", "Cherry Hill", "Lincoln"];
        let suffixes = ["Street", "St", "Ave", "Road", "Blvd", "Lane", "Dr", "Court", "Way"];
        let cities = [("Springfield", "IL"), ("San Antonio", "TX"), ("Portland", "OR"), ("Ann Arbor", "MI")];
        // Names written here, not drawn from the finder's lists.
        let given = [
            "Maria", "James", "Aisha", "Olga", "Carlos", "Fatima", "Liam", "Sofia", "Noah", "Hannah", "Priya",
            "Mehmet", "Chloe", "Ethan", "Ingrid", "Tomas", "Yusuf", "Elena", "Kevin", "Grace",
        ];
        let family = [
            "Garcia",
            "Smith",
            "Okafor",
            "Chen",
            "Ivanova",
            "Lopez",
            "Haddad",
            "Murphy",
            "Rossi",
            "Tanaka",
            "Patel",
            "Nguyen",
            "Kowalski",
            "Johansson",
            "Yilmaz",
            "Dubois",
            "Schmidt",
            "Kim",
            "Santos",
            "O'Brien",
        ];
        let plant = |kind: &str, rng: &mut doppel_core::SeededRng| -> String {
            match kind {
                "email" => format!(
                    "{}@{}",
                    names[rng.random_range(0..names.len())],
                    domains[rng.random_range(0..domains.len())]
                ),
                "card" => {
                    let (prefix, length) =
                        [("4", 16), ("51", 16), ("55", 16), ("37", 15), ("4", 13)][rng.random_range(0..5)];
                    let body = format!("{prefix}{}", digits(rng, length - prefix.len() - 1));
                    let number = format!("{body}{}", pii::luhn_check_digit(&body));
                    match rng.random_range(0..3) {
                        0 => number,
                        1 if length == 16 => in_fours(&number, " "),
                        _ if length == 16 => in_fours(&number, "-"),
                        _ => number,
                    }
                }
                "ssn" => format!(
                    "{:03}-{:02}-{:04}",
                    [rng.random_range(1..666), rng.random_range(667..900)][rng.random_range(0..2)],
                    rng.random_range(1..100),
                    rng.random_range(1..10000)
                ),
                "iban" => {
                    let (country, bban) = match rng.random_range(0..3) {
                        0 => ("DE", digits(rng, 18)),
                        1 => ("GB", format!("NWBK{}", digits(rng, 14))),
                        _ => ("FR", digits(rng, 23)),
                    };
                    let compact = format!("{country}{}{bban}", pii::iban_check_digits(country, &bban));
                    if rng.random::<f64>() < 0.5 { compact } else { in_fours(&compact, " ") }
                }
                "phone" => {
                    let (a, b, c) = (rng.random_range(201..990), rng.random_range(200..990), digits(rng, 4));
                    match rng.random_range(0..4) {
                        0 => format!("({a}) {b}-{c}"),
                        1 => format!("{a}-{b}-{c}"),
                        2 => format!("{a}.{b}.{c}"),
                        _ => format!("+1 {a} {b} {c}"),
                    }
                }
                "name" => {
                    let first = given[rng.random_range(0..given.len())];
                    let last = family[rng.random_range(0..family.len())];
                    match rng.random_range(0..5) {
                        0 => format!("Dr. {last}"),
                        1 => format!("{first} {}. {last}", char::from(b'A' + rng.random_range(0..26u8))),
                        2 => format!("Mrs. {first} {last}"),
                        _ => format!("{first} {last}"),
                    }
                }
                "ip" => format!(
                    "{}.{}.{}.{}",
                    rng.random_range(1..224),
                    rng.random_range(0..256),
                    rng.random_range(0..256),
                    rng.random_range(1..255)
                ),
                _ => {
                    let (city, state) = cities[rng.random_range(0..cities.len())];
                    let street = format!(
                        "{} {} {}",
                        rng.random_range(1..9999),
                        streets[rng.random_range(0..streets.len())],
                        suffixes[rng.random_range(0..suffixes.len())]
                    );
                    if rng.random::<f64>() < 0.5 {
                        street
                    } else {
                        format!("{street}, {city}, {state} {}", digits(rng, 5))
                    }
                }
            }
        };
        let decoys = |rng: &mut doppel_core::SeededRng| -> String {
            let mut luhn_invalid =
                format!("4{}", (0..15).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect::<String>());
            if pii::is_card_number(&luhn_invalid) {
                luhn_invalid.push('0');
            }
            match rng.random_range(0..11) {
                0 => format!("order {}", rng.random_range(1_000_000..9_999_999)),
                1 => format!(
                    "on 2024-{:02}-{:02} at 10:{:02}",
                    rng.random_range(1..13),
                    rng.random_range(1..29),
                    rng.random_range(0..60)
                ),
                2 => format!("paid ${}.{:02}", rng.random_range(1..5000), rng.random_range(0..100)),
                3 => format!("ref {luhn_invalid}"),
                4 => format!("IBAN DE00{}", rng.random_range(100_000_000u64..999_999_999u64)),
                5 => format!(
                    "version {}.{}.{}",
                    rng.random_range(0..20),
                    rng.random_range(0..20),
                    rng.random_range(0..100)
                ),
                6 => format!("code 000-{:02}-{:04}", rng.random_range(10..99), rng.random_range(1000..9999)),
                7 => format!("we had {} Great Days", rng.random_range(2..30)),
                8 => format!("tracking 1Z{}", rng.random_range(100_000_000u64..999_999_999u64)),
                9 => [
                    "Customer Service",
                    "Golden Gate Bridge",
                    "New York",
                    "Will Call",
                    "Grant Park",
                    "Christmas Eve",
                    "Bank Of America",
                    "Mark Down",
                    "Visa Gold",
                    "May Monday",
                    "Premium Support Team",
                    "North America",
                ][rng.random_range(0..12)]
                .to_string(),
                _ => format!("room {} on floor {}", rng.random_range(1..500), rng.random_range(1..30)),
            }
        };
        let kinds = ["email", "card", "ssn", "iban", "phone", "ip", "address", "name"];
        let fillers = ["Customer called about", "Please update", "Noted:", "Follow up with", "Escalated, see", "Re:"];
        let redactor = Redactor::new(HashMap::new(), 0);
        let mut planted_total: HashMap<&str, usize> = HashMap::new();
        let mut planted_found: HashMap<&str, usize> = HashMap::new();
        let mut detected: HashMap<&str, usize> = HashMap::new();
        let mut detected_right: HashMap<&str, usize> = HashMap::new();
        for _ in 0..3000 {
            let mut text = fillers[rng.random_range(0..fillers.len())].to_string();
            let mut spans: Vec<(&str, std::ops::Range<usize>)> = Vec::new();
            for _ in 0..rng.random_range(0..4) {
                text.push(' ');
                if rng.random::<f64>() < 0.6 {
                    let kind = kinds[rng.random_range(0..kinds.len())];
                    let value = plant(kind, &mut rng);
                    spans.push((kind, text.len()..text.len() + value.len()));
                    text.push_str(&value);
                } else {
                    text.push_str(&decoys(&mut rng));
                }
                text.push_str([",", " and", ";", "."][rng.random_range(0..4)]);
            }
            let found = redactor.find(&text, true);
            for (kind, range) in &spans {
                *planted_total.entry(kind).or_default() += 1;
                if found.iter().any(|(k, r)| k == kind && overlaps(r, range)) {
                    *planted_found.entry(kind).or_default() += 1;
                }
            }
            for (kind, range) in &found {
                *detected.entry(kind).or_default() += 1;
                if spans.iter().any(|(k, r)| k == kind && overlaps(r, range)) {
                    *detected_right.entry(kind).or_default() += 1;
                } else {
                    eprintln!("false {kind}: `{}` in `{text}`", &text[range.clone()]);
                }
            }
        }
        for kind in kinds {
            let total = planted_total.get(kind).copied().unwrap_or(0);
            let recall = planted_found.get(kind).copied().unwrap_or(0) as f64 / total.max(1) as f64;
            let found = detected.get(kind).copied().unwrap_or(0);
            let precision = detected_right.get(kind).copied().unwrap_or(0) as f64 / found.max(1) as f64;
            eprintln!("{kind:8} planted {total:4}  recall {recall:.3}  detected {found:4}  precision {precision:.3}");
            assert!(total >= 200, "{kind}: only {total} planted");
            assert!(recall >= 0.9, "{kind}: recall {recall:.3}");
            assert!(precision >= 0.9, "{kind}: precision {precision:.3}");
        }
    }

    #[test]
    fn free_text_is_redacted_consistently() {
        let known = HashMap::from([("Ada Lovelace".to_string(), "Mary Smith".to_string())]);
        let redactor = Redactor::new(known, 1);
        let (text, changed) = redactor.redact(
            "Ada Lovelace (ada@math.org, 555-123-4567, card 4111 1111 1111 1111, ssn 536-22-8417) from 10.0.0.7",
            true,
        );
        assert!(changed);
        for secret in ["Ada", "ada@math.org", "555-123-4567", "4111 1111 1111 1111", "536-22-8417", "10.0.0.7"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.starts_with("Mary Smith ("), "{text}");
        assert_eq!(
            redactor.redact("mail ada@math.org", true).0,
            redactor.redact("write to ada@math.org", true).0.replace("write to", "mail")
        );
        // An order number is not a card: no Luhn checksum.
        assert_eq!(redactor.redact("order 1234567890123", true).0, "order 1234567890123");
        // In categories only the patterns apply.
        assert_eq!(redactor.redact("Ada Lovelace ward", false).0, "Mary Smith ward");
        let notes = Column::new(
            "notes",
            ColumnData::Text(vec![
                Some("mail ada@math.org or call 555-123-4567".into()),
                Some("call (555) 987-6543".into()),
                Some("order 1234567890123".into()),
                None,
            ]),
        );
        assert_eq!(personal_data_inside(&notes), vec![("phone", 2), ("email", 1)]);
    }

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        assert_eq!(pseudonym(b"k", "email", "a@b.c"), pseudonym(b"k", "email", "a@b.c"));
        assert_ne!(pseudonym(b"k", "email", "a@b.c"), pseudonym(b"other", "email", "a@b.c"));
        assert_ne!(pseudonym(b"k", "email", "a@b.c"), pseudonym(b"k", "contact", "a@b.c"));
        assert_eq!(pseudonym(b"k", "email", "a@b.c").len(), 32);
    }
}
