//! One conversation: the two agents take turns, each seeing the talk from its own side, until a
//! stop phrase or the turn limit; then filters and the judge decide whether it is kept.
//!
//! Each agent's request holds its own system prompt, its own turns as `assistant` and the other
//! agent's turns as `user`. The opener's requests start with a short `user` kick-off message
//! (`conversation.kickoff`), so that every request alternates user/assistant as chat templates
//! expect. Persona values and the scenario come from `stream_rng(seed, index)`; each request's
//! seed is derived from (seed, index, turn, attempt), so a dialogue depends only on the seed and
//! its index, never on scheduling.
//!
//! Filters (each a named reason; a filtered attempt is retried with a new attempt seed, up to
//! `judge.max_attempts`, then the dialogue is dropped):
//! - `too_few_turns`: fewer than `conversation.min_turns` turns;
//! - `empty_turn`, `short_turn`, `long_turn`: a turn with no text, fewer than `min_chars` or more
//!   than `max_chars` characters;
//! - `refusal`: a turn with a stock refusal ("I'm sorry, but I can't", "I cannot assist", ...);
//! - `ai_meta`: a turn talking about being an AI or a language model;
//! - `role_swap`: an agent gives the other agent's display name as its own ("I'm Dana", "my name
//!   is Dana"), writes a line for the other agent (`Dana:` at the start of a line), or speaks to
//!   itself by its own name as the other agent would ("Thanks, Alex" from Alex; `Alex, ...` at
//!   the start of a line; a sentence ending in ", Alex");
//! - `repetition`: a turn nearly equal to an earlier one (same normalised text, or a word
//!   Jaccard similarity above 0.8);
//! - `low_judge_score`: the judge (when enabled) scored the dialogue below `judge.min_score`
//!   (an unparsable verdict scores 0 and adds the reason `judge_unparsable`).
//!
//! The output record is the conversation from the assistant agent's side: its system prompt,
//! then its turns as `assistant` and the other agent's as `user`. When the assistant agent opens,
//! the first message after the system prompt is an `assistant` message, which the chat
//! fine-tuning format allows. A trailing `user` turn is left out of the record (it would teach
//! nothing), so records end with an `assistant` message.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rand::RngExt;

use crate::spec::{ChatSpec, JUDGE_ANSWERS, JudgeMethod};
use crate::template;
use crate::{
    ChatBackend, ChatRequest, ChatSession, DialogueMetadata, DialogueRecord, Error, Message, Result, Role,
    SamplingParams,
};

/// What became of one dialogue index.
#[derive(Debug, Clone)]
pub struct DialogueOutcome {
    /// The dialogue's index.
    pub index: u64,
    /// The record, or `None` when every attempt was filtered out.
    pub record: Option<DialogueRecord>,
    /// Why the last attempt was rejected (empty when kept).
    pub reasons: Vec<String>,
    /// Attempts made.
    pub attempts: u32,
    /// Requests sent to the backend (turns and judge calls, all attempts).
    pub requests: u64,
    /// Prompt tokens reported by the backend.
    pub prompt_tokens: u64,
    /// Completion tokens reported by the backend.
    pub completion_tokens: u64,
}

/// What one dialogue drew: personas (per agent, in spec order) and the scenario.
#[derive(Debug, Clone)]
pub struct Draw {
    /// Persona attributes of each agent.
    pub persona: Vec<BTreeMap<String, String>>,
    /// The scenario's index in the spec.
    pub scenario: usize,
}

/// Draws the personas and the scenario of dialogue `index`.
pub fn draw(spec: &ChatSpec, seed: u64, index: u64) -> Draw {
    let mut rng = doppel_core::rng::stream_rng(seed, index);
    let mut persona = Vec::with_capacity(spec.agents.len());
    for agent in &spec.agents {
        let mut values = BTreeMap::new();
        for (name, attribute) in &agent.persona {
            let weights: Vec<f64> = match &attribute.weights {
                Some(w) => w.clone(),
                None => vec![1.0; attribute.values.len()],
            };
            let chosen = weighted(&weights, rng.random::<f64>());
            values.insert(name.clone(), attribute.values[chosen].clone());
        }
        persona.push(values);
    }
    let weights: Vec<f64> = spec.scenarios.iter().map(|s| s.weight).collect();
    let scenario = weighted(&weights, rng.random::<f64>());
    Draw { persona, scenario }
}

