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
