//! Acceptance: the same model and seed give byte-identical output whatever the thread count,
//! and shards concatenate to the unsharded output.

use crate::{doppel_ok, path_in, train};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("output exists")
}

#[test]
fn threads_do_not_change_the_output_and_shards_concatenate() {
    for engine in ["tree", "copula"] {
        threads_and_shards(engine);
    }
}

fn threads_and_shards(engine: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = path_in(&dir, "model.doppel");
    doppel_ok(&["fit", train("cps1988").to_str().expect("utf-8"), "-o", &model, "--engine", engine, "--quiet"]);
    // 50 000 rows span four blocks, and the shard boundaries fall inside blocks.
    let one = path_in(&dir, "one.csv");
    let two = path_in(&dir, "two.csv");
    doppel_ok(&["sample", &model, "-n", "50000", "-o", &one, "--seed", "11", "--threads", "1", "--quiet"]);
    doppel_ok(&["sample", &model, "-n", "50000", "-o", &two, "--seed", "11", "--threads", "2", "--quiet"]);
    assert!(read(&one) == read(&two), "{engine}: --threads 1 and --threads 2 differ");

    let mut concatenated = Vec::new();
    for index in 0..4 {
        let part = path_in(&dir, &format!("part{index}.csv"));
        doppel_ok(&[
            "sample",
            &model,
            "-n",
            "50000",
            "-o",
            &part,
            "--seed",
            "11",
            "--shard",
            &format!("{index}/4"),
            "--quiet",
        ]);
        let bytes = read(&part);
        let body = if index == 0 {
            &bytes[..]
        } else {
            let header_end = bytes.iter().position(|b| *b == b'\n').expect("a header line") + 1;
            &bytes[header_end..]
        };
        concatenated.extend_from_slice(body);
    }
    assert!(concatenated == read(&one), "{engine}: 4 shards concatenated differ from the unsharded output");

    let other_seed = path_in(&dir, "other.csv");
    doppel_ok(&["sample", &model, "-n", "50000", "-o", &other_seed, "--seed", "12", "--quiet"]);
    assert!(read(&other_seed) != read(&one), "another seed gives other rows");
}

#[test]
fn a_saved_model_samples_what_synth_sampled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = path_in(&dir, "model.doppel");
    let direct = path_in(&dir, "direct.csv");
    let from_file = path_in(&dir, "from-file.csv");
    let data = train("telco_churn");
    doppel_ok(&[
        "synth",
        data.to_str().expect("utf-8"),
        "-o",
        &direct,
        "--seed",
        "5",
        "--save-model",
        &model,
        "--quiet",
    ]);
    doppel_ok(&["sample", &model, "-n", "5634", "-o", &from_file, "--seed", "5", "--quiet"]);
    assert!(read(&direct) == read(&from_file), "save -> load -> sample differs from sampling directly");
    // Fitting twice gives the same model file.
    let again = path_in(&dir, "again.doppel");
    doppel_ok(&["fit", data.to_str().expect("utf-8"), "-o", &again, "--quiet"]);
    let first: serde_json::Value = serde_json::from_slice(&read(&model)).expect("json");
    let second: serde_json::Value = serde_json::from_slice(&read(&again)).expect("json");
    assert_eq!(first["model"], second["model"], "fitting is reproducible");
}