fn weighted(weights: &[f64], u: f64) -> usize {
    let total: f64 = weights.iter().sum();
    let mut target = u * total;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.len().saturating_sub(1)
}

/// The seed of one request: a hash of (seed, index, turn, attempt).
pub fn request_seed(seed: u64, index: u64, turn: u64, attempt: u64) -> u64 {
    let mut h = splitmix(seed);
    for x in [index, turn, attempt] {
        h = splitmix(h ^ x.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
    h
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The turn number used for the judge's request seed.
const JUDGE_TURN: u64 = 1 << 32;

struct Tally {
    requests: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
}

impl Tally {
    fn add(&mut self, requests: u64, prompt_tokens: u64, completion_tokens: u64) {
        self.requests += requests;
        self.prompt_tokens += prompt_tokens;
        self.completion_tokens += completion_tokens;
    }

    fn call(&mut self, session: &mut dyn ChatSession, request: &ChatRequest) -> Result<String> {
        let response = session.complete(request)?;
        self.requests += 1;
        self.prompt_tokens += response.prompt_tokens.unwrap_or(0);
        self.completion_tokens += response.completion_tokens.unwrap_or(0);
        Ok(response.content)
    }
}

/// Generates dialogue `index` of a run with `seed`: up to `spec.max_attempts()` attempts, each
/// a full conversation checked by the filters and the judge. Backend errors end it with an error.
pub fn generate_dialogue(spec: &ChatSpec, backend: &dyn ChatBackend, seed: u64, index: u64) -> Result<DialogueOutcome> {
    let draw = draw(spec, seed, index);
    let scenario = &spec.scenarios[draw.scenario];
    let context = template::context(spec, &draw.persona, scenario, None);
    let systems: Vec<String> = spec
        .agents
        .iter()
        .enumerate()
        .map(|(i, agent)| template::render(&format!("agents[{i}].system"), &agent.system, &context))
        .collect::<Result<_>>()?;
    let opening = match &spec.conversation.opening {
        Some(source) => Some(template::render("conversation.opening", source, &context)?),
        None => None,
    };
    let mut tally = Tally { requests: 0, prompt_tokens: 0, completion_tokens: 0 };
    let mut reasons = Vec::new();
    let max_attempts = spec.max_attempts();
    for attempt in 0..max_attempts {
        let turns = converse(spec, backend, &systems, opening.as_deref(), seed, index, attempt, &mut tally)
            .map_err(|e| prefixed(e, &format!("dialogue {index}")))?;
        reasons = filter(spec, &turns);
        let mut verdict = None;
        if reasons.is_empty() && spec.judge.enabled {
            let judge_seed = request_seed(seed, index, JUDGE_TURN, u64::from(attempt));
            let judged = judge(spec, backend, &draw, &turns, judge_seed)
                .map_err(|e| prefixed(e, &format!("dialogue {index}, the judge")))?;
            tally.add(judged.requests, judged.prompt_tokens, judged.completion_tokens);
            if judged.unparsable {
                reasons.push("judge_unparsable".to_string());
            }
            if judged.score < spec.judge.min_score {
                reasons.push("low_judge_score".to_string());
            }
            verdict = Some(judged);
        }
        if reasons.is_empty() {
            let record = record(spec, &systems, &turns, &draw, seed, index, verdict.as_ref(), attempt + 1, backend);
            return Ok(DialogueOutcome {
                index,
                record: Some(record),
                reasons,
                attempts: attempt + 1,
                requests: tally.requests,
                prompt_tokens: tally.prompt_tokens,
                completion_tokens: tally.completion_tokens,
            });
        }
    }
    Ok(DialogueOutcome {
        index,
        record: None,
        reasons,
        attempts: max_attempts,
        requests: tally.requests,
        prompt_tokens: tally.prompt_tokens,
        completion_tokens: tally.completion_tokens,
    })
}

/// One attempt's conversation: `(speaker, text)` turns.
#[expect(clippy::too_many_arguments, reason = "the pieces of one dialogue, passed down once")]
fn converse(
    spec: &ChatSpec,
    backend: &dyn ChatBackend,
    systems: &[String],
    opening: Option<&str>,
    seed: u64,
    index: u64,
    attempt: u32,
    tally: &mut Tally,
) -> Result<Vec<(usize, String)>> {
    let c = &spec.conversation;
    let opener = spec.opener_index();
    let mut turns: Vec<(usize, String)> = Vec::new();
    // One session per agent: each sees the conversation from its own side, growing turn by turn.
    let mut sessions = [backend.session(), backend.session()];
    // A turn that is only a stop phrase below min_turns is asked again; this bounds the calls.
    let max_calls = 2 * c.max_turns as u64 + 2;
    let mut calls = 0u64;
    while turns.len() < c.max_turns && calls < max_calls {
        let speaker = if turns.len().is_multiple_of(2) { opener } else { 1 - opener };
        let raw = match (turns.is_empty(), opening) {
            (true, Some(opening)) => opening.to_string(),
            _ => {
                let mut messages = vec![Message::new(Role::System, systems[speaker].clone())];
                if speaker == opener {
                    messages.push(Message::new(Role::User, c.kickoff.clone()));
                }
                for (who, text) in &turns {
                    let role = if *who == speaker { Role::Assistant } else { Role::User };
                    messages.push(Message::new(role, text.clone()));
                }
                let request = ChatRequest {
                    messages,
                    sampling: spec.sampling.clone(),
                    seed: Some(request_seed(seed, index, calls, u64::from(attempt))),
                    stop: Vec::new(),
                };
                tally
                    .call(sessions[speaker].as_mut(), &request)
                    .map_err(|e| prefixed(e, &format!("turn {}", turns.len())))?
            }
        };
        calls += 1;
        let (text, stopped) = strip_stop_phrases(&raw, &c.stop_phrases);
        if !(stopped && text.is_empty()) {
            turns.push((speaker, text));
        }
        if stopped && turns.len() >= c.min_turns {
            break;
        }
    }
    Ok(turns)
}

/// Puts `prefix` in front of an error's message, keeping its kind. (Not [`Error::context`]:
/// that keeps the inner error as the source too, which `{:#}` would print twice.)
fn prefixed(error: Error, prefix: &str) -> Error {
    match error {
        Error::InvalidConfig(m) => Error::InvalidConfig(format!("{prefix}: {m}")),
        Error::InvalidData(m) => Error::InvalidData(format!("{prefix}: {m}")),
        Error::Format(m) => Error::Format(format!("{prefix}: {m}")),
        Error::Unsupported(m) => Error::Unsupported(format!("{prefix}: {m}")),
        other => Error::InvalidData(format!("{prefix}: {other}")),
    }
}

/// Removes every stop phrase from a turn; says whether there was one.
fn strip_stop_phrases(text: &str, phrases: &[String]) -> (String, bool) {
    let mut text = text.to_string();
    let mut stopped = false;
    for phrase in phrases {
        if text.contains(phrase.as_str()) {
            stopped = true;
            text = text.replace(phrase.as_str(), "");
        }
    }
    (text.trim().to_string(), stopped)
}

const REFUSALS: &[&str] = &[
    "i'm sorry, but i can't",
    "i am sorry, but i can't",
    "i'm sorry, but i cannot",
    "i am sorry, but i cannot",
    "i cannot assist",
    "i can't assist",
    "i cannot help with that",
    "i can't help with that",
    "i'm unable to help",
    "i am unable to help",
    "i must decline",
    "i won't be able to help",
];

const AI_META: &[&str] = &[
    "as an ai",
    "i'm an ai",
    "i am an ai",
    "an ai assistant",
    "language model",
    "as a chatbot",
    "i'm a chatbot",
    "i am a chatbot",
    "i don't have personal experiences",
    "i do not have personal experiences",
];

/// The reasons a conversation is rejected (empty when it passes).
pub fn filter(spec: &ChatSpec, turns: &[(usize, String)]) -> Vec<String> {
    let c = &spec.conversation;
    let mut reasons = BTreeSet::new();
    if turns.len() < c.min_turns {
        reasons.insert("too_few_turns");
    }
    let mut seen: Vec<(String, BTreeSet<String>)> = Vec::new();
    for (speaker, text) in turns {
        let chars = text.chars().count();
        if text.trim().is_empty() {
            reasons.insert("empty_turn");
        } else if chars < c.min_chars {
            reasons.insert("short_turn");
        }
        if chars > c.max_chars {
            reasons.insert("long_turn");
        }
        let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
        if REFUSALS.iter().any(|r| lower.contains(r)) {
            reasons.insert("refusal");
        }
        if AI_META.iter().any(|r| lower.contains(r)) {
            reasons.insert("ai_meta");
        }
        let own = &spec.agents[*speaker].display_name.to_lowercase();
        let other = &spec.agents[1 - speaker].display_name.to_lowercase();
        if role_swap(&lower, other) || addresses_itself(&lower, own) {
            reasons.insert("role_swap");
        }
        let normalised = normalise(text);
        let words: BTreeSet<String> = normalised.split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect();
        if !normalised.is_empty()
            && seen
                .iter()
                .any(|(earlier, earlier_words)| *earlier == normalised || jaccard(earlier_words, &words) > 0.8)
        {
            reasons.insert("repetition");
        }
        seen.push((normalised, words));
    }
    reasons.into_iter().map(str::to_string).collect()
}

/// Whether a (lower-cased) turn claims the other agent's name or speaks a line for it.
fn role_swap(lower: &str, other: &str) -> bool {
    if other.is_empty() {
        return false;
    }
    let claims = ["i'm ", "i am ", "my name is ", "this is "].iter().any(|prefix| {
        let needle = format!("{prefix}{other}");
        lower.match_indices(&needle).any(|(at, _)| {
            let before_ok = at == 0 || !lower[..at].chars().next_back().is_some_and(char::is_alphanumeric);
            let after = &lower[at + needle.len()..];
            before_ok && !after.chars().next().is_some_and(char::is_alphanumeric)
        })
    });
    let speaks_for = lower.lines().any(|line| line.trim_start().starts_with(&format!("{other}:")));
    claims || speaks_for
}

/// Words that open an address to someone by name ("thanks, Dana").
const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank you",
    "welcome",
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "nice to meet you",
    "great to meet you",
];

/// Whether a (lower-cased) turn speaks to its own speaker by name, as the other agent would:
/// `Dana, ...` at the start of a line, a greeting with the name (`hi Dana`, `thanks, Dana`), or
/// `, Dana` closing a sentence. A model that does this has taken the other agent's part.
fn addresses_itself(lower: &str, own: &str) -> bool {
    if own.is_empty() {
        return false;
    }
    let word_at = |at: usize, len: usize| {
        let before_ok = at == 0 || !lower[..at].chars().next_back().is_some_and(char::is_alphanumeric);
        let after_ok = !lower[at + len..].chars().next().is_some_and(char::is_alphanumeric);
        before_ok && after_ok
    };
    lower.match_indices(own).any(|(at, _)| {
        if !word_at(at, own.len()) {
            return false;
        }
        let before = lower[..at].trim_end_matches(' ');
        let after = &lower[at + own.len()..];
        let starts_line = before.is_empty() || before.ends_with('\n');
        let vocative_start = starts_line && after.starts_with(',');
        let greeted = GREETINGS.iter().any(|g| {
            let before = before.trim_end_matches(',').trim_end_matches(' ');
            before.ends_with(g) && word_at(before.len() - g.len(), g.len())
        });
        let closing = before.ends_with(',')
            && (after.is_empty() || after.starts_with(['.', '!', '?', ',']) || after.starts_with('\n'));
        vocative_start || greeted || closing
    })
}

/// Lower-case words of letters and digits, separated by single spaces.
fn normalise(text: &str) -> String {
    let cleaned: String =
        text.to_lowercase().chars().map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' }).collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let shared = a.intersection(b).count();
    shared as f64 / (a.len() + b.len() - shared) as f64
}

/// The dialogue as `Display name: text` lines, for the judge.
pub fn transcript(spec: &ChatSpec, turns: &[(usize, String)]) -> String {
    turns
        .iter()
        .map(|(speaker, text)| format!("{}: {}", spec.agents[*speaker].display_name, text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the judge made of one dialogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The score in [0, 1] (0 when unparsable).
    pub score: f64,
    /// With `method = "questions"`: each question's probability of `Yes`, by name.
    pub criteria: Option<BTreeMap<String, f64>>,
    /// The judge's answer could not be read (a score with no number; a question answered with
    /// neither `Yes` nor `No`, which then counts 0).
    pub unparsable: bool,
    /// Requests sent.
    pub requests: u64,
    /// Prompt tokens reported by the backend.
    pub prompt_tokens: u64,
    /// Completion tokens reported by the backend.
    pub completion_tokens: u64,
}

/// Judges one finished dialogue (`turns` as `(speaker, text)`; `draw` its personas and
/// scenario) as the spec's judge says, with `seed` for the backend's sampling.
///
/// With `method = "questions"` every question is asked in one session (a backend that keeps the
/// conversation read so far, such as the embedded model, reads the dialogue once), as one user
/// message: the dialogue as `Display name: text` lines, then the question, then "Answer with Yes
/// or No."; its score is the probability of `Yes` against `No` (see [`ChatBackend::choose`]),
/// and the dialogue's score their mean. With `method = "score"` the prompt is sent at
/// temperature 0 and the score read from the reply (see [`parse_score`]).
///
/// # Errors
///
/// A template fails to render, or the backend fails.
pub fn judge(
    spec: &ChatSpec,
    backend: &dyn ChatBackend,
    draw: &Draw,
    turns: &[(usize, String)],
    seed: u64,
) -> Result<Verdict> {
    let scenario = &spec.scenarios[draw.scenario];
    let transcript = transcript(spec, turns);
    let judged = template::context(spec, &draw.persona, scenario, Some(&transcript));
    let mut tally = Tally { requests: 0, prompt_tokens: 0, completion_tokens: 0 };
    let mut session = backend.session();
    match spec.judge_method() {
        JudgeMethod::Score => {
            let prompt = template::render("judge.prompt", spec.judge_prompt(), &judged)?;
            let request = ChatRequest {
                messages: vec![Message::new(Role::User, prompt)],
                sampling: SamplingParams { temperature: 0.0, top_p: 1.0, max_tokens: 200 },
                seed: Some(seed),
                stop: Vec::new(),
            };
            let parsed = parse_score(&tally.call(session.as_mut(), &request)?);
            Ok(Verdict {
                score: parsed.unwrap_or(0.0),
                criteria: None,
                unparsable: parsed.is_none(),
                requests: tally.requests,
                prompt_tokens: tally.prompt_tokens,
                completion_tokens: tally.completion_tokens,
            })
        }
        JudgeMethod::Questions => {
            let answers: Vec<String> = JUDGE_ANSWERS.iter().map(|a| a.to_string()).collect();
            let mut criteria = BTreeMap::new();
            let mut unparsable = false;
            for (name, question) in spec.judge_questions() {
                let question = template::render(&format!("judge.questions.{name}"), &question, &judged)?;
                let request = ChatRequest {
                    messages: vec![Message::new(Role::User, question_prompt(spec, &transcript, &question))],
                    sampling: SamplingParams { temperature: 0.0, top_p: 1.0, max_tokens: 1 },
                    seed: Some(seed),
                    stop: Vec::new(),
                };
                let choice = session.choose(&request, &answers)?;
                tally.add(1, choice.prompt_tokens.unwrap_or(0), choice.completion_tokens.unwrap_or(0));
                let yes = match choice.probabilities {
                    Some(p) => p[0],
                    None => {
                        unparsable = true;
                        0.0
                    }
                };
                criteria.insert(name, yes);
            }
            let score = criteria.values().sum::<f64>() / criteria.len().max(1) as f64;
            Ok(Verdict {
                score,
                criteria: Some(criteria),
                unparsable,
                requests: tally.requests,
                prompt_tokens: tally.prompt_tokens,
                completion_tokens: tally.completion_tokens,
            })
        }
    }
}

/// The draw and the `(speaker, text)` turns of a finished record, for judging it again: the
/// assistant agent speaks the `assistant` messages, the other agent the `user` ones; the persona
/// comes from `metadata.persona` (by agent name) and the scenario from `metadata.scenario`.
///
/// # Errors
///
/// The record's scenario is not one of the spec's, or it has no spoken turns.
pub fn replay(spec: &ChatSpec, record: &DialogueRecord) -> Result<(Draw, Vec<(usize, String)>)> {
    if record.metadata.scenario.is_empty() {
        return Err(Error::InvalidData(
            "it has no `metadata.scenario`; the judge needs records as `doppel chat` writes them, with their \
             metadata inline"
                .into(),
        ));
    }
    let scenario = spec.scenarios.iter().position(|s| s.name == record.metadata.scenario).ok_or_else(|| {
        let known: Vec<String> = spec.scenarios.iter().map(|s| format!("`{}`", s.name)).collect();
        Error::InvalidData(format!(
            "its scenario `{}` is not in the spec {} (the spec's scenarios are {})",
            record.metadata.scenario,
            spec.origin,
            known.join(", ")
        ))
    })?;
    let persona =
        spec.agents.iter().map(|a| record.metadata.persona.get(&a.name).cloned().unwrap_or_default()).collect();
    let assistant = spec.assistant_index();
    let turns: Vec<(usize, String)> = record
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| (if m.role == Role::Assistant { assistant } else { 1 - assistant }, m.content.clone()))
        .collect();
    if turns.is_empty() {
        return Err(Error::InvalidData("it has no user or assistant messages".into()));
    }
    Ok((Draw { persona, scenario }, turns))
}

/// Judges finished records again with `backend` (`doppel chat-judge`): each record's judge
/// score and per-question scores are replaced by the spec's judge's verdict; the rest is kept.
/// Up to `concurrency` records are judged at once; the result does not depend on it (each
/// record gets its own sessions, and its request seed comes from `seed` and its position).
/// `progress` is called with the number of records judged so far.
///
/// # Errors
///
/// A record does not fit the spec (see [`replay`]; the message names the record's line), a
/// template fails, or the backend fails.
pub fn judge_records(
    spec: &ChatSpec,
    backend: &dyn ChatBackend,
    records: Vec<DialogueRecord>,
    seed: u64,
    concurrency: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(Vec<DialogueRecord>, JudgeTotals)> {
    let jobs: Vec<(Draw, Vec<(usize, String)>)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| replay(spec, r).map_err(|e| prefixed(e, &format!("record {}", i + 1))))
        .collect::<Result<_>>()?;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let verdicts: Mutex<Vec<Option<Result<Verdict>>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..concurrency.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((draw, turns)) = jobs.get(i) else { break };
                    let verdict = judge(spec, backend, draw, turns, request_seed(seed, i as u64, JUDGE_TURN, 0))
                        .map_err(|e| prefixed(e, &format!("record {}", i + 1)));
                    if verdict.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    verdicts.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(verdict);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                }
            });
        }
    });
    let mut verdicts = verdicts.into_inner().unwrap_or_else(PoisonError::into_inner);
    if let Some(failed) = verdicts.iter_mut().find(|v| matches!(v, Some(Err(_))))
        && let Some(Err(error)) = failed.take()
    {
        return Err(error);
    }
    let mut totals = JudgeTotals::default();
    let mut judged = Vec::with_capacity(records.len());
    for (mut record, verdict) in records.into_iter().zip(verdicts) {
        let verdict = verdict.ok_or_else(|| Error::InvalidData("judging stopped after an error".into()))??;
        totals.requests += verdict.requests;
        totals.prompt_tokens += verdict.prompt_tokens;
        totals.completion_tokens += verdict.completion_tokens;
        totals.unparsable += usize::from(verdict.unparsable);
        record.metadata.judge_score = Some(verdict.score);
        record.metadata.judge_criteria = verdict.criteria;
        judged.push(record);
    }
    Ok((judged, totals))
}

