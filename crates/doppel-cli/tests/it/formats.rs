//! Formats: Parquet in and out, JSON Lines, TSV, standard output, dates and datetimes kept in
//! the source's format, and editable metadata.

use doppel_core::{ColumnData, ColumnKind, Metadata};
use doppel_io::{ReadOptions, read_table};

use crate::{datasets, doppel, doppel_ok, path_in, train};

#[test]
fn parquet_in_and_out_keeps_types() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = datasets().join("nycflights13/weather.parquet");
    let output = path_in(&dir, "weather.parquet");
    doppel_ok(&["synth", input.to_str().expect("utf-8"), "-n", "3000", "-o", &output, "--quiet"]);
    let real = read_table(&input, &ReadOptions::default()).expect("reads");
    let synthetic = read_table(output.as_ref(), &ReadOptions::default()).expect("reads parquet output");
    assert_eq!(synthetic.n_rows(), 3000);
    for (a, b) in real.columns().iter().zip(synthetic.columns()) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.data.type_name(), b.data.type_name(), "column `{}` keeps its type", a.name);
    }
    assert!(matches!(synthetic.column("time_hour").expect("column").data, ColumnData::DateTime(_)));
}

#[test]
fn csv_datetimes_keep_their_format_and_granularity() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = datasets().join("nycflights13/weather.csv");
    let output = path_in(&dir, "weather.csv");
    doppel_ok(&["synth", input.to_str().expect("utf-8"), "-n", "2000", "-o", &output, "--quiet"]);
    let text = std::fs::read_to_string(&output).expect("output");
    let header: Vec<&str> = text.lines().next().expect("header").split(',').collect();
    let position = header.iter().position(|c| *c == "time_hour").expect("time_hour");
    for line in text.lines().skip(1).take(200) {
        let value = line.split(',').nth(position).expect("field");
        assert!(
            value.len() == 20 && value.ends_with(":00:00Z") && value.as_bytes()[10] == b'T',
            "`{value}` is not like 2013-01-01T06:00:00Z"
        );
    }
}

#[test]
fn dates_integer_dates_jsonl_tsv_and_stdout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = path_in(&dir, "events.tsv");
    let mut text = String::from("day\tstamp\tcode_date\tamount\tkind\n");
    for i in 0..400 {
        let day = 18_000 + (i * 7919) % 700;
        text.push_str(&format!(
            "{}\t{}\t{}\t{}.{:02}\t{}\n",
            doppel_core::temporal::format_date(day, "%d/%m/%Y"),
            doppel_core::temporal::format_datetime(
                i64::from(day) * 86_400_000_000 + (i64::from(i % 24)) * 3_600_000_000,
                "%Y-%m-%d %H:%M:%S%.f",
                None
            ),
            doppel_core::temporal::date_to_yyyymmdd(day).expect("a date"),
            (i * 13) % 500,
            i % 100,
            ["a", "b", "c"][i as usize % 3]
        ));
    }
    std::fs::write(&input, text).expect("writes");
    let (metadata, _) = Metadata::detect(&read_table(input.as_ref(), &ReadOptions::default()).expect("reads tsv"));
    let kinds: Vec<&str> = metadata.columns.iter().map(|c| c.kind.name()).collect();
    assert_eq!(kinds, ["date", "datetime", "date", "numerical", "categorical"]);
    assert!(matches!(&metadata.columns[2].kind, ColumnKind::Date { storage: doppel_core::Storage::Integer, .. }));

    let jsonl = path_in(&dir, "out.jsonl");
    doppel_ok(&["synth", &input, "-o", &jsonl, "--quiet"]);
    let first: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&jsonl).expect("jsonl").lines().next().expect("a line"))
            .expect("json");
    assert!(first["day"].as_str().expect("a string").chars().nth(2) == Some('/'), "{first}");
    assert!(first["code_date"].is_i64(), "{first}");
    assert!(first["amount"].is_f64(), "{first}");

    let stdout = doppel_ok(&["synth", &input, "-n", "5", "-o", "-", "--quiet"]).stdout;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "a header and 5 rows:\n{stdout}");
    assert_eq!(lines[0], "day,stamp,code_date,amount,kind");
    let fields: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(fields[0].len(), 10, "{}", lines[1]);
    assert_eq!(fields[2].len(), 8, "{}", lines[1]);
    assert!(doppel_core::temporal::parse_datetime(fields[1], "%Y-%m-%d %H:%M:%S%.f").is_some(), "{}", lines[1]);
    assert_eq!(fields[3].split('.').nth(1).map(str::len), Some(2), "two decimals like the source: {}", lines[1]);
}

#[test]
fn inspect_prints_a_summary_and_metadata_edits_are_used() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = train("cps1988");
    let data = data.to_str().expect("utf-8");
    let meta_path = path_in(&dir, "cps.meta.json");
    let out = doppel_ok(&["inspect", data, "--output", &meta_path]);
    assert!(out.stdout.contains("22524 rows, 7 columns"), "{}", out.stdout);
    assert!(out.stdout.lines().any(|l| l.starts_with("wage") && l.contains("numerical")), "{}", out.stdout);
    assert!(out.stdout.lines().any(|l| l.starts_with("region") && l.contains("categorical")), "{}", out.stdout);
    // Edit: education becomes categorical.
    let text = std::fs::read_to_string(&meta_path).expect("metadata");
    let mut metadata = Metadata::from_json(&text, "m").expect("parses");
    metadata.columns[1].kind = ColumnKind::Categorical { storage: doppel_core::Storage::Integer };
    std::fs::write(&meta_path, metadata.to_json()).expect("writes");
    let model = path_in(&dir, "model.doppel");
    doppel_ok(&["fit", data, "-o", &model, "--metadata", &meta_path, "--quiet"]);
    let model_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).expect("model")).expect("json");
    assert_eq!(model_json["model"]["transforms"][1]["type"], "categorical");
    let listing = doppel_ok(&["inspect", data, "--metadata", &meta_path]).stdout;
    assert!(listing.lines().any(|l| l.starts_with("education") && l.contains("categorical")), "{listing}");
    // A contradicting edit: a category that cannot be stored as an integer.
    metadata.columns[3].kind = ColumnKind::Categorical { storage: doppel_core::Storage::Integer };
    std::fs::write(&meta_path, metadata.to_json()).expect("writes");
    let failed = doppel(&["fit", data, "-o", &path_in(&dir, "bad.doppel"), "--metadata", &meta_path]);
    assert_eq!(failed.code, 2);
    assert!(
        failed.stderr.contains("column `ethnicity`") && failed.stderr.contains("cannot be stored as an integer"),
        "{}",
        failed.stderr
    );
}

#[test]
fn golden_model_files_keep_loading() {
    let golden = crate::repo().join("tests/fixtures/models/v1/cps1988-sample.doppel");
    let dir = tempfile::tempdir().expect("temp dir");
    let output = path_in(&dir, "golden.csv");
    doppel_ok(&["sample", golden.to_str().expect("utf-8"), "-n", "1000", "-o", &output, "--seed", "1", "--quiet"]);
    let expected = crate::repo().join("tests/fixtures/models/v1/cps1988-sample.seed1.n1000.csv");
    assert!(
        std::fs::read(&output).expect("output") == std::fs::read(&expected).expect("expected output"),
        "the golden model no longer samples what it did when it was made"
    );
}
