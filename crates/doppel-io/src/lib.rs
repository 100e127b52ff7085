//! Reading and writing tables.
//!
//! Readers turn a file into a [`Table`]; the format is chosen by the file's extension (see
//! [`FileFormat`]). Writers are streaming [`Sink`]s: samplers hand them one batch at a time, so
//! writing 100 M rows runs in flat memory. Every file sink writes to a temporary file next to the
//! target and renames it into place in [`Sink::finish`], so a failure never leaves a partial file
//! that looks complete.
//!
//! ```no_run
//! use doppel_io::{read_table, ReadOptions};
//! let table = read_table("data.csv".as_ref(), &ReadOptions::default())?;
//! println!("{} rows", table.n_rows());
//! # Ok::<(), doppel_core::Error>(())
//! ```

mod arrow_convert;
mod csv_reader;
mod writers;

use std::path::Path;

use doppel_core::{Error, Result, Table};

pub use csv_reader::read_csv;
pub use writers::{AtomicFile, BatchEncoder, EncodedBatch, Sink, open_sink};

/// The file formats doppel reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma- (or otherwise) separated values, with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC (file or stream), also called Feather v2. Read only.
    ArrowIpc,
    /// One JSON object per line.
    JsonLines,
}

impl FileFormat {
    /// The format implied by a path's extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        if path.as_os_str() == "-" {
            return Ok(FileFormat::Csv);
        }
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        match extension.as_str() {
            "csv" | "tsv" | "txt" | "tab" => Ok(FileFormat::Csv),
            "parquet" | "pq" => Ok(FileFormat::Parquet),
            "arrow" | "feather" | "ipc" | "arrows" => Ok(FileFormat::ArrowIpc),
            "jsonl" | "ndjson" => Ok(FileFormat::JsonLines),
            _ => Err(Error::Format(format!(
                "{}: cannot tell the file format from the extension `{extension}`; expected one of \
                 .csv, .tsv, .parquet, .arrow, .feather, .jsonl, .ndjson",
                path.display()
            ))),
        }
    }
}

/// Options for reading tables.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Text that means a missing value in CSV and JSON Lines (exact match).
    pub null_values: Vec<String>,
    /// The CSV delimiter; detected from the first lines when `None`.
    pub delimiter: Option<u8>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            null_values: ["", "NA", "NaN", "null", "N/A", "NULL"].iter().map(|s| s.to_string()).collect(),
            delimiter: None,
        }
    }
}

/// Reads a whole table from `path`, choosing the reader by extension.
pub fn read_table(path: &Path, options: &ReadOptions) -> Result<Table> {
    let format = FileFormat::from_path(path)?;
    if !path.exists() {
        return Err(Error::InvalidData(format!("{}: no such file", path.display())));
    }
    if path.is_dir() {
        return Err(Error::InvalidData(format!("{}: is a directory, expected a data file", path.display())));
    }
    let table = match format {
        FileFormat::Csv => read_csv(path, options)?,
        FileFormat::Parquet => arrow_convert::read_parquet(path)?,
        FileFormat::ArrowIpc => arrow_convert::read_ipc(path)?,
        FileFormat::JsonLines => read_json_lines(path, options)?,
    };
    if table.n_columns() == 0 {
        return Err(Error::InvalidData(format!("{}: the file has no columns", path.display())));
    }
    if table.n_rows() == 0 {
        return Err(Error::InvalidData(format!(
            "{}: the file has a header but no data rows; expected at least one row",
            path.display()
        )));
    }
    Ok(table)
}

fn read_json_lines(path: &Path, options: &ReadOptions) -> Result<Table> {
    use doppel_core::{Column, ColumnData};
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(Error::InvalidData(format!(
            "{}: the file is empty; expected one JSON object per line",
            path.display()
        )));
    }
    let mut names: Vec<String> = Vec::new();
    let mut values: Vec<Vec<Option<String>>> = Vec::new();
    let mut n_rows = 0usize;
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_number = index + 1;
        let text = std::str::from_utf8(line)
            .map_err(|_| Error::InvalidData(format!("{}: line {line_number} is not valid UTF-8", path.display())))?;
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).map_err(|e| {
            Error::InvalidData(format!("{}: line {line_number}: expected a JSON object: {e}", path.display()))
        })?;
        for (key, value) in object {
            let position = match names.iter().position(|n| *n == key) {
                Some(position) => position,
                None => {
                    names.push(key.clone());
                    values.push(vec![None; n_rows]);
                    names.len() - 1
                }
            };
            let cell = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) if options.null_values.contains(&s) => None,
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(if b { "true".into() } else { "false".into() }),
                other => {
                    return Err(Error::InvalidData(format!(
                        "{}: line {line_number}, field `{key}`: nested values are not supported, got `{}`",
                        path.display(),
                        truncate(&other.to_string(), 40)
                    )));
                }
            };
            let column = &mut values[position];
            column.resize(n_rows, None);
            column.push(cell);
        }
        n_rows += 1;
        for column in &mut values {
            column.resize(n_rows, None);
        }
    }
    let columns = names.into_iter().zip(values).map(|(name, v)| Column::new(name, ColumnData::Text(v))).collect();
    Table::try_new(columns).map_err(|e| e.context(path.display().to_string()))
}

