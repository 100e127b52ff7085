//! `doppel chat`: two role-played agents generate fine-tuning dialogues from a spec file.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;

use doppel_chat::backend::{HttpBackend, HttpSettings, MockBackend};
use doppel_chat::run::{RunOptions, RunSummary, run};
use doppel_chat::spec::ChatSpec;
use doppel_chat::{BackendInfo, ChatBackend, SamplingParams};

use crate::args::CommonArgs;
use crate::manifest;
use crate::progress;

/// The chat command's examples and notes.
pub const CHAT_HELP: &str = "\
Examples:
  A quick run with the embedded model (a doppel built with `--features embedded`; download the
  model first with scripts/fetch-model.sh):
    doppel chat --spec examples/chat/hr-coaching.toml -n 20 -o dialogues.jsonl --backend embedded
  Generate 1000 coaching dialogues with a local OpenAI-compatible server (llama.cpp, vLLM, ...):
    doppel chat --spec examples/chat/hr-coaching.toml -n 1000 -o dialogues.jsonl \\
        --base-url http://127.0.0.1:8080/v1 --model qwen2.5-7b-instruct --concurrency 8
  A hosted API, the key read from an environment variable:
    doppel chat --spec examples/chat/bank-service.toml -n 200 -o bank.jsonl \\
        --base-url https://api.example.com/v1 --model some-model --api-key-env EXAMPLE_API_KEY

Resuming: the output is append-only. Running the same command again (same spec and seed) after
an interruption keeps the finished dialogues and generates only the missing ones; the result is
the same file an uninterrupted run writes. `--force` deletes the output and starts over.

Backends: `http` is any OpenAI-compatible /chat/completions server; `embedded` runs a small GGUF
chat model in-process with llama.cpp (SmolLM2-135M-Instruct by default: fine for smoke tests and
demos, too weak for real datasets). The embedded model is only in builds made with
`cargo build --release -p doppel-cli --features embedded`; there it is the default backend unless
`--base-url` is given. Each output gets a provenance manifest, <output>.manifest.json.";

/// Where `scripts/fetch-model.sh` puts the embedded model, under `$HOME`.
#[cfg(feature = "embedded")]
const DEFAULT_MODEL_PATH: &str = ".cache/doppel/models/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The chat server's API root when `--base-url` is not given.
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080/v1";
/// Dialogues in flight by default with a chat server.
const DEFAULT_HTTP_CONCURRENCY: usize = 8;

