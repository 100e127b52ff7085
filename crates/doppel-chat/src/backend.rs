//! Chat backends: the [`ChatBackend`] trait, an OpenAI-compatible HTTP client, an embedded
//! llama.cpp model (feature `embedded`) and a seeded mock for unit tests.

use crate::{BackendInfo, ChatRequest, ChatResponse, Result};

/// A model's answer to a closed question: how likely each of the offered words is as the first
/// word of its reply (see [`ChatBackend::choose`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The probability of each option, in the order given, normalised to sum to 1 over the
    /// options; `None` when the reply began with none of them.
    pub probabilities: Option<Vec<f64>>,
    /// Tokens in the prompt, when the backend reports them.
    pub prompt_tokens: Option<u64>,
    /// Tokens generated, when the backend reports them.
    pub completion_tokens: Option<u64>,
}

/// The most tokens a reply may have when a backend without probabilities answers a closed
/// question: the option word, perhaps after a space or some punctuation.
const CHOICE_REPLY_TOKENS: u32 = 4;

/// A closed question asked by generating a short reply at temperature 0 and reading its first
/// word: the backends that cannot give probabilities answer with certainty for one option.
fn choose_by_reply(
    complete: impl FnOnce(&ChatRequest) -> Result<ChatResponse>,
    request: &ChatRequest,
    options: &[String],
) -> Result<Choice> {
    let mut short = request.clone();
    short.sampling.temperature = 0.0;
    short.sampling.top_p = 1.0;
    short.sampling.max_tokens = CHOICE_REPLY_TOKENS;
    let response = complete(&short)?;
    Ok(Choice {
        probabilities: certain_option(&response.content, options),
        prompt_tokens: response.prompt_tokens,
        completion_tokens: response.completion_tokens,
    })
}

/// Probability 1 for the option a reply starts with (see [`option_of`]), 0 for the others;
/// `None` when it starts with none.
fn certain_option(reply: &str, options: &[String]) -> Option<Vec<f64>> {
    option_of(reply, options).map(|chosen| (0..options.len()).map(|i| if i == chosen { 1.0 } else { 0.0 }).collect())
}

/// Which option a reply's first word is (case-insensitive, ignoring leading spaces and
/// punctuation such as `**` or quotes).
pub fn option_of(reply: &str, options: &[String]) -> Option<usize> {
    let first: String = reply
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    options.iter().position(|option| !first.is_empty() && option.to_lowercase() == first)
}

/// Normalises per-option probability masses to sum to 1; `None` when they are all 0 (the model
/// put no mass on any option).
pub(crate) fn normalised(masses: Vec<f64>) -> Option<Vec<f64>> {
    let total: f64 = masses.iter().sum();
    (total > 0.0 && total.is_finite()).then(|| masses.into_iter().map(|m| m / total).collect())
}

/// Something that completes a conversation: an OpenAI-compatible server, an embedded model, or
/// a mock. Implementations are shared by the dialogues in flight, so they must be `Sync`.
pub trait ChatBackend: Send + Sync {
    /// The next message of the conversation.
    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse>;
    /// What the backend is, for records and manifests.
    fn info(&self) -> BackendInfo;
    /// A session for one agent's side of one conversation: successive requests that extend one
    /// another. Backends that can keep work between them (the embedded model's cache of the
    /// conversation read so far) override this; by default each request stands alone.
    fn session(&self) -> Box<dyn ChatSession + '_> {
        Box::new(Stateless(self))
    }
    /// A closed question: the probability of each of `options` (single words such as `Yes` and
    /// `No`) being the first word of the reply to `request`, read from the model's next-token
    /// distribution where the backend can (the embedded model; servers that return
    /// `logprobs`). Otherwise the reply is generated at temperature 0 and the option it starts
    /// with gets probability 1.
    fn choose(&self, request: &ChatRequest, options: &[String]) -> Result<Choice> {
        choose_by_reply(|r| self.complete(r), request, options)
    }
}

/// One agent's side of one conversation (see [`ChatBackend::session`]). A session's replies must
/// depend only on its own requests, so that a run's output does not depend on what else is in
/// flight.
pub trait ChatSession {
    /// The next message of the conversation.
    fn complete(&mut self, request: &ChatRequest) -> Result<ChatResponse>;
    /// A closed question (see [`ChatBackend::choose`]) in this session.
    fn choose(&mut self, request: &ChatRequest, options: &[String]) -> Result<Choice> {
        choose_by_reply(|r| self.complete(r), request, options)
    }
}

