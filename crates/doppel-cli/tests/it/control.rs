//! Control on the command line: `--where`, `--rebalance`, `--oversample`, `--fair`,
//! `--complete`, `--keep-rare`, and `evaluate --parity`.

use std::path::Path;

use crate::{doppel, doppel_ok, path_in, train};

fn manifest(output: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{output}.manifest.json")).expect("manifest")).expect("json")
}

/// A CSV without quoted commas, as rows of cells by column name.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn read(path: &str) -> Csv {
        let text = std::fs::read_to_string(path).expect("output");
        let mut lines = text.lines();
        let header = lines.next().expect("a header").split(',').map(str::to_string).collect();
        let rows = lines.map(|l| l.split(',').map(str::to_string).collect()).collect();
        Csv { header, rows }
    }

    fn column(&self, name: &str) -> Vec<&str> {
        let i = self.header.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}"));
        self.rows.iter().map(|r| r[i].as_str()).collect()
    }

    fn share(&self, name: &str, value: &str) -> f64 {
        let column = self.column(name);
        column.iter().filter(|v| **v == value).count() as f64 / column.len() as f64
    }
}

fn telco_model(dir: &tempfile::TempDir) -> String {
    let model = path_in(dir, "telco.doppel");
    doppel_ok(&["fit", train("telco_churn").to_str().expect("utf-8"), "-o", &model, "--quiet"]);
    model
}

#[test]
fn conditions_hold_in_every_row_and_are_recorded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = telco_model(&dir);
    let out = path_in(&dir, "out.csv");
    let conditions = ["churn=Yes", "contract=One year|Two year", "tenure>=24", "monthly_charges<80.5"];
    let mut args = vec!["sample", &model, "-n", "3000", "-o", &out, "--seed", "2"];
    for condition in &conditions {
        args.extend(["--where", condition]);
    }
    let run = doppel_ok(&args);
    let csv = Csv::read(&out);
    assert_eq!(csv.rows.len(), 3000);
    assert!(csv.column("churn").iter().all(|v| *v == "Yes"));
    assert!(csv.column("contract").iter().all(|v| *v == "One year" || *v == "Two year"));
    assert!(csv.column("tenure").iter().all(|v| v.parse::<f64>().expect("a number") >= 24.0));
    assert!(csv.column("monthly_charges").iter().all(|v| v.parse::<f64>().expect("a number") < 80.5));
    // About 2% of customers: rare, and said so.
    assert!(run.stderr.contains("note: the conditions are rare: about"), "{}", run.stderr);
    let control = &manifest(&out)["control"];
    assert_eq!(control["conditions"][1], "contract=One year|Two year");
    let share = control["condition_share"].as_f64().expect("a share");
    assert!(share > 0.005 && share < 0.05, "estimated share {share}");

    // The old spelling still works.
    doppel_ok(&["sample", &model, "-n", "10", "-o", &out, "--condition", "churn=No", "--force", "--quiet"]);
    assert!(Csv::read(&out).column("churn").iter().all(|v| *v == "No"));
}

#[test]
fn bad_conditions_are_clear_errors_and_write_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = telco_model(&dir);
    let refused = path_in(&dir, "refused.csv");
    for (condition, message) in [
        (
            "churn=maybe",
            "`churn=maybe`: impossible under the model: it never generates such a value of `churn` (its values are `No`, `Yes`)",
        ),
        (
            "tenure>=100",
            "`tenure>=100`: impossible under the model: it never generates such a value of `tenure` (its values range from 0 to 72)",
        ),
        ("tenure>=ten", "condition `tenure>=ten`: `ten` is not a value of `tenure`; expected a number"),
        ("contract>=One", "`contract` is categorical; `<`, `<=`, `>` and `>=` need a numeric"),
        ("nope=1", "condition `nope=1`: the model has no column `nope`"),
        ("churn", "expected `COLUMN=VALUE`"),
    ] {
        let run = doppel(&["sample", &model, "-n", "10", "-o", &refused, "--where", condition]);
        assert_eq!(run.code, 2, "{condition}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{condition}: {}", run.stderr);
        assert!(!Path::new(&refused).exists(), "no output for a refused condition");
    }
    // Each value possible, together impossible: month-to-month contracts never last 72 months
    // in the data... but the model may still allow it; a truly empty combination is a zero range.
    let run = doppel(&["sample", &model, "-n", "10", "-o", &refused, "--where", "tenure>50", "--where", "tenure<40"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("impossible under the model"), "{}", run.stderr);
    for (flag, value, message) in [
        ("--rebalance", "churn=Maybe:0.5", "`Maybe` is not a value the model kept"),
        ("--rebalance", "churn=Yes:1.5", "shares must lie in [0, 1]"),
        ("--rebalance", "tenure=uniform", "`tenure` is not categorical or boolean"),
        ("--oversample", "churn=Yes:0x", "a factor must be above 0"),
    ] {
        let run = doppel(&["sample", &model, "-n", "10", "-o", &refused, flag, value]);
        assert_eq!(run.code, 2, "{value}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{value}: {}", run.stderr);
    }
}