/// What judging records again cost.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct JudgeTotals {
    /// Requests sent.
    pub requests: u64,
    /// Prompt tokens reported by the backend.
    pub prompt_tokens: u64,
    /// Completion tokens reported by the backend.
    pub completion_tokens: u64,
    /// Records whose verdict could not be read.
    pub unparsable: usize,
}

/// One judge question about a dialogue: the agents, the dialogue, the question, and how to
/// answer. The dialogue comes first so that the questions share their beginning.
pub fn question_prompt(spec: &ChatSpec, transcript: &str, question: &str) -> String {
    let [first, second] = [&spec.agents[0], &spec.agents[1]];
    format!(
        "Read this conversation between {} ({}) and {} ({}).\n\n{transcript}\n\nQuestion: {question}\n\
         Answer with {} or {}.",
        first.display_name, first.role, second.display_name, second.role, JUDGE_ANSWERS[0], JUDGE_ANSWERS[1]
    )
}

/// Reads the judge's verdict: JSON with a `score`, or the first number in the text. Scores on a
/// 0-10 or 0-100 scale are brought to [0, 1]; `None` when there is no number.
pub fn parse_score(text: &str) -> Option<f64> {
    let from_json = text.find('{').and_then(|start| {
        let end = text.rfind('}')?;
        let value: serde_json::Value = serde_json::from_str(text.get(start..=end)?).ok()?;
        value.get("score").and_then(|s| s.as_f64().or_else(|| s.as_str().and_then(|s| s.trim().parse().ok())))
    });
    let score = from_json.or_else(|| first_number(text))?;
    let score = if score <= 1.0 {
        score
    } else if score <= 10.0 {
        score / 10.0
    } else if score <= 100.0 {
        score / 100.0
    } else {
        return None;
    };
    (score >= 0.0).then_some(score)
}

