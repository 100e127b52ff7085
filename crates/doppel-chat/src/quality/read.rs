//! Reading dialogues from JSON Lines: the chat format (with or without metadata) and ShareGPT.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::{BackendInfo, DialogueMetadata, DialogueRecord, Error, Message, Result, Role, SamplingParams};

/// Metadata as found in files: every field optional, unknown fields ignored (real seed dialogues
/// carry metadata of their own).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LooseMetadata {
    index: Option<u64>,
    seed: Option<u64>,
    scenario: Option<String>,
    persona: Option<BTreeMap<String, BTreeMap<String, String>>>,
    backend: Option<LooseBackend>,
    sampling: Option<SamplingParams>,
    turns: Option<usize>,
    judge_score: Option<f64>,
    judge_criteria: Option<BTreeMap<String, f64>>,
    attempts: Option<u32>,
    spec_fingerprint: Option<String>,
    provenance: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LooseBackend {
    kind: Option<String>,
    model: Option<String>,
    base_url: Option<String>,
}

/// Turns spoken in a conversation (its messages less the system prompts).
pub fn spoken_turns(messages: &[Message]) -> usize {
    messages.iter().filter(|m| m.role != Role::System).count()
}

/// The metadata given to a record that has none: `index` as given, empty scenario and persona,
/// backend kind and model empty, default sampling, the turns counted, no judge score, no
/// attempts, no spec fingerprint, and an empty provenance (unknown).
pub fn minimal_metadata(index: u64, messages: &[Message]) -> DialogueMetadata {
    DialogueMetadata {
        index,
        seed: 0,
        scenario: String::new(),
        persona: BTreeMap::new(),
        backend: BackendInfo { kind: String::new(), model: String::new(), base_url: None },
        sampling: SamplingParams::default(),
        turns: spoken_turns(messages),
        judge_score: None,
        judge_criteria: None,
        attempts: 0,
        spec_fingerprint: String::new(),
        provenance: String::new(),
    }
}

fn role_of(name: &str) -> Option<Role> {
    match name.trim().to_ascii_lowercase().as_str() {
        "system" => Some(Role::System),
        "human" | "user" => Some(Role::User),
        "gpt" | "assistant" | "bot" | "chatgpt" | "model" => Some(Role::Assistant),
        _ => None,
    }
}

/// Parses one JSON Lines record, and says whether it carried metadata; `index` (the record's
/// position among the file's records) is the index of a record without metadata.
fn parse_line(line: &str, index: u64) -> std::result::Result<(DialogueRecord, bool), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("expected a JSON object".to_string());
    };
    let messages = if let Some(list) = object.get("messages") {
        let Value::Array(items) = list else { return Err("`messages` must be an array".to_string()) };
        let mut messages = Vec::with_capacity(items.len());
        for (k, item) in items.iter().enumerate() {
            let role = item.get("role").and_then(Value::as_str).ok_or(format!("message {k} has no `role` string"))?;
            let content =
                item.get("content").and_then(Value::as_str).ok_or(format!("message {k} has no `content` string"))?;
            let role = role_of(role)
                .ok_or(format!("message {k} has role `{role}`; expected `system`, `user` or `assistant`"))?;
            messages.push(Message::new(role, content));
        }
        messages
    } else if let Some(list) = object.get("conversations") {
        let Value::Array(items) = list else { return Err("`conversations` must be an array".to_string()) };
        let mut messages = Vec::with_capacity(items.len());
        for (k, item) in items.iter().enumerate() {
            let from = item.get("from").and_then(Value::as_str).ok_or(format!("turn {k} has no `from` string"))?;
            let text = item.get("value").and_then(Value::as_str).ok_or(format!("turn {k} has no `value` string"))?;
            let role =
                role_of(from).ok_or(format!("turn {k} is from `{from}`; expected `system`, `human` or `gpt`"))?;
            messages.push(Message::new(role, text));
        }
        messages
    } else {
        return Err("no `messages` (chat format) or `conversations` (ShareGPT) array".to_string());
    };
    let mut metadata = minimal_metadata(index, &messages);
    let has_metadata = match object.get("metadata") {
        None | Some(Value::Null) => false,
        Some(raw) => {
            apply_metadata(&mut metadata, raw)?;
            true
        }
    };
    Ok((DialogueRecord { messages, metadata }, has_metadata))
}

