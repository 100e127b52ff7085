//! Fake personal data of the kinds with a format of their own: valid (Luhn, mod 97, IP syntax,
//! street-address shape, dates in the source's format), in the source's layout, deterministic,
//! never equal to a training value, and fitted without storing one.

use std::collections::HashSet;
use std::net::IpAddr;

use rand::RngExt;

use doppel_test::personal::{card, digits, in_fours};

use doppel_core::{Column, ColumnData, ColumnKind, ColumnMeta, PiiKind, SeededRng, pii, stream_rng, temporal};
use doppel_transform::{FakeDetails, FakeState, FitSettings, TransformState};

const ROWS: usize = 400;
const SAMPLED: usize = 3000;

fn ssn(rng: &mut SeededRng) -> String {
    format!(
        "{:03}-{:02}-{:04}",
        rng.random_range(1..666u32),
        rng.random_range(1..100u32),
        rng.random_range(1..10_000u32)
    )
}

fn iban(rng: &mut SeededRng, country: &str, bban_length: usize) -> String {
    let bban = digits(rng, bban_length);
    format!("{country}{}{bban}", pii::iban_check_digits(country, &bban))
}

fn text_column(name: &str, rng: &mut SeededRng, value: impl Fn(&mut SeededRng) -> String) -> Column {
    Column::new(name, ColumnData::Text((0..ROWS).map(|row| (row % 19 != 4).then(|| value(rng))).collect()))
}

fn fit(column: &Column, kind: PiiKind) -> (TransformState, FakeState) {
    let meta = ColumnMeta { name: column.name.clone(), kind: ColumnKind::Pii { kind } };
    let state = TransformState::fit(column, &meta, &FitSettings::default(), &mut Vec::new()).expect("fits");
    let TransformState::Fake(fake) = &state else { panic!("column {}: not a fake state", column.name) };
    let fake = fake.clone();
    (state, fake)
}

fn texts(column: &Column) -> Vec<String> {
    (0..column.data.len()).filter_map(|row| column.data.text_at(row)).map(|t| t.into_owned()).collect()
}

/// Generates fakes, and checks what every kind must hold: deterministic from the rng, about the
/// source's share missing, no training value among them or in the state.
fn generate_checked(column: &Column, kind: PiiKind) -> (FakeState, Column) {
    let (state, fake) = fit(column, kind);
    let generated = state.generate(0, SAMPLED, &mut stream_rng(11, 3));
    assert_eq!(generated, state.generate(0, SAMPLED, &mut stream_rng(11, 3)), "column {}: deterministic", column.name);
    assert_ne!(generated, state.generate(0, SAMPLED, &mut stream_rng(12, 3)), "column {}: random", column.name);
    let missing = generated.data.null_count() as f64 / SAMPLED as f64;
    let expected = column.data.null_count() as f64 / column.data.len() as f64;
    assert!((missing - expected).abs() < 0.03, "column {}: {missing} missing, {expected} expected", column.name);
    let training: HashSet<String> = texts(column).into_iter().collect();
    let json = serde_json::to_string(&state).expect("serialises");
    if let ColumnData::Text(_) = column.data {
        for value in training.iter().filter(|v| v.len() >= 5) {
            assert!(!json.contains(value.as_str()), "column {}: `{value}` is in the state", column.name);
        }
    }
    if kind != PiiKind::DateOfBirth {
        for value in texts(&generated) {
            assert!(!training.contains(&value), "column {}: `{value}` is a training value", column.name);
        }
    }
    let back: TransformState = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, state, "column {}: serde round-trip", column.name);
    (fake, generated)
}

fn layout(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect()
}

