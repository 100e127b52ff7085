//! [`EmbeddedBackend`]: a GGUF chat model run in-process through llama.cpp (the `llama-cpp-2`
//! crate, llama.cpp vendored and built with cmake), so that `doppel chat` works without a server.
//!
//! The default model is SmolLM2-135M-Instruct (Q4_1, 98 MB; `scripts/fetch-model.sh` downloads
//! it): small and fast on one CPU core, fluent, but weak at staying in role. It is meant for
//! smoke tests and demos; datasets worth fine-tuning on need a bigger model behind an
//! OpenAI-compatible server ([`super::HttpBackend`]).
//!
//! A lone request ([`ChatBackend::complete`]) gets a fresh llama.cpp context sized to its prompt
//! and `max_tokens`, so it is independent of every other request. A dialogue uses one session per
//! agent ([`ChatBackend::session`]): a full-size context that keeps the conversation's tokens, so
//! each turn reads only the new messages instead of the whole conversation again. The model's
//! weights are shared read-only between the dialogues in flight, which decode in parallel, each on
//! `threads` threads.

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use llama_cpp_2::LlamaCppError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::{ChatBackend, ChatSession, Choice, normalised};
use crate::{BackendInfo, ChatRequest, ChatResponse, Error, Result, Role};

/// The repetition penalty's window: the last this many generated tokens.
const PENALTY_LAST_N: i32 = 64;
/// The repetition penalty (1 = none).
const PENALTY_REPEAT: f32 = 1.1;
/// The most prompt tokens evaluated in one llama.cpp batch.
const PROMPT_BATCH: u32 = 512;

/// How to run the embedded model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedSettings {
    /// CPU threads per request (llama.cpp's `n_threads` and `n_threads_batch`). Dialogues in
    /// flight run in parallel, so up to `threads` × concurrency threads run at once; llama.cpp's
    /// threads busy-wait, so keep that product at or below the number of free cores.
    pub threads: usize,
    /// The most tokens one request may hold, prompt and reply together (capped by the context
    /// the model was trained with).
    pub context: u32,
}

impl Default for EmbeddedSettings {
    /// One thread and a 4096-token context.
    fn default() -> Self {
        EmbeddedSettings { threads: 1, context: 4096 }
    }
}

/// A [`ChatBackend`] running a GGUF chat model in-process with llama.cpp.
///
/// The prompt is the conversation rendered with the chat template stored in the GGUF file
/// (ChatML when it has none). Sampling is a repetition penalty (1.1 over the last 64 tokens),
/// then nucleus sampling (`top_p`), the temperature and a draw seeded from the request's seed
/// (0 when it has none): the same request and seed give the same reply. Generation stops at the
/// model's end-of-turn token (`finish_reason` `stop`), at one of the request's stop strings (cut
/// off, `stop`), or after `max_tokens` tokens or when the context is full (`length`).
///
/// `LlamaModel` is `Sync` and requests share it without a lock; only the creation of a context
/// (which llama.cpp does not make thread-safe) is serialised.
pub struct EmbeddedBackend {
    model: LlamaModel,
    template: LlamaChatTemplate,
    settings: EmbeddedSettings,
    /// The most tokens a context may hold: the setting, capped by the model's training context.
    context: u32,
    path: PathBuf,
    name: String,
    /// Held while a context is created: llama.cpp may write to the model then.
    creating_context: Mutex<()>,
}

impl fmt::Debug for EmbeddedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedBackend")
            .field("path", &self.path)
            .field("settings", &self.settings)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// llama.cpp's process-wide initialisation: `LlamaBackend::init` succeeds once per process, so
/// every [`EmbeddedBackend`] (and every test thread) shares the one made here. Its logs are
/// silenced.
fn llama_backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    let backend = BACKEND.get_or_init(|| match LlamaBackend::init() {
        Ok(mut backend) => {
            backend.void_logs();
            Ok(backend)
        }
        Err(LlamaCppError::BackendAlreadyInitialized) => {
            Err("llama.cpp was already initialised by other code in this process".into())
        }
        Err(error) => Err(format!("cannot initialise llama.cpp: {error}")),
    });
    backend.as_ref().map_err(|message| Error::Unsupported(message.clone()))
}

