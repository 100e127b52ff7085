//! The conversation spec: a TOML file naming two agents, their personas, the scenarios they
//! play through, the turn rules, sampling, the judge and the output format.
//!
//! A full example (every table but `[[agents]]`, `[[scenarios]]` and `[conversation]` is
//! optional; unknown fields are errors):
//!
//! ```toml
//! name = "hr-coaching"
//! description = "An HR coach helps job candidates prepare for interviews"
//!
//! [[agents]]
//! name = "coach"                  # an identifier: templates use {{ coach.display_name }}
//! display_name = "Dana"           # default: the name
//! role = "an experienced HR coach"
//! assistant = true                # exactly one agent is the assistant of the output records
//! system = """You are {{ coach.display_name }}, {{ coach.role }}. You are coaching a \
//! {{ candidate.persona.seniority }} professional from {{ candidate.persona.industry }}.
//! Topic: {{ scenario.description }}"""
//!
//! [[agents]]
//! name = "candidate"
//! display_name = "Alex"
//! role = "a job candidate"
//! system = "You are {{ candidate.display_name }}, {{ candidate.role }} ..."
//!
//! [agents.persona]                # the persona of the agent just above (the candidate)
//! seniority = { values = ["junior", "mid-level", "senior"], weights = [1, 2, 1] }
//! industry = { values = ["retail", "software", "healthcare"] }     # no weights: uniform
//!
//! [[scenarios]]
//! name = "leadership"
//! weight = 2.0                    # default 1
//! description = "preparing for questions about leading a team"
//!
//! [conversation]
//! opener = "candidate"            # who speaks first
//! opening = "Hi {{ coach.display_name }}, thanks for making time."   # optional fixed first turn
//! kickoff = "(The conversation begins now. Say your first line.)"    # the opener's first `user` message
//! min_turns = 4                   # default 2
//! max_turns = 10                  # default 10
//! stop_phrases = ["[END]"]        # a turn containing one ends the dialogue (the phrase is cut)
//! min_chars = 2                   # shorter turns drop the dialogue (default 2)
//! max_chars = 4000                # longer turns drop the dialogue (default 4000)
//!
//! [sampling]                      # see SamplingParams
//! temperature = 0.8
//! top_p = 0.95
//! max_tokens = 200
//!
//! [judge]
//! enabled = false
//! method = "questions"            # yes/no questions (default), or "score": one prompt, a number back
//! min_score = 0.6                 # dialogues scored lower are retried
//! max_attempts = 3                # attempts per dialogue (filters also retry), default 3
//! # method = "questions": the score is the mean probability of "Yes" over the questions
//! # (default: on topic, each agent in role, no AI talk, coherent)
//! questions = { on_topic = "Is the conversation about {{ scenario.description }}?" }
//! # method = "score": prompt = "Rate this coaching dialogue ... {{ transcript }}"
//!
//! [output]
//! format = "openai"               # or "sharegpt"
//! metadata = "inline"             # or "sidecar": metadata goes to <output>.meta.jsonl
//! ```
//!
//! Templates are [minijinja](https://docs.rs/minijinja) with strict undefined variables. They
//! see every agent by its name (`name`, `display_name`, `role`, `persona.<attribute>`), the
//! `scenario` (`name`, `description`), and the `spec` (`name`, `description`); the judge's
//! prompt also sees `transcript` (the dialogue as `Display name: text` lines). Every template is
//! rendered once at load time with a sample persona and scenario, so a misspelt variable is an
//! error before any model is called.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result, SamplingParams};

/// Names that agents may not take, because templates use them for something else.
const RESERVED: &[&str] = &["scenario", "spec", "transcript", "agents", "loop", "self", "true", "false", "none"];

/// The default judge prompt.
pub const DEFAULT_JUDGE_PROMPT: &str = "You are grading a synthetic dialogue for a fine-tuning dataset. \
The scenario: {{ scenario.description }}\n\nThe dialogue:\n{{ transcript }}\n\n\
Score from 0 to 1 how natural, coherent, on-topic and useful it is. \
Reply with JSON only: {\"score\": <number from 0 to 1>, \"reason\": \"<one sentence>\"}";

