//! `doppel chat` with the hidden mock backend: records, the manifest, resuming, `--force`, and
//! bad input (exit code 2, a message naming the file and field or the server's URL).

use std::path::Path;

use crate::{doppel, doppel_ok, path_in, repo};

const SPEC: &str = r#"
name = "cli-test"

[[agents]]
name = "agent"
display_name = "Sam"
assistant = true
system = "You are {{ agent.display_name }}, a bank agent. The customer is {{ customer.persona.mood }}. {{ scenario.description }}"

[[agents]]
name = "customer"
display_name = "Jordan"
system = "You are {{ customer.display_name }}, a {{ customer.persona.mood }} customer."

[agents.persona]
mood = { values = ["calm", "angry", "worried"] }

[[scenarios]]
name = "lost-card"
description = "The customer lost a card."

[conversation]
opener = "customer"
min_turns = 2
max_turns = 4
"#;

fn write_spec(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = path_in(dir, name);
    std::fs::write(&path, text).expect("writes");
    path
}

fn chat(spec: &str, out: &str, n: &str, extra: &[&str]) -> crate::Output {
    let mut args = vec!["chat", "--spec", spec, "-n", n, "-o", out, "--backend", "mock", "--seed", "3"];
    args.extend_from_slice(extra);
    doppel(&args)
}

