//! Recall and precision of personal-data detection over a generated table: several formats of
//! each kind, and look-alike columns that must stay what they are (amounts, ZIP codes, years,
//! order numbers, barcodes, IMEIs, dates, versions, free text).

#![expect(clippy::print_stderr, reason = "the test reports the figures it measures")]

use std::collections::BTreeMap;

use rand::RngExt;

use doppel_test::personal::{card, digits, in_fours};

use doppel_core::{Column, ColumnData, ColumnKind, Metadata, PiiKind, SeededRng, Table, pii, stream_rng};

const ROWS: usize = 300;

/// One generated column and the kind it really holds (`None`: not personal data).
struct Case {
    column: Column,
    truth: Option<PiiKind>,
}

fn ssn(rng: &mut SeededRng) -> (u32, u32, u32) {
    let mut area = rng.random_range(1..900u32);
    if area == 666 {
        area = 665;
    }
    (area, rng.random_range(1..100u32), rng.random_range(1..10_000u32))
}

fn grouped(text: &str, sizes: &[usize], separator: char) -> String {
    let mut out = String::new();
    let mut start = 0;
    for size in sizes {
        if start > 0 {
            out.push(separator);
        }
        out.push_str(&text[start..(start + size).min(text.len())]);
        start += size;
    }
    out
}

/// An IBAN of `country` whose BBAN has the classes `structure` (`n` digit, `a` letter).
fn iban(rng: &mut SeededRng, country: &str, structure: &str) -> String {
    let bban: String = structure
        .chars()
        .map(|class| match class {
            'a' => char::from(b'A' + rng.random_range(0..26u8)),
            _ => char::from(b'0' + rng.random_range(0..10u8)),
        })
        .collect();
    format!("{country}{}{bban}", pii::iban_check_digits(country, &bban))
}

const STREETS: &[&str] = &["Main", "Quarry", "Old Mill", "Martin Luther King Jr", "Bay", "Washington", "1st", "Harbor"];
const SUFFIXES: &[&str] =
    &["St", "Street", "Ave", "Avenue", "Rd", "Road", "Blvd", "Lane", "Ln", "Dr", "Drive", "Way", "Ct"];
const CITIES: &[&str] = &["Springfield", "Salt Lake City", "Austin", "Portland", "St. Louis"];

fn address(rng: &mut SeededRng, with_city: bool) -> String {
    let mut text = format!(
        "{} {} {}",
        rng.random_range(1..20_000u32),
        STREETS[rng.random_range(0..STREETS.len())],
        SUFFIXES[rng.random_range(0..SUFFIXES.len())]
    );
    if with_city {
        text.push_str(&format!(
            ", {}, {} {:05}",
            CITIES[rng.random_range(0..CITIES.len())],
            ["IL", "UT", "TX", "OR", "MO"][rng.random_range(0..5)],
            rng.random_range(501..99_950u32)
        ));
    }
    text
}

fn ipv4(rng: &mut SeededRng) -> String {
    format!("{}.{}.{}.{}", rng.random_range(1..224u32), rng.random::<u8>(), rng.random::<u8>(), rng.random::<u8>())
}

fn ipv6(rng: &mut SeededRng) -> String {
    let groups: Vec<u16> = (0..8).map(|_| if rng.random::<f64>() < 0.3 { 0 } else { rng.random() }).collect();
    std::net::Ipv6Addr::new(groups[0], groups[1], groups[2], groups[3], groups[4], groups[5], groups[6], groups[7])
        .to_string()
}

/// Days since 1970-01-01 of a birth date between 1940 and 2005.
fn birth_day(rng: &mut SeededRng) -> i32 {
    rng.random_range(-10_957..12_784)
}

fn text_case(
    name: &str,
    truth: Option<PiiKind>,
    rng: &mut SeededRng,
    value: impl Fn(&mut SeededRng) -> String,
) -> Case {
    let values = (0..ROWS).map(|row| (row % 23 != 5).then(|| value(rng))).collect();
    Case { column: Column::new(name, ColumnData::Text(values)), truth }
}

