//! `doppel evaluate` and `doppel report` end to end: the JSON's fields, the exit codes of
//! `--fail-under`, determinism across threads, and bad input.

use std::path::Path;

use crate::{Output, doppel, doppel_ok, path_in};

fn split(name: &str, part: &str) -> String {
    crate::datasets().join(name).join(format!("{name}.{part}.csv")).display().to_string()
}

/// telco_churn's training split, a doppel sample of it, and its holdout.
fn telco(dir: &tempfile::TempDir) -> (String, String, String) {
    let real = split("telco_churn", "train");
    let synthetic = path_in(dir, "synthetic.csv");
    doppel_ok(&["synth", &real, "-o", &synthetic, "--quiet", "--seed", "3"]);
    (real, synthetic, split("telco_churn", "holdout"))
}

fn json(path: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("reads")).expect("valid JSON")
}

fn number(v: &serde_json::Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(|x| x.as_f64()).unwrap_or_else(|| panic!("{pointer} is not a number in the JSON"))
}

#[test]
fn evaluate_writes_every_documented_field_and_a_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (real, synthetic, holdout) = telco(&dir);
    let (out, html) = (path_in(&dir, "eval.json"), path_in(&dir, "eval.html"));
    let run = doppel_ok(&[
        "evaluate",
        "--real",
        &real,
        "--synthetic",
        &synthetic,
        "--holdout",
        &holdout,
        "--target",
        "churn",
        "--by",
        "contract",
        "--sensitive",
        "monthly_charges",
        "--output",
        &out,
        "--html",
        &html,
    ]);
    assert!(run.stdout.contains("quality"), "the summary is printed:\n{}", run.stdout);
    let v = json(&out);
    assert_eq!(v["format"], "doppel.evaluation");
    assert_eq!(v["format_version"], 1);
    for pointer in [
        "/quality/score",
        "/quality/score_all_pairs",
        "/quality/column_shapes",
        "/quality/column_pair_trends",
        "/quality/column_pair_trends_all_pairs",
        "/utility/tstr",
        "/utility/trtr",
        "/detection/auc",
        "/privacy/dcr_share",
        "/privacy/exact_copy_rate",
        "/privacy/membership_auc",
    ] {
        let x = number(&v, pointer);
        assert!((0.0..=1.0).contains(&x), "{pointer} = {x}");
    }
    eprintln!(
        "telco_churn (doppel copula, seed 3): quality {:.4} / all pairs {:.4}, TSTR {:.4} TRTR {:.4}, detection AUC {:.4}, \
         DCR share {:.4}, membership AUC {:.4}",
        number(&v, "/quality/score"),
        number(&v, "/quality/score_all_pairs"),
        number(&v, "/utility/tstr"),
        number(&v, "/utility/trtr"),
        number(&v, "/detection/auc"),
        number(&v, "/privacy/dcr_share"),
        number(&v, "/privacy/membership_auc"),
    );
    assert!(number(&v, "/quality/score") > 0.8);
    assert_eq!(v["groups"]["column"], "contract");
    assert!(v["groups"]["groups"].as_array().is_some_and(|g| g.len() == 3));
    assert_eq!(v["privacy"]["attribute_inference"][0]["column"], "monthly_charges");
    // The manifest beside the synthetic data is carried along as provenance.
    assert_eq!(v["provenance"]["format"], "doppel.manifest");
    let page = std::fs::read_to_string(&html).expect("the report was written");
    assert!(page.contains("<svg"), "the report has charts");

    // `doppel report` renders the same report from the JSON alone.
    let again = path_in(&dir, "again.html");
    doppel_ok(&["report", &out, "-o", &again]);
    assert_eq!(std::fs::read_to_string(&again).expect("written"), page);
}

#[test]
fn without_a_holdout_the_holdout_figures_are_null() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (real, synthetic, _) = telco(&dir);
    let out = path_in(&dir, "eval.json");
    doppel_ok(&["evaluate", "--real", &real, "--synthetic", &synthetic, "--output", &out, "--quiet"]);
    let v = json(&out);
    for pointer in ["/utility/tstr", "/utility/trtr", "/privacy/dcr_share", "/privacy/membership_auc"] {
        assert!(v.pointer(pointer).is_some_and(|x| x.is_null()), "{pointer} should be null");
    }
    assert!(number(&v, "/privacy/exact_copy_rate") < 0.05);
    // A good generator sits at 0.5 give or take the folds' noise.
    assert!((0.4..=1.0).contains(&number(&v, "/detection/auc")));
}