/// Shortens text for error messages.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let head: String = text.chars().take(max_chars).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, RecordBatch, StringArray,
        TimestampMillisecondArray,
    };
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    use doppel_core::ColumnData;

    use super::*;

    fn sample_batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("f", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("d", DataType::Date32, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN), None])),
            Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])),
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            Arc::new(Date32Array::from(vec![Some(0), Some(365), None])),
            Arc::new(TimestampMillisecondArray::from(vec![Some(1_000), None, Some(2_000)]).with_timezone("UTC")),
        ];
        RecordBatch::try_new(schema, columns).expect("a valid batch")
    }

    fn check(table: &Table) {
        assert_eq!(table.n_rows(), 3);
        let data: Vec<&ColumnData> = table.columns().iter().map(|c| &c.data).collect();
        assert_eq!(*data[0], ColumnData::Int(vec![Some(1), None, Some(3)]));
        assert_eq!(*data[1], ColumnData::Float(vec![Some(1.5), None, None]), "NaN reads as missing");
        assert_eq!(*data[2], ColumnData::Text(vec![Some("a".into()), Some("b".into()), None]));
        assert_eq!(*data[3], ColumnData::Bool(vec![Some(true), None, Some(false)]));
        assert_eq!(*data[4], ColumnData::Date(vec![Some(0), Some(365), None]));
        assert_eq!(*data[5], ColumnData::DateTime(vec![Some(1_000_000), None, Some(2_000_000)]));
    }

    #[test]
    fn reads_arrow_ipc_files_and_streams() {
        let dir = tempfile::tempdir().expect("temp dir");
        let batch = sample_batch();
        let file_path = dir.path().join("data.arrow");
        let mut writer = arrow_ipc::writer::FileWriter::try_new(
            std::fs::File::create(&file_path).expect("creates"),
            &batch.schema(),
        )
        .expect("writer");
        writer.write(&batch).expect("writes");
        writer.finish().expect("finishes");
        check(&read_table(&file_path, &ReadOptions::default()).expect("reads the file format"));
        let stream_path = dir.path().join("data.arrows");
        let mut writer = arrow_ipc::writer::StreamWriter::try_new(
            std::fs::File::create(&stream_path).expect("creates"),
            &batch.schema(),
        )
        .expect("writer");
        writer.write(&batch).expect("writes");
        writer.finish().expect("finishes");
        check(&read_table(&stream_path, &ReadOptions::default()).expect("reads the stream format"));
    }

    #[test]
    fn reads_parquet() {
        let dir = tempfile::tempdir().expect("temp dir");
        let batch = sample_batch();
        let path = dir.path().join("data.parquet");
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).expect("creates"), batch.schema(), None)
                .expect("writer");
        writer.write(&batch).expect("writes");
        writer.close().expect("closes");
        check(&read_table(&path, &ReadOptions::default()).expect("reads"));
    }

    #[test]
    fn reads_json_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data.jsonl");
        std::fs::write(&path, "{\"a\": 1, \"b\": \"x\"}\n\n{\"b\": null, \"c\": true}\n{\"a\": 2.5, \"b\": \"NA\"}\n")
            .expect("writes");
        let table = read_table(&path, &ReadOptions::default()).expect("reads");
        assert_eq!(table.column_names(), ["a", "b", "c"]);
        let text = |name: &str| -> Vec<Option<String>> {
            let data = &table.column(name).expect("column").data;
            (0..data.len()).map(|r| data.text_at(r).map(|t| t.into_owned())).collect()
        };
        assert_eq!(text("a"), [Some("1".into()), None, Some("2.5".into())]);
        assert_eq!(text("b"), [Some("x".into()), None, None]);
        assert_eq!(text("c"), [None, Some("true".into()), None]);
        std::fs::write(&path, "{\"a\": 1}\n{\"a\": [1, 2]}\n").expect("writes");
        let error = read_table(&path, &ReadOptions::default()).expect_err("nested").to_string();
        assert!(error.contains("line 2, field `a`: nested values are not supported"), "{error}");
    }
}