/// Which model answers.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ChatBackendArg {
    /// An OpenAI-compatible server (`/chat/completions`)
    Http,
    /// A GGUF chat model run in-process with llama.cpp (in builds with the `embedded` feature)
    Embedded,
    /// A seeded canned-reply mock, for tests only
    #[value(hide = true)]
    Mock,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The conversation spec (TOML: agents, personas, scenarios, turn rules, sampling, judge,
    /// output format)
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// How many dialogues the output should hold (dropped ones are replaced)
    #[arg(long, short = 'n', value_name = "DIALOGUES", allow_hyphen_values = true)]
    pub dialogues: String,
    /// The JSON Lines output (resumed when it exists, unless `--force`)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// The seed: personas, scenarios and per-request seeds derive from it
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Dialogues in flight at once (the output does not depend on it) [default: 8; with the
    /// embedded model, the CPU cores divided by --threads]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Which model answers, and how to reach it (shared by `chat` and `chat-judge`).
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The model backend [default: embedded in builds that have it, unless --base-url is given;
    /// otherwise http]
    #[arg(long, value_enum)]
    pub backend: Option<ChatBackendArg>,
    /// The server's API root; requests go to <URL>/chat/completions [default:
    /// http://127.0.0.1:8080/v1]
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The model name sent to the server
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub model: String,
    /// The environment variable holding the API key (sent as a bearer token)
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Stream replies (server-sent events)
    #[arg(long)]
    pub stream: bool,
    /// The time one request may take
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub timeout_seconds: u64,
    /// Retries of a failed request (with exponential backoff)
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_retries: u32,
    /// The embedded model's GGUF file (scripts/fetch-model.sh downloads the default) [default:
    /// ~/.cache/doppel/models/SmolLM2-135M-Instruct.Q4_1.gguf]
    #[arg(long, value_name = "PATH")]
    pub model_path: Option<PathBuf>,
    /// CPU threads per request of the embedded model
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
}

/// A model backend made from the command line, and how many requests it takes at once.
pub struct Backend {
    pub backend: Box<dyn ChatBackend>,
    pub concurrency: usize,
}

impl ModelArgs {
    /// Checks the flags and makes the backend; `concurrency` as given, else the default for
    /// the backend (8 for a server; the CPU cores divided by --threads for the embedded model).
    pub fn backend(&self, concurrency: Option<usize>) -> Result<Backend> {
        let backend_arg = match self.backend {
            Some(backend) => backend,
            None if cfg!(feature = "embedded") && self.base_url.is_none() => ChatBackendArg::Embedded,
            None => ChatBackendArg::Http,
        };
        if self.threads == 0 {
            bail!("`--threads 0`: expected at least 1");
        }
        let concurrency = match (concurrency, backend_arg) {
            (Some(0), _) => bail!("`--concurrency 0`: expected at least 1"),
            (Some(given), _) => given,
            (None, ChatBackendArg::Embedded) => {
                let cores = std::thread::available_parallelism().map_or(1, usize::from);
                (cores / self.threads).max(1)
            }
            (None, _) => DEFAULT_HTTP_CONCURRENCY,
        };
        match backend_arg {
            ChatBackendArg::Embedded if self.base_url.is_some() => {
                bail!("`--base-url` is for `--backend http`; the embedded model runs in-process")
            }
            ChatBackendArg::Http if self.model_path.is_some() => {
                bail!("`--model-path` is for `--backend embedded`; with a chat server, name the model with --model")
            }
            _ => {}
        }
        if self.timeout_seconds == 0 {
            bail!("`--timeout-seconds 0`: expected at least 1");
        }
        let backend: Box<dyn ChatBackend> = match backend_arg {
            ChatBackendArg::Mock => Box::new(MockBackend::default()),
            ChatBackendArg::Embedded => embedded_backend(self)?,
            ChatBackendArg::Http => {
                let settings = HttpSettings {
                    base_url: self.base_url.clone().unwrap_or_else(|| DEFAULT_BASE_URL.into()),
                    model: self.model.clone(),
                    api_key_env: self.api_key_env.clone(),
                    stream: self.stream,
                    timeout: Duration::from_secs(self.timeout_seconds),
                    max_retries: self.max_retries,
                    backoff: Duration::from_millis(500),
                };
                Box::new(HttpBackend::new(settings)?)
            }
        };
        Ok(Backend { backend, concurrency })
    }
}

#[derive(Debug, Serialize)]
struct ChatManifest<'a> {
    format: &'static str,
    version: u32,
    doppel_version: &'static str,
    command: &'static str,
    created_at: String,
    output: String,
    metadata_sidecar: Option<String>,
    spec: SpecInfo<'a>,
    seed: u64,
    dialogues: u64,
    concurrency: usize,
    backend: BackendInfo,
    sampling: &'a SamplingParams,
    summary: &'a RunSummary,
    timings: ChatTimings,
}

#[derive(Debug, Serialize)]
struct SpecInfo<'a> {
    path: String,
    name: &'a str,
    fingerprint: &'a str,
}

#[derive(Debug, Serialize)]
struct ChatTimings {
    generate_seconds: f64,
    total_seconds: f64,
    tokens_per_second: f64,
}

fn parse_dialogues(text: &str) -> Result<u64> {
    let cleaned = text.trim().replace('_', "");
    match cleaned.parse::<u64>() {
        Ok(0) => bail!("`-n 0`: expected at least 1 dialogue"),
        Ok(n) if n <= 100_000_000 => Ok(n),
        Ok(_) => bail!("`-n {text}`: at most 100000000 dialogues in one command"),
        Err(_) => bail!("`-n {text}`: expected a positive whole number of dialogues"),
    }
}

/// The embedded model, from `--model-path` or the default place.
#[cfg(feature = "embedded")]
fn embedded_backend(args: &ModelArgs) -> Result<Box<dyn ChatBackend>> {
    use doppel_chat::backend::{EmbeddedBackend, EmbeddedSettings};
    let path = match &args.model_path {
        Some(path) => path.clone(),
        None => match std::env::var_os("HOME") {
            Some(home) if !home.is_empty() => PathBuf::from(home).join(DEFAULT_MODEL_PATH),
            _ => bail!("$HOME is not set: pass the embedded model's file with --model-path"),
        },
    };
    let settings = EmbeddedSettings { threads: args.threads, ..EmbeddedSettings::default() };
    Ok(Box::new(EmbeddedBackend::load(&path, settings)?))
}