#[test]
fn rebalancing_oversampling_and_parity() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = telco_model(&dir);
    let out = path_in(&dir, "out.csv");
    doppel_ok(&["sample", &model, "-n", "10000", "-o", &out, "--rebalance", "churn=Yes:0.5", "--quiet"]);
    let share = Csv::read(&out).share("churn", "Yes");
    assert!((share - 0.5).abs() <= 0.01, "rebalanced share {share}");
    assert_eq!(manifest(&out)["control"]["rebalance"][0], "churn=Yes:0.5");

    doppel_ok(&["sample", &model, "-n", "10000", "-o", &out, "--oversample", "churn=Yes:3x", "--quiet", "--force"]);
    let share = Csv::read(&out).share("churn", "Yes");
    // 25.9% of the training customers churned: 3p / (3p + 1 - p) = 0.512.
    assert!((share - 0.512).abs() <= 0.01, "oversampled share {share}");

    // Parity composed with a condition.
    let args = [
        "sample",
        &model,
        "-n",
        "10000",
        "-o",
        &out,
        "--fair",
        "senior_citizen",
        "--target",
        "churn",
        "--where",
        "tenure<=60",
    ];
    doppel_ok(&[&args[..], &["--quiet", "--force"]].concat());
    let csv = Csv::read(&out);
    let (senior, churn) = (csv.column("senior_citizen"), csv.column("churn"));
    let rate = |group: &str| {
        let rows: Vec<usize> = (0..senior.len()).filter(|&r| senior[r] == group).collect();
        rows.iter().filter(|&&r| churn[r] == "Yes").count() as f64 / rows.len() as f64
    };
    // Seniors churn 42% of the time in the data, the others 24%.
    assert!((rate("1") - rate("0")).abs() < 0.02, "parity difference {} vs {}", rate("1"), rate("0"));
    assert!(csv.column("tenure").iter().all(|v| v.parse::<f64>().expect("a number") <= 60.0));

    // The evaluation reports parity before (real) and after (synthetic).
    let json = path_in(&dir, "eval.json");
    let real = train("telco_churn");
    let real = real.to_str().expect("utf-8");
    doppel_ok(&[
        "evaluate",
        "--real",
        real,
        "--synthetic",
        &out,
        "--parity",
        "senior_citizen:churn=Yes",
        "-o",
        &json,
        "--detection-rows",
        "500",
        "--privacy-rows",
        "500",
        "--quiet",
    ]);
    let evaluation: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("json");
    let parity = &evaluation["parity"];
    assert!(parity["real"]["difference"].as_f64().expect("real") > 0.1);
    assert!(parity["synthetic"]["difference"].as_f64().expect("synthetic") < 0.02);
}

#[test]
fn seed_rows_are_completed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = telco_model(&dir);
    let seeds = path_in(&dir, "seeds.csv");
    std::fs::write(&seeds, "contract,tenure,churn\nTwo year,,\n,3,Yes\nMonth-to-month,12,No\n").expect("written");
    let out = path_in(&dir, "out.csv");
    doppel_ok(&["sample", &model, "-o", &out, "--complete", &seeds, "--quiet"]);
    let csv = Csv::read(&out);
    assert_eq!(csv.rows.len(), 3);
    assert_eq!(csv.column("contract")[0], "Two year");
    assert_eq!((csv.column("tenure")[1], csv.column("churn")[1]), ("3", "Yes"));
    assert_eq!(csv.column("contract")[2], "Month-to-month");
    assert_eq!(manifest(&out)["control"]["completed"]["rows"], 3);

    let bad = path_in(&dir, "bad.csv");
    std::fs::write(&bad, "tenure\n5\n999\n").expect("written");
    let run = doppel(&["sample", &model, "-o", &path_in(&dir, "x.csv"), "--complete", &bad]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("bad.csv: seed row 2: `tenure=999`: impossible"), "{}", run.stderr);
    let run = doppel(&["sample", &model, "-n", "5", "-o", &path_in(&dir, "x.csv"), "--complete", &seeds]);
    assert!(run.code == 2 && run.stderr.contains("the seed file has 3 rows"), "{}", run.stderr);
}

