//! Dialogues with the mock backend: deterministic, alternating roles, filters and the judge.

mod common;

use std::sync::Mutex;

use doppel_chat::backend::{Choice, MockBackend};
use doppel_chat::dialogue::{draw, filter, generate_dialogue, parse_score};
use doppel_chat::spec::JudgeMethod;
use doppel_chat::{BackendInfo, ChatBackend, ChatRequest, ChatResponse, Result, Role};

#[test]
fn a_dialogue_alternates_from_the_assistant_side() {
    let spec = common::spec();
    let backend = MockBackend::default();
    let mut kept = 0;
    for index in 0..20 {
        let outcome = generate_dialogue(&spec, &backend, 7, index).expect("generates");
        let Some(record) = outcome.record else { continue };
        kept += 1;
        assert_eq!(record.messages[0].role, Role::System);
        assert!(record.messages[0].content.starts_with("You are Dana, an HR coach"), "{}", record.messages[0].content);
        // The candidate opens: user, assistant, user, ...; records end with the assistant.
        for (i, message) in record.messages[1..].iter().enumerate() {
            let expected = if i % 2 == 0 { Role::User } else { Role::Assistant };
            assert_eq!(message.role, expected, "{:?}", record.messages);
        }
        assert_eq!(record.messages.last().map(|m| m.role), Some(Role::Assistant));
        assert_eq!(record.metadata.index, index);
        assert_eq!(record.metadata.turns, record.messages.len() - 1);
        assert!(record.metadata.turns >= 2);
        assert_eq!(record.metadata.backend.kind, "mock");
        assert!(["leadership", "conflict"].contains(&record.metadata.scenario.as_str()));
        assert!(record.metadata.persona["candidate"].contains_key("seniority"));
        // Same seed and index, same dialogue.
        let again = generate_dialogue(&spec, &backend, 7, index).expect("generates");
        assert_eq!(again.record.as_ref(), Some(&record));
    }
    assert!(kept >= 10, "only {kept} of 20 dialogues were kept");
}

#[test]
fn draws_follow_the_weights() {
    let spec = common::spec();
    let mut senior = 0;
    let mut leadership = 0;
    for index in 0..2000 {
        let draw = draw(&spec, 1, index);
        senior += usize::from(draw.persona[1]["seniority"] == "senior");
        leadership += usize::from(draw.scenario == 0);
    }
    assert!((1350..1650).contains(&senior), "{senior}");
    assert!((1200..1470).contains(&leadership), "{leadership}");
}

fn turns(texts: &[&str]) -> Vec<(usize, String)> {
    texts.iter().enumerate().map(|(i, t)| ((i + 1) % 2, t.to_string())).collect()
}

#[test]
fn filters_name_their_reasons() {
    let spec = common::spec();
    let check = |texts: &[&str], reason: &str| {
        let reasons = filter(&spec, &turns(texts));
        assert!(reasons.iter().any(|r| r == reason), "expected {reason} for {texts:?}, got {reasons:?}");
    };
    assert!(
        filter(&spec, &turns(&["Hello, I need help with my team.", "Of course, tell me more about it."])).is_empty()
    );
    check(&["Hello, I need help with my team."], "too_few_turns");
    check(&["Hello, I need help.", ""], "empty_turn");
    check(&["Hello, I need help.", "I'm sorry, but I can't help with that request."], "refusal");
    check(&["Hello, I need help.", "As an AI language model I have no views."], "ai_meta");
    check(&["Hi, I'm Dana and I need help.", "Sure, tell me more."], "role_swap");
    check(&["Hello there.", "Hi! Tell me more.\nAlex: I lead a team of five."], "role_swap");
    // Speaking to oneself by name, as the other agent would (seen with SmolLM2-135M).
    check(&["Hello there.", "Dana, welcome to a life of work. What's on your mind?"], "role_swap");
    check(&["Hello there.", "Hey Dana,\n\nYou're welcome! I'm glad I could help."], "role_swap");
    check(&["Hello there.", "You've chosen the right one, Dana! Tell me more."], "role_swap");
    check(&["Thanks, Alex. Tell me about your team.", "Sure."], "role_swap");
    check(&["Hello there.", "I see.\nDana, that is a good point."], "role_swap");
    check(&["I lead a team of five engineers.", "Tell me more.", "I lead a team of five engineers!"], "repetition");
    check(
        &[
            "Right. Could you tell me about a time you led a team?",
            "Sure.",
            "Interesting. Could you tell me about a time you led a team?",
        ],
        "repetition",
    );
    // The candidate saying the coach's name is fine; so is a name that only starts the same way.
    assert!(filter(&spec, &turns(&["Hi Dana, I'm Alex.", "Hi Alex, I'm Danaë's colleague."])).is_empty());
    // Saying one's own name in other ways is fine too.
    assert!(
        filter(
            &spec,
            &turns(&[
                "Dana, I need help. I'm Alex, by the way.",
                "Alex, I'm Dana, your coach. Dana's way is to listen."
            ])
        )
        .is_empty()
    );
}

