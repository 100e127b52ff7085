//! doppel's conversation engine: two agents with different roles (an HR coach and a job
//! candidate, a bank agent and a customer, ...) talk through a chat model, and the finished
//! dialogues become a fine-tuning dataset in the chat format, with their provenance.
//!
//! The pieces, one module each:
//! - [`spec`]: the TOML spec file (agents, personas, scenarios, turn rules, sampling, judge, output);
//! - [`template`]: prompt templates filled from the sampled persona and scenario;
//! - [`backend`]: the [`ChatBackend`] trait and its implementations (an OpenAI-compatible HTTP
//!   server; an embedded llama.cpp model behind the `embedded` cargo feature; a seeded mock for
//!   unit tests);
//! - [`dialogue`]: one conversation: the agents alternate, each seeing the talk from its side,
//!   until a stop condition; filters and the judge decide whether it is kept;
//! - [`output`]: JSON Lines records (chat fine-tuning format or ShareGPT) and resuming;
//! - [`run`]: many dialogues with a limit on how many are in flight, in a deterministic order;
//! - [`quality`]: near-duplicate removal and the diversity report.

pub mod backend;
pub mod dialogue;
pub mod output;
pub mod quality;
pub mod run;
pub mod spec;
pub mod template;

use std::collections::BTreeMap;

pub use doppel_core::{Error, Result};
use serde::{Deserialize, Serialize};

pub use backend::{ChatBackend, ChatSession};

/// Who speaks a message, in the chat format's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The system prompt.
    System,
    /// The other side of the conversation.
    User,
    /// The side being trained.
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// A message.
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message { role, content: content.into() }
    }
}

/// Sampling parameters of a completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingParams {
    /// Softmax temperature.
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Nucleus sampling mass.
    #[serde(default = "default_top_p")]
    pub top_p: f64,
    /// The most tokens one turn may have.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
}

fn default_temperature() -> f64 {
    0.8
}

fn default_top_p() -> f64 {
    0.95
}

fn default_max_tokens() -> u32 {
    200
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: default_temperature(), top_p: default_top_p(), max_tokens: default_max_tokens() }
    }
}

/// A request to a chat model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    /// The conversation so far, from the speaking agent's side (its system prompt first).
    pub messages: Vec<Message>,
    /// Sampling parameters.
    pub sampling: SamplingParams,
    /// A seed, for backends that honour one (the same seed and request give the same reply).
    pub seed: Option<u64>,
    /// Strings that end the reply.
    pub stop: Vec<String>,
}

/// A chat model's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The text.
    pub content: String,
    /// Tokens in the prompt, when the backend reports them.
    pub prompt_tokens: Option<u64>,
    /// Tokens generated, when the backend reports them.
    pub completion_tokens: Option<u64>,
    /// Why generation stopped (`stop`, `length`, ...), when reported.
    pub finish_reason: Option<String>,
}

/// What produced the dialogues, for the records and the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// `http`, `embedded` or `mock`.
    pub kind: String,
    /// The model's name.
    pub model: String,
    /// The server, for HTTP backends.
    pub base_url: Option<String>,
}

/// The metadata kept with every dialogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DialogueMetadata {
    /// The dialogue's index in the run (0-based); the same index and seed give the same dialogue.
    pub index: u64,
    /// The run's seed.
    pub seed: u64,
    /// The scenario's name.
    pub scenario: String,
    /// The sampled persona attributes, per agent.
    pub persona: BTreeMap<String, BTreeMap<String, String>>,
    /// Which backend and model.
    pub backend: BackendInfo,
    /// The sampling parameters.
    pub sampling: SamplingParams,
    /// Turns spoken (not counting the system prompt).
    pub turns: usize,
    /// The judge's score in [0, 1], when a judge ran.
    pub judge_score: Option<f64>,
    /// The judge's score of each question (`method = "questions"`), by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_criteria: Option<BTreeMap<String, f64>>,
    /// How many attempts the dialogue took (filters and a low judge score cause retries).
    pub attempts: u32,
    /// The SHA-256 of the spec file's text.
    pub spec_fingerprint: String,
    /// Where the record comes from: `synthetic`, or `real` for records mixed in by `doppel mix`.
    pub provenance: String,
}

/// One finished dialogue, as written to the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DialogueRecord {
    /// The conversation in the chat fine-tuning format, from the assistant agent's side.
    pub messages: Vec<Message>,
    /// Where it came from.
    pub metadata: DialogueMetadata,
}