#[test]
fn keep_rare_is_the_users_recorded_decision() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = path_in(&dir, "fraud.csv");
    let rows: String = (0..2000).map(|i| format!("{},{}\n", i % 50, if i % 700 == 0 { "yes" } else { "no" })).collect();
    std::fs::write(&data, format!("amount,fraud\n{rows}")).expect("written");
    let (plain, kept) = (path_in(&dir, "plain.doppel"), path_in(&dir, "kept.doppel"));
    doppel_ok(&["fit", &data, "-o", &plain, "--quiet"]);
    doppel_ok(&["fit", &data, "-o", &kept, "--keep-rare", "fraud", "--quiet"]);
    let out = path_in(&dir, "out.csv");
    // Three fraud rows: protected (left out) by default, so a condition on it is impossible.
    let run = doppel(&["sample", &plain, "-n", "10", "-o", &out, "--where", "fraud=yes"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    doppel_ok(&["sample", &kept, "-n", "1000", "-o", &out, "--oversample", "fraud=yes:100x", "--quiet"]);
    let share = Csv::read(&out).share("fraud", "yes");
    assert!(share > 0.1, "oversampled rare class: {share}");
    assert_eq!(manifest(&out)["rare_values_kept"][0], "fraud");
    let run = doppel(&["fit", &data, "-o", &path_in(&dir, "x.doppel"), "--keep-rare", "nope"]);
    assert!(run.code == 2 && run.stderr.contains("`--keep-rare nope`"), "{}", run.stderr);
}

/// The text cells of a sampled file, read with doppel's own reader (quotes and all).
fn cells(path: &str) -> doppel_core::Table {
    doppel_io::read_table(Path::new(path), &doppel_io::ReadOptions::default()).expect("the output reads back")
}

fn texts<'a>(table: &'a doppel_core::Table, column: &str) -> Vec<Option<std::borrow::Cow<'a, str>>> {
    let data = &table.column(column).expect("column").data;
    (0..data.len()).map(|row| data.text_at(row)).collect()
}

fn numbers(table: &doppel_core::Table, column: &str) -> Vec<Option<f64>> {
    texts(table, column).iter().map(|t| t.as_deref().and_then(|t| t.parse().ok())).collect()
}

/// Fits `data` with its detected metadata plus `constraints`, then samples `rows` rows with
/// `options`; returns the output's path.
fn fit_and_sample(
    dir: &tempfile::TempDir,
    data: &str,
    constraints: serde_json::Value,
    options: &[&str],
    rows: &str,
) -> String {
    let name = Path::new(data).file_stem().expect("a name").to_string_lossy().into_owned();
    let meta = path_in(dir, &format!("{name}.meta.json"));
    doppel_ok(&["inspect", data, "-o", &meta, "--quiet"]);
    let mut metadata: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).expect("metadata")).expect("json");
    metadata["constraints"] = constraints;
    std::fs::write(&meta, serde_json::to_string_pretty(&metadata).expect("json")).expect("written");
    let model = path_in(dir, &format!("{name}.doppel"));
    doppel_ok(&["fit", data, "--metadata", &meta, "-o", &model, "--engine", "tree", "--quiet"]);
    let out = path_in(dir, &format!("{name}.out.csv"));
    doppel_ok(&[&["sample", &model, "-n", rows, "-o", &out, "--seed", "5", "--quiet"][..], options].concat());
    let recorded = manifest(&out)["constraints"].as_array().map_or(0, Vec::len);
    assert_eq!(recorded, metadata["constraints"].as_array().map_or(0, Vec::len), "the manifest lists the constraints");
    out
}

