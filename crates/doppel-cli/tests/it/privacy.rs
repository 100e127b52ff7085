//! Acceptance: no identifier, free-text value or protected rare category of the training data
//! appears in the model file or the output.

use std::collections::HashSet;

use doppel_io::{ReadOptions, read_table};

use crate::{doppel_ok, path_in, train};

/// A table with keys, free text, a rare category and a person's name in it.
fn sensitive_csv(dir: &tempfile::TempDir) -> String {
    let path = path_in(dir, "patients.csv");
    let mut text = String::from("patient_id,record_code,notes,ward,age,full_name\n");
    let wards = ["north", "south", "east"];
    for i in 0..600 {
        let ward = if i == 17 { "secret-ward-xq" } else { wards[i % 3] };
        text.push_str(&format!(
            "{},RC-{:06},patient {} reported symptom batch{} after visit,{},{},Zebediah Quux{}\n",
            1000 + i * 7,
            i * 37 + 100_003,
            i,
            i * 13,
            ward,
            20 + (i * 31) % 60,
            i
        ));
    }
    std::fs::write(&path, text).expect("writes");
    path
}

#[test]
fn model_file_and_output_hold_no_identifier_text_or_rare_category() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = sensitive_csv(&dir);
    let model = path_in(&dir, "model.doppel");
    let output = path_in(&dir, "out.csv");
    let fit = doppel_ok(&["fit", &data, "-o", &model]);
    assert!(fit.stderr.contains("rare categories"), "a warning reports the protected category:\n{}", fit.stderr);
    assert!(fit.stderr.contains("free text is not modelled yet"), "a warning reports generated text:\n{}", fit.stderr);
    doppel_ok(&["sample", &model, "-n", "5000", "-o", &output, "--quiet"]);
    let model_text = std::fs::read_to_string(&model).expect("model");
    let output_text = std::fs::read_to_string(&output).expect("output");
    let training = read_table(data.as_ref(), &ReadOptions::default()).expect("reads");
    // Integer keys are checked in the output below (as digits they occur in any JSON).
    for column in ["record_code", "notes", "full_name"] {
        let data = &training.column(column).expect("column").data;
        for row in 0..data.len() {
            let value = data.text_at(row).expect("no nulls").into_owned();
            assert!(!model_text.contains(&value), "`{value}` of `{column}` is in the model file");
        }
    }
    assert!(!model_text.contains("secret-ward-xq"), "the rare category is in the model file");
    assert!(!output_text.contains("secret-ward-xq"), "the rare category is in the output");
    assert!(!output_text.contains("Zebediah"), "a real name is in the output");
    let synthetic = read_table(output.as_ref(), &ReadOptions::default()).expect("reads");
    for column in ["patient_id", "record_code", "notes"] {
        let real: HashSet<String> = (0..training.n_rows())
            .filter_map(|r| training.column(column).expect("c").data.text_at(r))
            .map(|t| t.into_owned())
            .collect();
        let generated = &synthetic.column(column).expect("column").data;
        let mut seen = HashSet::new();
        for row in 0..generated.len() {
            let value = generated.text_at(row).expect("no nulls").into_owned();
            assert!(!real.contains(&value), "`{value}` of `{column}` is a real value");
            if column != "notes" {
                assert!(seen.insert(value.clone()), "key `{value}` of `{column}` repeats");
            }
        }
    }
}

#[test]
fn public_datasets_leak_no_key_or_rare_category() {
    let dir = tempfile::tempdir().expect("temp dir");
    // covid_testing: `subject_id` is a key; `clinic_name` has rare clinics.
    let data = train("covid_testing");
    let model = path_in(&dir, "covid.doppel");
    let output = path_in(&dir, "covid.csv");
    doppel_ok(&["synth", data.to_str().expect("utf-8"), "-o", &output, "--save-model", &model, "--quiet"]);
    let real = read_table(&data, &ReadOptions::default()).expect("reads");
    let synthetic = read_table(output.as_ref(), &ReadOptions::default()).expect("reads");
    let values = |table: &doppel_core::Table, column: &str| -> Vec<String> {
        let data = &table.column(column).expect("column").data;
        (0..data.len()).filter_map(|r| data.text_at(r)).map(|t| t.into_owned()).collect()
    };
    let real_ids: HashSet<String> = values(&real, "subject_id").into_iter().collect();
    assert!(values(&synthetic, "subject_id").iter().all(|id| !real_ids.contains(id)), "a real subject_id was emitted");
    let mut counts = std::collections::HashMap::new();
    for clinic in values(&real, "clinic_name") {
        *counts.entry(clinic).or_insert(0usize) += 1;
    }
    let rare: Vec<&String> = counts.iter().filter(|(_, c)| **c < 5).map(|(k, _)| k).collect();
    assert!(!rare.is_empty(), "the fixture has rare clinics");
    let model_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).expect("model")).expect("json");
    let transforms = model_json["model"]["transforms"].as_array().expect("transforms");
    let clinic = transforms.iter().find(|t| t["column"] == "clinic_name").expect("the clinic transform");
    let stored = clinic.to_string();
    let emitted: HashSet<String> = values(&synthetic, "clinic_name").into_iter().collect();
    for clinic in rare {
        assert!(!stored.contains(&format!("\"{clinic}\"")), "rare clinic `{clinic}` is in the model file");
        assert!(!emitted.contains(clinic), "rare clinic `{clinic}` was emitted");
    }
}

