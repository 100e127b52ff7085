//! JSON Lines output and resuming.
//!
//! Records are one JSON object per line, in one of two formats:
//! - `openai`: `{"messages": [{"role": "system" | "user" | "assistant", "content": ...}], "metadata": {...}}`;
//! - `sharegpt`: `{"conversations": [{"from": "system" | "human" | "gpt", "value": ...}], "metadata": {...}}`.
//!
//! With `metadata = "sidecar"` the `metadata` objects go to `<output>.meta.jsonl` instead, one
//! line per record in the same order.
//!
//! The output is append-only: each record is written with one `write_all` and a flush, in index
//! order. A run that is killed leaves at most a partial last line, which [`prepare_resume`]
//! truncates away before appending; the indices already written ([`read_done`]) are skipped.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::spec::{MetadataMode, OutputFormat};
use crate::{DialogueMetadata, DialogueRecord, Error, Message, Result, Role};

/// `<output>.meta.jsonl`, where sidecar metadata goes.
pub fn sidecar_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_os_string();
    name.push(".meta.jsonl");
    name.into()
}

/// The lines of a record: the record itself and, for sidecar metadata, the metadata line (each
/// ending with a newline).
pub fn record_lines(record: &DialogueRecord, format: OutputFormat, mode: MetadataMode) -> (String, Option<String>) {
    let conversation = match format {
        OutputFormat::Openai => ("messages", json!(record.messages)),
        OutputFormat::Sharegpt => {
            let turns: Vec<Value> = record
                .messages
                .iter()
                .map(|m| {
                    let from = match m.role {
                        Role::System => "system",
                        Role::User => "human",
                        Role::Assistant => "gpt",
                    };
                    json!({"from": from, "value": m.content})
                })
                .collect();
            ("conversations", Value::Array(turns))
        }
    };
    let metadata = json!(record.metadata);
    let mut object = serde_json::Map::new();
    object.insert(conversation.0.to_string(), conversation.1);
    let sidecar = match mode {
        MetadataMode::Inline => {
            object.insert("metadata".to_string(), metadata);
            None
        }
        MetadataMode::Sidecar => Some(metadata.to_string() + "\n"),
    };
    (Value::Object(object).to_string() + "\n", sidecar)
}

/// The messages of a record line in either format.
pub fn parse_messages(line: &Value) -> Option<Vec<Message>> {
    if let Some(messages) = line.get("messages") {
        return serde_json::from_value(messages.clone()).ok();
    }
    let turns = line.get("conversations")?.as_array()?;
    turns
        .iter()
        .map(|t| {
            let role = match t.get("from")?.as_str()? {
                "system" => Role::System,
                "human" | "user" => Role::User,
                "gpt" | "assistant" => Role::Assistant,
                _ => return None,
            };
            Some(Message::new(role, t.get("value")?.as_str()?))
        })
        .collect()
}

/// A fingerprint of a conversation's messages, to keep exact duplicates out.
pub fn messages_key(messages: &[Message]) -> String {
    crate::spec::fingerprint(serde_json::to_string(messages).unwrap_or_default().as_bytes())
}

/// What an existing output holds.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    /// Indices of the complete records.
    pub indices: BTreeSet<u64>,
    /// [`messages_key`] of every complete record.
    pub keys: BTreeSet<String>,
    /// Complete records.
    pub records: u64,
    /// The seeds recorded in their metadata.
    pub seeds: BTreeSet<u64>,
    /// The spec fingerprints recorded in their metadata.
    pub spec_fingerprints: BTreeSet<String>,
    /// Bytes of complete lines in the output (and in the sidecar).
    valid_len: (u64, u64),
}

/// The complete lines of a file (those ending with a newline).
fn complete_lines(path: &Path) -> Result<Vec<String>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let text = std::str::from_utf8(&bytes[..end])
        .map_err(|_| Error::Format(format!("{}: not UTF-8 text; is it a dialogue output?", path.display())))?;
    Ok(text.lines().map(str::to_string).collect())
}

