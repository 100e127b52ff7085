//! [`HttpBackend`] against a scripted fake OpenAI-compatible server: replies, streaming, retries,
//! timeouts, broken streams and configuration errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use doppel_chat::backend::{HttpBackend, HttpSettings};
use doppel_chat::{ChatBackend, ChatRequest, Message, Role, SamplingParams};
use serde_json::Value;

/// What the fake server does with one incoming request.
#[derive(Clone)]
enum Reply {
    /// A response with this status, extra header lines and body (with a Content-Length).
    Status(u16, Vec<(&'static str, String)>, String),
    /// A `text/event-stream` response made of these `data:` payloads, closed by the server.
    Events(Vec<String>),
    /// Read the request, then never answer (the socket stays open).
    Hang,
    /// These bytes as they are, then close.
    Raw(String),
}

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    body: Value,
}

struct FakeServer {
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeServer {
    /// A server answering the n-th request with `replies[n]` (the last reply repeats).
    fn start(replies: Vec<Reply>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base_url = format!("http://{}/v1", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        thread::spawn(move || {
            let mut hung = Vec::new();
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else { continue };
                record.lock().expect("lock").push(request);
                let reply = replies.get(n).or(replies.last()).cloned().unwrap_or(Reply::Hang);
                match reply {
                    Reply::Status(status, headers, body) => {
                        let mut head = format!(
                            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                             Connection: close\r\n",
                            reason(status),
                            body.len()
                        );
                        for (name, value) in headers {
                            head.push_str(&format!("{name}: {value}\r\n"));
                        }
                        head.push_str("\r\n");
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(body.as_bytes());
                    }
                    Reply::Events(events) => {
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
                                    Connection: close\r\n\r\n";
                        let _ = stream.write_all(head.as_bytes());
                        for event in events {
                            let _ = stream.write_all(format!("data: {event}\n\n").as_bytes());
                            let _ = stream.flush();
                            thread::sleep(Duration::from_millis(5));
                        }
                    }
                    Reply::Hang => hung.push(stream),
                    Reply::Raw(bytes) => {
                        let _ = stream.write_all(bytes.as_bytes());
                    }
                }
            }
        });
        FakeServer { base_url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn settings(&self) -> HttpSettings {
        HttpSettings {
            timeout: Duration::from_secs(10),
            backoff: Duration::from_millis(1),
            ..HttpSettings::new(&self.base_url, "test-model")
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let path = request_line.split_whitespace().nth(1)?.to_string();
    let mut content_length = 0usize;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => content_length = value.trim().parse().ok()?,
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body).ok()?;
    let body = serde_json::from_slice(&body).ok()?;
    Some(Seen { path, authorization, body })
}

fn completion(content: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    })
    .to_string()
}

fn ok(content: &str) -> Reply {
    Reply::Status(200, Vec::new(), completion(content))
}

fn delta(content: &str) -> String {
    serde_json::json!({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]}).to_string()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::new(Role::System, "You are a recruiter."),
            Message::new(Role::User, "Hello, I am here for the interview."),
        ],
        sampling: SamplingParams { temperature: 0.7, top_p: 0.9, max_tokens: 64 },
        seed: Some(42),
        stop: vec!["\nUser:".into()],
    }
}

/// A sleeper that records the waits instead of spending them.
fn recording_sleeper() -> (Arc<Mutex<Vec<Duration>>>, impl Fn(Duration) + Send + Sync + 'static) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&waits);
    (waits, move |d| record.lock().expect("lock").push(d))
}

fn backend(settings: HttpSettings) -> HttpBackend {
    HttpBackend::with_env(settings, |_| None).expect("backend").with_sleeper(|_| {})
}

#[test]
fn json_reply_is_parsed_and_request_is_complete() {
    let server = FakeServer::start(vec![ok("Welcome! Tell me about yourself.")]);
    let backend = backend(server.settings());
    let response = backend.complete(&request()).expect("completion");
    assert_eq!(response.content, "Welcome! Tell me about yourself.");
    assert_eq!(response.prompt_tokens, Some(12));
    assert_eq!(response.completion_tokens, Some(5));
    assert_eq!(response.finish_reason.as_deref(), Some("stop"));

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].authorization, None);
    let body = &seen[0].body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], "You are a recruiter.");
    assert_eq!(body["messages"][1]["role"], "user");
    assert_eq!(body["temperature"], 0.7);
    assert_eq!(body["top_p"], 0.9);
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["seed"], 42);
    assert_eq!(body["stop"], serde_json::json!(["\nUser:"]));
    assert_eq!(body["stream"], false);

    let info = backend.info();
    assert_eq!(info.kind, "http");
    assert_eq!(info.model, "test-model");
    assert_eq!(info.base_url.as_deref(), Some(server.base_url.as_str()));
}