#[test]
fn card_numbers_are_luhn_valid_in_the_source_layout() {
    let rng = &mut stream_rng(1, 1);
    let cases: Vec<(Column, &str)> = vec![
        (text_column("plain", rng, |r| card(r, "4", 16)), "################"),
        (
            text_column("spaced", rng, |r| {
                let prefix = ["51", "55", "4"][r.random_range(0..3)];
                in_fours(&card(r, prefix, 16), " ")
            }),
            "#### #### #### ####",
        ),
        (
            text_column("amex", rng, |r| {
                let number = card(r, "37", 15);
                format!("{}-{}-{}", &number[..4], &number[4..10], &number[10..])
            }),
            "####-######-#####",
        ),
    ];
    for (column, expected_layout) in cases {
        let (fake, generated) = generate_checked(&column, PiiKind::CreditCard);
        assert_eq!(fake.layout, expected_layout);
        for value in texts(&generated) {
            assert_eq!(layout(&value), expected_layout, "{value}");
            assert!(pii::is_card_number(&value), "column {}: `{value}` is not a valid card number", column.name);
        }
    }
    // Cards stored as integers stay integers.
    let numbers = ColumnData::Int((0..ROWS).map(|_| Some(card(rng, "4", 16).parse().expect("fits"))).collect());
    let (_, generated) = generate_checked(&Column::new("int", numbers), PiiKind::CreditCard);
    let ColumnData::Int(values) = &generated.data else {
        panic!("integers expected, got {}", generated.data.type_name())
    };
    assert!(values.iter().flatten().all(|v| pii::is_card_number(&v.to_string())));
}

#[test]
fn fake_cards_avoid_every_training_prefix() {
    // Training cards that cover many issuer numbers: fakes start with six digits none of them has.
    let rng = &mut stream_rng(1, 2);
    let column = text_column("dense", rng, |r| card(r, "4", 16));
    let prefixes: HashSet<String> = texts(&column).iter().map(|t| t[..6].to_string()).collect();
    let (fake, generated) = generate_checked(&column, PiiKind::CreditCard);
    let FakeDetails::Digits { prefixes: fake_prefixes, .. } = &fake.details else { panic!("digits expected") };
    assert!(!fake_prefixes.is_empty());
    for value in texts(&generated) {
        assert!(!prefixes.contains(&value[..6]), "`{value}` starts like a training card");
    }
}

#[test]
fn social_security_numbers_are_never_issued_ones() {
    let rng = &mut stream_rng(2, 1);
    let dashed = text_column("dashed", rng, ssn);
    let plain = text_column("plain", rng, |r| ssn(r).replace('-', ""));
    for (column, expected_layout) in [(dashed, "###-##-####"), (plain, "#########")] {
        let (_, generated) = generate_checked(&column, PiiKind::Ssn);
        for value in texts(&generated) {
            assert_eq!(layout(&value), expected_layout, "{value}");
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            let (area, group, serial): (u32, u32, u32) = (
                digits[..3].parse().expect("area"),
                digits[3..5].parse().expect("group"),
                digits[5..].parse().expect("serial"),
            );
            assert!((900..1000).contains(&area), "{value}: area {area}");
            assert!((1..50).contains(&group), "{value}: group {group} (ITINs use 50 and above)");
            assert!(serial > 0, "{value}");
            assert!(!pii::is_ssn(&value), "{value} could have been issued");
        }
    }
    // Integers (leading zeros lost) stay nine-digit integers.
    let numbers = ColumnData::Int((0..ROWS).map(|_| Some(rng.random_range(1_000_000..899_999_999))).collect());
    let (_, generated) = generate_checked(&Column::new("int", numbers), PiiKind::Ssn);
    let ColumnData::Int(values) = &generated.data else { panic!("integers expected") };
    assert!(values.iter().flatten().all(|v| (900_000_000..1_000_000_000).contains(v)));
    // Areas in 9xx that the training data uses (ITINs, or earlier fakes) are left out.
    let itins = text_column("itins", rng, |r| {
        format!("{}-{:02}-{:04}", r.random_range(900..950u32), r.random_range(50..66u32), r.random_range(1..10_000u32))
    });
    let (_, generated) = generate_checked(&itins, PiiKind::Ssn);
    assert!(texts(&generated).iter().all(|v| v[..3].parse::<u32>().expect("area") >= 950));
}