/// A table with personal data: emails, phones, names, keys and free text.
fn personal_csv(dir: &tempfile::TempDir) -> (String, Vec<String>) {
    let path = path_in(dir, "people.csv");
    let mut text = String::from("customer_code,email,phone,full_name,notes,plan,age,spend\n");
    let mut secrets = Vec::new();
    for i in 0..800 {
        let (code, email, phone) = (
            format!("CU-{:07}", 3_000_017 + i * 41),
            format!("ottilie.varga{i}@wexample.org"),
            format!("(415) 55{:01}-{:04}", i % 10, 1000 + i),
        );
        let (name, note) =
            (format!("Ottilie Varga{i}"), format!("called about invoice {} and asked for a refund", 70_000 + i * 3));
        text.push_str(&format!(
            "{code},{email},{phone},{name},{note},{},{},{}.{:02}\n",
            ["basic", "plus", "pro"][i % 3],
            20 + (i * 7) % 50,
            100 + (i * 37) % 900,
            i % 100
        ));
        secrets.extend([code, email, phone, name, note]);
    }
    std::fs::write(&path, text).expect("writes");
    (path, secrets)
}

/// Every engine, every artefact (model file, output, manifest, logs, the evaluation and its
/// report, the error output of failing runs): no personal, key or free-text value of the
/// training data appears in any of them.
#[test]
fn no_training_value_reaches_any_artefact_of_any_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, secrets) = personal_csv(&dir);
    let mut artefacts: Vec<(String, String)> = Vec::new();
    for engine in ["tree", "copula", "dp"] {
        let model = path_in(&dir, &format!("{engine}.doppel"));
        let output = path_in(&dir, &format!("{engine}.csv"));
        let mut args = vec!["fit", &data, "-o", &model, "--engine", engine];
        if engine == "dp" {
            args.extend(["--epsilon", "10"]);
        }
        let fit = crate::doppel(&args);
        assert_eq!(fit.code, 0, "{}", fit.stderr);
        let sample = crate::doppel(&["sample", &model, "-n", "2000", "-o", &output, "--where", "plan=pro"]);
        assert_eq!(sample.code, 0, "{}", sample.stderr);
        let (json, html) = (path_in(&dir, &format!("{engine}.json")), path_in(&dir, &format!("{engine}.html")));
        let evaluate = crate::doppel(&[
            "evaluate",
            "--real",
            &data,
            "--synthetic",
            &output,
            "-o",
            &json,
            "--html",
            &html,
            "--privacy-rows",
            "300",
            "--detection-rows",
            "300",
        ]);
        assert_eq!(evaluate.code, 0, "{}", evaluate.stderr);
        for (name, path) in [("model", &model), ("output", &output), ("evaluation", &json), ("report", &html)] {
            artefacts.push((format!("{engine} {name}"), std::fs::read_to_string(path).expect("artefact")));
        }
        artefacts.push((
            format!("{engine} manifest"),
            std::fs::read_to_string(format!("{output}.manifest.json")).expect("manifest"),
        ));
        for (name, run) in [("fit", &fit), ("sample", &sample), ("evaluate", &evaluate)] {
            artefacts.push((format!("{engine} {name} log"), format!("{}{}", run.stdout, run.stderr)));
        }
    }
    // Failing runs: constraints the training data breaks, on personal and key columns.
    let meta = path_in(&dir, "people.meta.json");
    doppel_ok(&["inspect", &data, "-o", &meta, "--quiet"]);
    let mut metadata: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).expect("metadata")).expect("json");
    for (rule, column) in [
        (serde_json::json!({ "type": "regex", "column": "email", "pattern": "[a-z]+@example\\.com" }), "email"),
        (serde_json::json!({ "type": "regex", "column": "customer_code", "pattern": "X[0-9]+" }), "customer_code"),
        (serde_json::json!({ "type": "regex", "column": "notes", "pattern": "[0-9]+" }), "notes"),
    ] {
        metadata["constraints"] = serde_json::json!([rule]);
        std::fs::write(&meta, serde_json::to_string(&metadata).expect("json")).expect("written");
        let run = crate::doppel(&["fit", &data, "--metadata", &meta, "-o", &path_in(&dir, "refused.doppel")]);
        assert_eq!(run.code, 2, "{column}: {}", run.stderr);
        assert!(run.stderr.contains("row 1") && run.stderr.contains(column), "{}", run.stderr);
        artefacts.push((format!("failing fit ({column})"), run.stderr));
    }
    for (name, text) in &artefacts {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "`{secret}` of the training data is in the {name}");
        }
        assert!(!text.contains("Ottilie") && !text.contains("wexample.org"), "a real name or domain is in the {name}");
    }
}