fn first_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(u8::is_ascii_digit)?;
    let mut end = start;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
        end += 1;
    }
    text[start..end].trim_end_matches('.').parse().ok()
}

#[expect(clippy::too_many_arguments, reason = "the pieces of one dialogue, passed down once")]
fn record(
    spec: &ChatSpec,
    systems: &[String],
    turns: &[(usize, String)],
    draw: &Draw,
    seed: u64,
    index: u64,
    verdict: Option<&Verdict>,
    attempts: u32,
    backend: &dyn ChatBackend,
) -> DialogueRecord {
    let assistant = spec.assistant_index();
    let mut messages = vec![Message::new(Role::System, systems[assistant].clone())];
    for (speaker, text) in turns {
        let role = if *speaker == assistant { Role::Assistant } else { Role::User };
        messages.push(Message::new(role, text.clone()));
    }
    while messages.len() > 1 && messages.last().is_some_and(|m| m.role == Role::User) {
        messages.pop();
    }
    let persona =
        spec.agents.iter().zip(&draw.persona).map(|(agent, values)| (agent.name.clone(), values.clone())).collect();
    let metadata = DialogueMetadata {
        index,
        seed,
        scenario: spec.scenarios[draw.scenario].name.clone(),
        persona,
        backend: backend.info(),
        sampling: spec.sampling.clone(),
        turns: messages.len() - 1,
        judge_score: verdict.map(|v| v.score),
        judge_criteria: verdict.and_then(|v| v.criteria.clone()),
        attempts,
        spec_fingerprint: spec.fingerprint.clone(),
        provenance: "synthetic".to_string(),
    };
    DialogueRecord { messages, metadata }
}
