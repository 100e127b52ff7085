//! Runs with the mock backend: byte-identical output whatever the concurrency, resuming after
//! an interruption (even mid-line), formats and sidecar metadata.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use doppel_chat::backend::MockBackend;
use doppel_chat::output::{read_done, sidecar_path};
use doppel_chat::run::{RunOptions, RunSummary, run};
use doppel_chat::spec::ChatSpec;

fn run_to(spec: &ChatSpec, output: &Path, n: u64, seed: u64, concurrency: usize, fresh: bool) -> RunSummary {
    let options = RunOptions { n, seed, concurrency, output: output.to_path_buf(), fresh };
    run(spec, &MockBackend::default(), &options, &mut |_| {}).expect("runs")
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("reads")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

#[test]
fn records_are_chat_json_and_the_same_whatever_the_concurrency() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = common::spec();
    let one = dir.path().join("one.jsonl");
    let eight = dir.path().join("eight.jsonl");
    let summary = run_to(&spec, &one, 30, 11, 1, false);
    assert_eq!(summary.written, 30);
    assert_eq!(summary.dialogues, summary.written + summary.dropped);
    assert!(summary.completion_tokens > 0);
    run_to(&spec, &eight, 30, 11, 8, false);
    let a = std::fs::read(&one).expect("reads");
    assert_eq!(a, std::fs::read(&eight).expect("reads"), "concurrency changed the output");
    let records = lines(&one);
    assert_eq!(records.len(), 30);
    let mut indices = Vec::new();
    let mut conversations = BTreeSet::new();
    for record in &records {
        let messages = record["messages"].as_array().expect("messages");
        assert_eq!(messages[0]["role"], "system");
        for (i, m) in messages[1..].iter().enumerate() {
            assert_eq!(m["role"], if i % 2 == 0 { "user" } else { "assistant" });
            assert!(m["content"].as_str().is_some_and(|c| !c.is_empty()));
        }
        assert_eq!(record["metadata"]["seed"], 11);
        assert_eq!(record["metadata"]["provenance"], "synthetic");
        indices.push(record["metadata"]["index"].as_u64().expect("index"));
        conversations.insert(record["messages"].to_string());
    }
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
    assert_eq!(conversations.len(), 30, "exact duplicates were written");
    // Another seed, another file.
    let other = dir.path().join("other.jsonl");
    run_to(&spec, &other, 30, 12, 4, false);
    assert_ne!(a, std::fs::read(&other).expect("reads"));
}

#[test]
fn resuming_gives_the_same_file_as_one_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = common::spec();
    let whole = dir.path().join("whole.jsonl");
    run_to(&spec, &whole, 10, 5, 3, false);
    let expected = std::fs::read(&whole).expect("reads");

    // n = 5, then n = 10 with the same seed.
    let parts = dir.path().join("parts.jsonl");
    run_to(&spec, &parts, 5, 5, 2, false);
    assert_eq!(read_done(&parts).expect("reads").len(), 5);
    let summary = run_to(&spec, &parts, 10, 5, 4, false);
    assert_eq!((summary.resumed, summary.written), (5, 5));
    assert_eq!(std::fs::read(&parts).expect("reads"), expected);

    // A run killed mid-line: the partial line is cut and the rest regenerated.
    let killed = dir.path().join("killed.jsonl");
    let cut = expected.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(6).map(|(i, _)| i).expect("7 lines") + 40;
    std::fs::write(&killed, &expected[..cut]).expect("writes");
    assert_eq!(read_done(&killed).expect("reads").len(), 7);
    let summary = run_to(&spec, &killed, 10, 5, 8, false);
    assert_eq!((summary.resumed, summary.written), (7, 3));
    assert_eq!(std::fs::read(&killed).expect("reads"), expected);
    let indices: BTreeSet<u64> = read_done(&killed).expect("reads");
    assert_eq!(indices.len(), 10);

    // Nothing left to do: nothing changes.
    let summary = run_to(&spec, &killed, 10, 5, 8, false);
    assert_eq!(summary.written, 0);
    assert_eq!(std::fs::read(&killed).expect("reads"), expected);

    // Another seed on the same output is refused; `fresh` starts over.
    let options = RunOptions { n: 10, seed: 6, concurrency: 1, output: killed.clone(), fresh: false };
    let error = run(&spec, &MockBackend::default(), &options, &mut |_| {}).expect_err("another seed");
    assert!(error.to_string().contains("another seed"), "{error}");
    run_to(&spec, &killed, 3, 6, 1, true);
    assert_eq!(lines(&killed).len(), 3);
}

#[test]
fn sharegpt_with_sidecar_metadata_resumes_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = common::spec_with("[output]\nformat = \"sharegpt\"\nmetadata = \"sidecar\"\n");
    let whole = dir.path().join("whole.jsonl");
    run_to(&spec, &whole, 8, 2, 4, false);
    let records = lines(&whole);
    assert_eq!(records.len(), 8);
    for record in &records {
        assert!(record.get("metadata").is_none());
        let turns = record["conversations"].as_array().expect("conversations");
        assert_eq!(turns[0]["from"], "system");
        assert_eq!(turns[1]["from"], "human");
        assert_eq!(turns[2]["from"], "gpt");
    }
    let meta = lines(&sidecar_path(&whole));
    assert_eq!(meta.len(), 8);
    assert!(meta.iter().all(|m| m["spec_fingerprint"].as_str().is_some_and(|f| f.starts_with("sha256:"))));

    // Kill after writing a record but before its metadata line: that record is redone.
    let part = dir.path().join("part.jsonl");
    let main = std::fs::read_to_string(&whole).expect("reads");
    let side = std::fs::read_to_string(sidecar_path(&whole)).expect("reads");
    std::fs::write(&part, main.lines().take(4).map(|l| format!("{l}\n")).collect::<String>()).expect("writes");
    std::fs::write(sidecar_path(&part), side.lines().take(3).map(|l| format!("{l}\n")).collect::<String>() + "{\"ind")
        .expect("writes");
    let summary = run_to(&spec, &part, 8, 2, 3, false);
    assert_eq!((summary.resumed, summary.written), (3, 5));
    assert_eq!(std::fs::read_to_string(&part).expect("reads"), main);
    assert_eq!(std::fs::read_to_string(sidecar_path(&part)).expect("reads"), side);
}

#[test]
fn a_backend_that_always_refuses_gives_up_with_reasons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = common::spec();
    let output = dir.path().join("out.jsonl");
    let backend = MockBackend { script: vec!["As an AI, I'm sorry, but I can't do role play.".into()] };
    let options = RunOptions { n: 5, seed: 1, concurrency: 4, output: output.clone(), fresh: false };
    let error = run(&spec, &backend, &options, &mut |_| {}).expect_err("gives up");
    let message = error.to_string();
    assert!(message.contains("refusal") && message.contains("ai_meta"), "{message}");
    assert!(!output.exists(), "no record, no file");
}
