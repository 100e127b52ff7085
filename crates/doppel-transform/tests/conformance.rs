//! The conformance suite every transform passes: declared outputs match what `transform`
//! produces, nulls survive, `reverse_transform(transform(x))` restores `x` (lossless transforms)
//! or its distribution (lossy ones), the state survives a serde round-trip, and generated columns
//! never emit a training value (dates of birth aside: they may fall on a real day by chance).

use doppel_core::{Column, ColumnData, ColumnKind, ColumnMeta, Metadata, Table, stream_rng};
use doppel_transform::{FitSettings, TransformState};

/// A deterministic pseudo-random sequence (no RNG dependency in the fixture).
fn lcg(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

fn text_column(name: &str, values: Vec<Option<String>>) -> Column {
    Column::new(name, ColumnData::Text(values))
}

/// Columns of every kind detection produces, as text, with nulls sprinkled in.
fn fixtures() -> Vec<Column> {
    let n = 2000;
    let u = lcg(7, n);
    let null = |i: usize| i % 17 == 3;
    vec![
        text_column("float", (0..n).map(|i| (!null(i)).then(|| format!("{:.2}", 100.0 * u[i] * u[i]))).collect()),
        text_column("integer", (0..n).map(|i| (!null(i)).then(|| format!("{}", (u[i] * 12.0) as i64 + 6))).collect()),
        text_column("rounded", (0..n).map(|i| Some(format!("{}", ((u[i] * 50.0) as i64) * 100))).collect()),
        text_column(
            "category",
            (0..n)
                .map(|i| (!null(i)).then(|| ["north", "south", "east", "west"][(u[i] * 4.0) as usize].to_string()))
                .collect(),
        ),
        text_column("flag", (0..n).map(|i| Some(if u[i] < 0.3 { "True" } else { "False" }.to_string())).collect()),
        text_column("binary", (0..n).map(|i| Some(if u[i] < 0.6 { "1" } else { "0" }.to_string())).collect()),
        text_column(
            "day",
            (0..n)
                .map(|i| {
                    (!null(i)).then(|| doppel_core::temporal::format_date(18000 + (u[i] * 700.0) as i32, "%Y-%m-%d"))
                })
                .collect(),
        ),
        text_column(
            "stamp",
            (0..n)
                .map(|i| {
                    Some(doppel_core::temporal::format_datetime(
                        1_600_000_000_000_000 + (u[i] * 1e6) as i64 * 3_600_000_000,
                        "%Y-%m-%dT%H:%M:%S%.fZ",
                        None,
                    ))
                })
                .collect(),
        ),
        text_column("customer_id", (0..n).map(|i| Some(format!("{}", 1000 + i * 3))).collect()),
        text_column("code", (0..n).map(|i| Some(format!("AB-{:05}", i * 7 + 11))).collect()),
        text_column(
            "comment",
            (0..n)
                .map(|i| Some(format!("visit number {i} went {}", if u[i] < 0.5 { "well" } else { "badly" })))
                .collect(),
        ),
        text_column("email", (0..n).map(|i| Some(format!("person{i}@corp.test"))).collect()),
        text_column(
            "card",
            (0..n).map(|i| (!null(i)).then(|| luhn_completed(&format!("41{:013}", i * 7919)))).collect(),
        ),
        text_column(
            "ssn",
            (0..n).map(|i| Some(format!("{:03}-{:02}-{:04}", 100 + i % 500, 1 + i % 98, 1 + (i * 7) % 9999))).collect(),
        ),
        text_column(
            "iban",
            (0..n)
                .map(|i| {
                    let bban = format!("{:018}", 370_400_440_000_000_000u64 + i as u64 * 104_729);
                    Some(format!("DE{}{bban}", doppel_core::pii::iban_check_digits("DE", &bban)))
                })
                .collect(),
        ),
        text_column("ip", (0..n).map(|i| Some(format!("10.0.{}.{}", i / 250, i % 250 + 1))).collect()),
        text_column("address", (0..n).map(|i| Some(format!("{} Quarry Road", i + 1))).collect()),
        text_column(
            "dob",
            (0..n)
                .map(|i| {
                    (!null(i)).then(|| doppel_core::temporal::format_date(-7000 + (u[i] * 18000.0) as i32, "%m/%d/%Y"))
                })
                .collect(),
        ),
    ]
}

/// `digits` with a Luhn check digit appended.
fn luhn_completed(digits: &str) -> String {
    format!("{digits}{}", doppel_core::pii::luhn_check_digit(digits))
}

fn fit(column: &Column) -> (ColumnMeta, TransformState) {
    let table = Table::try_new(vec![column.clone()]).expect("table");
    let meta = Metadata::detect(&table).0.columns.remove(0);
    let mut warnings = Vec::new();
    let state = TransformState::fit(column, &meta, &FitSettings::default(), &mut warnings).expect("fits");
    (meta, state)
}

fn roundtrip(state: &TransformState, column: &Column) -> Column {
    let encoded = state.transform(&column.data).expect("transforms");
    let filled: Vec<Vec<f64>> = encoded.iter().map(|e| e.iter().map(|s| s.unwrap_or(0.5)).collect()).collect();
    let slices: Vec<&[f64]> = filled.iter().map(Vec::as_slice).collect();
    state.reverse_transform(&slices, 0, column.data.len(), &mut stream_rng(3, 0)).expect("reverses")
}

#[test]
fn detected_kinds_are_the_expected_ones() {
    let kinds: Vec<&str> = fixtures().iter().map(|c| fit(c).0.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "numerical",
            "numerical (integer)",
            "numerical (integer)",
            "categorical",
            "boolean",
            "categorical",
            "date",
            "datetime",
            "identifier",
            "identifier",
            "text",
            "pii (email)",
            "pii (card number)",
            "pii (ssn)",
            "pii (iban)",
            "pii (ip address)",
            "pii (postal address)",
            "pii (date of birth)"
        ]
    );
}