fn failed(what: &str, error: impl fmt::Display) -> Error {
    Error::InvalidData(format!("the embedded chat model failed {what}: {error}"))
}

impl EmbeddedBackend {
    /// Loads the GGUF model at `path`.
    ///
    /// # Errors
    ///
    /// The file is missing (the message says how to fetch the default model), is not a model
    /// llama.cpp can load, or the settings are out of range.
    pub fn load(path: &Path, settings: EmbeddedSettings) -> Result<EmbeddedBackend> {
        if settings.threads == 0 {
            return Err(Error::InvalidConfig("the embedded model needs at least 1 thread".into()));
        }
        if settings.context < 64 {
            return Err(Error::InvalidConfig(format!(
                "the embedded model's context of {} tokens is too small (at least 64)",
                settings.context
            )));
        }
        if !path.is_file() {
            return Err(Error::InvalidConfig(format!(
                "the embedded chat model {} does not exist; download it with `scripts/fetch-model.sh` \
                 (SmolLM2-135M-Instruct, 98 MB) or give the path of another GGUF chat model",
                path.display()
            )));
        }
        let backend = llama_backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()).map_err(|error| {
            Error::Format(format!("cannot load {} as a GGUF model with llama.cpp: {error}", path.display()))
        })?;
        let template = match model.chat_template(None) {
            Ok(template) => template,
            Err(_) => LlamaChatTemplate::new("chatml").map_err(|error| failed("to set up ChatML", error))?,
        };
        let trained = model.n_ctx_train();
        let context = if trained > 0 { settings.context.min(trained) } else { settings.context };
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(EmbeddedBackend {
            model,
            template,
            settings,
            context,
            path: path.to_path_buf(),
            name,
            creating_context: Mutex::new(()),
        })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings it was loaded with.
    pub fn settings(&self) -> EmbeddedSettings {
        self.settings
    }