#[test]
fn ibans_have_valid_check_digits_and_the_common_country() {
    let rng = &mut stream_rng(3, 1);
    let german = text_column("german", rng, |r| iban(r, "DE", 18));
    let (fake, generated) = generate_checked(&german, PiiKind::Iban);
    assert!(matches!(&fake.details, FakeDetails::Iban { country, grouped: false, .. } if country == "DE"));
    for value in texts(&generated) {
        assert!(pii::is_iban(&value) && value.starts_with("DE") && value.len() == 22, "{value}");
    }
    // Mostly French, in groups of four: French IBANs in groups of four.
    let french = text_column("french", rng, |r| {
        if r.random::<f64>() < 0.8 { in_fours(&iban(r, "FR", 23), " ") } else { in_fours(&iban(r, "BE", 12), " ") }
    });
    let (_, generated) = generate_checked(&french, PiiKind::Iban);
    for value in texts(&generated) {
        assert!(pii::is_iban(&value) && value.starts_with("FR") && value.contains(' '), "{value}");
        assert_eq!(value.split(' ').next().map(str::len), Some(4), "{value}");
    }
    // Lower case is kept; a country that fewer than `min_count` rows have is not used.
    let mut values: Vec<Option<String>> = (0..3).map(|_| Some(iban(rng, "NL", 14).to_lowercase())).collect();
    values.push(None);
    let (fake, generated) = generate_checked(&Column::new("rare", ColumnData::Text(values)), PiiKind::Iban);
    assert!(matches!(&fake.details, FakeDetails::Iban { country, .. } if country == "DE"), "{:?}", fake.details);
    assert!(texts(&generated).iter().all(|v| pii::is_iban(v) && v.starts_with("de")));
}

#[test]
fn ip_addresses_are_in_the_documentation_ranges() {
    let rng = &mut stream_rng(4, 1);
    let v4 = text_column("v4", rng, |r| format!("10.{}.{}.{}", r.random::<u8>(), r.random::<u8>(), r.random::<u8>()));
    let mixed = text_column("mixed", rng, |r| {
        if r.random::<f64>() < 0.5 {
            format!("172.16.{}.{}", r.random::<u8>(), r.random::<u8>())
        } else {
            format!("fe80::{:x}:{:x}", r.random::<u16>(), r.random::<u16>())
        }
    });
    for (column, v6_expected) in [(v4, 0.0), (mixed, 0.5)] {
        let (_, generated) = generate_checked(&column, PiiKind::IpAddress);
        let values = texts(&generated);
        let mut v6 = 0;
        for value in &values {
            match value.parse::<IpAddr>().unwrap_or_else(|e| panic!("`{value}`: {e}")) {
                IpAddr::V4(address) => {
                    let [a, b, c, _] = address.octets();
                    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
                    // Sources with many distinct addresses use the benchmarking range as well.
                    let benchmarking = a == 198 && (b == 18 || b == 19) && column.name == "v4";
                    assert!(documentation || benchmarking, "{value}");
                }
                IpAddr::V6(address) => {
                    v6 += 1;
                    assert_eq!(&address.segments()[..2], &[0x2001, 0x0db8], "{value}");
                }
            }
        }
        let share = v6 as f64 / values.len() as f64;
        assert!((share - v6_expected).abs() < 0.05, "column {}: {share} IPv6", column.name);
    }
    // Few distinct addresses: the documentation ranges only.
    let few = text_column("few", rng, |r| format!("10.0.0.{}", r.random_range(1..100u8)));
    let (fake, generated) = generate_checked(&few, PiiKind::IpAddress);
    assert!(matches!(fake.details, FakeDetails::IpAddress { wide: false, .. }), "{:?}", fake.details);
    for value in texts(&generated) {
        assert!(["192.0.2.", "198.51.100.", "203.0.113."].iter().any(|p| value.starts_with(p)), "{value}");
    }
}