#[test]
fn declared_outputs_match_what_transform_produces() {
    for column in fixtures() {
        let (_, state) = fit(&column);
        let encoded = state.transform(&column.data).expect("transforms");
        assert_eq!(encoded.len(), state.output_columns().len(), "column {}", column.name);
        for scores in &encoded {
            assert_eq!(scores.len(), column.data.len(), "column {}", column.name);
            assert!(scores.iter().flatten().all(|s| *s > 0.0 && *s < 1.0), "column {}: scores in (0, 1)", column.name);
        }
    }
}

#[test]
fn modelled_columns_roundtrip_and_keep_nulls() {
    for column in fixtures() {
        let (_, state) = fit(&column);
        if state.output_columns().is_empty() {
            continue;
        }
        let back = roundtrip(&state, &column);
        assert_eq!(back.data.len(), column.data.len());
        for row in 0..column.data.len() {
            assert_eq!(
                back.data.is_null(row),
                column.data.is_null(row),
                "column {} row {row}: nulls survive",
                column.name
            );
        }
        // Categories, booleans, small integers, rounded integers and dates are lossless.
        // Categories and booleans are lossless; numbers are restored exactly except the few
        // extremes that value protection pulls in to the mean of the outermost rows.
        let categorical = ["category", "flag", "binary"];
        let mut rendered_back = Vec::new();
        let mut rendered_in = Vec::new();
        for row in 0..column.data.len() {
            let mut out = String::new();
            if let Some(text) = render(&back, row, &mut out) {
                rendered_back.push(text);
            }
            if let Some(text) = column.data.text_at(row) {
                rendered_in.push(text.into_owned());
            }
        }
        let differences = rendered_back.iter().zip(&rendered_in).filter(|(a, b)| a != b).count();
        if categorical.contains(&column.name.as_str()) {
            assert_eq!(differences, 0, "column {} is restored exactly", column.name);
        } else {
            assert!(
                differences <= 2 * FitSettings::default().min_category_count,
                "column {}: {differences} values changed",
                column.name
            );
            // Lossy (continuous): the distribution is restored.
            let a: Vec<f64> = rendered_in.iter().map(|t| to_number(t)).collect();
            let b: Vec<f64> = rendered_back.iter().map(|t| to_number(t)).collect();
            let ks = doppel_test::ks(&a, &b);
            assert!(ks < 0.02, "column {}: KS {ks} after a round-trip", column.name);
        }
    }
}

