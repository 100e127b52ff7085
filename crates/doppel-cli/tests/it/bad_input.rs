//! Bad input: each case gets a clear message naming the file, line or column, exit code 2, and
//! no output file. A few cases are not errors (a constant or empty column, very many distinct
//! values, a huge field): those are handled and reported as warnings.

use std::path::Path;

use crate::{Output, doppel, doppel_ok, path_in};

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = path_in(dir, name);
    std::fs::write(&path, bytes).expect("writes");
    path
}

/// Asserts exit code 2, a message containing every needle, and no output file.
fn assert_fails(output: Output, needles: &[&str], output_path: &str) {
    assert_eq!(output.code, 2, "expected exit code 2, stderr:\n{}", output.stderr);
    for needle in needles {
        assert!(output.stderr.contains(needle), "expected `{needle}` in:\n{}", output.stderr);
    }
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    assert!(!Path::new(output_path).exists(), "a failed run left {output_path}");
    let parent = Path::new(output_path).parent().expect("a folder");
    let leftovers: Vec<_> = std::fs::read_dir(parent)
        .expect("lists")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files were left behind: {leftovers:?}");
}

fn synth_fails(dir: &tempfile::TempDir, data: &str, needles: &[&str]) {
    let out = path_in(dir, "out.csv");
    assert_fails(doppel(&["synth", data, "-o", &out]), needles, &out);
}

/// A small valid CSV body of `rows` rows after the given header.
fn numbers(rows: usize) -> String {
    let mut text = String::from("a,b\n");
    for i in 0..rows {
        text.push_str(&format!("{},{}\n", i, ["x", "y"][i % 2]));
    }
    text
}

#[test]
fn missing_empty_and_header_only_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    synth_fails(&dir, &path_in(&dir, "nope.csv"), &["nope.csv: no such file"]);
    synth_fails(&dir, &write(&dir, "empty.csv", b""), &["empty.csv: the file is empty"]);
    synth_fails(&dir, &write(&dir, "header.csv", b"a,b,c\n"), &["header.csv: the file has a header but no data rows"]);
    synth_fails(&dir, &write(&dir, "data.xlsx", b"a\n1\n"), &["data.xlsx: cannot tell the file format", ".parquet"]);
}

#[test]
fn ragged_rows_invalid_utf8_and_duplicate_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ragged = numbers(20);
    ragged.push_str("7,x,extra\n");
    synth_fails(&dir, &write(&dir, "ragged.csv", ragged.as_bytes()), &["ragged.csv: line 22 has 3 fields, expected 2"]);
    let mut bytes = numbers(10).into_bytes();
    bytes.extend_from_slice(b"5,\xff\xfeoops\n");
    synth_fails(&dir, &write(&dir, "latin1.csv", &bytes), &["latin1.csv: line 12 is not valid UTF-8"]);
    synth_fails(
        &dir,
        &write(&dir, "dupes.csv", b"a,b,a\n1,2,3\n4,5,6\n"),
        &["dupes.csv: column name `a` appears more than once"],
    );
}

#[test]
fn a_single_row_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    synth_fails(&dir, &write(&dir, "one.csv", b"a,b\n1,x\n"), &["the data has 1 row; expected at least 2 rows"]);
}

#[test]
fn constant_and_empty_columns_are_reproduced_with_a_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = String::from("value,constant,empty,label\n");
    for i in 0..100 {
        text.push_str(&format!("{},7,,{}\n", i % 10, ["p", "q"][i % 2]));
    }
    let data = write(&dir, "special.csv", text.as_bytes());
    let out = path_in(&dir, "out.csv");
    let run = doppel_ok(&["synth", &data, "-o", &out]);
    assert!(run.stderr.contains("warning: column `constant`: the column is constant"), "{}", run.stderr);
    assert!(run.stderr.contains("warning: column `empty`: every value is missing"), "{}", run.stderr);
    let output = std::fs::read_to_string(&out).expect("output");
    for line in output.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[1], "7");
        assert_eq!(fields[2], "");
    }
}

