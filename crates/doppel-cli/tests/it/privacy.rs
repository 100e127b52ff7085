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