#[test]
fn optional_fields_are_left_out() {
    let server = FakeServer::start(vec![ok("Hi")]);
    let backend = backend(server.settings());
    let request = ChatRequest { seed: None, stop: Vec::new(), ..request() };
    backend.complete(&request).expect("completion");
    let body = &server.seen()[0].body;
    assert!(body.get("seed").is_none(), "{body}");
    assert!(body.get("stop").is_none(), "{body}");
}

#[test]
fn streamed_chunks_are_concatenated() {
    let server = FakeServer::start(vec![Reply::Events(vec![
        serde_json::json!({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}).to_string(),
        delta("Welcome"),
        delta(", tell me "),
        delta("about yourself."),
        serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string(),
        serde_json::json!({"choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 7}}).to_string(),
        "[DONE]".into(),
    ])]);
    let backend = backend(HttpSettings { stream: true, ..server.settings() });
    let response = backend.complete(&request()).expect("completion");
    assert_eq!(response.content, "Welcome, tell me about yourself.");
    assert_eq!(response.finish_reason.as_deref(), Some("stop"));
    assert_eq!(response.prompt_tokens, Some(20));
    assert_eq!(response.completion_tokens, Some(7));
    assert_eq!(server.seen()[0].body["stream"], true);
}

#[test]
fn server_errors_are_retried() {
    let error = r#"{"error":{"message":"overloaded"}}"#.to_string();
    let server = FakeServer::start(vec![
        Reply::Status(500, Vec::new(), error.clone()),
        Reply::Status(500, Vec::new(), error),
        ok("Third time lucky."),
    ]);
    let (waits, sleeper) = recording_sleeper();
    let backend =
        HttpBackend::with_env(HttpSettings { backoff: Duration::from_millis(100), ..server.settings() }, |_| None)
            .expect("backend")
            .with_sleeper(sleeper);
    let response = backend.complete(&request()).expect("completion");
    assert_eq!(response.content, "Third time lucky.");
    assert_eq!(server.seen().len(), 3);
    // Exponential backoff: the base, then twice the base.
    assert_eq!(*waits.lock().expect("lock"), vec![Duration::from_millis(100), Duration::from_millis(200)]);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let server = FakeServer::start(vec![
        Reply::Status(429, vec![("Retry-After", "1".into())], r#"{"error":{"message":"slow down"}}"#.into()),
        ok("Thanks for waiting."),
    ]);
    let (waits, sleeper) = recording_sleeper();
    let backend = HttpBackend::with_env(server.settings(), |_| None).expect("backend").with_sleeper(sleeper);
    let started = Instant::now();
    let response = backend.complete(&request()).expect("completion");
    assert_eq!(response.content, "Thanks for waiting.");
    assert_eq!(server.seen().len(), 2);
    let waits = waits.lock().expect("lock").clone();
    assert_eq!(waits.len(), 1);
    assert!(waits[0] >= Duration::from_secs(1), "{waits:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "the injected sleeper must not really wait");
}

#[test]
fn a_silent_server_times_out_and_is_retried() {
    let server = FakeServer::start(vec![Reply::Hang]);
    let backend = backend(HttpSettings { timeout: Duration::from_millis(300), max_retries: 2, ..server.settings() });
    let started = Instant::now();
    let error = backend.complete(&request()).expect_err("timeout").to_string();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(server.seen().len(), 3, "{error}");
    assert!(error.contains("timed out"), "{error}");
    assert!(error.contains("300 ms"), "{error}");
    assert!(error.contains("3 attempts"), "{error}");
    assert!(error.contains(&server.base_url), "{error}");
}

#[test]
fn malformed_json_is_retried_then_reported() {
    let server = FakeServer::start(vec![Reply::Status(200, Vec::new(), "{not json".into())]);
    let backend = backend(HttpSettings { max_retries: 2, ..server.settings() });
    let error = backend.complete(&request()).expect_err("bad body");
    assert!(matches!(error, doppel_chat::Error::Context { .. }), "{error:?}");
    let error = error.to_string();
    assert_eq!(server.seen().len(), 3, "{error}");
    assert!(error.contains(&format!("{}/chat/completions", server.base_url)), "{error}");
    assert!(error.contains("not JSON"), "{error}");
    assert!(error.contains("{not json"), "{error}");
    assert!(error.contains("3 attempts"), "{error}");
}

#[test]
fn a_stream_cut_off_is_retried_without_duplicating_content() {
    let server = FakeServer::start(vec![
        Reply::Events(vec![delta("Lost "), delta("words")]),
        Reply::Events(vec![
            delta("Good "),
            delta("answer."),
            serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string(),
            "[DONE]".into(),
        ]),
    ]);
    let backend = backend(HttpSettings { stream: true, ..server.settings() });
    let response = backend.complete(&request()).expect("completion");
    assert_eq!(response.content, "Good answer.");
    assert_eq!(response.finish_reason.as_deref(), Some("stop"));
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn unauthorized_is_not_retried_and_names_the_key_variable() {
    let server = FakeServer::start(vec![Reply::Status(
        401,
        Vec::new(),
        r#"{"error":{"message":"Incorrect API key provided"}}"#.into(),
    )]);
    let settings = HttpSettings { api_key_env: Some("DOPPEL_TEST_KEY".into()), ..server.settings() };
    let backend = HttpBackend::with_env(settings, |name| (name == "DOPPEL_TEST_KEY").then(|| "sk-wrong".to_string()))
        .expect("backend")
        .with_sleeper(|_| panic!("a 401 must not be retried"));
    let error = backend.complete(&request()).expect_err("401").to_string();
    assert_eq!(server.seen().len(), 1);
    assert!(error.contains("401"), "{error}");
    assert!(error.contains("Incorrect API key provided"), "{error}");
    assert!(error.contains("DOPPEL_TEST_KEY"), "{error}");
    assert!(error.contains(&server.base_url), "{error}");
    assert!(!error.contains("sk-wrong"), "the key must not leak into messages: {error}");
}

#[test]
fn connection_refused_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let base_url = format!("http://127.0.0.1:{port}/v1");
    let backend = backend(HttpSettings { max_retries: 1, ..HttpSettings::new(&base_url, "m") });
    let error = backend.complete(&request()).expect_err("refused").to_string();
    assert!(error.contains(&format!("could not connect to {base_url}/chat/completions")), "{error}");
    assert!(error.contains("connection refused; is the server running?"), "{error}");
    assert!(error.contains("2 attempts"), "{error}");
}

#[test]
fn api_key_comes_from_the_named_variable() {
    let settings = HttpSettings {
        api_key_env: Some("DOPPEL_SURELY_UNSET_KEY".into()),
        ..HttpSettings::new("http://127.0.0.1:9/v1", "m")
    };
    let error = HttpBackend::with_env(settings.clone(), |_| None).expect_err("unset").to_string();
    assert!(error.contains("DOPPEL_SURELY_UNSET_KEY"), "{error}");
    assert!(error.contains("not set"), "{error}");
    let error = HttpBackend::new(settings).expect_err("unset in the real environment").to_string();
    assert!(error.contains("DOPPEL_SURELY_UNSET_KEY"), "{error}");

    let server = FakeServer::start(vec![ok("Authorised.")]);
    let settings = HttpSettings { api_key_env: Some("DOPPEL_TEST_KEY".into()), ..server.settings() };
    let backend =
        HttpBackend::with_env(settings, |name| (name == "DOPPEL_TEST_KEY").then(|| "sk-test-123".to_string()))
            .expect("backend");
    assert!(!format!("{backend:?}").contains("sk-test-123"), "Debug must not show the key");
    backend.complete(&request()).expect("completion");
    assert_eq!(server.seen()[0].authorization.as_deref(), Some("Bearer sk-test-123"));
}

#[test]
fn bad_base_url_is_a_config_error() {
    let error = HttpBackend::new(HttpSettings::new("127.0.0.1:8080/v1", "m")).expect_err("no scheme").to_string();
    assert!(error.contains("http://"), "{error}");
}

#[test]
fn trailing_slash_in_base_url_is_ignored() {
    let server = FakeServer::start(vec![ok("Hi")]);
    let base_url = format!("{}/", server.base_url);
    let backend = backend(HttpSettings { base_url, ..server.settings() });
    assert_eq!(backend.url(), format!("{}/chat/completions", server.base_url));
    backend.complete(&request()).expect("completion");
    assert_eq!(server.seen()[0].path, "/v1/chat/completions");
}

#[test]
fn a_chunked_stream_cut_mid_chunk_is_retried() {
    let first = format!("data: {}\n\n", delta("Lost"));
    let cut = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{first}\r\n40\r\ndata: {{\"cho",
        first.len()
    );
    let server = FakeServer::start(vec![Reply::Raw(cut), Reply::Events(vec![delta("Whole."), "[DONE]".into()])]);
    let backend = backend(HttpSettings { stream: true, ..server.settings() });
    let response = backend.complete(&request()).expect("completion");
    assert_eq!(response.content, "Whole.");
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn bad_request_is_not_retried() {
    let server = FakeServer::start(vec![
        Reply::Status(400, Vec::new(), r#"{"error":{"message":"max_tokens is too large"}}"#.into()),
        ok("never"),
    ]);
    let backend = backend(server.settings()).with_sleeper(|_| panic!("a 400 must not be retried"));
    let error = backend.complete(&request()).expect_err("400");
    let config_error = |source: &doppel_chat::Error| matches!(source, doppel_chat::Error::InvalidConfig(_));
    assert!(matches!(&error, doppel_chat::Error::Context { source, .. } if config_error(source)), "{error:?}");
    let error = error.to_string();
    assert_eq!(server.seen().len(), 1);
    assert!(error.contains("400"), "{error}");
    assert!(error.contains("max_tokens is too large"), "{error}");
}

/// A one-token completion with `logprobs`, as llama.cpp's server and OpenAI send it.
fn choice_reply(content: &str, top: &[(&str, f64)]) -> Reply {
    let alternatives: Vec<Value> =
        top.iter().map(|(token, p)| serde_json::json!({"token": token, "logprob": p.ln(), "bytes": []})).collect();
    let body = serde_json::json!({
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "logprobs": {"content": [{"token": content, "logprob": top[0].1.ln(), "top_logprobs": alternatives}]},
            "finish_reason": "length"
        }],
        "usage": {"prompt_tokens": 30, "completion_tokens": 1}
    });
    Reply::Status(200, Vec::new(), body.to_string())
}

fn yes_no() -> Vec<String> {
    vec!["Yes".to_string(), "No".to_string()]
}

#[test]
fn a_closed_question_reads_the_first_token_probabilities() {
    // "Yes" and " yes" are both Yes; "Not" is not No; the rest of the mass is elsewhere.
    let server = FakeServer::start(vec![
        choice_reply("Yes", &[("Yes", 0.5), (" yes", 0.1), ("No", 0.2), ("Not", 0.1), ("Maybe", 0.05)]),
        Reply::Status(500, Vec::new(), r#"{"error":{"message":"busy"}}"#.into()),
        choice_reply("No", &[("No", 0.9), ("Yes", 0.1)]),
    ]);
    let backend = backend(HttpSettings { stream: true, ..server.settings() });
    let choice = backend.choose(&request(), &yes_no()).expect("choice");
    let p = choice.probabilities.expect("probabilities");
    assert!((p[0] - 0.75).abs() < 1e-9 && (p[1] - 0.25).abs() < 1e-9, "{p:?}");
    assert_eq!((choice.prompt_tokens, choice.completion_tokens), (Some(30), Some(1)));
    let body = &server.seen()[0].body;
    assert_eq!(body["logprobs"], true);
    assert_eq!(body["top_logprobs"], 20);
    assert_eq!(body["max_tokens"], 1);
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["stream"], false, "a closed question is never streamed");
    // A 500 is retried like any request.
    let p = backend.choose(&request(), &yes_no()).expect("choice").probabilities.expect("probabilities");
    assert!((p[0] - 0.1).abs() < 1e-9, "{p:?}");
}

#[test]
fn a_server_without_logprobs_is_answered_from_the_reply() {
    let server = FakeServer::start(vec![ok("**No**, they drift."), ok("Perhaps.")]);
    let backend = backend(server.settings());
    let choice = backend.choose(&request(), &yes_no()).expect("choice");
    assert_eq!(choice.probabilities, Some(vec![0.0, 1.0]));
    assert_eq!(backend.choose(&request(), &yes_no()).expect("choice").probabilities, None);
}

#[test]
fn malformed_logprobs_are_retried_then_reported() {
    let bad = serde_json::json!({
        "choices": [{"index": 0, "message": {"content": "Yes"},
                     "logprobs": {"content": [{"token": "Yes", "top_logprobs": [{"token": "Yes", "logprob": "high"}]}]}}]
    })
    .to_string();
    let server = FakeServer::start(vec![Reply::Status(200, Vec::new(), bad)]);
    let backend = backend(HttpSettings { max_retries: 2, ..server.settings() });
    let error = backend.choose(&request(), &yes_no()).expect_err("fails");
    let message = format!("{error:#}");
    assert!(message.contains("top_logprobs") && message.contains("3 attempts"), "{message}");
    assert_eq!(server.seen().len(), 3);
}
