//! Choosing the engine (`--engine auto`) and the fit time budget on the command line.

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
fn the_fit_time_budget_must_be_positive() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = train("cps1988");
    let run =
        doppel(&["fit", data.to_str().expect("utf-8"), "-o", &path_in(&dir, "m.doppel"), "--max-fit-seconds", "0"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("`--max-fit-seconds 0`: expected a positive number of seconds"), "{}", run.stderr);
}

#[test]
fn the_dp_engine_records_its_guarantee_and_refuses_bad_budgets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = train("telco_churn");
    let data = data.to_str().expect("utf-8");
    let (model, out) = (path_in(&dir, "dp.doppel"), path_in(&dir, "dp.csv"));
    let fit = doppel_ok(&["fit", data, "-o", &model, "--engine", "dp", "--epsilon", "1"]);
    assert!(!fit.stderr.contains("warning: δ"), "the default δ is below 1 / rows: {}", fit.stderr);
    doppel_ok(&["sample", &model, "-n", "3000", "-o", &out, "--quiet"]);
    let m = manifest(&out);
    assert_eq!(m["engine"], "dp");
    assert_eq!(m["privacy"]["guarantee"], "(1, 0.000001)-differential privacy");
    assert!(m["privacy"]["epsilon_spent"].as_f64().expect("ε spent") <= 1.0 + 1e-6);
    assert!(m["privacy"]["measurements"].as_u64().expect("count") > 40, "{}", m["privacy"]);
    assert_eq!(m["engine_settings"]["privacy"]["epsilon"], 1.0);
    // Neither the row count nor a fingerprint of the data is released.
    assert!(m["training_data"]["fingerprint"].is_null(), "{}", m["training_data"]);
    let rows = m["training_data"]["rows"].as_u64().expect("rows");
    assert!(rows.abs_diff(5634) < 400, "noisy row count {rows}");
    let text = std::fs::read_to_string(&model).expect("model");
    assert!(text.contains("\"ledger\"") && text.contains("\"thresholded_discrete_gaussian\""));
    // `inspect` of the output is a table like the training data's.
    let rows = std::fs::read_to_string(&out).expect("output").lines().count();
    assert_eq!(rows, 3001);

    for (args, expected) in [
        (vec!["--engine", "dp", "--epsilon", "0"], "`--epsilon 0`: expected a privacy budget ε greater than 0"),
        (vec!["--engine", "dp", "--epsilon", "-2"], "`--epsilon -2`: expected a privacy budget ε greater than 0"),
        (vec!["--engine", "dp", "--epsilon", "1", "--delta", "1"], "`--delta 1`: expected 0 < δ < 1"),
        (vec!["--engine", "dp", "--epsilon", "1", "--delta", "0"], "`--delta 0`: expected 0 < δ < 1"),
        (vec!["--engine", "dp"], "`--engine dp` needs a privacy budget: give `--epsilon`"),
        (vec!["--epsilon", "1"], "`--epsilon` applies to `--engine dp`"),
        (vec!["--engine", "tree", "--delta", "1e-6"], "`--delta` applies to `--engine dp`"),
        (
            vec!["--engine", "dp", "--epsilon", "1", "--keep-rare", "gender"],
            "`--keep-rare` cannot be used with `--engine dp`",
        ),
    ] {
        let refused = path_in(&dir, "refused.doppel");
        let mut all = vec!["fit", data, "-o", &refused];
        all.extend(args.iter().copied());
        let run = doppel(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert!(!std::path::Path::new(&refused).exists(), "{args:?}: a model was written");
    }
    // A δ not below 1 / rows is allowed, with a warning.
    let weak =
        doppel_ok(&["fit", data, "-o", &model, "--force", "--engine", "dp", "--epsilon", "1", "--delta", "0.01"]);
    assert!(weak.stderr.contains("is not below 1 / rows"), "{}", weak.stderr);
}
