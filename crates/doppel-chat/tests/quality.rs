//! Tests of dataset-level quality: reading, near-duplicates, the report, its HTML and mixing.

use std::collections::BTreeMap;

use doppel_chat::quality::{
    ChatReport, ReportOptions, deduplicate, distinct_n, ks_statistic, minimal_metadata, mix, mix_counts,
    near_duplicates, parse_records, read_records, render_html, scenario_coverage,
};
use doppel_chat::{DialogueRecord, Message, Role};

fn record(index: u64, user: &str, assistant: &str) -> DialogueRecord {
    let messages = vec![
        Message::new(Role::System, "You are a helpful bank agent."),
        Message::new(Role::User, user),
        Message::new(Role::Assistant, assistant),
    ];
    let metadata = minimal_metadata(index, &messages);
    DialogueRecord { messages, metadata }
}

fn with_scenario(mut r: DialogueRecord, scenario: &str) -> DialogueRecord {
    r.metadata.scenario = scenario.to_string();
    r
}

/// A text of `n` distinct words starting at `from`.
fn text(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn identical_dialogues_are_duplicates_with_similarity_one() {
    let records = vec![record(0, &text(0, 30), &text(30, 30)), record(1, &text(0, 30), &text(30, 30))];
    assert_eq!(near_duplicates(&records, 0.8), vec![(0, 1, 1.0)]);
}

#[test]
fn disjoint_dialogues_are_not_duplicates() {
    let records = vec![record(0, &text(0, 30), &text(30, 30)), record(1, &text(100, 30), &text(130, 30))];
    assert!(near_duplicates(&records, 0.8).is_empty());
    assert!(near_duplicates(&records, 0.01).is_empty());
}

#[test]
fn a_near_copy_with_one_word_changed_is_found() {
    let original = text(0, 60);
    let changed = original.replace("w30", "different");
    let records = vec![
        record(0, &original, "Thank you."),
        record(1, &text(200, 60), "Thank you."),
        record(2, &changed, "Thank you."),
    ];
    let pairs = near_duplicates(&records, 0.8);
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    let (i, j, similarity) = pairs[0];
    assert_eq!((i, j), (0, 2));
    assert!((0.8..1.0).contains(&similarity), "{similarity}");
}

#[test]
fn punctuation_and_case_do_not_matter() {
    let records = vec![
        record(0, "Hello, I would like to open a savings account today.", "Sure! Which one?"),
        record(1, "hello i would like to open a savings account today", "sure which one"),
    ];
    assert_eq!(near_duplicates(&records, 0.8), vec![(0, 1, 1.0)]);
}

#[test]
fn near_duplicate_search_is_deterministic() {
    let records: Vec<DialogueRecord> =
        (0..60).map(|i| record(i, &text((i as usize % 7) * 3, 40), &text(500 + i as usize % 5, 20))).collect();
    let first = near_duplicates(&records, 0.8);
    assert!(!first.is_empty());
    assert_eq!(first, near_duplicates(&records, 0.8));
    let a = serde_json::to_string(&ChatReport::compute(&records, &ReportOptions::default())).expect("succeeds");
    let b = serde_json::to_string(&ChatReport::compute(&records, &ReportOptions::default())).expect("succeeds");
    assert_eq!(a, b);
}

#[test]
fn deduplicate_keeps_the_first_of_each_group() {
    let a = text(0, 60);
    let records = vec![
        record(0, &a, "ok"),
        record(1, &text(100, 40), "ok"),
        record(2, &a, "ok"),
        record(3, &a.replace("w20", "x"), "ok"),
    ];
    let (kept, removed) = deduplicate(records, 0.8);
    assert_eq!(removed, vec![2, 3]);
    assert_eq!(kept.iter().map(|r| r.metadata.index).collect::<Vec<_>>(), vec![0, 1]);
}

#[test]
fn distinct_n_on_a_hand_computed_example() {
    let records = vec![record(0, "The cat sat.", "the CAT ran")];
    let report = ChatReport::compute(&records, &ReportOptions::default());
    let all = &report.diversity.all;
    // Words: the cat sat | the cat ran. Unigrams 4 distinct of 6, bigrams 3 of 4, trigrams 2 of 2.
    assert_eq!((all.turns, all.words), (2, 6));
    assert_eq!(all.distinct_1, Some(4.0 / 6.0));
    assert_eq!(all.distinct_2, Some(0.75));
    assert_eq!(all.distinct_3, Some(1.0));
    let user = &report.diversity.by_role["user"];
    assert_eq!((user.distinct_1, user.distinct_2, user.distinct_3), (Some(1.0), Some(1.0), Some(1.0)));
    let words: Vec<String> = ["a", "a"].iter().map(|s| s.to_string()).collect();
    let d = distinct_n([words.as_slice()]);
    assert_eq!((d.distinct_1, d.distinct_2, d.distinct_3), (Some(0.5), Some(1.0), None));
}

#[test]
fn scenario_coverage_total_variation() {
    let records: Vec<DialogueRecord> = ["a", "a", "a", "b"]
        .iter()
        .enumerate()
        .map(|(i, s)| with_scenario(record(i as u64, "hi", "hello"), s))
        .collect();
    let expected: BTreeMap<String, f64> = [("a".to_string(), 1.0), ("b".to_string(), 1.0)].into();
    let coverage = scenario_coverage(&records, &expected);
    assert!((coverage.total_variation.expect("succeeds") - 0.25).abs() < 1e-12);
    let expected: BTreeMap<String, f64> =
        [("a".to_string(), 1.0), ("b".to_string(), 1.0), ("c".to_string(), 2.0)].into();
    let coverage = scenario_coverage(&records, &expected);
    assert!((coverage.total_variation.expect("succeeds") - 0.5).abs() < 1e-12);
    let c = coverage.rows.iter().find(|r| r.name == "c").expect("succeeds");
    assert_eq!((c.count, c.observed, c.expected), (0, 0.0, Some(0.5)));
    assert_eq!(scenario_coverage(&records, &BTreeMap::new()).total_variation, None);
}

#[test]
fn report_sections() {
    let mut records: Vec<DialogueRecord> = (0..20)
        .map(|i| {
            let mut r =
                with_scenario(record(i, &text(i as usize * 50, 12), &text(i as usize * 50 + 20, 8)), "<b>x</b>");
            r.metadata
                .persona
                .entry("customer".into())
                .or_default()
                .insert("mood".into(), ["calm", "angry"][i as usize % 2].into());
            r.metadata.judge_score = Some(0.5 + i as f64 / 40.0);
            if i < 10 {
                let criteria = [("on_topic".to_string(), 0.2 + i as f64 / 20.0), ("coherent".to_string(), 0.9)];
                r.metadata.judge_criteria = Some(criteria.into_iter().collect());
            }
            r
        })
        .collect();
    records.push(records[3].clone());
    let reference: Vec<DialogueRecord> =
        (0..10).map(|i| record(i, &text(9000 + i as usize * 40, 12), &text(9020 + i as usize * 40, 8))).collect();
    let options = ReportOptions { reference: Some(&reference), ..ReportOptions::default() };
    let report = ChatReport::compute(&records, &options);
    assert_eq!(report.format, "doppel.chat-report");
    assert_eq!(report.format_version, 1);
    assert_eq!(report.dialogues, 21);
    assert_eq!(report.near_duplicates.pairs, 1);
    assert_eq!(report.near_duplicates.exact_pairs, 1);
    assert_eq!(report.near_duplicates.removable, 1);
    assert_eq!(report.turns_per_dialogue.median, Some(2.0));
    assert_eq!(report.words_per_turn.min, Some(8.0));
    assert_eq!(report.words_per_turn.max, Some(12.0));
    assert_eq!(report.personas.len(), 1);
    assert_eq!(report.personas[0].distinct, 2);
    let judge = report.judge.as_ref().expect("succeeds");
    assert_eq!(judge.count, 21);
    assert_eq!(judge.histogram.len(), 10);
    // Per question: the 10 dialogues with criteria, plus the copy of record 3.
    let questions: Vec<(&str, usize)> = report.judge_questions.iter().map(|q| (q.name.as_str(), q.count)).collect();
    assert_eq!(questions, [("coherent", 11), ("on_topic", 11)]);
    let on_topic = &report.judge_questions[1];
    assert!((on_topic.mean - (0.2 * 10.0 + 45.0 / 20.0 + 0.35) / 11.0).abs() < 1e-12, "{on_topic:?}");
    // 0.2, 0.25, ..., 0.45 (6 of 10) and the copy of record 3 (0.35) are below 0.5.
    assert!((on_topic.below_half - 7.0 / 11.0).abs() < 1e-12, "{on_topic:?}");
    let reference = report.reference.as_ref().expect("succeeds");
    assert_eq!(reference.dialogues, 10);
    assert_eq!(reference.ks_words_per_turn, Some(0.0));
    assert_eq!(reference.ks_turns_per_dialogue, Some(0.0));
    assert_eq!(reference.words_per_turn.histogram.len(), report.words_per_turn.histogram.len());
    let html = render_html(&report).expect("succeeds");
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<svg"));
    assert!(html.contains("id=\"reference\""));
    assert!(html.contains("Judge questions") && html.contains("<code>on_topic</code>"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("<b>x</b>"), "scenario names are escaped");
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"));
    let json = serde_json::to_string(&report).expect("succeeds");
    let back: ChatReport = serde_json::from_str(&json).expect("succeeds");
    assert_eq!(back, report);
}

#[test]
fn empty_report_renders() {
    let report = ChatReport::compute(&[], &ReportOptions::default());
    assert_eq!(report.dialogues, 0);
    assert!(render_html(&report).is_ok());
}

#[test]
fn ks_statistic_of_shifted_samples() {
    assert_eq!(ks_statistic(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), Some(0.0));
    assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), Some(1.0));
    assert_eq!(ks_statistic(&[], &[1.0]), None);
}

