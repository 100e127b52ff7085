//! `doppel chat` against a real OpenAI-compatible server: llama.cpp's `llama-server` with
//! SmolLM2-135M-Instruct, started by `scripts/llm-server.sh start` (which prints the URL).
//!
//! Runs only when `DOPPEL_LLM_BASE_URL` is set (e.g. `http://127.0.0.1:8088/v1`); otherwise it
//! prints a note and passes, unless `DOPPEL_REQUIRE_LLM_SERVER=1` (as in `.ci/run`), which makes a
//! missing URL a failure.
//!
//! One test, so that its two runs do not compete with each other for the server's slots:
//! Both runs use `examples/chat/hr-coaching.toml` with replies cut to 32 tokens and at most 5
//! turns (see [`short_spec`]).
//! 1. 12 HR-coaching dialogues, 4 in flight: every record is valid JSON in the chat format, the
//!    turn counts are within the spec's range, and there are no exact duplicates;
//! 2. the same command to another output, killed (SIGKILL) once its first record is written, then
//!    run again: the output is resumed to exactly 12 distinct records, the records written before
//!    the kill are kept as they were, and the indices after them skip exactly the dialogues the
//!    second run reports as dropped (none dropped: indices 0..12 without gaps);
//! 3. `doppel chat-judge` scores the first run's records through the server: every record gets a
//!    probability of "Yes" per judge question, read from the server's `logprobs`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use doppel_chat::spec::ChatSpec;
use serde_json::Value;

use crate::{doppel, path_in, repo};

/// Records per run. SmolLM2 drops few HR-coaching dialogues, so this is about 12 dialogues' worth of
/// requests per run.
const N: usize = 12;
const CONCURRENCY: &str = "4";

/// The example spec with shorter replies and dialogues, to keep the test to a few minutes on two
/// cores: `doppel chat` has no option for `max_tokens`, so the test runs a copy of the spec. (The
/// unchanged spec makes SmolLM2 write up to 12 turns of up to 220 tokens: about 2000 tokens, a
/// minute of the server's time, per dialogue.)
fn short_spec(dir: &tempfile::TempDir) -> String {
    let text = std::fs::read_to_string(repo().join("examples/chat/hr-coaching.toml")).expect("the example spec");
    let mut short = text.clone();
    for (from, to) in [("max_tokens = 220", "max_tokens = 32"), ("max_turns = 10", "max_turns = 5")] {
        assert!(short.contains(from), "examples/chat/hr-coaching.toml no longer has `{from}`; update this test");
        short = short.replace(from, to);
    }
    let path = path_in(dir, "hr-coaching-short.toml");
    std::fs::write(&path, short).expect("writes the spec");
    path
}

/// The server's base URL, or `None` (after a note) when the test is to be skipped.
fn base_url() -> Option<String> {
    let url = std::env::var("DOPPEL_LLM_BASE_URL").ok().filter(|u| !u.trim().is_empty());
    if url.is_none() {
        let required = std::env::var("DOPPEL_REQUIRE_LLM_SERVER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "DOPPEL_REQUIRE_LLM_SERVER=1 but DOPPEL_LLM_BASE_URL is not set; start the server with \
             `scripts/llm-server.sh start` and export DOPPEL_LLM_BASE_URL=<the URL it prints>"
        );
        eprintln!("chat_server: skipped (set DOPPEL_LLM_BASE_URL, e.g. from `scripts/llm-server.sh start`, to run it)");
    }
    url
}

fn chat_args(spec: &str, out: &str, url: &str) -> Vec<String> {
    let n = N.to_string();
    [
        "chat",
        "--spec",
        spec,
        "-n",
        &n,
        "--concurrency",
        CONCURRENCY,
        "--backend",
        "http",
        "--base-url",
        url,
        "--model",
        "smollm2",
        "--seed",
        "1",
        "-o",
        out,
        "--quiet",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect()
}

fn run_chat(args: &[String]) -> crate::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let output = doppel(&args);
    eprintln!("chat_server: `doppel chat -n {N}` took {:.1}s", started.elapsed().as_secs_f64());
    assert_eq!(output.code, 0, "doppel {args:?} failed:\n{}", output.stderr);
    output
}

/// The complete lines of an output.
fn lines(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("the output exists");
    text.lines().map(str::to_string).collect()
}