fn cases() -> Vec<Case> {
    let rng = &mut stream_rng(2024, 7);
    use PiiKind::*;
    let mut cases = vec![
        // Social security numbers.
        text_case("x1", Some(Ssn), rng, |r| {
            let (a, g, s) = ssn(r);
            format!("{a:03}-{g:02}-{s:04}")
        }),
        text_case("ssn", Some(Ssn), rng, |r| {
            let (a, g, s) = ssn(r);
            format!("{a:03}{g:02}{s:04}")
        }),
        text_case("Social Security Number", Some(Ssn), rng, |r| {
            let (a, g, s) = ssn(r);
            format!("{a:03} {g:02} {s:04}")
        }),
        text_case("taxpayer", Some(Ssn), rng, |r| {
            let (a, g, s) = ssn(r);
            if r.random::<f64>() < 0.04 { "unknown".into() } else { format!("{a:03}-{g:02}-{s:04}") }
        }),
        // Card numbers.
        text_case("x2", Some(CreditCard), rng, |r| {
            let prefix = ["4", "51", "55", "2221", "6011"][r.random_range(0..5)];
            card(r, prefix, 16)
        }),
        text_case("payment", Some(CreditCard), rng, |r| grouped(&card(r, "4", 16), &[4, 4, 4, 4], ' ')),
        text_case("x3", Some(CreditCard), rng, |r| {
            let prefix = ["51", "52", "53", "54", "55"][r.random_range(0..5)];
            grouped(&card(r, prefix, 16), &[4, 4, 4, 4], '-')
        }),
        text_case("x4", Some(CreditCard), rng, |r| {
            let prefix = ["34", "37"][r.random_range(0..2)];
            grouped(&card(r, prefix, 15), &[4, 6, 5], ' ')
        }),
        text_case("card_number", Some(CreditCard), rng, |r| {
            let prefix = ["4", "36", "62"][r.random_range(0..3)];
            card(r, prefix, 16)
        }),
        // IBANs.
        text_case("x5", Some(Iban), rng, |r| iban(r, "DE", &"n".repeat(18))),
        text_case("x6", Some(Iban), rng, |r| in_fours(&iban(r, "GB", "aaaannnnnnnnnnnnnn"), " ")),
        text_case("x7", Some(Iban), rng, |r| match r.random_range(0..4) {
            0 => iban(r, "FR", &"n".repeat(23)),
            1 => iban(r, "NL", "aaaannnnnnnnnn"),
            2 => iban(r, "ES", &"n".repeat(20)),
            _ => iban(r, "BE", &"n".repeat(12)),
        }),
        text_case("x8", Some(Iban), rng, |r| iban(r, "IT", "annnnnnnnnnnnnnnnnnnnnn").to_lowercase()),
        text_case("iban", Some(Iban), rng, |r| in_fours(&iban(r, "PL", &"n".repeat(24)), " ")),
        // IP addresses.
        text_case("x9", Some(IpAddress), rng, ipv4),
        text_case("x10", Some(IpAddress), rng, ipv6),
        text_case("x11", Some(IpAddress), rng, |r| if r.random::<f64>() < 0.5 { ipv4(r) } else { ipv6(r) }),
        text_case("client_ip", Some(IpAddress), rng, |r| {
            format!("10.{}.{}.{}", r.random::<u8>(), r.random::<u8>(), r.random::<u8>())
        }),
        text_case("ip", Some(IpAddress), rng, |r| if r.random::<f64>() < 0.7 { ipv4(r) } else { "-".into() }),
        // Street addresses.
        text_case("x12", Some(PostalAddress), rng, |r| address(r, false)),
        text_case("x13", Some(PostalAddress), rng, |r| address(r, true)),
        text_case("x14", Some(PostalAddress), rng, |r| address(r, true).to_uppercase()),
        text_case("x15", Some(PostalAddress), rng, |r| address(r, false).to_lowercase()),
        text_case("billing_address", Some(PostalAddress), rng, |r| {
            if r.random::<f64>() < 0.3 { format!("PO Box {}", r.random_range(1..999u32)) } else { address(r, true) }
        }),
        // Dates of birth, by name, in several formats and storages.
        text_case("dob", Some(DateOfBirth), rng, |r| doppel_core::temporal::format_date(birth_day(r), "%Y-%m-%d")),
        text_case("date_of_birth", Some(DateOfBirth), rng, |r| {
            doppel_core::temporal::format_date(birth_day(r), "%m/%d/%Y")
        }),
        text_case("Birthday", Some(DateOfBirth), rng, |r| doppel_core::temporal::format_date(birth_day(r), "%d.%m.%Y")),
        // Emails, phones and names, which were detected before.
        text_case("x16", Some(Email), rng, |r| format!("user{}@mail.test", r.random_range(0..100_000u32))),
        text_case("x17", Some(Phone), rng, |r| format!("({}) {}-{}", digits(r, 3), digits(r, 3), digits(r, 4))),
        text_case("first_name", Some(FirstName), rng, |r| ["Ann", "Bob", "Cy", "Di"][r.random_range(0..4)].into()),
        text_case("surname", Some(LastName), rng, |r| ["Ng", "Oz", "Poe", "Qi"][r.random_range(0..4)].into()),
        // Look-alikes that are not personal data.
        text_case("amount", None, rng, |r| format!("{:.2}", r.random::<f64>() * 10_000.0)),
        text_case("balance", None, rng, |r| format!("{:.2}", -r.random::<f64>() * 9_000_000.0 - 1_000_000.0)),
        text_case("zip", None, rng, |r| format!("{:05}", r.random_range(501..99_950u32))),
        text_case("zip4", None, rng, |r| {
            format!("{:05}-{:04}", r.random_range(501..99_950u32), r.random_range(1..9_999u32))
        }),
        text_case("year", None, rng, |r| r.random_range(1950..2025u32).to_string()),
        text_case("order_id", None, rng, |r| format!("ORD-2023-{}", digits(r, 6))),
        text_case("order_number", None, rng, |r| format!("{}{}", r.random_range(1..10u8), digits(r, 15))),
        text_case("x18", None, rng, |r| format!("{}{}", r.random_range(1..10u8), digits(r, 15))),
        text_case("barcode", None, rng, |r| format!("40{}", digits(r, 11))),
        text_case("imei", None, rng, |r| card(r, "35", 15)),
        text_case("epoch_ms", None, rng, |r| format!("17{}", digits(r, 11))),
        text_case("account", None, rng, |r| {
            let (a, g, s) = ssn(r);
            format!("{a:03}{g:02}{s:04}")
        }),
        text_case("created", None, rng, |r| doppel_core::temporal::format_date(birth_day(r) + 20_000, "%Y-%m-%d")),
        text_case("app_version", None, rng, |r| {
            format!(
                "{}.{}.{}.{}",
                r.random_range(1..5u8),
                r.random_range(0..20u8),
                r.random_range(0..10u8),
                r.random_range(0..200u8)
            )
        }),
        text_case("sku", None, rng, |r| format!("AB-{}", digits(r, 5))),
        text_case("isbn", None, rng, |r| {
            format!("978-{}-{}-{}-{}", digits(r, 1), digits(r, 2), digits(r, 6), digits(r, 1))
        }),
        text_case("latitude", None, rng, |r| format!("{:.4}", r.random::<f64>() * 180.0 - 90.0)),
        text_case("time", None, rng, |r| format!("{:02}:{:02}", r.random_range(0..24u8), r.random_range(0..60u8))),
        text_case("note", None, rng, |r| {
            format!("Called on {} and drove {} miles down the road", r.random_range(1..28u8), r.random_range(2..90u8))
        }),
        text_case("directions", None, rng, |r| format!("{} blocks past the mill road", r.random_range(2..9u8))),
        text_case("region", None, rng, |r| ["north", "south", "east", "west"][r.random_range(0..4)].into()),
        text_case("ip_flag", None, rng, |r| ["Y", "N"][r.random_range(0..2)].into()),
        text_case("mac_address", None, rng, |r| {
            (0..6).map(|_| format!("{:02x}", r.random::<u8>())).collect::<Vec<_>>().join(":")
        }),
    ];
    // Typed storages: integer card numbers and SSNs (Parquet), native dates of birth, and an
    // integer key column of 16 digits.
    cases.push(Case {
        column: Column::new(
            "x19",
            ColumnData::Int((0..ROWS).map(|_| Some(card(rng, "4", 16).parse().expect("fits"))).collect()),
        ),
        truth: Some(CreditCard),
    });
    cases.push(Case {
        column: Column::new(
            "ssn_number",
            ColumnData::Int(
                (0..ROWS)
                    .map(|_| Some(i64::from(ssn(rng).0) * 1_000_000 + rng.random_range(10_001..999_999)))
                    .collect(),
            ),
        ),
        truth: Some(Ssn),
    });
    cases.push(Case {
        column: Column::new("birth_date", ColumnData::Date((0..ROWS).map(|_| Some(birth_day(rng))).collect())),
        truth: Some(DateOfBirth),
    });
    cases.push(Case {
        column: Column::new(
            "BirthDate",
            ColumnData::Int((0..ROWS).map(|_| doppel_core::temporal::date_to_yyyymmdd(birth_day(rng))).collect()),
        ),
        truth: Some(DateOfBirth),
    });
    cases.push(Case {
        column: Column::new(
            "customer_id",
            ColumnData::Int(
                (0..ROWS).map(|_| Some(4_000_000_000_000_000 + rng.random_range(0..999_999_999_999_999))).collect(),
            ),
        ),
        truth: None,
    });
    cases
}