fn pool(n: usize, offset: usize) -> Vec<DialogueRecord> {
    (0..n).map(|i| record(i as u64, &text(offset + i * 10, 10), "ok")).collect()
}

#[test]
fn mix_has_the_exact_real_share_and_provenance() {
    let mixed = mix(pool(30, 0), pool(100, 100_000), 0.3, None, 7).expect("succeeds");
    assert_eq!(mixed.len(), 100);
    let real = mixed.iter().filter(|r| r.metadata.provenance == "real").count();
    let synthetic = mixed.iter().filter(|r| r.metadata.provenance == "synthetic").count();
    assert_eq!((real, synthetic), (30, 70));
    assert!(mixed.iter().filter(|r| r.metadata.provenance == "real").all(|r| r.metadata.backend.kind == "real"));
    // Interleaved, not all real records first.
    assert!(mixed[..30].iter().any(|r| r.metadata.provenance == "synthetic"));
    assert_eq!(mixed, mix(pool(30, 0), pool(100, 100_000), 0.3, None, 7).expect("succeeds"));
    assert_ne!(mixed, mix(pool(30, 0), pool(100, 100_000), 0.3, None, 8).expect("succeeds"));

    let mixed = mix(pool(30, 0), pool(100, 100_000), 0.3, Some(50), 1).expect("succeeds");
    assert_eq!(mixed.iter().filter(|r| r.metadata.provenance == "real").count(), 15);
    // Synthetic is the scarcer side: all of it is used.
    let mixed = mix(pool(100, 0), pool(20, 100_000), 0.5, None, 1).expect("succeeds");
    assert_eq!(mixed.len(), 40);
    assert_eq!(mix_counts(5, 5, 0.0, None).expect("succeeds").synthetic, 5);
    assert_eq!(mix_counts(5, 5, 1.0, None).expect("succeeds").real, 5);
}

