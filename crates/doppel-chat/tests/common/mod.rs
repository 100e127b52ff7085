//! Shared helpers of the doppel-chat tests.

#![allow(dead_code)]

use doppel_chat::spec::ChatSpec;

/// A small valid spec; `extra` is appended (more tables).
pub const SPEC: &str = r#"
name = "test-coaching"
description = "a coach and a candidate"

[[agents]]
name = "coach"
display_name = "Dana"
role = "an HR coach"
assistant = true
system = "You are {{ coach.display_name }}, {{ coach.role }}, coaching a {{ candidate.persona.seniority }} person. Topic: {{ scenario.description }}"

[[agents]]
name = "candidate"
display_name = "Alex"
role = "a candidate"
system = "You are {{ candidate.display_name }}, {{ candidate.persona.seniority }}, from {{ candidate.persona.industry }}."

[agents.persona]
seniority = { values = ["junior", "senior"], weights = [1, 3] }
industry = { values = ["retail", "software", "health"] }

[[scenarios]]
name = "leadership"
weight = 2.0
description = "leading a team"

[[scenarios]]
name = "conflict"
description = "a conflict at work"

[conversation]
opener = "candidate"
min_turns = 2
max_turns = 4
"#;

/// The test spec, parsed.
pub fn spec() -> ChatSpec {
    ChatSpec::from_toml(SPEC, "test.toml").expect("the test spec is valid")
}

/// The test spec with `extra` appended, parsed.
pub fn spec_with(extra: &str) -> ChatSpec {
    ChatSpec::from_toml(&format!("{SPEC}\n{extra}"), "test.toml").expect("the test spec is valid")
}