/// The default session: every request goes to [`ChatBackend::complete`] on its own.
struct Stateless<'a, B: ?Sized>(&'a B);

impl<B: ChatBackend + ?Sized> ChatSession for Stateless<'_, B> {
    fn complete(&mut self, request: &ChatRequest) -> Result<ChatResponse> {
        self.0.complete(request)
    }

    fn choose(&mut self, request: &ChatRequest, options: &[String]) -> Result<Choice> {
        self.0.choose(request, options)
    }
}

/// A seeded stand-in for a chat model, for unit tests: its reply depends only on the request
/// (messages, seed) and is made of varied sentences, so that dialogues differ from each other.
#[derive(Debug, Clone, Default)]
pub struct MockBackend {
    /// Fixed replies to return in turn instead of generated ones (for scripted tests).
    pub script: Vec<String>,
}

const MOCK_OPENERS: &[&str] = &[
    "That is a fair point.",
    "Let me think about that.",
    "Good question.",
    "I see what you mean.",
    "Thanks for sharing that.",
    "Interesting.",
    "Right.",
    "I hear you.",
];
const MOCK_BODIES: &[&str] = &[
    "Could you tell me about a time you had to lead a team through a difficult change?",
    "In my last role I mediated a disagreement between two engineers about priorities.",
    "What would you do differently if you faced that situation again?",
    "I would set clearer expectations early and check in more often.",
    "How did you make sure everyone felt heard?",
    "I scheduled one-to-one conversations and summarised the options in writing.",
    "What feedback did you receive from your manager afterwards?",
    "She said I should delegate more and trust the team.",
    "How do you handle a colleague who keeps missing deadlines?",
    "I start with a private conversation to understand what is blocking them.",
];

fn mix(mut h: u64, x: u64) -> u64 {
    h ^= x.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_add(h << 6).wrapping_add(h >> 2);
    h
}

impl ChatBackend for MockBackend {
    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let turn = request.messages.iter().filter(|m| m.role != crate::Role::System).count();
        if !self.script.is_empty() {
            let content = self.script[turn % self.script.len()].clone();
            return Ok(ChatResponse { content, prompt_tokens: None, completion_tokens: None, finish_reason: None });
        }
        let mut h = request.seed.unwrap_or(0);
        for message in &request.messages {
            for byte in message.content.bytes() {
                h = mix(h, u64::from(byte));
            }
        }
        let opener = MOCK_OPENERS[(h % MOCK_OPENERS.len() as u64) as usize];
        let body = MOCK_BODIES[((h >> 17) % MOCK_BODIES.len() as u64) as usize];
        let content = format!("{opener} {body}");
        let completion_tokens = Some(content.split_whitespace().count() as u64);
        Ok(ChatResponse { content, prompt_tokens: None, completion_tokens, finish_reason: Some("stop".into()) })
    }

    fn info(&self) -> BackendInfo {
        BackendInfo { kind: "mock".into(), model: "mock".into(), base_url: None }
    }

    /// Seeded probabilities that depend only on the request: the first option's probability is
    /// spread over [0.05, 0.95], the rest share what is left.
    fn choose(&self, request: &ChatRequest, options: &[String]) -> Result<Choice> {
        let mut h = 0x5eed_u64;
        for message in &request.messages {
            for byte in message.content.bytes() {
                h = mix(h, u64::from(byte));
            }
        }
        let first = 0.05 + 0.9 * ((h >> 11) % 1000) as f64 / 999.0;
        let rest = if options.len() > 1 { (1.0 - first) / (options.len() - 1) as f64 } else { 0.0 };
        let masses = (0..options.len()).map(|i| if i == 0 { first } else { rest }).collect();
        Ok(Choice { probabilities: normalised(masses), prompt_tokens: None, completion_tokens: Some(1) })
    }
}

mod http;

pub use http::{HttpBackend, HttpSettings};

#[cfg(feature = "embedded")]
mod embedded;

#[cfg(feature = "embedded")]
pub use embedded::{EmbeddedBackend, EmbeddedSettings};