#[test]
fn mix_rejects_bad_ratios_and_small_pools() {
    for ratio in [-0.1, 1.5, f64::NAN] {
        let error = mix(pool(3, 0), pool(3, 1000), ratio, None, 0).expect_err("fails").to_string();
        assert!(error.contains("between 0 and 1"), "{error}");
    }
    let error = mix(pool(3, 0), pool(3, 1000), 0.5, Some(10), 0).expect_err("fails").to_string();
    assert!(error.contains("needs 5 real"), "{error}");
    assert!(mix(Vec::new(), pool(3, 1000), 0.5, None, 0).is_err());
}

#[test]
fn reads_chat_format_sharegpt_and_records_without_metadata() {
    let text = concat!(
        r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}],"metadata":{"index":4,"scenario":"loan","judge_score":0.9,"provenance":"synthetic","extra":1}}"#,
        "\n\n",
        r#"{"conversations":[{"from":"system","value":"s"},{"from":"human","value":"u"},{"from":"gpt","value":"a"}]}"#,
        "\n",
        r#"{"messages":[{"role":"user","content":"u"}]}"#,
        "\n"
    );
    let dir = tempfile::tempdir().expect("succeeds");
    let path = dir.path().join("d.jsonl");
    std::fs::write(&path, text).expect("succeeds");
    let records = read_records(&path).expect("succeeds");
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].metadata.index, 4);
    assert_eq!(records[0].metadata.scenario, "loan");
    assert_eq!(records[0].metadata.judge_score, Some(0.9));
    assert_eq!(records[1].messages, records[0].messages);
    assert_eq!(records[1].metadata.index, 1);
    assert_eq!(records[1].metadata.turns, 2);
    assert_eq!(records[1].metadata.provenance, "");
    assert_eq!(records[2].metadata.index, 2);
}