/// Reads an existing output (a missing one is empty); `mode` says where metadata is. Only
/// complete lines count; with a sidecar, as many records as both files hold completely.
pub fn scan(output: &Path, mode: MetadataMode) -> Result<Existing> {
    let lines = complete_lines(output)?;
    let (meta_lines, count) = match mode {
        MetadataMode::Inline => (Vec::new(), lines.len()),
        MetadataMode::Sidecar => {
            let meta = complete_lines(&sidecar_path(output))?;
            let count = lines.len().min(meta.len());
            (meta, count)
        }
    };
    let mut existing = Existing::default();
    let mut kept_len = 0u64;
    let mut kept_meta_len = 0u64;
    for i in 0..count {
        let bad = |what: &str, path: &Path| {
            Error::Format(format!(
                "{}: line {} is not a dialogue record ({what}); pass `--force` to start over",
                path.display(),
                i + 1
            ))
        };
        let line: Value = serde_json::from_str(&lines[i]).map_err(|e| bad(&e.to_string(), output))?;
        let messages = parse_messages(&line).ok_or_else(|| bad("no messages or conversations", output))?;
        let metadata_value = match mode {
            MetadataMode::Inline => line.get("metadata").cloned().ok_or_else(|| bad("no metadata", output))?,
            MetadataMode::Sidecar => {
                let meta = sidecar_path(output);
                serde_json::from_str(&meta_lines[i]).map_err(|e| bad(&e.to_string(), &meta))?
            }
        };
        let metadata: DialogueMetadata =
            serde_json::from_value(metadata_value).map_err(|e| bad(&format!("metadata: {e}"), output))?;
        existing.indices.insert(metadata.index);
        existing.keys.insert(messages_key(&messages));
        existing.seeds.insert(metadata.seed);
        existing.spec_fingerprints.insert(metadata.spec_fingerprint);
        existing.records += 1;
        kept_len += lines[i].len() as u64 + 1;
        if mode == MetadataMode::Sidecar {
            kept_meta_len += meta_lines[i].len() as u64 + 1;
        }
    }
    existing.valid_len = (kept_len, kept_meta_len);
    Ok(existing)
}

/// The indices of the complete records of an output (metadata inline, or in the sidecar when
/// there is one).
pub fn read_done(output: &Path) -> Result<BTreeSet<u64>> {
    let mode = if sidecar_path(output).exists() { MetadataMode::Sidecar } else { MetadataMode::Inline };
    Ok(scan(output, mode)?.indices)
}

/// Scans an existing output and truncates whatever follows its complete records (the partial
/// line of a killed run, or a record whose sidecar line is missing), so that appending resumes
/// cleanly.
pub fn prepare_resume(output: &Path, mode: MetadataMode) -> Result<Existing> {
    let existing = scan(output, mode)?;
    truncate_to(output, existing.valid_len.0)?;
    if mode == MetadataMode::Sidecar {
        truncate_to(&sidecar_path(output), existing.valid_len.1)?;
    }
    Ok(existing)
}

fn truncate_to(path: &Path, len: u64) -> Result<()> {
    let file = match OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let current = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if current != len {
        file.set_len(len).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Appends records to an output (and its sidecar). The files are created on the first record,
/// so a run that fails before writing anything leaves no file.
#[derive(Debug)]
pub struct RecordWriter {
    path: PathBuf,
    format: OutputFormat,
    mode: MetadataMode,
    files: Option<(File, Option<File>)>,
}

impl RecordWriter {
    /// A writer appending to `path`.
    pub fn new(path: &Path, format: OutputFormat, mode: MetadataMode) -> RecordWriter {
        RecordWriter { path: path.to_path_buf(), format, mode, files: None }
    }

    fn open(path: &Path) -> Result<File> {
        OpenOptions::new().create(true).append(true).open(path).map_err(|e| Error::io(path, e))
    }

    /// Appends one record (one `write_all` per file, then a flush).
    pub fn write(&mut self, record: &DialogueRecord) -> Result<()> {
        if self.files.is_none() {
            let main = RecordWriter::open(&self.path)?;
            let meta = match self.mode {
                MetadataMode::Inline => None,
                MetadataMode::Sidecar => Some(RecordWriter::open(&sidecar_path(&self.path))?),
            };
            self.files = Some((main, meta));
        }
        let (line, meta_line) = record_lines(record, self.format, self.mode);
        if let Some((main, meta)) = &mut self.files {
            main.write_all(line.as_bytes()).and_then(|()| main.flush()).map_err(|e| Error::io(&self.path, e))?;
            if let (Some(meta), Some(meta_line)) = (meta, meta_line) {
                let meta_path = sidecar_path(&self.path);
                meta.write_all(meta_line.as_bytes())
                    .and_then(|()| meta.flush())
                    .map_err(|e| Error::io(&meta_path, e))?;
            }
        }
        Ok(())
    }
}