#[test]
fn anonymize_replaces_personal_data_consistently_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = path_in(&dir, "contacts.csv");
    let mut text = String::from("contact_id,full_name,email,notes,plan,spend\n");
    for i in 0..300 {
        let j = i % 150; // every person twice
        text.push_str(&format!(
            "K-{:05},Ottilie Varga{j},ottilie{j}@wexample.org,\"Ottilie Varga{j} wrote from ottilie{j}@wexample.org, call back on (415) 555-{:04}\",{},{}\n",
            10_000 + i * 3,
            1000 + j,
            ["basic", "pro"][i % 2],
            i * 7
        ));
    }
    std::fs::write(&data, &text).expect("written");
    let inspect = doppel_ok(&["inspect", &data]);
    assert!(inspect.stdout.contains("  notes: email (300 rows), phone (300 rows)"), "{}", inspect.stdout);
    for name in crate::DATASETS {
        let inspect = doppel_ok(&["inspect", train(name).to_str().expect("utf-8")]);
        assert!(!inspect.stdout.contains("personal data inside"), "{name}: {}", inspect.stdout);
    }
    let out = path_in(&dir, "anon.csv");
    let run = doppel_ok(&["anonymize", &data, "-o", &out]);
    assert!(run.stderr.contains("full_name: consistent fake values"), "{}", run.stderr);
    let (real, anon) = (
        read_table(data.as_ref(), &ReadOptions::default()).expect("reads"),
        read_table(out.as_ref(), &ReadOptions::default()).expect("reads"),
    );
    let cell =
        |t: &doppel_core::Table, c: &str, r: usize| t.column(c).expect("c").data.text_at(r).expect("v").into_owned();
    let output_text = std::fs::read_to_string(&out).expect("output");
    let manifest = std::fs::read_to_string(format!("{out}.manifest.json")).expect("manifest");
    for needle in ["Ottilie", "wexample.org", "(415) 555-"] {
        assert!(!output_text.contains(needle) && !manifest.contains(needle), "`{needle}` survived");
    }
    let mut mapping = std::collections::HashMap::new();
    for row in 0..real.n_rows() {
        for column in ["contact_id", "full_name", "email"] {
            let (from, to) = (cell(&real, column, row), cell(&anon, column, row));
            assert_ne!(from, to);
            let previous = mapping.insert((column, from.clone()), to.clone());
            assert!(previous.is_none_or(|p| p == to), "`{column}` maps one value to two");
        }
        // The notes keep their text, with the person's own fakes inside.
        let notes = cell(&anon, "notes", row);
        assert!(notes.starts_with(&cell(&anon, "full_name", row)), "{notes}");
        assert!(notes.contains(&cell(&anon, "email", row)), "{notes}");
        for column in ["plan", "spend"] {
            assert_eq!(cell(&real, column, row), cell(&anon, column, row), "{column} changed");
        }
    }
    let fakes: HashSet<&String> = mapping.iter().filter(|((c, _), _)| *c == "email").map(|(_, v)| v).collect();
    assert_eq!(fakes.len(), 150, "two people share a fake email");
    let real_keys: HashSet<String> = (0..real.n_rows()).map(|r| cell(&real, "contact_id", r)).collect();
    assert!((0..anon.n_rows()).all(|r| !real_keys.contains(&cell(&anon, "contact_id", r))), "a real key survived");

    // Keyed pseudonyms: stable for a key, different under another; the key must be given.
    let keyed = |key: &str, name: &str| {
        let out = path_in(&dir, name);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_doppel"))
            .args([
                "anonymize",
                &data,
                "-o",
                &out,
                "--pseudonymize",
                "email",
                "--secret-env",
                "DOPPEL_TEST_KEY",
                "--quiet",
            ])
            .env("DOPPEL_TEST_KEY", key)
            .output()
            .expect("runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let table = read_table(out.as_ref(), &ReadOptions::default()).expect("reads");
        cell(&table, "email", 0)
    };
    let (first, again, other) = (keyed("k1", "a.csv"), keyed("k1", "b.csv"), keyed("k2", "c.csv"));
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_eq!(first.len(), 32);
    let run = crate::doppel(&["anonymize", &data, "-o", &path_in(&dir, "d.csv"), "--pseudonymize", "email"]);
    assert!(run.code == 2 && run.stderr.contains("needs a secret key"), "{}", run.stderr);
    let run = crate::doppel(&[
        "anonymize",
        &data,
        "-o",
        &path_in(&dir, "d.csv"),
        "--pseudonymize",
        "email",
        "--secret-env",
        "DOPPEL_UNSET_VAR_X",
    ]);
    assert!(run.code == 2 && run.stderr.contains("`DOPPEL_UNSET_VAR_X` is not set"), "{}", run.stderr);
    assert!(!std::path::Path::new(&path_in(&dir, "d.csv")).exists());

    // Fake names in another locale, and an unknown locale refused before anything is written.
    let german = path_in(&dir, "de.csv");
    doppel_ok(&["anonymize", &data, "-o", &german, "--locale", "de_DE", "--quiet"]);
    let table = read_table(german.as_ref(), &ReadOptions::default()).expect("reads");
    let (firsts, lasts) =
        (doppel_transform::Locale::GermanGermany.first_names(), doppel_transform::Locale::GermanGermany.last_names());
    for row in 0..table.n_rows() {
        let name = cell(&table, "full_name", row);
        let (first, last) = name.split_once(' ').expect("first and last name");
        assert!(firsts.contains(&first) && lasts.contains(&last), "`{name}` is not a de_DE name");
    }
    let run = crate::doppel(&["anonymize", &data, "-o", &path_in(&dir, "e.csv"), "--locale", "xx_YY"]);
    assert!(run.code == 2 && run.stderr.contains("locale `xx_YY`: expected one of en, de_DE"), "{}", run.stderr);
    assert!(!std::path::Path::new(&path_in(&dir, "e.csv")).exists());
}

