//! [`EmbeddedBackend`] with the real default model (SmolLM2-135M-Instruct Q4_1): replies, seeds,
//! token counts, stop strings and parallel requests.
//!
//! The model is read from `$DOPPEL_MODEL_PATH`, else `~/.cache/doppel/models/` (where
//! `scripts/fetch-model.sh` puts it). When it is missing the tests that need it pass with a note,
//! unless `DOPPEL_REQUIRE_MODEL=1`, which makes them fail.
#![cfg(feature = "embedded")]
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use doppel_chat::backend::{EmbeddedBackend, EmbeddedSettings};
use doppel_chat::{ChatBackend, ChatRequest, Message, Role, SamplingParams};

fn model_path() -> PathBuf {
    if let Some(path) = std::env::var_os("DOPPEL_MODEL_PATH") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/doppel/models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// The model, loaded once for all tests; `None` (after a note) when the file is missing and
/// `DOPPEL_REQUIRE_MODEL` is not `1`.
fn backend() -> Option<&'static EmbeddedBackend> {
    static BACKEND: OnceLock<Option<EmbeddedBackend>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let path = model_path();
            if !path.is_file() {
                assert!(
                    std::env::var("DOPPEL_REQUIRE_MODEL").as_deref() != Ok("1"),
                    "DOPPEL_REQUIRE_MODEL=1 but the model {} is missing; run scripts/fetch-model.sh",
                    path.display()
                );
                eprintln!(
                    "note: skipping the embedded-model tests: {} is missing (scripts/fetch-model.sh)",
                    path.display()
                );
                return None;
            }
            match EmbeddedBackend::load(&path, EmbeddedSettings::default()) {
                Ok(backend) => Some(backend),
                Err(error) => panic!("cannot load {}: {error}", path.display()),
            }
        })
        .as_ref()
}

fn request(seed: u64) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::new(
                Role::System,
                "You are Dana, an experienced HR coach. You are in a one-to-one coaching session with Sam, \
                 a mid-level software engineer preparing for a team-lead interview. Ask one question at a time.",
            ),
            Message::new(Role::User, "Hi Dana, I'm Sam. I'm a bit nervous about the interview, but ready to start."),
        ],
        sampling: SamplingParams { temperature: 0.8, top_p: 0.95, max_tokens: 40 },
        seed: Some(seed),
        stop: Vec::new(),
    }
}

#[test]
fn a_missing_model_names_the_fetch_script() {
    let missing = Path::new("/nonexistent/doppel/model.gguf");
    let error = EmbeddedBackend::load(missing, EmbeddedSettings::default()).expect_err("no file");
    let message = error.to_string();
    assert!(message.contains("/nonexistent/doppel/model.gguf"), "{message}");
    assert!(message.contains("scripts/fetch-model.sh"), "{message}");
    let zero = EmbeddedSettings { threads: 0, ..EmbeddedSettings::default() };
    assert!(EmbeddedBackend::load(missing, zero).is_err());
}

#[test]
fn replies_are_seeded_and_counted() {
    let Some(backend) = backend() else { return };
    let info = backend.info();
    assert_eq!(info.kind, "embedded");
    assert_eq!(info.model, "SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(info.base_url, None);

    let first = backend.complete(&request(1)).expect("a reply");
    eprintln!("seed 1: {:?}", first.content);
    assert!(!first.content.trim().is_empty(), "{first:?}");
    let prompt_tokens = first.prompt_tokens.expect("prompt tokens");
    let completion_tokens = first.completion_tokens.expect("completion tokens");
    assert!((40..400).contains(&prompt_tokens), "{first:?}");
    assert!((1..=40).contains(&completion_tokens), "{first:?}");
    match first.finish_reason.as_deref() {
        Some("length") => assert_eq!(completion_tokens, 40, "{first:?}"),
        Some("stop") => {}
        other => panic!("finish_reason {other:?}"),
    }

    let again = backend.complete(&request(1)).expect("a reply");
    assert_eq!(again, first, "the same request and seed gave another reply");

    let other = backend.complete(&request(2)).expect("a reply");
    eprintln!("seed 2: {:?}", other.content);
    assert_ne!(other.content, first.content, "seeds 1 and 2 gave the same reply");
    assert_eq!(other.prompt_tokens, Some(prompt_tokens));
}

#[test]
fn stop_strings_cut_the_reply() {
    let Some(backend) = backend() else { return };
    // Find a seed whose free reply has a stop candidate, then stop there: the same tokens are drawn
    // up to the stop, so the stopped reply is the free one cut before it.
    for seed in 1..20 {
        let free = backend.complete(&request(seed)).expect("a reply");
        let Some(at) = free.content.find(['.', '?', '!']) else { continue };
        let stop = free.content[at..].chars().next().expect("a character").to_string();
        let mut stopped_request = request(seed);
        stopped_request.stop = vec!["never-in-a-reply".into(), stop];
        let stopped = backend.complete(&stopped_request).expect("a reply");
        assert_eq!(stopped.content, free.content[..at], "seed {seed}");
        assert_eq!(stopped.finish_reason.as_deref(), Some("stop"));
        assert!(stopped.completion_tokens <= free.completion_tokens);
        return;
    }
    panic!("no reply in 19 seeds had a '.', '?' or '!'");
}

#[test]
fn parallel_requests_match_serial_ones() {
    let Some(backend) = backend() else { return };
    let mut short = request(5);
    short.sampling.max_tokens = 12;
    let serial: Vec<_> = (0..3)
        .map(|i| {
            let mut r = short.clone();
            r.seed = Some(10 + i);
            backend.complete(&r).expect("a reply")
        })
        .collect();
    let parallel: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let mut r = short.clone();
                r.seed = Some(10 + i);
                scope.spawn(move || backend.complete(&r).expect("a reply"))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("no panic")).collect()
    });
    assert_eq!(parallel, serial);
}

