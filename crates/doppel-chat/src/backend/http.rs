//! [`HttpBackend`]: a client for OpenAI-compatible `/chat/completions` servers (OpenAI, vLLM,
//! llama.cpp's server, Ollama, ...), with or without streaming, retrying transient failures with
//! exponential backoff.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use ureq::http::{HeaderMap, StatusCode};

use super::{ChatBackend, Choice, normalised};
use crate::{BackendInfo, ChatRequest, ChatResponse, Error, Result};

/// The longest wait between two attempts computed from the backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait a `Retry-After` header may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How many most likely first tokens a closed question asks the server for (OpenAI allows up
/// to 20).
const TOP_LOGPROBS: u32 = 20;
/// How much of an error response's body is quoted in messages.
const MAX_QUOTED_BODY: usize = 300;

/// How to reach an OpenAI-compatible chat server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// The API's root, e.g. `http://127.0.0.1:8080/v1`; requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The model's name, sent as `model`.
    pub model: String,
    /// The name of an environment variable holding the API key (never the key itself); the key
    /// is sent as `Authorization: Bearer <key>`. A named variable that is unset is an error.
    pub api_key_env: Option<String>,
    /// Ask for `"stream": true` and read the reply as server-sent events.
    pub stream: bool,
    /// The time one attempt may take, from connecting to the end of the response.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first wait between attempts; doubled after each retry, at most 30 s.
    pub backoff: Duration,
}

impl HttpSettings {
    /// Settings for `model` at `base_url`, without an API key or streaming, with a 120 s timeout,
    /// 4 retries and a 500 ms backoff.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> HttpSettings {
        HttpSettings {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            stream: false,
            timeout: Duration::from_secs(120),
            max_retries: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Something that waits; [`std::thread::sleep`] unless replaced for tests.
type Sleeper = Arc<dyn Fn(Duration) + Send + Sync>;

/// A [`ChatBackend`] that calls an OpenAI-compatible `/chat/completions` endpoint.
///
/// Connection errors, timeouts, HTTP 429 (honouring `Retry-After`), 5xx answers, bodies that
/// are not the expected JSON and streams cut off mid-way are retried with exponential backoff;
/// other 4xx answers are reported at once.
pub struct HttpBackend {
    settings: HttpSettings,
    url: String,
    api_key: Option<String>,
    agent: ureq::Agent,
    sleep: Sleeper,
}

impl fmt::Debug for HttpBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpBackend")
            .field("settings", &self.settings)
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl HttpBackend {
    /// A backend with these settings, reading the API key (if any) from the process environment.
    pub fn new(settings: HttpSettings) -> Result<HttpBackend> {
        HttpBackend::with_env(settings, |name| std::env::var(name).ok())
    }

    /// A backend with these settings, looking environment variables up with `lookup` instead of
    /// in the process environment (for tests, and for callers that keep their own environment).
    pub fn with_env(settings: HttpSettings, lookup: impl Fn(&str) -> Option<String>) -> Result<HttpBackend> {
        let base_url = settings.base_url.trim().trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::InvalidConfig(format!(
                "the chat server's base_url `{}` must start with http:// or https:// (e.g. http://127.0.0.1:8080/v1)",
                settings.base_url
            )));
        }
        if settings.model.trim().is_empty() {
            return Err(Error::InvalidConfig(format!("no model name given for the chat server at {base_url}")));
        }
        if settings.timeout.is_zero() {
            return Err(Error::InvalidConfig("the chat server's timeout must be more than zero".into()));
        }
        let api_key = match &settings.api_key_env {
            None => None,
            Some(name) => match lookup(name) {
                Some(key) if !key.trim().is_empty() => Some(key.trim().to_string()),
                Some(_) => {
                    return Err(Error::InvalidConfig(format!(
                        "the environment variable `{name}`, named to hold the chat server's API key, is empty"
                    )));
                }
                None => {
                    return Err(Error::InvalidConfig(format!(
                        "the environment variable `{name}`, named to hold the chat server's API key, is not set"
                    )));
                }
            },
        };
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(settings.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("doppel/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&base_url) {
            // A local server is never reached through the proxy named in the environment.
            config = config.proxy(None);
        }
        let agent: ureq::Agent = config.build().into();
        let url = format!("{base_url}/chat/completions");
        Ok(HttpBackend {
            settings: HttpSettings { base_url, ..settings },
            url,
            api_key,
            agent,
            sleep: Arc::new(std::thread::sleep),
        })
    }

    /// Replaces the function that waits between attempts ([`std::thread::sleep`]), so that tests
    /// can record the waits instead of spending them.
    pub fn with_sleeper(mut self, sleep: impl Fn(Duration) + Send + Sync + 'static) -> HttpBackend {
        self.sleep = Arc::new(sleep);
        self
    }

    /// The settings in use (with `base_url` stripped of a trailing `/`).
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// The endpoint the requests go to: `{base_url}/chat/completions`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn request_body(&self, request: &ChatRequest) -> Value {
        let mut body = json!({
            "model": self.settings.model,
            "messages": request.messages,
            "temperature": request.sampling.temperature,
            "top_p": request.sampling.top_p,
            "max_tokens": request.sampling.max_tokens,
            "stream": self.settings.stream,
        });
        if let Value::Object(map) = &mut body {
            if let Some(seed) = request.seed {
                map.insert("seed".into(), json!(seed));
            }
            if !request.stop.is_empty() {
                map.insert("stop".into(), json!(request.stop));
            }
        }
        body
    }