/// A parsed and validated conversation spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSpec {
    /// The spec's name.
    pub name: String,
    /// What it generates.
    #[serde(default)]
    pub description: String,
    /// The two agents.
    #[serde(default)]
    pub agents: Vec<AgentSpec>,
    /// The scenarios, drawn by weight for each dialogue.
    #[serde(default)]
    pub scenarios: Vec<ScenarioSpec>,
    /// Turn rules.
    pub conversation: ConversationSpec,
    /// Sampling parameters of every turn.
    #[serde(default)]
    pub sampling: SamplingParams,
    /// The judge.
    #[serde(default)]
    pub judge: JudgeSpec,
    /// The output format.
    #[serde(default)]
    pub output: OutputSpec,
    /// Where the spec was read from (a file name), for messages.
    #[serde(skip)]
    pub origin: String,
    /// `sha256:<hex>` of the spec's text.
    #[serde(skip)]
    pub fingerprint: String,
}

/// One agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// An identifier (letters, digits, `_`), the agent's name in templates.
    pub name: String,
    /// The name it goes by in the conversation (default: `name`).
    #[serde(default)]
    pub display_name: String,
    /// A short description of its role.
    #[serde(default)]
    pub role: String,
    /// Whether this agent is the assistant of the output records (exactly one is).
    #[serde(default)]
    pub assistant: bool,
    /// Its system prompt (a template).
    pub system: String,
    /// Persona attributes, one value of each drawn per dialogue.
    #[serde(default)]
    pub persona: BTreeMap<String, Attribute>,
}

/// A persona attribute: values and optional weights (uniform when absent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// The values.
    pub values: Vec<String>,
    /// Positive weights, one per value.
    #[serde(default)]
    pub weights: Option<Vec<f64>>,
}

/// A scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Its name (recorded in each dialogue's metadata).
    pub name: String,
    /// Its weight in the draw (default 1).
    #[serde(default = "one")]
    pub weight: f64,
    /// What happens in it, for the templates.
    #[serde(default)]
    pub description: String,
}

fn one() -> f64 {
    1.0
}

/// Turn rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationSpec {
    /// The agent who speaks first.
    pub opener: String,
    /// A fixed first turn of the opener (a template) instead of a generated one.
    #[serde(default)]
    pub opening: Option<String>,
    /// The `user` message that starts the opener's requests (so that they alternate
    /// user/assistant as chat templates expect); it is not part of the records.
    #[serde(default = "default_kickoff")]
    pub kickoff: String,
    /// Dialogues with fewer turns are dropped; stop phrases count only from here on.
    #[serde(default = "default_min_turns")]
    pub min_turns: usize,
    /// Dialogues end after this many turns.
    #[serde(default = "default_max_turns")]
    pub max_turns: usize,
    /// A turn containing one of these ends the dialogue (the phrase is removed from the turn).
    #[serde(default)]
    pub stop_phrases: Vec<String>,
    /// Turns shorter than this many characters drop the dialogue.
    #[serde(default = "default_min_chars")]
    pub min_chars: usize,
    /// Turns longer than this many characters drop the dialogue.
    #[serde(default = "default_max_chars")]
    pub max_chars: usize,
}

fn default_kickoff() -> String {
    "(The conversation begins now. Say your first line.)".to_string()
}
fn default_min_turns() -> usize {
    2
}
fn default_max_turns() -> usize {
    10
}
fn default_min_chars() -> usize {
    2
}
fn default_max_chars() -> usize {
    4000
}

/// The judge: a model that scores each finished dialogue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeSpec {
    /// Whether dialogues are judged.
    #[serde(default)]
    pub enabled: bool,
    /// How the judge scores: `questions` (default unless `prompt` is given) or `score`.
    #[serde(default)]
    pub method: Option<JudgeMethod>,
    /// Dialogues scored below this are retried (then dropped).
    #[serde(default = "default_min_score")]
    pub min_score: f64,
    /// Attempts per dialogue; a filtered or low-scored attempt is retried with a new seed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// With `method = "score"`: the judge's prompt (a template that also sees `transcript`).
    #[serde(default)]
    pub prompt: Option<String>,
    /// With `method = "questions"`: yes/no questions by name (templates); the default asks
    /// whether the dialogue is on topic, whether each agent keeps its role, whether both talk
    /// as people (no AI talk) and whether the turns follow on from each other.
    #[serde(default)]
    pub questions: Option<BTreeMap<String, String>>,
}