#[test]
fn mixed_types_non_finite_numbers_and_bad_dates_name_the_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = String::from("amount,label\n");
    for i in 0..100 {
        text.push_str(&format!("{}.5,x\n", i));
    }
    text.push_str("unknown,y\n");
    synth_fails(
        &dir,
        &write(&dir, "mixed.csv", text.as_bytes()),
        &["column `amount`, row 101: `unknown` is not a number", "hint:"],
    );
    let text = text.replace("unknown", "inf");
    synth_fails(
        &dir,
        &write(&dir, "inf.csv", text.as_bytes()),
        &["column `amount`, row 101: `inf` is not a finite number"],
    );
    let mut dates = String::from("day,label\n");
    for i in 0..60 {
        dates.push_str(&format!("2020-01-{:02},x\n", i % 28 + 1));
    }
    dates.push_str("2020-13-45,y\n");
    synth_fails(
        &dir,
        &write(&dir, "dates.csv", dates.as_bytes()),
        &["column `day`, row 61: `2020-13-45` is not a valid date in the format `%Y-%m-%d`"],
    );
}

#[test]
fn very_many_categories_and_a_huge_field_are_treated_as_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = String::from("tag,value\n");
    for i in 0..100_000 {
        text.push_str(&format!("tag{i}x,{}\n", i % 50));
    }
    let data = write(&dir, "many.csv", text.as_bytes());
    let out = path_in(&dir, "many-out.csv");
    doppel_ok(&["synth", &data, "-n", "1000", "-o", &out, "--quiet"]);
    let output = std::fs::read_to_string(&out).expect("output");
    let training: std::collections::HashSet<String> = (0..100_000).map(|i| format!("tag{i}x")).collect();
    for line in output.lines().skip(1) {
        let tag = line.split(',').next().expect("a field");
        assert!(!training.contains(tag), "training tag `{tag}` copied");
    }
    let mut big = String::from("note,value\n");
    let huge = "word ".repeat(200_000);
    big.push_str(&format!("\"{huge}\",1\n"));
    for i in 0..50 {
        big.push_str(&format!("short note {i},{}\n", i % 5));
    }
    let data = write(&dir, "big.csv", big.as_bytes());
    let out = path_in(&dir, "big-out.csv");
    let run = doppel_ok(&["synth", &data, "-o", &out]);
    assert!(run.stderr.contains("column `note`: free text is not modelled yet"), "{}", run.stderr);
    assert!(!std::fs::read_to_string(&out).expect("output").contains("short note"));
}

#[test]
fn bad_model_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = write(&dir, "data.csv", numbers(50).as_bytes());
    let model = path_in(&dir, "model.doppel");
    doppel_ok(&["fit", &data, "-o", &model, "--quiet"]);
    let text = std::fs::read_to_string(&model).expect("model");
    let out = path_in(&dir, "out.csv");
    let truncated = write(&dir, "truncated.doppel", &text.as_bytes()[..text.len() / 2]);
    assert_fails(
        doppel(&["sample", &truncated, "-n", "10", "-o", &out]),
        &["truncated.doppel: not a valid doppel model file", "corrupt or truncated"],
        &out,
    );
    let edited = write(
        &dir,
        "edited.doppel",
        text.replacen("\"min_category_count\":5", "\"min_category_count\":6", 1).as_bytes(),
    );
    assert_fails(doppel(&["sample", &edited, "-n", "10", "-o", &out]), &["the checksum does not match"], &out);
    let newer =
        write(&dir, "newer.doppel", text.replacen("\"format_version\":1", "\"format_version\":3", 1).as_bytes());
    assert_fails(
        doppel(&["sample", &newer, "-n", "10", "-o", &out]),
        &["model format 3", "reads formats up to 2", "upgrade doppel"],
        &out,
    );
    let garbage = write(&dir, "garbage.doppel", b"\x00\x01\x02 not a model");
    assert_fails(
        doppel(&["sample", &garbage, "-n", "10", "-o", &out]),
        &["garbage.doppel: not a valid doppel model file"],
        &out,
    );
    assert_fails(
        doppel(&["sample", &path_in(&dir, "missing.doppel"), "-n", "10", "-o", &out]),
        &["missing.doppel: no such file"],
        &out,
    );
}