fn manifest(out: &str) -> Value {
    let text = std::fs::read_to_string(format!("{out}.manifest.json")).expect("a manifest");
    serde_json::from_str(&text).expect("the manifest is JSON")
}

/// Checks every record against the chat format and the spec; returns their `metadata.index`es.
fn check_records(lines: &[String], spec: &ChatSpec) -> Vec<u64> {
    let conversation = &spec.conversation;
    let mut indices = Vec::new();
    let mut keys = BTreeSet::new();
    for (number, line) in lines.iter().enumerate() {
        let record: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("record {number} is not JSON ({e}): {line}"));
        let messages = record["messages"].as_array().unwrap_or_else(|| panic!("record {number}: no messages"));
        assert!(messages.len() >= 2, "record {number}: {} messages", messages.len());
        assert_eq!(messages[0]["role"], "system", "record {number}: the system prompt comes first");
        // The candidate (the `user` side) opens; records end with the coach (`assistant`).
        for (i, message) in messages[1..].iter().enumerate() {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            assert_eq!(message["role"], role, "record {number}, message {}: roles must alternate", i + 1);
            let content = message["content"].as_str().unwrap_or_default();
            assert!(!content.trim().is_empty(), "record {number}, message {}: empty", i + 1);
        }
        assert_eq!(messages.last().expect("messages")["role"], "assistant", "record {number}");
        let metadata = &record["metadata"];
        let turns = metadata["turns"].as_u64().unwrap_or_else(|| panic!("record {number}: no metadata.turns"));
        let turns = usize::try_from(turns).expect("turns");
        assert!(
            (conversation.min_turns..=conversation.max_turns).contains(&turns),
            "record {number}: {turns} turns, outside {}..={}",
            conversation.min_turns,
            conversation.max_turns
        );
        // A trailing candidate turn is left out of the record.
        let spoken = messages.len() - 1;
        assert!(spoken == turns || spoken + 1 == turns, "record {number}: {spoken} messages for {turns} turns");
        assert_eq!(metadata["seed"], 1, "record {number}");
        assert_eq!(metadata["backend"]["kind"], "http", "record {number}");
        assert!(
            spec.scenarios.iter().any(|s| metadata["scenario"] == s.name.as_str()),
            "record {number}: unknown scenario {}",
            metadata["scenario"]
        );
        assert!(keys.insert(serde_json::to_string(messages).expect("JSON")), "record {number} is an exact duplicate");
        indices.push(metadata["index"].as_u64().unwrap_or_else(|| panic!("record {number}: no metadata.index")));
    }
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "indices not strictly increasing: {indices:?}");
    indices
}

/// Indices in `from..=to` that are not in `indices`.
fn gaps(indices: &[u64], from: u64, to: u64) -> u64 {
    let present: BTreeSet<u64> = indices.iter().copied().collect();
    (from..=to).filter(|i| !present.contains(i)).count() as u64
}

