//! Chat backends: the [`ChatBackend`] trait, an OpenAI-compatible HTTP client, an embedded
//! llama.cpp model (feature `embedded`) and a seeded mock for unit tests.

use crate::{BackendInfo, ChatRequest, ChatResponse, Result};

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
}

/// One agent's side of one conversation (see [`ChatBackend::session`]). A session's replies must
/// depend only on its own requests, so that a run's output does not depend on what else is in
/// flight.
pub trait ChatSession {
    /// The next message of the conversation.
    fn complete(&mut self, request: &ChatRequest) -> Result<ChatResponse>;
}

/// The default session: every request goes to [`ChatBackend::complete`] on its own.
struct Stateless<'a, B: ?Sized>(&'a B);

impl<B: ChatBackend + ?Sized> ChatSession for Stateless<'_, B> {
    fn complete(&mut self, request: &ChatRequest) -> Result<ChatResponse> {
        self.0.complete(request)
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
}

mod http;

pub use http::{HttpBackend, HttpSettings};

#[cfg(feature = "embedded")]
mod embedded;

#[cfg(feature = "embedded")]
pub use embedded::{EmbeddedBackend, EmbeddedSettings};