/// Overwrites the fields of `metadata` that `raw` gives.
fn apply_metadata(metadata: &mut DialogueMetadata, raw: &Value) -> std::result::Result<(), String> {
    let loose: LooseMetadata = serde_json::from_value(raw.clone()).map_err(|e| format!("invalid `metadata`: {e}"))?;
    if let Some(v) = loose.index {
        metadata.index = v;
    }
    if let Some(v) = loose.seed {
        metadata.seed = v;
    }
    if let Some(v) = loose.scenario {
        metadata.scenario = v;
    }
    if let Some(v) = loose.persona {
        metadata.persona = v;
    }
    if let Some(b) = loose.backend {
        metadata.backend =
            BackendInfo { kind: b.kind.unwrap_or_default(), model: b.model.unwrap_or_default(), base_url: b.base_url };
    }
    if let Some(v) = loose.sampling {
        metadata.sampling = v;
    }
    if let Some(v) = loose.turns {
        metadata.turns = v;
    }
    metadata.judge_score = loose.judge_score;
    metadata.judge_criteria = loose.judge_criteria;
    if let Some(v) = loose.attempts {
        metadata.attempts = v;
    }
    if let Some(v) = loose.spec_fingerprint {
        metadata.spec_fingerprint = v;
    }
    if let Some(v) = loose.provenance {
        metadata.provenance = v;
    }
    Ok(())
}

/// Reads dialogues from JSON Lines text; `source` names the text in errors.
pub fn parse_records(text: &str, source: &str) -> Result<Vec<DialogueRecord>> {
    Ok(parse_lines(text, source)?.into_iter().map(|(record, _)| record).collect())
}

fn non_blank_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()).map(|(number, line)| (number + 1, line))
}

fn parse_lines(text: &str, source: &str) -> Result<Vec<(DialogueRecord, bool)>> {
    let mut records = Vec::new();
    for (number, line) in non_blank_lines(text) {
        let record = parse_line(line, records.len() as u64)
            .map_err(|why| Error::InvalidData(format!("{source}: line {number}: {why}")))?;
        records.push(record);
    }
    Ok(records)
}

/// `<path>.meta.jsonl`: where `doppel chat` writes the metadata with `metadata = "sidecar"`.
fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".meta.jsonl");
    name.into()
}

/// Reads dialogues from a JSON Lines file, one record a line (blank lines are skipped): the chat
/// format `{"messages": [{"role", "content"}, ...], "metadata": {...}}` (metadata optional, and
/// any of its fields may be missing) or ShareGPT `{"conversations": [{"from", "value"}, ...]}`.
/// When a sidecar `<path>.meta.jsonl` exists, its line *i* is the metadata of record *i* (for
/// records without metadata of their own). Records without metadata get [`minimal_metadata`].
/// Errors name the file and the line.
pub fn read_records(path: impl AsRef<Path>) -> Result<Vec<DialogueRecord>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut records = parse_lines(&text, &path.display().to_string())?;
    let sidecar = sidecar_path(path);
    if records.iter().any(|(_, has)| !has) && sidecar.is_file() {
        let meta = std::fs::read_to_string(&sidecar).map_err(|e| Error::io(&sidecar, e))?;
        for ((number, line), (record, has)) in non_blank_lines(&meta).zip(records.iter_mut()) {
            if *has {
                continue;
            }
            let bad = |why: String| Error::InvalidData(format!("{}: line {number}: {why}", sidecar.display()));
            let raw: Value = serde_json::from_str(line).map_err(|e| bad(format!("invalid JSON: {e}")))?;
            apply_metadata(&mut record.metadata, &raw).map_err(bad)?;
        }
    }
    Ok(records.into_iter().map(|(record, _)| record).collect())
}