    /// One attempt: send the request and read the reply.
    fn attempt(&self, body: &str) -> std::result::Result<ChatResponse, Failure> {
        match self.exchange(body, self.settings.stream)? {
            Reply::Streamed(response) => Ok(response),
            Reply::Whole(text) => parse_completion(&text).map_err(Failure::retry),
        }
    }

    /// One exchange: send the body and read the reply, as server-sent events when `stream` is
    /// asked and the server streams, else whole.
    fn exchange(&self, body: &str, stream: bool) -> std::result::Result<Reply, Failure> {
        let mut builder = self.agent.post(&self.url).header("Content-Type", "application/json");
        builder = builder.header("Accept", if stream { "text/event-stream" } else { "application/json" });
        if let Some(key) = &self.api_key {
            builder = builder.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = builder.send(body).map_err(|e| self.transport_failure(e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let text = response.body_mut().with_config().limit(64 * 1024).lossy_utf8(true).read_to_string();
            let detail = text.map(|t| error_detail(&t)).unwrap_or_default();
            return Err(self.status_failure(status, retry_after, &detail, response.headers()));
        }
        let is_event_stream = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"));
        if stream && is_event_stream {
            read_stream(response.body_mut().as_reader()).map(Reply::Streamed).map_err(|e| match e {
                StreamError::Read(e) => self.transport_failure(ureq::Error::from(e)),
                StreamError::Data(message) => Failure::retry(message),
            })
        } else {
            // A server may answer a streaming request with a whole JSON reply: accept it.
            let text = response.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string();
            text.map(Reply::Whole).map_err(|e| self.transport_failure(e))
        }
    }

    /// Runs `once` until it succeeds, a failure is not retryable or the retries are spent,
    /// waiting between attempts as the server asks (`Retry-After`) or by the backoff.
    fn with_retries<T>(&self, mut once: impl FnMut() -> std::result::Result<T, Failure>) -> Result<T> {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let failure = match once() {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if !failure.retryable || attempts > self.settings.max_retries {
                return Err(self.final_error(failure, attempts));
            }
            let wait = match failure.retry_after {
                Some(wait) => wait.min(MAX_RETRY_AFTER),
                None => self.backoff(attempts),
            };
            (self.sleep)(wait);
        }
    }

    fn transport_failure(&self, error: ureq::Error) -> Failure {
        match error {
            ureq::Error::Timeout(which) => Failure::retry(format!(
                "timed out after {} waiting for the server ({which} timeout)",
                format_duration(self.settings.timeout)
            )),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Failure {
                message: "connection refused; is the server running?".into(),
                retryable: true,
                retry_after: None,
                kind: FailureKind::Connect,
            },
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => Failure::retry(format!(
                "timed out after {} waiting for the server ({e})",
                format_duration(self.settings.timeout)
            )),
            ureq::Error::HostNotFound => Failure {
                message: "the host name could not be resolved".into(),
                retryable: true,
                retry_after: None,
                kind: FailureKind::Connect,
            },
            ureq::Error::Io(e) => Failure::retry(format!("connection error: {e}")),
            ureq::Error::Protocol(e) => Failure::retry(format!("the server broke the HTTP protocol: {e}")),
            ureq::Error::ConnectionFailed => Failure {
                message: "the connection failed".into(),
                retryable: true,
                retry_after: None,
                kind: FailureKind::Connect,
            },
            ureq::Error::BodyExceedsLimit(limit) => Failure::retry(format!("the reply is larger than {limit} bytes")),
            e @ (ureq::Error::BadUri(_)
            | ureq::Error::Http(_)
            | ureq::Error::RequireHttpsOnly(_)
            | ureq::Error::Tls(_)
            | ureq::Error::TlsRequired
            | ureq::Error::InvalidProxyUrl
            | ureq::Error::ConnectProxyFailed(_)) => Failure::fatal(e.to_string()),
            e => Failure::retry(e.to_string()),
        }
    }

    fn status_failure(
        &self,
        status: StatusCode,
        retry_after: Option<Duration>,
        detail: &str,
        headers: &HeaderMap,
    ) -> Failure {
        let mut message = format!("the server answered HTTP {}", status_text(status));
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(detail);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Failure { message, retryable: true, retry_after, kind: FailureKind::Data };
        }
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => match &self.settings.api_key_env {
                Some(name) => {
                    message.push_str(&format!("; check the API key in the environment variable `{name}`"));
                }
                None => message.push_str(
                    "; the server wants an API key: set `api_key_env` to the name of the environment variable \
                     holding it",
                ),
            },
            StatusCode::NOT_FOUND => message.push_str(&format!(
                "; check base_url `{}` (requests go to {{base_url}}/chat/completions; it often ends in /v1) \
                 and the model name `{}`",
                self.settings.base_url, self.settings.model
            )),
            s if s.is_redirection() => {
                if let Some(location) = headers.get("location").and_then(|v| v.to_str().ok()) {
                    message.push_str(&format!("; it redirects to {location}: point base_url there"));
                }
            }
            _ => {}
        }
        Failure::fatal(message)
    }

    fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.checked_pow(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.settings.backoff.checked_mul(factor).unwrap_or(MAX_BACKOFF).min(MAX_BACKOFF)
    }

    fn final_error(&self, failure: Failure, attempts: u32) -> Error {
        let tries = if attempts == 1 { "1 attempt".to_string() } else { format!("{attempts} attempts") };
        match failure.kind {
            FailureKind::Connect => Error::InvalidConfig(format!(
                "could not connect to {}: {} (gave up after {tries})",
                self.url, failure.message
            )),
            FailureKind::Data if failure.retryable => Error::InvalidData(failure.message)
                .context(format!("chat completion request to {} failed after {tries}", self.url)),
            FailureKind::Data => Error::InvalidConfig(failure.message)
                .context(format!("chat completion request to {} failed ({tries}, not retried)", self.url)),
        }
    }
}

impl ChatBackend for HttpBackend {
    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let body = self.request_body(request).to_string();
        self.with_retries(|| self.attempt(&body))
    }

    /// Asks for one token at temperature 0 with the `TOP_LOGPROBS` most likely first tokens
    /// (`logprobs`), and sums the probabilities of the tokens that spell each option (case and
    /// surrounding spaces aside). A server that returns no `logprobs`, or none of the options
    /// among them, is answered from the generated word instead (probability 1).
    fn choose(&self, request: &ChatRequest, options: &[String]) -> Result<Choice> {
        let mut short = request.clone();
        short.sampling.temperature = 0.0;
        short.sampling.top_p = 1.0;
        short.sampling.max_tokens = 1;
        let mut body = self.request_body(&short);
        if let Value::Object(map) = &mut body {
            map.insert("stream".into(), json!(false));
            map.insert("logprobs".into(), json!(true));
            map.insert("top_logprobs".into(), json!(TOP_LOGPROBS));
        }
        let body = body.to_string();
        let (response, top) = self.with_retries(|| match self.exchange(&body, false)? {
            Reply::Whole(text) => parse_choice(&text).map_err(Failure::retry),
            Reply::Streamed(response) => Ok((response, Vec::new())),
        })?;
        let masses: Vec<f64> = options
            .iter()
            .map(|option| {
                let option = option.to_lowercase();
                top.iter().filter(|(token, _)| token.trim().to_lowercase() == option).map(|(_, p)| p).sum()
            })
            .collect();
        let probabilities = normalised(masses).or_else(|| super::certain_option(&response.content, options));
        Ok(Choice {
            probabilities,
            prompt_tokens: response.prompt_tokens,
            completion_tokens: response.completion_tokens,
        })
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "http".into(),
            model: self.settings.model.clone(),
            base_url: Some(self.settings.base_url.clone()),
        }
    }
}