/// Every constraint kind on real columns, over 1 M sampled rows, composed with a condition and a
/// rebalance at once: 100 % of the rows conform.
#[test]
fn constraints_hold_over_a_million_rows_with_a_condition_and_a_rebalance() {
    let dir = tempfile::tempdir().expect("temp dir");
    let million = "1000000";

    // nycflights13 flights (the first 20 000): a formula, an inequality, a range, allowed values
    // and a regex, with a condition on the delay and the origins rebalanced.
    let flights = path_in(&dir, "flights.csv");
    let text = std::fs::read_to_string(crate::datasets().join("nycflights13/flights.csv")).expect("flights");
    let head: Vec<&str> = text.lines().take(20_001).collect();
    std::fs::write(&flights, head.join("\n") + "\n").expect("written");
    let constraints = serde_json::json!([
        { "type": "formula", "column": "sched_dep_time", "expression": "hour * 100 + minute" },
        { "type": "inequality", "low": "air_time", "high": "distance" },
        { "type": "range", "column": "dep_time", "min": 1, "max": 2400 },
        { "type": "allowed_values", "column": "origin", "values": ["EWR", "JFK", "LGA"] },
        { "type": "regex", "column": "carrier", "pattern": "[A-Z0-9]{2}" }
    ]);
    let options = ["--where", "dep_delay>=0", "--rebalance", "origin=uniform"];
    let out = cells(&fit_and_sample(&dir, &flights, constraints, &options, million));
    assert_eq!(out.n_rows(), 1_000_000);
    let (sched, hour, minute) = (numbers(&out, "sched_dep_time"), numbers(&out, "hour"), numbers(&out, "minute"));
    let (air, distance, delay) = (numbers(&out, "air_time"), numbers(&out, "distance"), numbers(&out, "dep_delay"));
    let (dep_time, origin, carrier) = (numbers(&out, "dep_time"), texts(&out, "origin"), texts(&out, "carrier"));
    let mut jfk = 0usize;
    for row in 0..out.n_rows() {
        if let (Some(s), Some(h), Some(m)) = (sched[row], hour[row], minute[row]) {
            assert_eq!(s, h * 100.0 + m, "row {row}: sched_dep_time = hour * 100 + minute");
        }
        if let (Some(a), Some(d)) = (air[row], distance[row]) {
            assert!(a <= d, "row {row}: air_time {a} <= distance {d}");
        }
        assert!(dep_time[row].is_none_or(|t| (1.0..=2400.0).contains(&t)), "row {row}: dep_time");
        assert!(delay[row].is_some_and(|d| d >= 0.0), "row {row}: dep_delay >= 0");
        let o = origin[row].as_deref().expect("an origin");
        assert!(["EWR", "JFK", "LGA"].contains(&o), "row {row}: origin {o}");
        jfk += usize::from(o == "JFK");
        let c = carrier[row].as_deref().unwrap_or("AA");
        assert!(c.len() == 2 && c.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "row {row}: {c}");
    }
    let share = jfk as f64 / 1e6;
    assert!((share - 1.0 / 3.0).abs() < 0.01, "rebalanced JFK share {share}");

    // telco_churn: fixed combinations and an inequality, with a condition and a rebalance.
    let telco = train("telco_churn");
    let constraints = serde_json::json!([
        { "type": "fixed_combinations", "columns": ["multiple_lines", "phone_service"] },
        { "type": "inequality", "low": "monthly_charges", "high": "total_charges" }
    ]);
    let options = ["--where", "tenure>=12", "--rebalance", "churn=Yes:0.5"];
    let out = cells(&fit_and_sample(&dir, telco.to_str().expect("utf-8"), constraints, &options, million));
    let (lines, phone) = (texts(&out, "multiple_lines"), texts(&out, "phone_service"));
    let (monthly, total, tenure) =
        (numbers(&out, "monthly_charges"), numbers(&out, "total_charges"), numbers(&out, "tenure"));
    let (churn, mut churned) = (texts(&out, "churn"), 0usize);
    for row in 0..out.n_rows() {
        let pair = (lines[row].as_deref(), phone[row].as_deref());
        assert!(
            matches!(pair, (Some("No phone service"), Some("0")) | (Some("No" | "Yes"), Some("1"))),
            "row {row}: a combination never seen in training: {pair:?}"
        );
        if let (Some(m), Some(t)) = (monthly[row], total[row]) {
            assert!(m <= t, "row {row}: monthly_charges {m} <= total_charges {t}");
        }
        assert!(tenure[row].is_some_and(|t| t >= 12.0), "row {row}: tenure >= 12");
        churned += usize::from(churn[row].as_deref() == Some("Yes"));
    }
    assert!((churned as f64 / 1e6 - 0.5).abs() < 0.01, "rebalanced churn share");

    // nycflights13 airports: a unique column, with a condition and a rebalance.
    let airports = crate::datasets().join("nycflights13/airports.csv");
    let constraints = serde_json::json!([{ "type": "unique", "column": "lon" }]);
    let options = ["--where", "alt>=0", "--rebalance", "dst=A:0.9"];
    let out = cells(&fit_and_sample(&dir, airports.to_str().expect("utf-8"), constraints, &options, million));
    let lon = texts(&out, "lon");
    let mut seen = std::collections::HashSet::new();
    for (row, value) in lon.iter().enumerate() {
        if let Some(value) = value {
            let value: f64 = value.parse().expect("a number");
            assert!(seen.insert(value.to_bits()), "row {row}: lon {value} repeats");
        }
    }
    assert!(numbers(&out, "alt").iter().all(|a| a.is_some_and(|a| a >= 0.0)));
}