#[test]
fn bad_lines_are_named() {
    let good = r#"{"messages":[{"role":"user","content":"u"}]}"#;
    let error = parse_records(&format!("{good}\n{{not json\n"), "x.jsonl").expect_err("fails").to_string();
    assert!(error.contains("x.jsonl: line 2: invalid JSON"), "{error}");
    let error =
        parse_records(&format!("{good}\n{good}\n{{\"text\":\"hi\"}}\n"), "x.jsonl").expect_err("fails").to_string();
    assert!(error.contains("x.jsonl: line 3") && error.contains("`messages`"), "{error}");
    let error =
        parse_records(r#"{"conversations":[{"from":"robot","value":"x"}]}"#, "y").expect_err("fails").to_string();
    assert!(error.contains("line 1") && error.contains("robot"), "{error}");
    let error = read_records("/nonexistent/file.jsonl").expect_err("fails").to_string();
    assert!(error.contains("/nonexistent/file.jsonl"), "{error}");
}

#[test]
fn a_chain_of_near_copies_keeps_what_no_kept_record_resembles() {
    let a = text(0, 60);
    let b = a.replace("w30 ", "x30 ");
    let c = b.replace("w10 ", "x10 ");
    let records = vec![record(0, &a, "ok"), record(1, &b, "ok"), record(2, &c, "ok")];
    let pairs: Vec<(usize, usize)> = near_duplicates(&records, 0.8).iter().map(|p| (p.0, p.1)).collect();
    assert_eq!(pairs, vec![(0, 1), (1, 2)]);
    // C resembles only B, which goes: C stays.
    assert_eq!(deduplicate(records, 0.8).1, vec![1]);
}

#[test]
fn many_copies_are_counted_without_listing_every_pair() {
    let a = text(0, 60);
    let mut records: Vec<DialogueRecord> = (0..3000).map(|i| record(i, &a, "ok")).collect();
    records.push(record(3000, &a.replace("w30 ", "x30 "), "ok"));
    records.push(record(3001, &text(1000, 60), "ok"));
    let report = ChatReport::compute(&records, &ReportOptions::default());
    let nd = &report.near_duplicates;
    assert_eq!(nd.exact_pairs, 3000 * 2999 / 2);
    assert_eq!(nd.pairs, 3000 * 2999 / 2 + 3000);
    assert_eq!(nd.removable, 3000);
    assert_eq!(nd.examples.len(), 50);
    let (kept, removed) = deduplicate(records, 0.8);
    assert_eq!(removed.len(), 3000);
    assert_eq!(kept.iter().map(|r| r.metadata.index).collect::<Vec<_>>(), vec![0, 3001]);
}

#[test]
fn sidecar_metadata_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.jsonl");
    let line = r#"{"conversations":[{"from":"human","value":"u"},{"from":"gpt","value":"a"}]}"#;
    std::fs::write(&path, format!("{line}\n{line}\n")).expect("writes");
    std::fs::write(dir.path().join("d.jsonl.meta.jsonl"), "{\"index\":7,\"scenario\":\"loan\"}\n{\"index\":8}\n")
        .expect("writes");
    let records = read_records(&path).expect("reads");
    assert_eq!(records[0].metadata.index, 7);
    assert_eq!(records[0].metadata.scenario, "loan");
    assert_eq!(records[1].metadata.index, 8);
    std::fs::write(dir.path().join("d.jsonl.meta.jsonl"), "{\"index\":7}\nnot json\n").expect("writes");
    let error = read_records(&path).expect_err("fails").to_string();
    assert!(error.contains("d.jsonl.meta.jsonl: line 2"), "{error}");
}