#[test]
fn chat_writes_records_and_a_manifest_and_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(&dir, "bank.toml", SPEC);
    let whole = path_in(&dir, "whole.jsonl");
    let output = chat(&spec, &whole, "12", &["--concurrency", "1"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let text = std::fs::read_to_string(&whole).expect("reads");
    assert_eq!(text.lines().count(), 12);
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let messages = record["messages"].as_array().expect("messages");
        assert_eq!(messages[0]["role"], "system");
        for (i, m) in messages[1..].iter().enumerate() {
            assert_eq!(m["role"], if i % 2 == 0 { "user" } else { "assistant" });
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{whole}.manifest.json")).expect("a manifest"))
            .expect("JSON");
    assert_eq!(manifest["format"], "doppel.manifest");
    assert_eq!(manifest["command"], "chat");
    assert_eq!(manifest["seed"], 3);
    assert_eq!(manifest["dialogues"], 12);
    assert_eq!(manifest["backend"]["kind"], "mock");
    assert!(manifest["spec"]["fingerprint"].as_str().is_some_and(|f| f.starts_with("sha256:")));
    assert!(manifest["timings"]["tokens_per_second"].is_number());

    // The same with 8 in flight, in two steps, after a kill mid-line.
    let parts = path_in(&dir, "parts.jsonl");
    doppel_ok(&["chat", "--spec", &spec, "-n", "5", "-o", &parts, "--backend", "mock", "--seed", "3", "-q"]);
    let cut = std::fs::read(&parts).expect("reads");
    std::fs::write(&parts, &cut[..cut.len() - 30]).expect("writes");
    let output = chat(&spec, &parts, "12", &["--concurrency", "8"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stderr.contains("resuming"), "{}", output.stderr);
    assert_eq!(std::fs::read_to_string(&parts).expect("reads"), text);

    // `--force` starts over.
    let output = chat(&spec, &parts, "2", &["--force", "-q"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stderr.is_empty(), "{}", output.stderr);
    assert_eq!(std::fs::read_to_string(&parts).expect("reads").lines().count(), 2);
}

#[test]
fn chat_runs_the_examples() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["hr-coaching", "bank-service", "nurse-intake"] {
        let spec = repo().join("examples/chat").join(format!("{name}.toml")).display().to_string();
        let out = path_in(&dir, &format!("{name}.jsonl"));
        let output = chat(&spec, &out, "3", &["-q"]);
        // The mock's canned replies may repeat within the examples' longer dialogues; what
        // matters here is that the examples load and run.
        assert!(output.code == 0 || output.stderr.contains("gave up"), "{name}: {}", output.stderr);
    }
}

fn assert_fails(output: crate::Output, needles: &[&str], out: &str) {
    assert_eq!(output.code, 2, "expected exit code 2, stderr:\n{}", output.stderr);
    for needle in needles {
        assert!(output.stderr.contains(needle), "expected `{needle}` in:\n{}", output.stderr);
    }
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    assert!(!Path::new(out).exists(), "a failed run left {out}");
}

#[test]
fn chat_bad_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = path_in(&dir, "out.jsonl");
    let bad = write_spec(&dir, "typo.toml", &format!("{SPEC}\n[sampling]\ntempreature = 0.5\n"));
    assert_fails(chat(&bad, &out, "2", &[]), &["typo.toml", "unknown field `tempreature`", "[sampling]"], &out);
    let bad = write_spec(&dir, "var.toml", &SPEC.replace("persona.mood }} customer", "persona.mod }} customer"));
    assert_fails(
        chat(&bad, &out, "2", &[]),
        &["var.toml: agents[1].system: template variable `customer.persona.mod` has no value"],
        &out,
    );
    let bad = write_spec(&dir, "weights.toml", &SPEC.replace("\"worried\"] }", "\"worried\"], weights = [1, -2, 1] }"));
    assert_fails(chat(&bad, &out, "2", &[]), &["weights.toml", "weights must be positive numbers"], &out);
    let bad =
        write_spec(&dir, "weights2.toml", &SPEC.replace("\"worried\"] }", "\"worried\"], weights = [1, \"x\", 1] }"));
    assert_fails(chat(&bad, &out, "2", &[]), &["weights2.toml", "[agents[1].persona]"], &out);
    let two = SPEC.replace("display_name = \"Jordan\"", "display_name = \"Jordan\"\nassistant = true");
    let bad = write_spec(&dir, "two.toml", &two);
    assert_fails(chat(&bad, &out, "2", &[]), &["two.toml", "exactly one agent", "found 2"], &out);
    let bad = write_spec(&dir, "none.toml", "name = \"x\"\n[conversation]\nopener = \"a\"\n");
    assert_fails(chat(&bad, &out, "2", &[]), &["none.toml", "exactly two [[agents]], found 0"], &out);
    assert_fails(chat(&path_in(&dir, "missing.toml"), &out, "2", &[]), &["missing.toml"], &out);
    let good = write_spec(&dir, "good.toml", SPEC);
    assert_fails(chat(&good, &out, "0", &[]), &["`-n 0`"], &out);
    assert_fails(chat(&good, &out, "2", &["--concurrency", "0"]), &["--concurrency 0"], &out);

    // An unreachable server: a clear error naming the URL.
    let output = doppel(&[
        "chat",
        "--spec",
        &good,
        "-n",
        "2",
        "-o",
        &out,
        "--backend",
        "http",
        "--base-url",
        "http://127.0.0.1:9",
        "--max-retries",
        "0",
        "--timeout-seconds",
        "5",
    ]);
    assert_fails(output, &["http://127.0.0.1:9"], &out);
}

#[test]
fn chat_help_hides_the_mock() {
    let output = doppel_ok(&["chat", "--help"]);
    assert!(output.stdout.contains("--base-url"), "{}", output.stdout);
    assert!(output.stdout.contains("embedded model"), "{}", output.stdout);
    assert!(!output.stdout.contains("mock"), "{}", output.stdout);
}

/// A tiny OpenAI-compatible server on a free local port: each reply is a few words picked by a
/// hash of the request body (so replies vary and depend only on the request). Returns its base
/// URL; it serves until the test process ends.
fn fake_server() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    const WORDS: &[&str] = &[
        "team",
        "deadline",
        "feedback",
        "manager",
        "project",
        "priorities",
        "meeting",
        "budget",
        "client",
        "goals",
        "training",
        "conflict",
        "trust",
        "plan",
        "review",
        "hiring",
        "culture",
        "growth",
        "listen",
        "options",
        "support",
        "timeline",
        "scope",
        "quality",
        "morale",
        "mentor",
        "promotion",
        "skills",
        "delegate",
        "clarity",
        "example",
        "outcome",
        "risk",
        "change",
        "values",
        "habits",
        "energy",
        "focus",
        "balance",
        "progress",
    ];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("http://{}/v1", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for byte in &body {
                    h = (h ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
                }
                let words: Vec<&str> = (0..8).map(|i| WORDS[((h >> (i * 5)) % WORDS.len() as u64) as usize]).collect();
                let content = format!("Well, {}.", words.join(" "));
                let reply = serde_json::json!({
                    "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 20, "completion_tokens": 9}
                })
                .to_string();
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            });
        }
    });
    url
}