fn render(column: &Column, row: usize, out: &mut String) -> Option<String> {
    // The same text rendering the writers use, reproduced through the public formats.
    use doppel_core::TextFormat;
    let value = match (&column.data, &column.format) {
        (ColumnData::Float(v), TextFormat::Decimal { max_decimals, .. }) => {
            v[row].map(|x| format!("{x:.*}", usize::from(*max_decimals)))
        }
        (ColumnData::Bool(v), TextFormat::Boolean { true_token, false_token }) => {
            v[row].map(|b| if b { true_token.clone() } else { false_token.clone() })
        }
        (ColumnData::Date(v), TextFormat::Temporal { pattern, .. }) => {
            v[row].map(|d| doppel_core::temporal::format_date(d, pattern))
        }
        (ColumnData::DateTime(v), TextFormat::Temporal { pattern, offset_seconds }) => {
            v[row].map(|m| doppel_core::temporal::format_datetime(m, pattern, *offset_seconds))
        }
        (data, _) => data.text_at(row).map(|t| t.into_owned()),
    };
    out.clear();
    value
}

fn to_number(text: &str) -> f64 {
    text.parse()
        .ok()
        .or_else(|| doppel_core::temporal::parse_date(text, "%Y-%m-%d").map(f64::from))
        .or_else(|| doppel_core::temporal::parse_datetime(text, "%Y-%m-%dT%H:%M:%S%.fZ").map(|d| d.micros as f64))
        .expect("a number or a date")
}

#[test]
fn states_survive_a_serde_roundtrip() {
    for column in fixtures() {
        let (_, state) = fit(&column);
        let json = serde_json::to_string(&state).expect("serialises");
        let back: TransformState = serde_json::from_str(&json).expect("deserialises");
        assert!(back == state, "column {}: the state changed in a serde round-trip", column.name);
        assert!(json.starts_with("{\"type\":"), "tagged: {json}");
    }
}

#[test]
fn generated_columns_never_emit_training_values() {
    for column in fixtures() {
        let (meta, state) = fit(&column);
        if !state.output_columns().is_empty() {
            continue;
        }
        let json = serde_json::to_string(&state).expect("serialises");
        let generated = state.generate(0, 5000, &mut stream_rng(9, 1));
        let training: std::collections::HashSet<String> =
            (0..column.data.len()).filter_map(|r| column.data.text_at(r)).map(|t| t.into_owned()).collect();
        let mut seen = std::collections::HashSet::new();
        // Dates of birth are days of a few decades: fakes may fall on a real one by chance.
        let may_coincide = matches!(meta.kind, ColumnKind::Pii { kind: doppel_core::PiiKind::DateOfBirth });
        for row in 0..generated.data.len() {
            let Some(value) = generated.data.text_at(row).map(|t| t.into_owned()) else { continue };
            assert!(
                may_coincide || !training.contains(&value),
                "column {}: `{value}` is a training value",
                column.name
            );
            if matches!(meta.kind, ColumnKind::Identifier { .. }) {
                assert!(seen.insert(value.clone()), "column {}: key `{value}` repeats", column.name);
            }
        }
        for value in training.iter().filter(|v| v.len() >= 4) {
            assert!(!json.contains(value.as_str()), "column {}: `{value}` is in the state", column.name);
        }
    }
}