#[test]
fn street_addresses_come_from_the_built_in_lists() {
    let rng = &mut stream_rng(5, 1);
    let streets = ["Quarry", "Old Mill", "Harbor View", "Bay"];
    let plain = text_column("plain", rng, |r| {
        format!("{} {} St", r.random_range(1..20_000u32), streets[r.random_range(0..streets.len())])
    });
    let with_city = text_column("with_city", rng, |r| {
        format!(
            "{} {} Avenue, Lakewood, CO {:05}",
            r.random_range(1..20_000u32),
            streets[r.random_range(0..streets.len())],
            r.random_range(80_000..81_000u32)
        )
    });
    let upper = text_column("upper", rng, |r| format!("{} BAY ROAD", r.random_range(1..20_000u32)));
    for column in [plain, with_city, upper] {
        let (fake, generated) = generate_checked(&column, PiiKind::PostalAddress);
        let FakeDetails::PostalAddress { long_suffixes, with_city } = fake.details else { panic!("address expected") };
        assert_eq!(with_city, column.name == "with_city");
        assert_eq!(long_suffixes, column.name != "plain");
        for value in texts(&generated) {
            assert!(pii::is_street_address(&value), "`{value}`");
            assert_eq!(value.contains(", "), with_city, "`{value}`");
            assert_eq!(value == value.to_uppercase(), column.name == "upper", "`{value}`");
            assert!(!streets.iter().any(|s| value.contains(s)), "`{value}` copies a street name");
        }
    }
}

/// Days since 1970-01-01 of a date of birth between 1950 and 1999.
fn birth_day(rng: &mut SeededRng) -> i32 {
    rng.random_range(-7305..10_957)
}

fn year_of(days: i32) -> i32 {
    (temporal::date_to_yyyymmdd(days).expect("a date") / 10_000) as i32
}

#[test]
fn dates_of_birth_keep_the_format_and_only_coarse_decades() {
    let rng = &mut stream_rng(6, 1);
    for pattern in ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S%.fZ"] {
        let column = text_column("dob", rng, |r| {
            if pattern.contains("%H") {
                temporal::format_datetime(i64::from(birth_day(r)) * temporal::MICROS_PER_DAY, pattern, None)
            } else {
                temporal::format_date(birth_day(r), pattern)
            }
        });
        let (fake, generated) = generate_checked(&column, PiiKind::DateOfBirth);
        let FakeDetails::DateOfBirth { decades, pattern: fitted, .. } = &fake.details else { panic!("dob expected") };
        assert_eq!(fitted, pattern);
        assert_eq!(decades.iter().map(|(d, _)| *d).collect::<Vec<_>>(), [1950, 1960, 1970, 1980, 1990]);
        let ColumnData::Text(values) = &generated.data else { panic!("text expected") };
        for value in values.iter().flatten() {
            let days = if pattern.contains("%H") {
                (temporal::parse_datetime(value, pattern).expect("a datetime").micros / temporal::MICROS_PER_DAY) as i32
            } else {
                temporal::parse_date(value, pattern).unwrap_or_else(|| panic!("`{value}` is not like `{pattern}`"))
            };
            assert!((1950..2000).contains(&year_of(days)), "{value}");
        }
    }
    // A lone person born in 1905 and four in the 2010s: decades held by fewer than `min_count`
    // rows give no fake date, so neither outlier shows.
    let mut days: Vec<Option<i32>> = (0..ROWS).map(|_| Some(birth_day(rng))).collect();
    days.push(temporal::parse_date("1905-03-02", "%Y-%m-%d"));
    days.extend((0..4).map(|i| temporal::parse_date(&format!("201{i}-01-01"), "%Y-%m-%d")));
    let (_, generated) = generate_checked(&Column::new("native", ColumnData::Date(days)), PiiKind::DateOfBirth);
    let ColumnData::Date(values) = &generated.data else { panic!("dates expected") };
    assert!(values.iter().flatten().all(|d| (1950..2000).contains(&year_of(*d))));
    // `YYYYMMDD` integers stay integers.
    let numbers = ColumnData::Int((0..ROWS).map(|_| temporal::date_to_yyyymmdd(birth_day(rng))).collect());
    let (_, generated) = generate_checked(&Column::new("int", numbers), PiiKind::DateOfBirth);
    let ColumnData::Int(values) = &generated.data else { panic!("integers expected") };
    assert!(
        values
            .iter()
            .flatten()
            .all(|v| temporal::parse_yyyymmdd(*v).is_some_and(|d| (1950..2000).contains(&year_of(d))))
    );
    // Too few rows for any decade: a default range, and a warning that says so.
    let few = Column::new("few", ColumnData::Text(vec![Some("1980-01-01".into()), Some("1990-05-05".into())]));
    let meta = ColumnMeta { name: "few".into(), kind: ColumnKind::Pii { kind: PiiKind::DateOfBirth } };
    let mut warnings = Vec::new();
    TransformState::fit(&few, &meta, &FitSettings::default(), &mut warnings).expect("fits");
    assert!(warnings.iter().any(|w| w.message.contains("no decade of birth")), "{warnings:?}");
}