    /// The conversation as prompt tokens, ending with the opening of the assistant's turn.
    fn prompt(&self, request: &ChatRequest) -> Result<Vec<LlamaToken>> {
        let chat = request
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                LlamaChatMessage::new(role.into(), m.content.clone())
                    .map_err(|_| Error::InvalidData("a message holds a NUL character".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        let text = self
            .model
            .apply_chat_template(&self.template, &chat, true)
            .map_err(|error| failed("to apply its chat template", error))?;
        let vocab = self.model.vocab();
        Ok(vocab.tokenize(text.as_bytes(), vocab.should_add_bos(), true))
    }
}

/// Folds a 64-bit seed into llama.cpp's 32 bits, avoiding `u32::MAX` (llama.cpp's "pick a random
/// seed").
fn llama_seed(seed: u64) -> u32 {
    let folded = (seed ^ (seed >> 32)) as u32;
    if folded == u32::MAX { 0x7fff_ffff } else { folded }
}

/// Where the first of `stops` starts in `text`, looking only at matches that end after `from`
/// (earlier text was checked before).
fn find_stop(text: &[u8], from: usize, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|stop| !stop.is_empty())
        .filter_map(|stop| {
            let stop = stop.as_bytes();
            let start = from.saturating_sub(stop.len() - 1);
            text.get(start..)?.windows(stop.len()).position(|w| w == stop).map(|i| start + i)
        })
        .min()
}

/// The generated bytes as text, dropping a multi-byte character cut off at the end.
fn into_text(mut bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let valid = error.utf8_error();
            bytes = error.into_bytes();
            if valid.error_len().is_none() {
                bytes.truncate(valid.valid_up_to());
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

impl EmbeddedBackend {
    /// The prompt's tokens and the reply budget, or the reason there is no room.
    fn plan(&self, request: &ChatRequest) -> Result<(Vec<LlamaToken>, u32)> {
        let prompt = self.prompt(request)?;
        let n_prompt = u32::try_from(prompt.len()).unwrap_or(u32::MAX);
        if n_prompt == 0 {
            return Err(Error::InvalidData("the embedded model got an empty prompt".into()));
        }
        if n_prompt >= self.context {
            return Err(Error::InvalidData(format!(
                "the conversation is {n_prompt} tokens long, more than the embedded model's context of {} tokens",
                self.context
            )));
        }
        Ok((prompt, request.sampling.max_tokens.min(self.context - n_prompt)))
    }

    /// A context of `n_ctx` tokens (created one at a time: llama.cpp may write to the model).
    fn new_context(&self, n_ctx: u32) -> Result<LlamaContext<'_>> {
        let backend = llama_backend()?;
        let threads = i32::try_from(self.settings.threads).unwrap_or(i32::MAX);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(PROMPT_BATCH)
            .with_n_ubatch(PROMPT_BATCH)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let _creating = self.creating_context.lock().unwrap_or_else(PoisonError::into_inner);
        self.model.new_context(backend, params).map_err(|error| failed("to create a context", error))
    }

    /// Reads `prompt` into `ctx`, whose cache holds `history` (positions `0..history.len()`):
    /// the shared prefix of `history` and the prompt is kept and the rest of the prompt is read.
    /// On return `history` is the prompt; returns the batch and the index in it of the last
    /// prompt token's logits.
    fn read_prompt(
        &self,
        ctx: &mut LlamaContext<'_>,
        history: &mut Vec<LlamaToken>,
        prompt: &[LlamaToken],
    ) -> Result<(LlamaBatch<'static>, i32)> {
        // Keep what the cache shares with the prompt, but read at least the last prompt token
        // again: its logits pick the first reply token.
        let shared = history.iter().zip(prompt).take_while(|(a, b)| a == b).count().min(prompt.len() - 1);
        if shared < history.len() {
            let position = u32::try_from(shared).unwrap_or(u32::MAX);
            let removed = ctx.clear_kv_cache_seq(Some(0), Some(position), None).unwrap_or(false);
            if !removed {
                ctx.clear_kv_cache();
                history.clear();
            } else {
                history.truncate(shared);
            }
        }
        let start = history.len();

        // The rest of the prompt, in batches; only the last token's logits are needed.
        let mut batch = LlamaBatch::new(PROMPT_BATCH as usize, 1);
        let mut position = i32::try_from(start).unwrap_or(i32::MAX);
        for chunk in prompt[start..].chunks(PROMPT_BATCH as usize) {
            batch.clear();
            for &token in chunk {
                let last = position as usize + 1 == prompt.len();
                batch.add(token, position, &[0], last).map_err(|error| failed("to queue the prompt", error))?;
                position += 1;
            }
            ctx.decode(&mut batch).map_err(|error| failed("to read the prompt", error))?;
            history.extend_from_slice(chunk);
        }
        let last = batch.n_tokens() - 1;
        Ok((batch, last))
    }

    /// Completes `request` in `ctx`, whose cache holds `history` (see [`Self::read_prompt`]):
    /// reads the prompt and generates the reply. On return `history` is what the cache holds.
    fn run(
        &self,
        ctx: &mut LlamaContext<'_>,
        history: &mut Vec<LlamaToken>,
        request: &ChatRequest,
        prompt: &[LlamaToken],
        budget: u32,
    ) -> Result<ChatResponse> {
        let n_prompt = u32::try_from(prompt.len()).unwrap_or(u32::MAX);
        if budget == 0 {
            return Ok(ChatResponse {
                content: String::new(),
                prompt_tokens: Some(u64::from(n_prompt)),
                completion_tokens: Some(0),
                finish_reason: Some("length".into()),
            });
        }
        let (mut batch, mut logits) = self.read_prompt(ctx, history, prompt)?;
        let mut position = i32::try_from(history.len()).unwrap_or(i32::MAX);
        let mut sampler = LlamaSampler::chain_simple([
            LlamaSampler::penalties(self.model.n_vocab(), PENALTY_LAST_N, PENALTY_REPEAT, 0.0, 0.0),
            LlamaSampler::top_p(request.sampling.top_p as f32, 1),
            LlamaSampler::temp(request.sampling.temperature as f32),
            LlamaSampler::dist(llama_seed(request.seed.unwrap_or(0))),
        ]);
        let vocab = self.model.vocab();
        let mut text = Vec::new();
        let mut generated = 0_u32;
        let mut finish = "length";
        while generated < budget {
            let token = sampler.sample(ctx, logits);
            if vocab.is_eog(token) {
                finish = "stop";
                break;
            }
            generated += 1;
            let before = text.len();
            text.extend(vocab.token_to_piece(token, false, None));
            if let Some(at) = find_stop(&text, before, &request.stop) {
                text.truncate(at);
                finish = "stop";
                break;
            }
            if generated == budget {
                break;
            }
            batch.clear();
            batch.add(token, position, &[0], true).map_err(|error| failed("to queue a token", error))?;
            position += 1;
            ctx.decode(&mut batch).map_err(|error| failed("to generate", error))?;
            history.push(token);
            logits = 0;
        }
        Ok(ChatResponse {
            content: into_text(text),
            prompt_tokens: Some(u64::from(n_prompt)),
            completion_tokens: Some(u64::from(generated)),
            finish_reason: Some(finish.into()),
        })
    }
}

impl EmbeddedBackend {
    /// The tokens that begin an option word: each spelling (as given, lower case, capitalised,
    /// with and without a leading space) that is a single token of the vocabulary.
    fn option_tokens(&self, option: &str) -> Vec<LlamaToken> {
        let lower = option.to_lowercase();
        let mut capitalised = lower.clone();
        if let Some(first) = capitalised.get(..1) {
            capitalised = first.to_uppercase() + &capitalised[1..];
        }
        let vocab = self.model.vocab();
        let mut tokens = Vec::new();
        for spelling in [option.to_string(), lower, capitalised, option.to_uppercase()] {
            for text in [spelling.clone(), format!(" {spelling}")] {
                if let [token] = vocab.tokenize(text.as_bytes(), false, false)[..]
                    && !tokens.contains(&token)
                {
                    tokens.push(token);
                }
            }
        }
        tokens
    }

    /// Answers a closed question whose prompt is `prompt` in `ctx` (see [`Self::read_prompt`]):
    /// the softmax of the last prompt token's logits, summed over each option's tokens and
    /// normalised over the options. `None` when an option has no single-token spelling (the
    /// caller answers by generating instead).
    fn choose_in(
        &self,
        ctx: &mut LlamaContext<'_>,
        history: &mut Vec<LlamaToken>,
        prompt: &[LlamaToken],
        options: &[String],
    ) -> Result<Option<Choice>> {
        let spellings: Vec<Vec<LlamaToken>> = options.iter().map(|o| self.option_tokens(o)).collect();
        if spellings.iter().any(Vec::is_empty) {
            return Ok(None);
        }
        let (_batch, last) = self.read_prompt(ctx, history, prompt)?;
        let logits = ctx.get_logits_ith(last);
        let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let total: f64 = logits.iter().map(|&l| f64::from(l - top).exp()).sum();
        let masses = spellings
            .iter()
            .map(|tokens| {
                tokens
                    .iter()
                    .filter_map(|t| usize::try_from(t.0).ok().and_then(|i| logits.get(i)))
                    .map(|&l| f64::from(l - top).exp() / total)
                    .sum()
            })
            .collect();
        Ok(Some(Choice {
            probabilities: normalised(masses),
            prompt_tokens: Some(prompt.len() as u64),
            completion_tokens: Some(0),
        }))
    }
}

impl ChatBackend for EmbeddedBackend {
    /// A fresh context sized to the request: independent of every other request.
    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let (prompt, budget) = self.plan(request)?;
        let n_prompt = u32::try_from(prompt.len()).unwrap_or(u32::MAX);
        let mut ctx = self.new_context(n_prompt + budget.max(1))?;
        self.run(&mut ctx, &mut Vec::new(), request, &prompt, budget)
    }

    fn info(&self) -> BackendInfo {
        BackendInfo { kind: "embedded".into(), model: self.name.clone(), base_url: None }
    }

    /// Reads the probabilities from the model's next-token distribution (see
    /// [`Self::choose_in`]), in a fresh context sized to the request.
    fn choose(&self, request: &ChatRequest, options: &[String]) -> Result<Choice> {
        let (prompt, _) = self.plan(request)?;
        let n_prompt = u32::try_from(prompt.len()).unwrap_or(u32::MAX);
        let mut ctx = self.new_context(n_prompt + 1)?;
        match self.choose_in(&mut ctx, &mut Vec::new(), &prompt, options)? {
            Some(choice) => Ok(choice),
            None => super::choose_by_reply(|r| self.complete(r), request, options),
        }
    }

    /// A session keeps one full-size context and its token history, so that each request reads
    /// only what follows the part of the conversation it shares with the previous one.
    fn session(&self) -> Box<dyn ChatSession + '_> {
        Box::new(EmbeddedSession { backend: self, context: None, history: Vec::new() })
    }
}