/// How the judge scores a dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JudgeMethod {
    /// Yes/no questions, each scored by the probability the model gives `Yes` as its answer's
    /// first word (read from its next-token distribution); the score is their mean.
    Questions,
    /// One prompt whose reply holds a score (JSON `{"score": ...}` or a number).
    Score,
}

fn default_min_score() -> f64 {
    0.6
}
fn default_max_attempts() -> u32 {
    3
}

impl Default for JudgeSpec {
    fn default() -> Self {
        JudgeSpec {
            enabled: false,
            method: None,
            min_score: default_min_score(),
            max_attempts: default_max_attempts(),
            prompt: None,
            questions: None,
        }
    }
}

/// The words a judge question's answer is read from: the first means the criterion is met.
pub const JUDGE_ANSWERS: [&str; 2] = ["Yes", "No"];

/// The record format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// `{"messages": [{"role": ..., "content": ...}], ...}`
    #[default]
    Openai,
    /// `{"conversations": [{"from": "system" | "human" | "gpt", "value": ...}], ...}`
    Sharegpt,
}

/// Where metadata goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetadataMode {
    /// In each record, under `metadata`.
    #[default]
    Inline,
    /// In `<output>.meta.jsonl`, one line per record, in the same order.
    Sidecar,
}

/// The output settings.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The record format.
    #[serde(default)]
    pub format: OutputFormat,
    /// Where metadata goes.
    #[serde(default)]
    pub metadata: MetadataMode,
}

impl ChatSpec {
    /// Reads a spec from a file.
    pub fn read(path: &std::path::Path) -> Result<ChatSpec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        ChatSpec::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates a spec; `origin` (a file name) starts every error message.
    pub fn from_toml(text: &str, origin: &str) -> Result<ChatSpec> {
        let mut spec: ChatSpec = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
        spec.origin = origin.to_string();
        spec.fingerprint = fingerprint(text.as_bytes());
        for agent in &mut spec.agents {
            if agent.display_name.is_empty() {
                agent.display_name = agent.name.clone();
            }
        }
        spec.validate().map_err(|message| Error::InvalidConfig(format!("{origin}: {message}")))?;
        Ok(spec)
    }

    /// The index of the assistant agent.
    pub fn assistant_index(&self) -> usize {
        self.agents.iter().position(|a| a.assistant).unwrap_or(0)
    }

    /// The index of the agent who speaks first.
    pub fn opener_index(&self) -> usize {
        self.agents.iter().position(|a| a.name == self.conversation.opener).unwrap_or(0)
    }

    /// Attempts per dialogue.
    pub fn max_attempts(&self) -> u32 {
        self.judge.max_attempts.max(1)
    }

    /// The judge's prompt template (`method = "score"`).
    pub fn judge_prompt(&self) -> &str {
        self.judge.prompt.as_deref().unwrap_or(DEFAULT_JUDGE_PROMPT)
    }

    /// How the judge scores: as set, else `score` when a prompt is given, else `questions`.
    pub fn judge_method(&self) -> JudgeMethod {
        match (self.judge.method, &self.judge.prompt) {
            (Some(method), _) => method,
            (None, Some(_)) => JudgeMethod::Score,
            (None, None) => JudgeMethod::Questions,
        }
    }