#[test]
fn metadata_naming_a_missing_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = write(&dir, "data.csv", numbers(50).as_bytes());
    let meta = path_in(&dir, "meta.json");
    doppel_ok(&["inspect", &data, "--output", &meta, "--quiet"]);
    let text = std::fs::read_to_string(&meta).expect("metadata").replace("\"name\": \"b\"", "\"name\": \"colour\"");
    std::fs::write(&meta, text).expect("writes");
    let out = path_in(&dir, "out.csv");
    assert_fails(
        doppel(&["synth", &data, "-o", &out, "--metadata", &meta]),
        &["the metadata names column `colour`", "does not have"],
        &out,
    );
    std::fs::write(
        &meta,
        "{\"format\": \"doppel.metadata\", \"version\": 1, \"columns\": [{\"name\": \"a\", \"type\": \"shape\"}]}",
    )
    .expect("writes");
    assert_fails(
        doppel(&["synth", &data, "-o", &out, "--metadata", &meta]),
        &["meta.json", "unknown variant `shape`"],
        &out,
    );
}

#[test]
fn row_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = write(&dir, "data.csv", numbers(50).as_bytes());
    let model = path_in(&dir, "model.doppel");
    doppel_ok(&["fit", &data, "-o", &model, "--quiet"]);
    let out = path_in(&dir, "out.csv");
    assert_fails(doppel(&["sample", &model, "-n", "0", "-o", &out]), &["`-n 0`: expected at least 1 row"], &out);
    assert_fails(
        doppel(&["sample", &model, "-n", "-5", "-o", &out]),
        &["`-n -5`: expected a positive whole number of rows"],
        &out,
    );
    assert_fails(
        doppel(&["sample", &model, "-n", "10000000000000", "-o", &out]),
        &["at most 1000000000000 rows"],
        &out,
    );
    assert_fails(doppel(&["sample", &model, "-n", "ten", "-o", &out]), &["`-n ten`"], &out);
    assert_fails(
        doppel(&["sample", &model, "-n", "10", "-o", &out, "--shard", "4/4"]),
        &["`--shard 4/4`: expected `I/K`"],
        &out,
    );
    assert_fails(doppel(&["synth", &data, "-n", "0", "-o", &out]), &["`-n 0`"], &out);
}

#[test]
fn outputs_are_not_overwritten_without_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = write(&dir, "data.csv", numbers(50).as_bytes());
    let out = write(&dir, "precious.csv", b"keep me\n");
    let run = doppel(&["synth", &data, "-o", &out]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("precious.csv already exists; pass `--force` to overwrite it"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("still there"), "keep me\n");
    doppel_ok(&["synth", &data, "-o", &out, "--force", "--quiet"]);
    assert!(std::fs::read_to_string(&out).expect("replaced").starts_with("a,b\n"));
    let run = doppel(&["synth", &data, "-o", &data, "--force"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is also an input"), "{}", run.stderr);
    assert!(std::fs::read_to_string(&data).expect("input").starts_with("a,b\n0,x"));
}

#[test]
fn a_manifest_sits_beside_every_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = write(&dir, "data.csv", numbers(50).as_bytes());
    let out = path_in(&dir, "out.parquet");
    doppel_ok(&["synth", &data, "-o", &out, "--seed", "9", "--quiet"]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{out}.manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["format"], "doppel.manifest");
    assert_eq!(manifest["engine"], "copula");
    assert_eq!(manifest["seed"], 9);
    assert_eq!(manifest["rows"], 50);
    assert!(manifest["training_data"]["fingerprint"].as_str().expect("a fingerprint").starts_with("sha256:"));
    assert!(manifest["model"]["fingerprint"].as_str().expect("a fingerprint").starts_with("sha256:"));
    assert!(manifest["timings"]["sample_seconds"].is_number());
    assert!(manifest["doppel_version"].is_string());
}

#[test]
fn exit_codes_of_the_command_line_itself() {
    assert_eq!(doppel(&["--help"]).code, 0);
    assert!(doppel(&["--help"]).stdout.contains("Examples:"));
    assert_eq!(doppel(&["--version"]).code, 0);
    assert_eq!(doppel(&["frobnicate"]).code, 2);
    assert_eq!(doppel(&["sample"]).code, 2);
}