#[test]
fn chat_talks_to_an_openai_compatible_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(&dir, "bank.toml", SPEC);
    let url = fake_server();
    let mut outputs = Vec::new();
    for (name, concurrency) in [("one.jsonl", "1"), ("four.jsonl", "4")] {
        let out = path_in(&dir, name);
        let output = doppel(&[
            "chat",
            "--spec",
            &spec,
            "-n",
            "6",
            "-o",
            &out,
            "--base-url",
            &url,
            "--model",
            "fake",
            "--concurrency",
            concurrency,
            "--seed",
            "9",
        ]);
        assert_eq!(output.code, 0, "{}", output.stderr);
        assert!(output.stderr.contains("wrote 6 dialogues"), "{}", output.stderr);
        outputs.push(std::fs::read_to_string(&out).expect("reads"));
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{out}.manifest.json")).expect("a manifest"))
                .expect("JSON");
        assert_eq!(manifest["backend"]["kind"], "http");
        assert_eq!(manifest["backend"]["model"], "fake");
        assert!(manifest["summary"]["completion_tokens"].as_u64().is_some_and(|t| t > 0));
    }
    assert_eq!(outputs[0], outputs[1], "concurrency changed the output");
    let first: serde_json::Value = serde_json::from_str(outputs[0].lines().next().expect("a line")).expect("JSON");
    assert!(first["messages"][1]["content"].as_str().is_some_and(|c| c.starts_with("Well, ")));
    assert_eq!(first["metadata"]["backend"]["base_url"], url.as_str());
}

#[test]
fn chat_judge_scores_every_record_whatever_the_concurrency() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(&dir, "bank.toml", SPEC);
    let dialogues = path_in(&dir, "dialogues.jsonl");
    assert_eq!(chat(&spec, &dialogues, "10", &["-q"]).code, 0);
    let judge = |out: &str, concurrency: &str| {
        doppel(&[
            "chat-judge",
            &dialogues,
            "--spec",
            &spec,
            "-o",
            out,
            "--backend",
            "mock",
            "--concurrency",
            concurrency,
        ])
    };
    let one = path_in(&dir, "judged-1.jsonl");
    let output = judge(&one, "1");
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stderr.contains("judged 10 dialogues"), "{}", output.stderr);
    let text = std::fs::read_to_string(&one).expect("reads");
    let original = std::fs::read_to_string(&dialogues).expect("reads");
    assert_eq!(text.lines().count(), 10);
    for (judged, before) in text.lines().zip(original.lines()) {
        let judged: serde_json::Value = serde_json::from_str(judged).expect("JSON");
        let before: serde_json::Value = serde_json::from_str(before).expect("JSON");
        assert_eq!(judged["messages"], before["messages"]);
        let score = judged["metadata"]["judge_score"].as_f64().expect("a score");
        assert!((0.0..=1.0).contains(&score), "{score}");
        let criteria = judged["metadata"]["judge_criteria"].as_object().expect("criteria");
        let names: Vec<&str> = criteria.keys().map(String::as_str).collect();
        assert_eq!(names, ["coherent", "in_role_agent", "in_role_customer", "no_ai_talk", "on_topic"]);
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{one}.manifest.json")).expect("manifest"))
            .expect("JSON");
    assert_eq!(manifest["command"], "chat-judge");
    assert_eq!(manifest["judge_method"], "questions");
    assert_eq!(manifest["totals"]["requests"], 50);
    // Four at once give the same file.
    let four = path_in(&dir, "judged-4.jsonl");
    assert_eq!(judge(&four, "4").code, 0);
    assert_eq!(std::fs::read_to_string(&four).expect("reads"), text);
    // The output exists: refused without --force, and the input is never overwritten.
    assert_eq!(judge(&one, "1").code, 2);
    let output = judge(&dialogues, "1");
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert_eq!(std::fs::read_to_string(&dialogues).expect("reads"), original);
    // A record whose scenario the spec does not have is named.
    let other = write_spec(&dir, "other.toml", &SPEC.replace("name = \"lost-card\"", "name = \"stolen-card\""));
    let out = path_in(&dir, "judged-other.jsonl");
    let output =
        doppel(&["chat-judge", &dialogues, "--spec", &other, "-o", &out, "--backend", "mock", "--concurrency", "2"]);
    assert_fails(output, &["record 1", "`lost-card`", "other.toml", "`stolen-card`"], &out);
}