#[test]
fn judge_scores_are_parsed() {
    assert_eq!(parse_score(r#"{"score": 0.75, "reason": "fine"}"#), Some(0.75));
    assert_eq!(parse_score("Here: {\"score\": \"0.5\"}"), Some(0.5));
    assert_eq!(parse_score("8/10"), Some(0.8));
    assert_eq!(parse_score("0.3"), Some(0.3));
    assert_eq!(parse_score("no idea"), None);
}

/// A backend that refuses on the first attempt's first turn and otherwise says varied things;
/// the judge (a request with one user message) gets `verdict`.
struct Scripted {
    verdict: String,
    calls: Mutex<u64>,
}

impl ChatBackend for Scripted {
    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let mut calls = self.calls.lock().expect("lock");
        *calls += 1;
        let content = if request.messages.len() == 1 {
            self.verdict.clone()
        } else {
            let n = request.messages.len();
            format!("Message {n} with seed {} says something new.", request.seed.unwrap_or(0) % 1000)
        };
        Ok(ChatResponse { content, prompt_tokens: Some(10), completion_tokens: Some(5), finish_reason: None })
    }

    fn info(&self) -> BackendInfo {
        BackendInfo { kind: "mock".into(), model: "scripted".into(), base_url: None }
    }
}

#[test]
fn the_judge_keeps_or_drops() {
    let spec = common::spec_with("[judge]\nenabled = true\nmethod = \"score\"\nmin_score = 0.6\nmax_attempts = 2\n");
    let good = Scripted { verdict: r#"{"score": 0.9, "reason": "natural"}"#.into(), calls: Mutex::new(0) };
    let outcome = generate_dialogue(&spec, &good, 3, 0).expect("generates");
    let record = outcome.record.expect("kept");
    assert_eq!(record.metadata.judge_score, Some(0.9));
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.completion_tokens, 5 * outcome.requests);
    let bad = Scripted { verdict: "I would rather not say".into(), calls: Mutex::new(0) };
    let outcome = generate_dialogue(&spec, &bad, 3, 0).expect("generates");
    assert!(outcome.record.is_none());
    assert_eq!(outcome.attempts, 2);
    assert_eq!(outcome.reasons, vec!["judge_unparsable".to_string(), "low_judge_score".to_string()]);
}

/// A backend that talks like `Scripted` and answers judge questions: `No` (p = 0.9) to the
/// question whose text contains `doubt`, `Yes` (p = 0.8) to the others; it records the questions.
struct Questioned {
    doubt: &'static str,
    asked: Mutex<Vec<String>>,
}

impl ChatBackend for Questioned {
    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let n = request.messages.len();
        let content = format!("Message {n} with seed {} says something new.", request.seed.unwrap_or(0) % 1000);
        Ok(ChatResponse { content, prompt_tokens: Some(10), completion_tokens: Some(5), finish_reason: None })
    }

    fn info(&self) -> BackendInfo {
        BackendInfo { kind: "mock".into(), model: "questioned".into(), base_url: None }
    }

    fn choose(&self, request: &ChatRequest, options: &[String]) -> Result<Choice> {
        assert_eq!(options, ["Yes".to_string(), "No".to_string()]);
        let text = &request.messages[0].content;
        self.asked.lock().expect("lock").push(text.clone());
        let question = text.rsplit("Question: ").next().unwrap_or_default();
        let yes = if question.contains(self.doubt) { 0.1 } else { 0.8 };
        Ok(Choice { probabilities: Some(vec![yes, 1.0 - yes]), prompt_tokens: Some(40), completion_tokens: Some(0) })
    }
}