/// The membership-inference attacks of `doppel evaluate` find nothing in the output of the
/// default engine and of the dp engine (at ε = 10, its weakest setting in the bench) on every
/// public dataset (AUC ≤ 0.55), and find the members of a copy of the training data (AUC ≥ 0.9),
/// so the attack is shown to work.
#[test]
fn membership_inference_fails_on_the_default_and_dp_engines_and_finds_copies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let membership = |real: &str, synthetic: &str, holdout: &str| -> f64 {
        let json = path_in(&dir, "evaluation.json");
        doppel_ok(&[
            "evaluate",
            "--real",
            real,
            "--synthetic",
            synthetic,
            "--holdout",
            holdout,
            "-o",
            &json,
            "--force",
            "--detection-rows",
            "200",
            "--quiet",
        ]);
        let evaluation: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("json");
        evaluation["privacy"]["membership_auc"].as_f64().expect("a membership AUC")
    };
    for name in crate::DATASETS {
        let (train, holdout) = (train(name), crate::datasets().join(name).join(format!("{name}.holdout.csv")));
        let (train, holdout) = (train.to_str().expect("utf-8"), holdout.to_str().expect("utf-8"));
        let synthetic = path_in(&dir, &format!("{name}.csv"));
        doppel_ok(&["synth", train, "-o", &synthetic, "--seed", "1", "--quiet"]);
        let default_engine = membership(train, &synthetic, holdout);
        doppel_ok(&[
            "synth",
            train,
            "-o",
            &synthetic,
            "--seed",
            "1",
            "--engine",
            "dp",
            "--epsilon",
            "10",
            "--quiet",
            "--force",
        ]);
        let dp = membership(train, &synthetic, holdout);
        let copy = membership(train, train, holdout);
        eprintln!(
            "{name}: membership AUC {default_engine:.3} (default engine), {dp:.3} (dp, ε = 10), {copy:.3} (a copy)"
        );
        assert!(default_engine <= 0.55, "{name}: membership AUC {default_engine:.3} for the default engine");
        assert!(dp <= 0.55, "{name}: membership AUC {dp:.3} for the dp engine");
        assert!(copy >= 0.9, "{name}: the attack finds only {copy:.3} on a copy of the training data");
    }
}