/// A server's reply to one exchange.
enum Reply {
    /// A whole JSON body, unparsed.
    Whole(String),
    /// A completion read from server-sent events.
    Streamed(ChatResponse),
}

/// What went wrong in one attempt.
#[derive(Debug)]
struct Failure {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
    kind: FailureKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
    /// The server could not be reached at all.
    Connect,
    /// The server was reached; the exchange failed.
    Data,
}

impl Failure {
    fn retry(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), retryable: true, retry_after: None, kind: FailureKind::Data }
    }

    fn fatal(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), retryable: false, retry_after: None, kind: FailureKind::Data }
    }
}

fn is_loopback(base_url: &str) -> bool {
    let rest = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    let seconds: f64 = value.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// The useful part of an error body: OpenAI's `error.message` when present, else the text.
fn error_detail(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let error = v.get("error")?;
        match error {
            Value::String(s) => Some(s.clone()),
            other => other.get("message").and_then(Value::as_str).map(str::to_string),
        }
    });
    let text = from_json.unwrap_or_else(|| body.split_whitespace().collect::<Vec<_>>().join(" "));
    quote(&text)
}

fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_BODY {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX_QUOTED_BODY).collect();
        format!("{cut}...")
    }
}

fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn token_count(usage: Option<&Value>, field: &str) -> Option<u64> {
    usage?.get(field)?.as_u64()
}

/// Reads a whole (non-streaming) completion.
fn parse_completion(text: &str) -> std::result::Result<ChatResponse, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        format!("the reply is not JSON ({e}): {}", quote(&text.split_whitespace().collect::<Vec<_>>().join(" ")))
    })?;
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        return Err(format!("the server reported an error: {}", error_detail(&json!({ "error": error }).to_string())));
    }
    let choice = value
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| format!("the reply has no `choices[0]`: {}", quote(text)))?;
    let message =
        choice.get("message").ok_or_else(|| format!("the reply has no `choices[0].message`: {}", quote(text)))?;
    let content = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => {
            return Err(format!("`choices[0].message.content` is not a string: {}", quote(&other.to_string())));
        }
    };
    let usage = value.get("usage");
    Ok(ChatResponse {
        content,
        prompt_tokens: token_count(usage, "prompt_tokens"),
        completion_tokens: token_count(usage, "completion_tokens"),
        finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_string),
    })
}