#[test]
fn recall_and_precision_per_kind() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} columns", cases.len());
    let table = Table::try_new(cases.iter().map(|c| c.column.clone()).collect()).expect("table");
    let (metadata, profiles) = Metadata::detect(&table);
    // Per kind: true positives, false negatives, false positives.
    let mut tally: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut mistakes = Vec::new();
    for ((case, meta), profile) in cases.iter().zip(&metadata.columns).zip(&profiles) {
        let found = match meta.kind {
            ColumnKind::Pii { kind } => Some(kind),
            _ => None,
        };
        if found != case.truth {
            mistakes.push(format!(
                "`{}`: expected {:?}, detected {} ({})",
                meta.name,
                case.truth,
                meta.kind.name(),
                profile.reason
            ));
        }
        if let Some(truth) = case.truth {
            let entry = tally.entry(format!("{truth:?}")).or_default();
            if found == Some(truth) { entry.0 += 1 } else { entry.1 += 1 }
        }
        if let Some(found) = found
            && Some(found) != case.truth
        {
            tally.entry(format!("{found:?}")).or_default().2 += 1;
        }
    }
    eprintln!("{:<14} {:>9} {:>9} {:>7}", "kind", "recall", "precision", "columns");
    let mut failures = Vec::new();
    for (kind, (hits, misses, false_alarms)) in &tally {
        let recall = *hits as f64 / (hits + misses).max(1) as f64;
        let precision = if hits + false_alarms == 0 { 0.0 } else { *hits as f64 / (hits + false_alarms) as f64 };
        eprintln!("{kind:<14} {recall:>9.3} {precision:>9.3} {:>7}", hits + misses);
        if recall < 0.98 || precision < 0.95 {
            failures.push(format!("{kind}: recall {recall:.3}, precision {precision:.3}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}\n{}", mistakes.join("\n"));
    assert!(mistakes.is_empty(), "{}", mistakes.join("\n"));
}

/// The columns of a header-and-rows CSV file without quoting, as text (empty cells missing).
fn read_simple_csv(path: &std::path::Path) -> Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); header.len()];
    for line in lines {
        for (index, cell) in line.split(',').enumerate().take(header.len()) {
            values[index].push((!cell.is_empty() && cell != "NA").then(|| cell.to_string()));
        }
    }
    let columns =
        header.iter().zip(values).map(|(name, values)| Column::new(*name, ColumnData::Text(values))).collect();
    Table::try_new(columns).expect("a table")
}

