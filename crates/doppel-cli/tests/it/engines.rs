//! Choosing the engine (`--engine auto`), conditions and the fit time budget on the command line.

use crate::{doppel, doppel_ok, path_in, train};

fn manifest(output: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{output}.manifest.json")).expect("manifest")).expect("json")
}

#[test]
fn the_engine_is_chosen_by_table_size_and_the_choice_is_explained() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cps = train("cps1988");
    let cps = cps.to_str().expect("utf-8");
    let inspect = doppel_ok(&["inspect", cps]);
    assert!(
        inspect.stdout.contains("engine: tree, chosen automatically: the table has 22524 rows"),
        "{}",
        inspect.stdout
    );

    let small = path_in(&dir, "small.csv");
    let rows: String = (0..60).map(|i| format!("{},{}\n", i % 7, ["a", "b", "c"][i % 3])).collect();
    std::fs::write(&small, format!("x,y\n{rows}")).expect("written");
    assert!(
        doppel_ok(&["inspect", &small])
            .stdout
            .contains("engine: copula, chosen automatically: the table has 60 rows, fewer than 500")
    );

    let out = path_in(&dir, "out.csv");
    doppel_ok(&["synth", cps, "-o", &out, "--quiet"]);
    let m = manifest(&out);
    assert_eq!(m["engine"], "tree");
    assert!(m["engine_reason"].as_str().expect("a reason").contains("at least 500"));
    assert_eq!(m["engine_settings"]["trees"]["min_leaf"], 10, "the tree settings used are recorded");

    doppel_ok(&["synth", cps, "-o", &out, "--engine", "copula", "--quiet", "--force"]);
    let m = manifest(&out);
    assert_eq!(m["engine"], "copula");
    assert!(m.get("engine_reason").is_none(), "an engine asked for needs no reason");
}

#[test]
fn conditions_on_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = path_in(&dir, "telco.doppel");
    let data = train("telco_churn");
    doppel_ok(&["fit", data.to_str().expect("utf-8"), "-o", &model, "--quiet"]);
    let out = path_in(&dir, "churned.csv");
    doppel_ok(&["sample", &model, "-n", "2000", "-o", &out, "--condition", "churn=Yes", "--seed", "2", "--quiet"]);
    let text = std::fs::read_to_string(&out).expect("output");
    let header: Vec<&str> = text.lines().next().expect("a header").split(',').collect();
    let churn = header.iter().position(|c| *c == "churn").expect("a churn column");
    assert!(text.lines().skip(1).all(|line| line.split(',').nth(churn) == Some("Yes")));
    assert_eq!(manifest(&out)["conditions"][0], "churn=Yes");

    let refused = path_in(&dir, "refused.csv");
    for (condition, message) in [
        ("churn=maybe", "condition `churn=maybe`: not a category the model kept; expected one of `No`, `Yes`"),
        ("tenure=3", "only categorical and boolean columns"),
        ("churn", "expected `COLUMN=VALUE`"),
    ] {
        let run = doppel(&["sample", &model, "-n", "10", "-o", &refused, "--condition", condition]);
        assert_eq!(run.code, 2, "{condition}");
        assert!(run.stderr.contains(message), "{condition}: {}", run.stderr);
        assert!(!std::path::Path::new(&refused).exists(), "no output for a refused condition");
    }
}

#[test]
fn the_fit_time_budget_must_be_positive() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = train("cps1988");
    let run =
        doppel(&["fit", data.to_str().expect("utf-8"), "-o", &path_in(&dir, "m.doppel"), "--max-fit-seconds", "0"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("`--max-fit-seconds 0`: expected a positive number of seconds"), "{}", run.stderr);
}