#[test]
fn the_question_judge_scores_each_question_and_keeps_or_drops() {
    let spec = common::spec_with("[judge]\nenabled = true\nmin_score = 0.6\nmax_attempts = 2\n");
    assert_eq!(spec.judge_method(), JudgeMethod::Questions);
    // Default questions: on topic, each agent in role, no AI talk, coherent. Doubting the
    // candidate's role: (0.8 * 4 + 0.1) / 5 = 0.66, kept.
    let backend = Questioned { doubt: "Alex speak only as", asked: Mutex::new(Vec::new()) };
    let outcome = generate_dialogue(&spec, &backend, 3, 0).expect("generates");
    let record = outcome.record.expect("kept");
    let criteria = record.metadata.judge_criteria.clone().expect("criteria");
    let names: Vec<&str> = criteria.keys().map(String::as_str).collect();
    assert_eq!(names, ["coherent", "in_role_candidate", "in_role_coach", "no_ai_talk", "on_topic"]);
    assert!((criteria["in_role_candidate"] - 0.1).abs() < 1e-12);
    assert!((record.metadata.judge_score.expect("score") - 0.66).abs() < 1e-12);
    let asked = backend.asked.lock().expect("lock").clone();
    assert_eq!(asked.len(), 5);
    // Each question carries the dialogue first, then the question, then how to answer.
    let transcript_start = asked[0].find("Alex: ").expect("the transcript");
    for text in &asked {
        assert!(text.starts_with("Read this conversation between Dana ("), "{text}");
        assert!(text.ends_with("\nAnswer with Yes or No."), "{text}");
        assert_eq!(
            text[..text.find("Question: ").expect("question")],
            asked[0][..asked[0].find("Question: ").expect("q")]
        );
    }
    assert!(asked.iter().any(|t| t.contains("Question: Is the conversation about this topic: ")), "{asked:?}");
    assert!(transcript_start > 0);
    // The record's metadata keeps the scores through a write and a read.
    let line = serde_json::to_string(&record).expect("json");
    let back = doppel_chat::quality::parse_records(&line, "test").expect("read back");
    assert_eq!(back[0].metadata.judge_criteria, record.metadata.judge_criteria);

    // Doubting whether it is on topic and coherent: (0.8 * 3 + 0.1 * 2) / 5 = 0.52 < 0.6: dropped.
    let spec = common::spec_with(
        "[judge]\nenabled = true\nmin_score = 0.6\nmax_attempts = 2\n\
         questions = { on_topic = \"Is it about {{ scenario.name }}? (doubt)\", fluent = \"Is it fluent?\" }\n",
    );
    let backend = Questioned { doubt: "(doubt)", asked: Mutex::new(Vec::new()) };
    let outcome = generate_dialogue(&spec, &backend, 3, 0).expect("generates");
    assert!(outcome.record.is_none());
    assert_eq!(outcome.reasons, vec!["low_judge_score".to_string()]);
    assert_eq!(backend.asked.lock().expect("lock").len(), 4, "two questions, two attempts");
}

#[test]
fn refusals_are_retried_then_dropped() {
    let spec = common::spec();
    let backend = MockBackend { script: vec!["I'm sorry, but I can't continue this conversation.".into()] };
    let outcome = generate_dialogue(&spec, &backend, 1, 0).expect("generates");
    assert!(outcome.record.is_none());
    assert_eq!(outcome.attempts, 3);
    assert!(outcome.reasons.contains(&"refusal".to_string()), "{:?}", outcome.reasons);
}

#[test]
fn stop_phrases_end_the_dialogue_after_min_turns() {
    let text = common::SPEC.replace(
        "max_turns = 4",
        "max_turns = 8\nstop_phrases = [\"[END]\"]\nopening = \"Hello {{ coach.display_name }}, I want to talk about my team.\"",
    );
    let spec = doppel_chat::spec::ChatSpec::from_toml(&text, "t.toml").expect("valid");
    // The scripted mock answers by the number of non-system messages it is sent.
    let backend = MockBackend {
        script: vec![
            "unused".into(),
            "Happy to help, what is going on? [END]".into(),
            "They keep missing deadlines and I am stuck.".into(),
        ],
    };
    let outcome = generate_dialogue(&spec, &backend, 1, 0).expect("generates");
    let record = outcome.record.expect("kept");
    assert_eq!(record.metadata.turns, 2, "{:?}", record.messages);
    assert_eq!(record.messages[1].content, "Hello Dana, I want to talk about my team.");
    assert_eq!(record.messages[2].content, "Happy to help, what is going on?");
}