/// Without the `embedded` feature there is no embedded model.
#[cfg(not(feature = "embedded"))]
fn embedded_backend(_: &ModelArgs) -> Result<Box<dyn ChatBackend>> {
    bail!(
        "this doppel was built without the embedded model; build with \
         `cargo build --release -p doppel-cli --features embedded` or use --base-url"
    )
}

pub fn chat(args: ChatArgs) -> Result<()> {
    let started = Instant::now();
    let n = parse_dialogues(&args.dialogues)?;
    if args.output.as_os_str() == "-" {
        bail!("`-o -`: chat output must be a file (it is appended to and resumed)");
    }
    if args.output.exists() && args.output.canonicalize().ok() == args.spec.canonicalize().ok() {
        bail!("{} is also the spec; choose another output path", args.output.display());
    }
    let spec = ChatSpec::read(&args.spec)?;
    let Backend { backend, concurrency } = args.model.backend(args.concurrency)?;
    let info = backend.info();
    let quiet = args.common.quiet;
    if args.output.exists() && !args.common.force && !quiet {
        eprintln!("{} exists: resuming it (pass `--force` to start over)", args.output.display());
    }
    let options = RunOptions { n, seed: args.seed, concurrency, output: args.output.clone(), fresh: args.common.force };
    let bar = progress::bar(quiet, n, "dialogues");
    let generating = Instant::now();
    let result = run(&spec, backend.as_ref(), &options, &mut |p| bar.set_position(p.records));
    bar.finish_and_clear();
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            let error = anyhow::Error::new(error);
            return Err(match &info.base_url {
                Some(url) => error.context(format!("generating dialogues with the chat server at {url}")),
                None => error.context("generating dialogues"),
            });
        }
    };
    let generate_seconds = generating.elapsed().as_secs_f64();
    let sidecar = doppel_chat::run::sidecar_for(&spec, &args.output);
    let manifest_path = manifest::path_for(&args.output);
    let manifest = ChatManifest {
        format: manifest::MANIFEST_FORMAT,
        version: 1,
        doppel_version: env!("CARGO_PKG_VERSION"),
        command: "chat",
        created_at: manifest::now(),
        output: args.output.display().to_string(),
        metadata_sidecar: sidecar.as_ref().map(|p| p.display().to_string()),
        spec: SpecInfo { path: args.spec.display().to_string(), name: &spec.name, fingerprint: &spec.fingerprint },
        seed: args.seed,
        dialogues: summary.resumed + summary.written,
        concurrency,
        backend: info,
        sampling: &spec.sampling,
        summary: &summary,
        timings: ChatTimings {
            generate_seconds,
            total_seconds: started.elapsed().as_secs_f64(),
            tokens_per_second: summary.tokens_per_second,
        },
    };
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    crate::commands::write_text_atomically(&manifest_path, &text, true)
        .with_context(|| format!("cannot write {}", manifest_path.display()))?;
    if !quiet {
        let dropped = if summary.dropped_by_reason.is_empty() {
            String::new()
        } else {
            let reasons: Vec<String> = summary.dropped_by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect();
            format!(" ({})", reasons.join(", "))
        };
        eprintln!(
            "wrote {} dialogues to {} ({} already there), dropped {}{dropped}; {} requests, {} completion tokens in {:.1}s ({:.0} tokens/s); provenance in {}",
            summary.written,
            args.output.display(),
            summary.resumed,
            summary.dropped,
            summary.requests,
            summary.completion_tokens,
            summary.seconds,
            summary.tokens_per_second,
            manifest_path.display()
        );
    }
    Ok(())
}

/// `doppel chat-judge`'s examples and notes.
pub const CHAT_JUDGE_HELP: &str = "\
Examples:
  Judge generated dialogues again with a bigger model behind a local server:
    doppel chat-judge dialogues.jsonl --spec examples/chat/hr-coaching.toml -o judged.jsonl \\
        --base-url http://127.0.0.1:8080/v1 --model qwen2.5-7b-instruct
  With the embedded model (a build with `--features embedded`):
    doppel chat-judge dialogues.jsonl --spec examples/chat/hr-coaching.toml -o judged.jsonl --backend embedded