    /// The judge's questions by name (templates; `method = "questions"`): as given, else the
    /// default ones for this spec's agents.
    pub fn judge_questions(&self) -> BTreeMap<String, String> {
        if let Some(questions) = &self.judge.questions {
            return questions.clone();
        }
        let mut questions = BTreeMap::new();
        questions.insert(
            "on_topic".to_string(),
            "Is the conversation about this topic: {{ scenario.description }}?".to_string(),
        );
        for agent in &self.agents {
            let n = &agent.name;
            questions.insert(
                format!("in_role_{n}"),
                format!(
                    "Does {{{{ {n}.display_name }}}} speak only as {{{{ {n}.role }}}} all through the \
                     conversation, never taking the other speaker's part?"
                ),
            );
        }
        questions.insert(
            "no_ai_talk".to_string(),
            "Do both speakers talk as people all through, never mentioning AI, language models or chatbots?"
                .to_string(),
        );
        questions
            .insert("coherent".to_string(), "Does each turn answer or follow on from the turn before it?".to_string());
        questions
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name: must not be empty".into());
        }
        if self.agents.len() != 2 {
            return Err(format!("agents: a dialogue needs exactly two [[agents]], found {}", self.agents.len()));
        }
        let mut names = BTreeSet::new();
        for (i, agent) in self.agents.iter().enumerate() {
            let place = format!("agents[{i}]");
            let valid = agent.name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && agent.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "{place}.name: `{}` is not an identifier (letters, digits and `_`, not starting with a digit)",
                    agent.name
                ));
            }
            if RESERVED.contains(&agent.name.as_str()) {
                return Err(format!("{place}.name: `{}` is reserved for templates; choose another name", agent.name));
            }
            if !names.insert(agent.name.as_str()) {
                return Err(format!("{place}.name: two agents are named `{}`", agent.name));
            }
            if agent.system.trim().is_empty() {
                return Err(format!("{place}.system: must not be empty"));
            }
            for (attribute, spec) in &agent.persona {
                let place = format!("{place}.persona.{attribute}");
                if spec.values.is_empty() {
                    return Err(format!("{place}.values: must list at least one value"));
                }
                if let Some(weights) = &spec.weights {
                    if weights.len() != spec.values.len() {
                        return Err(format!(
                            "{place}.weights: {} weights for {} values; give one weight per value",
                            weights.len(),
                            spec.values.len()
                        ));
                    }
                    if let Some(bad) = weights.iter().find(|w| !(w.is_finite() && **w > 0.0)) {
                        return Err(format!("{place}.weights: weights must be positive numbers, found {bad}"));
                    }
                }
            }
        }
        let assistants = self.agents.iter().filter(|a| a.assistant).count();
        if assistants != 1 {
            return Err(format!(
                "agents: exactly one agent must have `assistant = true` (the side the records train), found {assistants}"
            ));
        }
        if self.scenarios.is_empty() {
            return Err("scenarios: at least one [[scenarios]] entry is needed".into());
        }
        let mut scenario_names = BTreeSet::new();
        for (i, scenario) in self.scenarios.iter().enumerate() {
            if scenario.name.trim().is_empty() {
                return Err(format!("scenarios[{i}].name: must not be empty"));
            }
            if !scenario_names.insert(scenario.name.as_str()) {
                return Err(format!("scenarios[{i}].name: two scenarios are named `{}`", scenario.name));
            }
            if !(scenario.weight.is_finite() && scenario.weight > 0.0) {
                return Err(format!(
                    "scenarios[{i}].weight: weights must be positive numbers, found {}",
                    scenario.weight
                ));
            }
        }
        let c = &self.conversation;
        if !self.agents.iter().any(|a| a.name == c.opener) {
            let known: Vec<String> = self.agents.iter().map(|a| format!("`{}`", a.name)).collect();
            return Err(format!(
                "conversation.opener: no agent is named `{}`; the agents are {}",
                c.opener,
                known.join(", ")
            ));
        }
        if c.min_turns == 0 {
            return Err("conversation.min_turns: expected at least 1".into());
        }
        if c.max_turns < c.min_turns {
            return Err(format!("conversation.max_turns: {} is less than min_turns ({})", c.max_turns, c.min_turns));
        }
        if c.max_turns > 1000 {
            return Err(format!("conversation.max_turns: {} is more than 1000", c.max_turns));
        }
        if c.stop_phrases.iter().any(|p| p.trim().is_empty()) {
            return Err("conversation.stop_phrases: phrases must not be empty".into());
        }
        if c.max_chars < c.min_chars {
            return Err(format!("conversation.max_chars: {} is less than min_chars ({})", c.max_chars, c.min_chars));
        }
        let s = &self.sampling;
        if !(s.temperature.is_finite() && s.temperature >= 0.0) {
            return Err(format!("sampling.temperature: expected a number >= 0, found {}", s.temperature));
        }
        if !(s.top_p > 0.0 && s.top_p <= 1.0) {
            return Err(format!("sampling.top_p: expected a number in (0, 1], found {}", s.top_p));
        }
        if s.max_tokens == 0 {
            return Err("sampling.max_tokens: expected at least 1".into());
        }
        let j = &self.judge;
        if !(0.0..=1.0).contains(&j.min_score) {
            return Err(format!("judge.min_score: expected a number in [0, 1], found {}", j.min_score));
        }
        if j.max_attempts == 0 {
            return Err("judge.max_attempts: expected at least 1".into());
        }
        match self.judge_method() {
            JudgeMethod::Questions if j.prompt.is_some() => {
                return Err("judge.prompt: a prompt is for `method = \"score\"`; with `method = \"questions\"` \
                            give `questions` instead"
                    .into());
            }
            JudgeMethod::Score if j.questions.is_some() => {
                return Err("judge.questions: questions are for `method = \"questions\"`, not `score`".into());
            }
            _ => {}
        }
        if let Some(questions) = &j.questions {
            if questions.is_empty() {
                return Err(
                    "judge.questions: give at least one question, or leave the table out for the default ones".into()
                );
            }
            if let Some((name, _)) = questions.iter().find(|(_, q)| q.trim().is_empty()) {
                return Err(format!("judge.questions.{name}: must not be empty"));
            }
        }
        self.check_templates().map_err(|e| e.to_string())
    }

    /// Renders every template with a sample persona (each attribute's first value) and each
    /// scenario, so that a variable with no value is an error at load time.
    fn check_templates(&self) -> Result<()> {
        let persona: Vec<BTreeMap<String, String>> = self
            .agents
            .iter()
            .map(|a| a.persona.iter().map(|(k, v)| (k.clone(), v.values[0].clone())).collect())
            .collect();
        for scenario in &self.scenarios {
            let context = crate::template::context(self, &persona, scenario, None);
            for (i, agent) in self.agents.iter().enumerate() {
                crate::template::render(&format!("agents[{i}].system"), &agent.system, &context)?;
            }
            if let Some(opening) = &self.conversation.opening {
                crate::template::render("conversation.opening", opening, &context)?;
            }
            let judged = crate::template::context(self, &persona, scenario, Some("Dana: Hello.\nAlex: Hi."));
            match self.judge_method() {
                JudgeMethod::Score => {
                    crate::template::render("judge.prompt", self.judge_prompt(), &judged)?;
                }
                JudgeMethod::Questions => {
                    for (name, question) in self.judge_questions() {
                        crate::template::render(&format!("judge.questions.{name}"), &question, &judged)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// `sha256:<hex>` of some bytes.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A TOML error as `origin: line L (in [section]): message`.
fn toml_error(text: &str, origin: &str, error: &toml::de::Error) -> Error {
    let message = error.message().trim().to_string();
    let Some(span) = error.span() else {
        return Error::InvalidConfig(format!("{origin}: {message}"));
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let section = section_at(before);
    let place = match section {
        Some(section) => format!("line {line} (in [{section}])"),
        None => format!("line {line}"),
    };
    Error::InvalidConfig(format!("{origin}: {place}: {message}"))
}

/// The table a position of a TOML text is in, with array-of-table indices (`agents[1].persona`).
fn section_at(before: &str) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut current = None;
    for line in before.lines() {
        let line = line.trim();
        let (header, array) = if let Some(rest) = line.strip_prefix("[[") {
            (rest.split("]]").next().unwrap_or("").trim(), true)
        } else if let Some(rest) = line.strip_prefix('[') {
            (rest.split(']').next().unwrap_or("").trim(), false)
        } else {
            continue;
        };
        if array {
            *counts.entry(header.to_string()).or_default() += 1;
        }
        let mut path = String::new();
        let mut prefix = String::new();
        for part in header.split('.') {
            let part = part.trim();
            if !prefix.is_empty() {
                prefix.push('.');
                path.push('.');
            }
            prefix.push_str(part);
            path.push_str(part);
            if let Some(count) = counts.get(&prefix) {
                path.push_str(&format!("[{}]", count.saturating_sub(1)));
            }
        }
        current = Some(path);
    }
    current
}
