//! Many dialogues: at most `concurrency` in flight, written strictly in index order.
//!
//! Dialogue indices are handed out by a shared counter to `concurrency` worker threads; finished
//! dialogues go through a channel to a reorder buffer that writes them in index order (workers
//! stay at most `4 * concurrency` indices ahead of the oldest unfinished dialogue). Each
//! dialogue depends only on the seed and its index, so the output is byte-identical whatever the
//! concurrency, and a resumed run continues exactly where the interrupted one stopped: `n` is the
//! number of records wanted, the kept dialogues of indices 0, 1, 2, ... in order (dropped ones and
//! exact duplicates are skipped).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use serde::Serialize;

use crate::dialogue::{DialogueOutcome, generate_dialogue};
use crate::output::{RecordWriter, messages_key, prepare_resume, scan, sidecar_path};
use crate::spec::{ChatSpec, MetadataMode};
use crate::{ChatBackend, Error, Result};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Records wanted in the output (those already there count).
    pub n: u64,
    /// The seed.
    pub seed: u64,
    /// Dialogues in flight at once (at least 1).
    pub concurrency: usize,
    /// The JSON Lines output; an existing one is resumed unless `fresh`.
    pub output: PathBuf,
    /// Delete an existing output (and sidecar) and start over.
    pub fresh: bool,
}

/// Progress, reported after each dialogue index is settled.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Records in the output.
    pub records: u64,
    /// Records wanted.
    pub target: u64,
    /// Dialogues dropped in this run.
    pub dropped: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Records wanted.
    pub requested: u64,
    /// Records that were already in the output (resumed).
    pub resumed: u64,
    /// Records written by this run.
    pub written: u64,
    /// Dialogue indices settled by this run (written + dropped).
    pub dialogues: u64,
    /// Dialogues dropped (filters, judge, exact duplicates).
    pub dropped: u64,
    /// Dropped dialogues per reason (a dialogue may have several reasons).
    pub dropped_by_reason: BTreeMap<String, u64>,
    /// Attempts made (retries included).
    pub attempts: u64,
    /// Requests sent to the backend.
    pub requests: u64,
    /// Prompt tokens reported by the backend.
    pub prompt_tokens: u64,
    /// Completion tokens reported by the backend.
    pub completion_tokens: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Completion tokens per second.
    pub tokens_per_second: f64,
}

/// Runs dialogues until the output holds `options.n` records. Resumes an existing output (its
/// trailing partial line is cut) unless `options.fresh`; refuses one made with another seed or
/// spec. `progress` is called on this thread after each settled index.
pub fn run(
    spec: &ChatSpec,
    backend: &dyn ChatBackend,
    options: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary> {
    let started = Instant::now();
    if options.concurrency == 0 {
        return Err(Error::InvalidConfig("concurrency: expected at least 1".into()));
    }
    let mode = spec.output.metadata;
    if options.fresh {
        remove_if_exists(&options.output)?;
        remove_if_exists(&sidecar_path(&options.output))?;
    }
    // Check what is there before cutting anything (a refused resume leaves the file as it is).
    let existing = scan(&options.output, mode)?;
    if existing.records > 0 {
        let other_seed = existing.seeds.iter().any(|s| *s != options.seed);
        let other_spec = existing.spec_fingerprints.iter().any(|f| *f != spec.fingerprint);
        if other_seed || other_spec {
            let what = if other_seed { "another seed" } else { "another version of the spec" };
            return Err(Error::InvalidConfig(format!(
                "{} holds {} dialogues made with {what}; pass `--force` to start over, or choose another output",
                options.output.display(),
                existing.records
            )));
        }
    }
    let existing = prepare_resume(&options.output, mode)?;
    let mut summary = RunSummary { requested: options.n, resumed: existing.records, ..RunSummary::default() };
    let remaining = options.n.saturating_sub(existing.records);
    progress(Progress { records: existing.records, target: options.n, dropped: 0 });
    if remaining == 0 {
        summary.seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let mut keys: BTreeSet<String> = existing.keys;
    let first = existing.indices.last().map_or(0, |i| i + 1);
    let mut writer = RecordWriter::new(&options.output, spec.output.format, mode);
    let workers = options.concurrency.min(usize::try_from(remaining).unwrap_or(usize::MAX)).max(1);
    let next = AtomicU64::new(first);
    let settled = AtomicU64::new(first);
    let stop = AtomicBool::new(false);
    // Workers stay at most this many indices ahead of the first unsettled one, so that a slow
    // dialogue does not leave a long run of finished but unwritten ones (lost if killed).
    let window = 4 * workers as u64;
    let (sender, receiver) = mpsc::channel::<(u64, Result<DialogueOutcome>)>();
    let mut failure: Option<Error> = None;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let (next, settled, stop) = (&next, &settled, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if next.load(Ordering::Relaxed) >= settled.load(Ordering::Relaxed) + window {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        continue;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let outcome = generate_dialogue(spec, backend, options.seed, index);
                    let failed = outcome.is_err();
                    if sender.send((index, outcome)).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut pending: BTreeMap<u64, Result<DialogueOutcome>> = BTreeMap::new();
        let mut expected = first;
        'receive: for (index, outcome) in receiver.iter() {
            pending.insert(index, outcome);
            while let Some(outcome) = pending.remove(&expected) {
                expected += 1;
                settled.store(expected, Ordering::Relaxed);
                let outcome = match outcome {
                    Ok(outcome) => outcome,
                    Err(error) => {
                        failure = Some(error);
                        break 'receive;
                    }
                };
                summary.dialogues += 1;
                summary.attempts += u64::from(outcome.attempts);
                summary.requests += outcome.requests;
                summary.prompt_tokens += outcome.prompt_tokens;
                summary.completion_tokens += outcome.completion_tokens;
                let mut reasons = outcome.reasons;
                if let Some(record) = outcome.record {
                    if keys.insert(messages_key(&record.messages)) {
                        if let Err(error) = writer.write(&record) {
                            failure = Some(error);
                            break 'receive;
                        }
                        summary.written += 1;
                    } else {
                        reasons = vec!["duplicate".to_string()];
                    }
                }
                if !reasons.is_empty() {
                    summary.dropped += 1;
                    for reason in reasons {
                        *summary.dropped_by_reason.entry(reason).or_default() += 1;
                    }
                }
                progress(Progress {
                    records: existing.records + summary.written,
                    target: options.n,
                    dropped: summary.dropped,
                });
                if summary.written == remaining {
                    break 'receive;
                }
                if summary.dropped >= 20 && (summary.written == 0 || summary.dropped > 10 * remaining + 20) {
                    failure = Some(Error::InvalidData(format!(
                        "gave up after dropping {} dialogues ({} kept); the reasons: {}. Check the spec's prompts and the model",
                        summary.dropped,
                        summary.written,
                        summary
                            .dropped_by_reason
                            .iter()
                            .map(|(r, n)| format!("{r} {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                    break 'receive;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        drop(receiver);
    });
    if let Some(error) = failure {
        return Err(error);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary.tokens_per_second = summary.completion_tokens as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}

fn remove_if_exists(path: &std::path::Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The metadata mode's sidecar, if any, for messages.
pub fn sidecar_for(spec: &ChatSpec, output: &std::path::Path) -> Option<PathBuf> {
    (spec.output.metadata == MetadataMode::Sidecar).then(|| sidecar_path(output))
}
