//! The spec: valid files load (the examples included), bad ones give errors naming the file and
//! the field.

mod common;

use doppel_chat::spec::ChatSpec;

fn error(text: &str) -> String {
    match ChatSpec::from_toml(text, "coaching.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn assert_error(text: &str, needles: &[&str]) {
    let message = error(text);
    for needle in needles {
        assert!(message.contains(needle), "expected `{needle}` in: {message}");
    }
}

#[test]
fn the_examples_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/chat");
    for name in ["hr-coaching.toml", "bank-service.toml", "nurse-intake.toml"] {
        let spec = ChatSpec::read(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(spec.agents.len(), 2);
        assert!(spec.fingerprint.starts_with("sha256:"));
    }
}

#[test]
fn unknown_fields_name_the_file_line_and_table() {
    let text = common::SPEC.to_string() + "\n[sampling]\ntempreature = 0.5\n";
    assert_error(&text, &["coaching.toml", "unknown field `tempreature`", "[sampling]"]);
    let text = common::SPEC.replace("role = \"a candidate\"", "role = \"a candidate\"\nmood = \"x\"");
    assert_error(&text, &["coaching.toml", "unknown field `mood`", "[agents[1]]"]);
}

#[test]
fn template_variables_without_value() {
    let text = common::SPEC.replace("{{ candidate.persona.industry }}", "{{ candidate.persona.industri }}");
    assert_error(
        &text,
        &["coaching.toml: agents[1].system: template variable `candidate.persona.industri` has no value"],
    );
    let text = common::SPEC.to_string() + "\n[judge]\nenabled = true\nprompt = \"{{ transcrpt }}\"\n";
    assert_error(&text, &["judge.prompt", "`transcrpt`"]);
    let text =
        common::SPEC.replace("opener = \"candidate\"", "opener = \"candidate\"\nopening = \"Hi {{ coach.nam }}\"");
    assert_error(&text, &["conversation.opening", "`coach.nam`"]);
    let text = common::SPEC.replace("{{ coach.role }}", "{{ coach.role ");
    assert_error(&text, &["agents[0].system", "syntax"]);
    let text = common::SPEC.to_string() + "\n[judge]\nquestions = { kind = \"Is {{ coach.kind }} kind?\" }\n";
    assert_error(&text, &["judge.questions.kind", "`coach.kind`"]);
}

#[test]
fn judge_methods_take_their_own_fields() {
    let judge = |body: &str| common::SPEC.to_string() + "\n[judge]\nenabled = true\n" + body;
    assert_error(
        &judge("method = \"questions\"\nprompt = \"Rate {{ transcript }}\"\n"),
        &["judge.prompt", "method = \"score\""],
    );
    assert_error(&judge("method = \"score\"\nquestions = { a = \"A?\" }\n"), &["judge.questions", "not `score`"]);
    assert_error(&judge("questions = {}\n"), &["judge.questions", "at least one question"]);
    assert_error(&judge("questions = { blank = \" \" }\n"), &["judge.questions.blank", "must not be empty"]);
    assert_error(&judge("method = \"vibes\"\n"), &["line", "[judge]", "vibes"]);
}

#[test]
fn bad_weights() {
    let text = common::SPEC.replace("weights = [1, 3]", "weights = [1, -3]");
    assert_error(&text, &["agents[1].persona.seniority.weights", "weights must be positive numbers"]);
    let text = common::SPEC.replace("weights = [1, 3]", "weights = [1, \"lots\"]");
    assert_error(&text, &["coaching.toml", "[agents[1].persona]"]);
    let text = common::SPEC.replace("weights = [1, 3]", "weights = [1]");
    assert_error(&text, &["1 weights for 2 values"]);
    let text = common::SPEC.replace("weight = 2.0", "weight = 0");
    assert_error(&text, &["scenarios[0].weight", "weights must be positive numbers"]);
}

#[test]
fn agents_must_be_two_with_one_assistant() {
    let start = common::SPEC.find("[[agents]]").expect("agents");
    let end = common::SPEC.find("[[scenarios]]").expect("scenarios");
    let none = format!("{}{}", &common::SPEC[..start], &common::SPEC[end..]);
    assert_error(&none, &["coaching.toml: agents: a dialogue needs exactly two [[agents]], found 0"]);
    let two = common::SPEC.replace("role = \"a candidate\"", "role = \"a candidate\"\nassistant = true");
    assert_error(&two, &["exactly one agent must have `assistant = true`", "found 2"]);
    let zero = common::SPEC.replace("assistant = true", "");
    assert_error(&zero, &["found 0"]);
    let opener = common::SPEC.replace("opener = \"candidate\"", "opener = \"nobody\"");
    assert_error(&opener, &["conversation.opener", "`nobody`"]);
    let turns = common::SPEC.replace("max_turns = 4", "max_turns = 1");
    assert_error(&turns, &["conversation.max_turns"]);
}

#[test]
fn the_documented_example_loads() {
    let source = include_str!("../src/spec.rs");
    let start = source.find("//! ```toml\n").expect("an example") + "//! ```toml\n".len();
    let end = start + source[start..].find("//! ```\n").expect("its end");
    let text: String = source[start..end]
        .lines()
        .map(|l| l.strip_prefix("//! ").or_else(|| l.strip_prefix("//!")).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let spec = ChatSpec::from_toml(&text, "doc.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(spec.agents[1].persona.len(), 2);
    assert_eq!(spec.conversation.stop_phrases, vec!["[END]".to_string()]);
}