#[test]
fn states_from_older_model_files_still_read() {
    let older = r####"{"type":"fake","column":"email","kind":"email","missing_share":0.0,"casing":"lower","layout":"###-###-####"}"####;
    let state: TransformState = serde_json::from_str(older).expect("parses");
    let TransformState::Fake(fake) = &state else { panic!("a fake state") };
    assert!(fake.details.is_plain());
    let generated = state.generate(0, 10, &mut stream_rng(1, 1));
    assert!(texts(&generated).iter().all(|v| pii::is_email(v)));
    // And the newer states read back as written.
    let rng = &mut stream_rng(7, 1);
    let (state, _) = fit(&text_column("card", rng, |r| card(r, "4", 16)), PiiKind::CreditCard);
    let json = serde_json::to_string(&state).expect("serialises");
    assert!(json.contains(r#""details":{"type":"digits""#), "{json}");
}

#[test]
fn names_and_emails_follow_the_locale() {
    use doppel_transform::Locale;
    let mut rng = stream_rng(8, 1);
    let names = text_column("customer", &mut rng, |rng| format!("Person {}", rng.random_range(0..1000)));
    let emails = text_column("email", &mut rng, |rng| format!("p{}@corp.example", rng.random_range(0..1000)));
    for locale in [Locale::English, Locale::GermanGermany, Locale::JapaneseJapan] {
        let settings = FitSettings { locale, ..FitSettings::default() };
        let fitted = |column: &Column, kind: PiiKind| {
            let meta = ColumnMeta { name: column.name.clone(), kind: ColumnKind::Pii { kind } };
            TransformState::fit(column, &meta, &settings, &mut Vec::new()).expect("fits")
        };
        let person = fitted(&names, PiiKind::PersonName);
        let json = serde_json::to_string(&person).expect("serialises");
        assert_eq!(json.contains(&format!("\"locale\":\"{locale}\"")), locale != Locale::English, "{json}");
        let generated = texts(&person.generate(0, SAMPLED, &mut stream_rng(1, 2)));
        let (firsts, lasts) = (locale.first_names(), locale.last_names());
        let distinct: HashSet<&String> = generated.iter().collect();
        assert!(distinct.len() > SAMPLED / 4, "{locale}: only {} distinct names", distinct.len());
        for name in &generated {
            let parts: Vec<&str> = name.split(' ').collect();
            let (first, last) = match locale {
                Locale::JapaneseJapan => (parts[1], parts[0]), // family name first
                _ => (parts[0], *parts.last().expect("a part")),
            };
            assert!(firsts.contains(&first) && lasts.contains(&last), "{locale}: `{name}`");
        }
        let mail = fitted(&emails, PiiKind::Email);
        for email in texts(&mail.generate(0, SAMPLED, &mut stream_rng(1, 3))) {
            assert!(email.is_ascii() && pii::is_email(&email), "{locale}: `{email}`");
        }
    }
}