#[test]
fn a_conversation_longer_than_the_context_is_refused() {
    let Some(_) = backend() else { return };
    let path = model_path();
    let small = EmbeddedBackend::load(&path, EmbeddedSettings { threads: 1, context: 64 }).expect("loads");
    let error = small.complete(&request(1)).expect_err("too long");
    assert!(error.to_string().contains("context of 64 tokens"), "{error}");
}

/// Runs a conversation of `turns` replies through `complete` (the closure), feeding each reply
/// back as the assistant's message and a fixed user line after it; returns the replies and the
/// seconds it took.
fn converse(turns: usize, complete: &mut dyn FnMut(&ChatRequest) -> String) -> (Vec<String>, f64) {
    let started = std::time::Instant::now();
    let mut conversation = request(3);
    conversation.sampling.max_tokens = 24;
    let mut replies = Vec::new();
    for turn in 0..turns {
        conversation.seed = Some(100 + turn as u64);
        let reply = complete(&conversation);
        conversation.messages.push(Message::new(Role::Assistant, reply.clone()));
        conversation.messages.push(Message::new(
            Role::User,
            format!("Thanks. Here is my answer number {turn}: I would listen first, then decide with the team."),
        ));
        replies.push(reply);
    }
    (replies, started.elapsed().as_secs_f64())
}

#[test]
fn a_session_reads_only_the_new_messages_and_is_repeatable() {
    let Some(backend) = backend() else { return };
    let turns = 8;
    let mut session = backend.session();
    let (first, session_seconds) = converse(turns, &mut |r| session.complete(r).expect("a reply").content);
    // A new session replays the same dialogue exactly: replies depend only on the session's own
    // requests, never on what else is in flight.
    let mut again = backend.session();
    let (second, _) = converse(turns, &mut |r| again.complete(r).expect("a reply").content);
    assert_eq!(first, second, "a session is not repeatable");
    assert!(first.iter().all(|reply| !reply.trim().is_empty()), "{first:?}");
    let (_, fresh_seconds) = converse(turns, &mut |r| backend.complete(r).expect("a reply").content);
    eprintln!(
        "{turns}-turn conversation: {session_seconds:.2} s with a session, {fresh_seconds:.2} s re-reading every prompt ({:.1}x)",
        fresh_seconds / session_seconds
    );
}

#[test]
fn closed_questions_read_probabilities_from_the_logits() {
    let Some(backend) = backend() else { return };
    let options = vec!["Yes".to_string(), "No".to_string()];
    let question = |text: &str| ChatRequest {
        messages: vec![Message::new(
            Role::User,
            format!(
                "Read this conversation.\n\nDana: How do you handle conflict?\nSam: I listen to both sides first.\n\n\
                 Question: {text}\nAnswer with Yes or No."
            ),
        )],
        sampling: SamplingParams { temperature: 0.0, top_p: 1.0, max_tokens: 1 },
        seed: Some(1),
        stop: Vec::new(),
    };
    let first = question("Is the conversation about handling conflict?");
    let second = question("Does Sam mention an AI?");
    let alone = backend.choose(&first, &options).expect("a choice");
    let p = alone.probabilities.clone().expect("Yes and No are single tokens of SmolLM2's vocabulary");
    assert_eq!(p.len(), 2);
    assert!((p[0] + p[1] - 1.0).abs() < 1e-9, "{p:?}");
    assert!(p.iter().all(|x| (0.0..=1.0).contains(x) && *x > 1e-6), "{p:?}");
    assert_eq!(alone.completion_tokens, Some(0), "nothing is generated");
    // The same question again gives the same probabilities; in a session, a second question about
    // the same conversation reuses what it shares with the first and gives what a fresh context does.
    assert_eq!(backend.choose(&first, &options).expect("a choice"), alone);
    let mut session = backend.session();
    let in_session = session.choose(&first, &options).expect("a choice").probabilities.expect("p");
    let second_in_session = session.choose(&second, &options).expect("a choice").probabilities.expect("p");
    let second_alone = backend.choose(&second, &options).expect("a choice").probabilities.expect("p");
    for (a, b) in [(&in_session, &p), (&second_in_session, &second_alone)] {
        assert!((a[0] - b[0]).abs() < 1e-3, "session {a:?} against a fresh context {b:?}");
    }
    // An option that is no single token is answered by generating (here, never matched).
    let odd = vec!["Zqxjv".to_string(), "Wvkpl".to_string()];
    assert_eq!(backend.choose(&first, &odd).expect("a choice").probabilities, None);
}