/// One agent's side of one dialogue on the embedded model (see [`EmbeddedBackend::session`]).
/// Its replies depend only on its own requests, never on other dialogues in flight, so a run's
/// output does not depend on the concurrency.
struct EmbeddedSession<'a> {
    backend: &'a EmbeddedBackend,
    context: Option<LlamaContext<'a>>,
    history: Vec<LlamaToken>,
}

impl<'a> EmbeddedSession<'a> {
    /// The session's context (made at the backend's full size on first use) and the tokens its
    /// cache holds.
    fn cache(&mut self) -> Result<(&mut LlamaContext<'a>, &mut Vec<LlamaToken>)> {
        let ctx = match &mut self.context {
            Some(ctx) => ctx,
            empty => empty.insert(self.backend.new_context(self.backend.context)?),
        };
        Ok((ctx, &mut self.history))
    }
}

impl ChatSession for EmbeddedSession<'_> {
    fn complete(&mut self, request: &ChatRequest) -> Result<ChatResponse> {
        let backend = self.backend;
        let (prompt, budget) = backend.plan(request)?;
        let (ctx, history) = self.cache()?;
        backend.run(ctx, history, request, &prompt, budget)
    }

    /// Reads the probabilities in the session's context, so that questions about the same text
    /// read only what follows their shared beginning.
    fn choose(&mut self, request: &ChatRequest, options: &[String]) -> Result<Choice> {
        let backend = self.backend;
        let (prompt, _) = backend.plan(request)?;
        let (ctx, history) = self.cache()?;
        match backend.choose_in(ctx, history, &prompt, options)? {
            Some(choice) => Ok(choice),
            None => super::choose_by_reply(|r| self.complete(r), request, options),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_are_found_across_tokens() {
        let stops = vec!["END".to_string(), String::new()];
        assert_eq!(find_stop(b"hello EN", 6, &stops), None);
        assert_eq!(find_stop(b"hello END", 8, &stops), Some(6));
        assert_eq!(find_stop(b"ENDhello END", 9, &stops), Some(9));
        assert_eq!(find_stop(b"a\nUser:", 1, &["\nUser:".into(), "User".into()]), Some(1));
    }

    #[test]
    fn seeds_avoid_the_random_one() {
        assert_eq!(llama_seed(0), 0);
        assert_eq!(llama_seed(7), 7);
        assert_ne!(llama_seed(u64::from(u32::MAX)), u32::MAX);
        assert_ne!(llama_seed(1 << 32), llama_seed(2 << 32));
    }

    #[test]
    fn cut_characters_are_dropped() {
        assert_eq!(into_text("café".as_bytes()[..4].to_vec()), "caf");
        assert_eq!(into_text(b"ok".to_vec()), "ok");
    }
}