#[test]
fn the_json_is_the_same_whatever_the_number_of_threads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (real, synthetic, holdout) = telco(&dir);
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = path_in(&dir, &format!("eval{threads}.json"));
        doppel_ok(&[
            "evaluate",
            "--real",
            &real,
            "--synthetic",
            &synthetic,
            "--holdout",
            &holdout,
            "--target",
            "churn",
            "--output",
            &out,
            "--threads",
            threads,
            "--quiet",
        ]);
        outputs.push(std::fs::read(&out).expect("written"));
    }
    assert!(outputs[0] == outputs[1], "the evaluation depends on the number of threads");
}

#[test]
fn fail_under_exits_with_1_and_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (real, synthetic, holdout) = telco(&dir);
    let base = ["evaluate", "--real", &real, "--synthetic", &synthetic, "--holdout", &holdout, "--quiet"];
    let pass = doppel(&[&base[..], &["--fail-under", "quality=0.5,exact_copies=0.9"]].concat());
    assert_eq!(pass.code, 0, "{}", pass.stderr);
    let fail = doppel(&[&base[..], &["--fail-under", "quality=0.999,privacy=0.1"]].concat());
    assert_eq!(fail.code, 1, "{}", fail.stderr);
    let lines: Vec<&str> = fail.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", fail.stderr);
    assert!(lines[0].starts_with("below --fail-under: quality 0."), "{}", lines[0]);
    assert!(!lines[0].contains("privacy"), "privacy met its minimum: {}", lines[0]);
    // A key that needs a target, without one, is a usage error.
    let usage = doppel(&[&base[..], &["--fail-under", "tstr=0.5"]].concat());
    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("--target"), "{}", usage.stderr);
}

fn assert_fails(output: Output, needles: &[&str]) {
    assert_eq!(output.code, 2, "expected exit code 2, stderr:\n{}", output.stderr);
    for needle in needles {
        assert!(output.stderr.contains(needle), "expected `{needle}` in:\n{}", output.stderr);
    }
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let real = path_in(&dir, "real.csv");
    let mut text = String::from("age,city,score\n");
    for i in 0..300 {
        text.push_str(&format!("{},{},{}.5\n", 20 + i % 50, ["a", "b", "c"][i % 3], i % 17));
    }
    std::fs::write(&real, &text).expect("writes");
    let write = |name: &str, body: &str| {
        let p = path_in(&dir, name);
        std::fs::write(&p, body).expect("writes");
        p
    };
    let out = path_in(&dir, "eval.json");
    let evaluate = |synthetic: &str, extra: &[&str]| {
        doppel(&[&["evaluate", "--real", &real, "--synthetic", synthetic, "--output", &out][..], extra].concat())
    };

    let fewer = write("fewer.csv", "age,city\n30,a\n40,b\n");
    assert_fails(evaluate(&fewer, &[]), &["fewer.csv", "lacks `score`"]);
    let renamed = write("renamed.csv", "age,town,score\n30,a,1\n");
    assert_fails(evaluate(&renamed, &[]), &["renamed.csv", "`city`", "`town`"]);
    let wrong_type = write("types.csv", "age,city,score\n30,a,1.5\nold,b,2.5\n");
    assert_fails(evaluate(&wrong_type, &[]), &["types.csv", "column `age`", "row 2", "`old`"]);
    let empty = write("empty.csv", "age,city,score\n");
    assert_fails(evaluate(&empty, &[]), &["empty.csv"]);
    assert_fails(evaluate(&real, &["--target", "salary"]), &["`salary`", "not found"]);
    assert_fails(evaluate(&real, &["--by", "score"]), &["--by `score`", "categorical"]);
    // A holdout larger than the memory allowed is refused before anything is read.
    let mut big = String::from("age,city,score\n");
    for i in 0..3000 {
        big.push_str(&format!("{},{},{}.25\n", 20 + i % 50, ["a", "b", "c"][i % 3], i % 17));
    }
    let big = write("big_holdout.csv", &big);
    assert_fails(
        evaluate(&real, &["--holdout", &big, "--memory-limit", "80KB"]),
        &["big_holdout.csv", "in memory", "--memory-limit"],
    );
    assert_fails(evaluate(&real, &["--fail-under", "qualty=0.9"]), &["unknown key `qualty`"]);
    assert!(!Path::new(&out).exists(), "a failed run left {out}");

    // `doppel report` on something that is not an evaluation.
    let not_eval = write("other.json", "{\"format\": \"doppel.manifest\"}");
    assert_fails(
        doppel(&["report", &not_eval, "-o", &path_in(&dir, "r.html")]),
        &["other.json", "not a doppel evaluation"],
    );
}