The spec's [judge] section says how (default: yes/no questions, each scored by the model's
probability of Yes; see docs/chat.md), whether or not `enabled` is set. Records need the metadata
`doppel chat` writes inline (scenario, persona). Every record is written back with its
`judge_score` and `judge_criteria` replaced, in the chat format; `doppel chat-report` then shows
the score distribution. A provenance manifest goes to <output>.manifest.json.";

#[derive(Debug, Args)]
pub struct ChatJudgeArgs {
    /// The dialogues (JSON Lines from `doppel chat`, chat format or ShareGPT, metadata inline)
    #[arg(value_name = "DIALOGUES")]
    pub input: PathBuf,
    /// The conversation spec the dialogues follow (its agents, scenarios and [judge] section)
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// The judged dialogues (JSON Lines, chat format, metadata inline)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// The seed of the judge's requests
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Dialogues judged at once (the output does not depend on it) [default: 8; with the
    /// embedded model, the CPU cores divided by --threads]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Serialize)]
struct JudgeManifest<'a> {
    format: &'static str,
    version: u32,
    doppel_version: &'static str,
    command: &'static str,
    created_at: String,
    input: String,
    output: String,
    spec: SpecInfo<'a>,
    judge_method: doppel_chat::spec::JudgeMethod,
    seed: u64,
    dialogues: usize,
    concurrency: usize,
    backend: BackendInfo,
    totals: &'a doppel_chat::dialogue::JudgeTotals,
    mean_score: Option<f64>,
    seconds: f64,
}

pub fn chat_judge(args: ChatJudgeArgs) -> Result<()> {
    let started = Instant::now();
    if args.output.as_os_str() == "-" {
        bail!("`-o -`: write the judged dialogues to a file");
    }
    crate::commands::check_output(&args.output, &[&args.input, &args.spec], &args.common)?;
    let spec = ChatSpec::read(&args.spec)?;
    let records = doppel_chat::quality::read_records(&args.input)?;
    if records.is_empty() {
        bail!("{}: no dialogues to judge", args.input.display());
    }
    let Backend { backend, concurrency } = args.model.backend(args.concurrency)?;
    let info = backend.info();
    let bar = progress::bar(args.common.quiet, records.len() as u64, "judged");
    let count = records.len();
    let result = doppel_chat::dialogue::judge_records(&spec, backend.as_ref(), records, args.seed, concurrency, &|n| {
        bar.set_position(n as u64);
    });
    bar.finish_and_clear();
    let (judged, totals) = result.map_err(|e| {
        let e = anyhow::Error::new(e).context(format!("judging {}", args.input.display()));
        match &info.base_url {
            Some(url) => e.context(format!("with the chat server at {url}")),
            None => e,
        }
    })?;
    let mut text = String::new();
    for record in &judged {
        let (line, _) = doppel_chat::output::record_lines(
            record,
            doppel_chat::spec::OutputFormat::Openai,
            doppel_chat::spec::MetadataMode::Inline,
        );
        text.push_str(&line);
    }
    crate::commands::write_text_atomically(&args.output, &text, args.common.force)?;
    let scores: Vec<f64> = judged.iter().filter_map(|r| r.metadata.judge_score).collect();
    let mean_score = (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64);
    let manifest_path = manifest::path_for(&args.output);
    let manifest = JudgeManifest {
        format: manifest::MANIFEST_FORMAT,
        version: 1,
        doppel_version: env!("CARGO_PKG_VERSION"),
        command: "chat-judge",
        created_at: manifest::now(),
        input: args.input.display().to_string(),
        output: args.output.display().to_string(),
        spec: SpecInfo { path: args.spec.display().to_string(), name: &spec.name, fingerprint: &spec.fingerprint },
        judge_method: spec.judge_method(),
        seed: args.seed,
        dialogues: count,
        concurrency,
        backend: info,
        totals: &totals,
        mean_score,
        seconds: started.elapsed().as_secs_f64(),
    };
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    crate::commands::write_text_atomically(&manifest_path, &text, true)
        .with_context(|| format!("cannot write {}", manifest_path.display()))?;
    if !args.common.quiet {
        eprintln!(
            "judged {count} dialogues into {} (mean score {}, {} unparsable; {} requests, {} prompt tokens in {:.1}s); provenance in {}",
            args.output.display(),
            mean_score.map_or("n/a".to_string(), |m| format!("{m:.3}")),
            totals.unparsable,
            totals.requests,
            totals.prompt_tokens,
            started.elapsed().as_secs_f64(),
            manifest_path.display()
        );
    }
    Ok(())
}
