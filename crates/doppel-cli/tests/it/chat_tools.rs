//! `doppel chat-report` and `doppel mix`.

use crate::{doppel, doppel_ok, path_in};

/// A chat-format record whose turns are distinct words from `from` on.
fn line(from: usize, scenario: &str) -> String {
    let words = |start: usize, n: usize| (start..start + n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
    serde_json::json!({
        "messages": [
            {"role": "system", "content": "You are a bank agent."},
            {"role": "user", "content": words(from, 30)},
            {"role": "assistant", "content": words(from + 30, 30)},
        ],
        "metadata": {"scenario": scenario, "provenance": "synthetic"}
    })
    .to_string()
}

fn write(dir: &tempfile::TempDir, name: &str, lines: &[String]) -> String {
    let path = path_in(dir, name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("writes");
    path
}

#[test]
fn chat_report_finds_a_planted_near_duplicate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lines: Vec<String> =
        (0..20).map(|i| line(i * 100, if i.is_multiple_of(4) { "loan" } else { "card" })).collect();
    // Record 21 nearly copies record 6: one word changed.
    lines.push(lines[5].replace("w520", "changed"));
    let dialogues = write(&dir, "dialogues.jsonl", &lines);
    let spec = path_in(&dir, "spec.toml");
    std::fs::write(
        &spec,
        "[meta]\nname = \"x\"\n\n[[scenarios]]\nname = \"loan\"\nweight = 1\ndescription = \"d\"\n\n[[scenarios]]\nname = \"card\"\nweight = 3\n",
    )
    .expect("writes");
    let json = path_in(&dir, "report.json");
    let html = path_in(&dir, "report.html");
    let out = doppel_ok(&["chat-report", &dialogues, "--spec", &spec, "--output", &json, "--html", &html]);
    assert!(out.stdout.contains("near-duplicates     1 pairs"), "{}", out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("reads")).expect("json");
    assert_eq!(report["format"], "doppel.chat-report");
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["dialogues"], 21);
    assert_eq!(report["near_duplicates"]["pairs"], 1);
    assert_eq!(report["near_duplicates"]["examples"][0]["first"], 5);
    assert_eq!(report["near_duplicates"]["examples"][0]["second"], 20);
    let tv = report["scenarios"]["total_variation"].as_f64().expect("a total variation");
    assert!(tv < 0.05, "{tv}");
    assert!(report["reference"].is_null());
    let page = std::fs::read_to_string(&html).expect("reads");
    assert!(page.contains("<svg") && !page.contains("<script"));

    // Outputs are not overwritten without --force.
    let again = doppel(&["chat-report", &dialogues, "--output", &json, "--quiet"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    let quiet = doppel_ok(&["chat-report", &dialogues, "--output", &json, "--quiet", "--force"]);
    assert!(quiet.stdout.is_empty());
}

#[test]
fn chat_report_with_a_reference_compares() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dialogues = write(&dir, "d.jsonl", &(0..10).map(|i| line(i * 100, "loan")).collect::<Vec<_>>());
    let sharegpt: Vec<String> = (0..8)
        .map(|i| {
            serde_json::json!({"conversations": [
                {"from": "human", "value": format!("hello there, my card number {i} stopped working yesterday")},
                {"from": "gpt", "value": "I am sorry to hear that. Let me check the card for you."},
            ]})
            .to_string()
        })
        .collect();
    let reference = write(&dir, "real.jsonl", &sharegpt);
    let out = doppel_ok(&["chat-report", &dialogues, "--reference", &reference, "--output", "-"]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json on stdout");
    assert_eq!(report["reference"]["dialogues"], 8);
    assert!(report["reference"]["distinct_2_gap"].is_f64());
    assert!(report["reference"]["ks_words_per_turn"].as_f64().expect("KS") > 0.5);
}

#[test]
fn chat_report_names_a_bad_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "bad.jsonl", &[line(0, "a"), "{\"text\": 1}".to_string()]);
    let out = doppel(&["chat-report", &path]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("bad.jsonl: line 2"), "{}", out.stderr);
}

#[test]
fn mix_gives_the_exact_real_share() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real: Vec<String> = (0..30)
        .map(|i| {
            let words = (0..20).map(|k| format!("r{i}x{k}")).collect::<Vec<_>>().join(" ");
            serde_json::json!({"messages": [{"role": "user", "content": words}, {"role": "assistant", "content": "ok"}]})
                .to_string()
        })
        .collect();
    let real = write(&dir, "real.jsonl", &real);
    let synthetic = write(&dir, "synthetic.jsonl", &(0..100).map(|i| line(i * 100, "loan")).collect::<Vec<_>>());
    let output = path_in(&dir, "train.jsonl");
    let out =
        doppel_ok(&["mix", "--real", &real, "--synthetic", &synthetic, "--ratio", "0.3", "-o", &output, "--seed", "3"]);
    assert!(out.stdout.contains("wrote 100 records"), "{}", out.stdout);
    let text = std::fs::read_to_string(&output).expect("reads");
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(records.len(), 100);
    let real_count = records.iter().filter(|r| r["metadata"]["provenance"] == "real").count();
    let synthetic_count = records.iter().filter(|r| r["metadata"]["provenance"] == "synthetic").count();
    assert_eq!((real_count, synthetic_count), (30, 70));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{output}.manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["real_records"], 30);
    assert_eq!(manifest["real"]["records"], 30);
    assert!(manifest["real"]["fingerprint"].as_str().expect("fingerprint").starts_with("sha256:"));

    // With -n and --dedupe; the same seed gives the same file.
    let second = path_in(&dir, "train2.jsonl");
    let third = path_in(&dir, "train3.jsonl");
    for path in [&second, &third] {
        doppel_ok(&[
            "mix",
            "--real",
            &real,
            "--synthetic",
            &synthetic,
            "--ratio",
            "0.5",
            "-n",
            "40",
            "--dedupe",
            "-o",
            path,
            "-q",
        ]);
    }
    let a = std::fs::read_to_string(&second).expect("reads");
    assert_eq!(a, std::fs::read_to_string(&third).expect("reads"));
    assert_eq!(a.lines().filter(|l| l.contains("\"provenance\":\"real\"")).count(), 20);
    assert_eq!(a.lines().count(), 40);
}

#[test]
fn mix_rejects_a_bad_ratio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = write(&dir, "real.jsonl", &[line(0, "a")]);
    let synthetic = write(&dir, "synthetic.jsonl", &[line(1000, "a")]);
    let output = path_in(&dir, "train.jsonl");
    for ratio in ["1.5", "-0.2"] {
        let out = doppel(&["mix", "--real", &real, "--synthetic", &synthetic, "--ratio", ratio, "-o", &output]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("`--ratio {ratio}`")) && out.stderr.contains("between 0 and 1"),
            "{}",
            out.stderr
        );
    }
    assert!(!std::path::Path::new(&output).exists());
    let out = doppel(&["mix", "--real", &real, "--synthetic", &synthetic, "--ratio", "0.5", "-n", "10", "-o", &output]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("needs 5 real"), "{}", out.stderr);
}