#[test]
fn bad_constraints_are_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let telco = train("telco_churn");
    let telco = telco.to_str().expect("utf-8");
    let meta = path_in(&dir, "meta.json");
    doppel_ok(&["inspect", telco, "-o", &meta, "--quiet"]);
    let base: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta).expect("meta")).expect("json");
    for (constraints, message) in [
        (
            serde_json::json!([{ "type": "range", "column": "tenure", "min": 1, "max": 70 }]),
            "constraint `1 <= tenure <= 70` is violated by the training data itself: row 14 has tenure = 71",
        ),
        (serde_json::json!([{ "type": "range", "column": "nope", "min": 1 }]), "`nope`"),
        (serde_json::json!([{ "type": "range", "column": "tenure", "min": 10, "max": 5 }]), "tenure"),
        (
            serde_json::json!([
                { "type": "inequality", "low": "tenure", "high": "monthly_charges", "strict": true },
                { "type": "inequality", "low": "monthly_charges", "high": "tenure" }
            ]),
            "monthly_charges",
        ),
        (serde_json::json!([{ "type": "range", "column": "contract", "min": 1 }]), "contract"),
    ] {
        let mut metadata = base.clone();
        metadata["constraints"] = constraints.clone();
        std::fs::write(&meta, serde_json::to_string(&metadata).expect("json")).expect("written");
        let model = path_in(&dir, "m.doppel");
        let run = doppel(&["fit", telco, "--metadata", &meta, "-o", &model]);
        assert_eq!(run.code, 2, "{constraints}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{constraints}: {}", run.stderr);
        assert!(!Path::new(&model).exists(), "no model for refused constraints");
    }
}

#[test]
fn suggested_constraints_are_written_and_then_met() {
    let dir = tempfile::tempdir().expect("temp dir");
    let weather = crate::datasets().join("nycflights13/weather.csv");
    let weather = weather.to_str().expect("utf-8");
    let meta = path_in(&dir, "weather.meta.json");
    let run = doppel_ok(&["inspect", weather, "--suggest-constraints", "-o", &meta]);
    assert!(run.stdout.contains("`temp >= dewp`: `temp` >= `dewp` on all 26114 rows"), "{}", run.stdout);
    let model = path_in(&dir, "weather.doppel");
    doppel_ok(&["fit", weather, "--metadata", &meta, "-o", &model, "--quiet"]);
    let inspect = doppel_ok(&["inspect", weather, "--metadata", &meta]);
    assert!(inspect.stdout.contains("constraints (from the metadata; every sampled row meets them):"));
    let out = path_in(&dir, "out.csv");
    doppel_ok(&["sample", &model, "-n", "50000", "-o", &out, "--quiet"]);
    let table = cells(&out);
    let (temp, dewp) = (numbers(&table, "temp"), numbers(&table, "dewp"));
    assert!((0..table.n_rows()).all(|r| match (temp[r], dewp[r]) {
        (Some(t), Some(d)) => t >= d,
        _ => true,
    }));
}
