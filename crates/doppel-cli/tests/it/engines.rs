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