#[test]
fn public_datasets_keep_their_detected_personal_data() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if !root.is_dir() {
        panic!("the public datasets are expected at {}", root.display());
    }
    let mut files: Vec<std::path::PathBuf> = ["cps1988", "telco_churn", "credit_default", "flchain", "covid_testing"]
        .iter()
        .map(|name| root.join(name).join(format!("{name}.train.csv")))
        .collect();
    files.extend(
        ["airlines", "airports", "planes", "weather"]
            .iter()
            .map(|t| root.join("nycflights13").join(format!("{t}.csv"))),
    );
    let mut found = Vec::new();
    for file in &files {
        let (metadata, _) = Metadata::detect(&read_simple_csv(file));
        for column in metadata.columns {
            if let ColumnKind::Pii { kind } = column.kind {
                found.push(format!(
                    "{}:{}={kind:?}",
                    file.file_stem().and_then(|s| s.to_str()).unwrap_or_default(),
                    column.name
                ));
            }
        }
    }
    // The fake names of covid_testing, and the `name` columns of nycflights13 (carriers and
    // airports, read as person names by their name since before these kinds existed).
    assert_eq!(
        found,
        [
            "covid_testing.train:fake_first_name=FirstName",
            "covid_testing.train:fake_last_name=LastName",
            "airlines:name=PersonName",
            "airports:name=PersonName",
        ]
    );
}