#[test]
fn chat_with_a_real_server_and_a_kill_resumes() {
    let Some(url) = base_url() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let spec_path = short_spec(&dir);
    let spec = ChatSpec::read(Path::new(&spec_path)).expect("the spec reads");

    // 1. An uninterrupted run.
    let whole = path_in(&dir, "whole.jsonl");
    run_chat(&chat_args(&spec_path, &whole, &url));
    let records = lines(&whole);
    assert_eq!(records.len(), N, "records in {whole}");
    let indices = check_records(&records, &spec);
    let m = manifest(&whole);
    assert_eq!(m["dialogues"], N, "{m}");
    assert_eq!(m["backend"]["kind"], "http", "{m}");
    assert!(m["summary"]["completion_tokens"].as_u64().is_some_and(|t| t > 0), "no tokens counted: {m}");
    eprintln!(
        "chat_server: {N} dialogues, indices {indices:?}, {} dropped {}, {} completion tokens, {:.1} tokens/s",
        m["summary"]["dropped"],
        m["summary"]["dropped_by_reason"],
        m["summary"]["completion_tokens"],
        m["timings"]["tokens_per_second"].as_f64().unwrap_or(f64::NAN)
    );

    // 2. The same command to another output, killed once the first record is there.
    let resumed = path_in(&dir, "resumed.jsonl");
    let args = chat_args(&spec_path, &resumed, &url);
    let stderr_path = path_in(&dir, "killed.stderr");
    let stderr = std::fs::File::create(&stderr_path).expect("creates");
    let mut child = Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let has_record = std::fs::read(&resumed).is_ok_and(|bytes| bytes.contains(&b'\n'));
        if has_record {
            break;
        }
        if let Some(status) = child.try_wait().expect("waits") {
            let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!("the run to be killed ended ({status}) before writing a record:\n{text}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no record in {resumed} after 600 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kills the run");
    let status = child.wait().expect("reaps the run");
    assert!(!status.success(), "the run finished before it could be killed ({status})");
    // A kill mid-write leaves a partial last line, which the restart cuts; the complete ones stay.
    let bytes = std::fs::read(&resumed).expect("reads");
    let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let complete_before: Vec<String> =
        String::from_utf8(bytes[..end].to_vec()).expect("UTF-8").lines().map(str::to_string).collect();
    assert!(
        !complete_before.is_empty() && complete_before.len() < N,
        "{} records before the kill",
        complete_before.len()
    );
    eprintln!("chat_server: killed the second run with {} record(s) written", complete_before.len());

    let output = run_chat(&args);
    assert!(output.stderr.is_empty(), "--quiet printed:\n{}", output.stderr);
    let after = lines(&resumed);
    assert_eq!(after.len(), N, "records in {resumed} after the restart");
    assert_eq!(&after[..complete_before.len()], &complete_before[..], "the records written before the kill changed");
    let resumed_indices = check_records(&after, &spec);
    let m = manifest(&resumed);
    assert_eq!(m["summary"]["resumed"], complete_before.len(), "{m}");
    assert_eq!(m["summary"]["written"], N - complete_before.len(), "{m}");
    // Every index after the kill is settled by the second run: written, or dropped (counted).
    let last_before = resumed_indices[complete_before.len() - 1];
    let dropped = m["summary"]["dropped"].as_u64().expect("summary.dropped");
    assert_eq!(
        gaps(&resumed_indices, last_before + 1, *resumed_indices.last().expect("indices")),
        dropped,
        "indices {resumed_indices:?} after the kill skip other dialogues than the {dropped} dropped ones"
    );
    if dropped == 0 && gaps(&resumed_indices, 0, last_before) == 0 {
        assert_eq!(resumed_indices, (0..N as u64).collect::<Vec<_>>());
    }
    let same = after == records;
    eprintln!(
        "chat_server: resumed to {N} records, indices {resumed_indices:?}; {} the uninterrupted run's output",
        if same { "byte-identical to" } else { "differs from (the server's batching is not bitwise deterministic)" }
    );
    assert!(Path::new(&format!("{resumed}.manifest.json")).exists());

    // 3. The judge's questions through the server: probabilities come from its `logprobs`
    // (a reply read as a plain "Yes" or "No" would give only 0 or 1).
    let judged = path_in(&dir, "judged.jsonl");
    let started = Instant::now();
    let output = doppel(&[
        "chat-judge",
        &whole,
        "--spec",
        &spec_path,
        "-o",
        &judged,
        "--backend",
        "http",
        "--base-url",
        &url,
        "--model",
        "smollm2",
        "--concurrency",
        CONCURRENCY,
        "--quiet",
    ]);
    assert_eq!(output.code, 0, "chat-judge failed:\n{}", output.stderr);
    let judged = lines(&judged);
    assert_eq!(judged.len(), N);
    let mut scores = Vec::new();
    for (number, line) in judged.iter().enumerate() {
        let record: Value = serde_json::from_str(line).expect("JSON");
        let criteria = record["metadata"]["judge_criteria"].as_object().expect("judge_criteria");
        assert_eq!(criteria.len(), spec.judge_questions().len(), "record {number}");
        let values: Vec<f64> = criteria.values().map(|v| v.as_f64().expect("a number")).collect();
        assert!(values.iter().all(|p| (0.0..=1.0).contains(p)), "record {number}: {values:?}");
        assert!(values.iter().any(|p| *p > 0.0 && *p < 1.0), "record {number}: no probability read: {values:?}");
        scores.push(record["metadata"]["judge_score"].as_f64().expect("judge_score"));
    }
    eprintln!("chat_server: judged {N} dialogues in {:.1}s, scores {scores:.3?}", started.elapsed().as_secs_f64());
}