/// Reads a one-token completion asked with `logprobs`: the completion and the first token's
/// alternatives with their probabilities (empty when the server sent no `logprobs`).
fn parse_choice(text: &str) -> std::result::Result<(ChatResponse, Vec<(String, f64)>), String> {
    let response = parse_completion(text)?;
    let value: Value = serde_json::from_str(text).map_err(|e| format!("the reply is not JSON ({e})"))?;
    let first = value.pointer("/choices/0/logprobs/content/0");
    let mut top = Vec::new();
    if let Some(first) = first {
        let alternatives = first.get("top_logprobs").and_then(Value::as_array).cloned().unwrap_or_default();
        let alternatives = if alternatives.is_empty() { vec![first.clone()] } else { alternatives };
        for alternative in alternatives {
            let token = alternative.get("token").and_then(Value::as_str);
            let logprob = alternative.get("logprob").and_then(Value::as_f64);
            match (token, logprob) {
                (Some(token), Some(logprob)) if logprob <= 0.0 => top.push((token.to_string(), logprob.exp())),
                _ => {
                    return Err(format!(
                        "a `top_logprobs` entry is not a token and a log-probability: {}",
                        quote(&alternative.to_string())
                    ));
                }
            }
        }
    }
    Ok((response, top))
}

enum StreamError {
    /// Reading the body failed.
    Read(std::io::Error),
    /// The body is not the expected stream.
    Data(String),
}

/// Reads a server-sent-events completion: `data: {json}` lines with `choices[0].delta.content`
/// pieces, ending with `data: [DONE]`.
fn read_stream(reader: impl std::io::Read) -> std::result::Result<ChatResponse, StreamError> {
    let mut reader = BufReader::new(reader);
    let mut response =
        ChatResponse { content: String::new(), prompt_tokens: None, completion_tokens: None, finish_reason: None };
    let mut line = Vec::new();
    let mut done = false;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(StreamError::Read)?;
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let Some(data) = text.strip_prefix("data:") else {
            // Blank lines, comments (`:`), `event:`, `id:` and `retry:` lines.
            continue;
        };
        let data = data.strip_prefix(' ').unwrap_or(data).trim_end();
        if data == "[DONE]" {
            done = true;
            break;
        }
        if data.is_empty() {
            continue;
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| StreamError::Data(format!("a streamed chunk is not JSON ({e}): {}", quote(data))))?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(StreamError::Data(format!(
                "the server reported an error mid-stream: {}",
                error_detail(&json!({ "error": error }).to_string())
            )));
        }
        if let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) {
            if let Some(piece) = choice.get("delta").and_then(|d| d.get("content")).and_then(Value::as_str) {
                response.content.push_str(piece);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                response.finish_reason = Some(reason.to_string());
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            response.prompt_tokens = token_count(Some(usage), "prompt_tokens").or(response.prompt_tokens);
            response.completion_tokens = token_count(Some(usage), "completion_tokens").or(response.completion_tokens);
        }
    }
    if !done && response.finish_reason.is_none() {
        return Err(StreamError::Data(format!(
            "the stream ended without `data: [DONE]` or a finish_reason, after {} character(s) of content \
             (connection cut?)",
            response.content.chars().count()
        )));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://localhost/v1"));
        assert!(is_loopback("http://[::1]:8000/v1"));
        assert!(!is_loopback("https://api.openai.com/v1"));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let backend =
            HttpBackend::with_env(HttpSettings::new("http://127.0.0.1:1/v1", "m"), |_| None).expect("backend");
        assert_eq!(backend.backoff(1), Duration::from_millis(500));
        assert_eq!(backend.backoff(2), Duration::from_millis(1000));
        assert_eq!(backend.backoff(3), Duration::from_millis(2000));
        assert_eq!(backend.backoff(10), MAX_BACKOFF);
        assert_eq!(backend.backoff(100), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", "2".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after", "3600".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn stream_with_usage_chunk_and_no_done_but_finish_reason() {
        let text = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n\
                    data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n\
                    : keep-alive\n\n\
                    data:{\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
                    data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n";
        let response = read_stream(text.as_bytes()).map_err(|_| "stream").expect("parsed");
        assert_eq!(response.content, "Hi");
        assert_eq!(response.finish_reason.as_deref(), Some("stop"));
        assert_eq!(response.prompt_tokens, Some(3));
        assert_eq!(response.completion_tokens, Some(1));
    }

    #[test]
    fn error_detail_prefers_openai_message() {
        assert_eq!(error_detail(r#"{"error":{"message":"bad key","type":"auth"}}"#), "bad key");
        assert_eq!(error_detail("  plain\n text "), "plain text");
    }
}
