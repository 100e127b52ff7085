//! Streaming writers. Each takes batches of rows and writes them as they come.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use doppel_core::temporal;
use doppel_core::{ColumnData, Error, Result, Table, TextFormat};

use crate::FileFormat;
use crate::arrow_convert::{schema_for, table_to_batch};

/// A destination for rows, written batch by batch.
pub trait Sink: Send {
    /// Writes one batch. Every batch has the same columns and types.
    fn write_batch(&mut self, batch: &Table) -> Result<()>;
    /// Flushes and closes the output; for files, renames the temporary file into place.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A file written under a temporary name in the same folder and renamed into place by
/// [`AtomicFile::commit`]. Dropped without commit, the temporary file is removed.
pub struct AtomicFile {
    target: PathBuf,
    temporary: tempfile::NamedTempFile,
    overwrite: bool,
}

impl AtomicFile {
    /// Starts writing `target`. Fails when it exists and `overwrite` is false.
    pub fn create(target: &Path, overwrite: bool) -> Result<Self> {
        if target.exists() && !overwrite {
            return Err(Error::InvalidConfig(format!(
                "{} already exists; pass `--force` to overwrite it",
                target.display()
            )));
        }
        if target.is_dir() {
            return Err(Error::InvalidConfig(format!("{} is a directory; expected a file path", target.display())));
        }
        let folder = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !folder.is_dir() {
            return Err(Error::InvalidConfig(format!(
                "{}: the folder {} does not exist",
                target.display(),
                folder.display()
            )));
        }
        let file_name = target.file_name().and_then(|n| n.to_str()).unwrap_or("output");
        let prefix = format!(".{file_name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Like any new file (0666 less the umask), not tempfile's private 0600.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temporary = builder.tempfile_in(&folder).map_err(|e| Error::io(target, e))?;
        Ok(AtomicFile { target: target.to_path_buf(), temporary, overwrite })
    }

    /// The open temporary file.
    pub fn file(&self) -> &File {
        self.temporary.as_file()
    }

    /// A second handle to the temporary file, for writers that own their file.
    pub fn try_clone_file(&self) -> Result<File> {
        self.temporary.as_file().try_clone().map_err(|e| Error::io(&self.target, e))
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Syncs the data and renames the temporary file to the target.
    pub fn commit(self) -> Result<()> {
        self.temporary.as_file().sync_all().map_err(|e| Error::io(&self.target, e))?;
        let result = if self.overwrite {
            self.temporary.persist(&self.target).map(|_| ())
        } else {
            self.temporary.persist_noclobber(&self.target).map(|_| ())
        };
        result.map_err(|e| Error::io(&self.target, e.error))
    }
}

/// Opens a sink for `path`, choosing the format by extension; `-` writes CSV to standard output.
pub fn open_sink(path: &Path, overwrite: bool) -> Result<Box<dyn Sink>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(CsvSink::new(Box::new(std::io::stdout()), b',', None, "standard output".into())));
    }
    let format = FileFormat::from_path(path)?;
    let file = AtomicFile::create(path, overwrite)?;
    let origin = path.display().to_string();
    match format {
        FileFormat::Csv => {
            let delimiter = match path.extension().and_then(|e| e.to_str()) {
                Some("tsv") | Some("tab") => b'\t',
                _ => b',',
            };
            let handle = file.try_clone_file()?;
            Ok(Box::new(CsvSink::new(
                Box::new(BufWriter::with_capacity(1 << 20, handle)),
                delimiter,
                Some(file),
                origin,
            )))
        }
        FileFormat::JsonLines => {
            let handle = file.try_clone_file()?;
            Ok(Box::new(JsonLinesSink { out: BufWriter::with_capacity(1 << 20, handle), file: Some(file), origin }))
        }
        FileFormat::Parquet => Ok(Box::new(ParquetSink { writer: None, file: Some(file), origin })),
        FileFormat::ArrowIpc => Err(Error::Unsupported(format!(
            "{origin}: writing Arrow IPC is not supported; expected .csv, .tsv, .parquet or .jsonl"
        ))),
    }
}

/// Writes a float with the column's text format into `out`.
pub(crate) fn write_float(out: &mut String, value: f64, format: &TextFormat) {
    match format {
        TextFormat::Decimal { max_decimals, min_decimals, fixed } => {
            let places = usize::from(*max_decimals);
            if *fixed {
                let _ = write!(out, "{value:.places$}");
                return;
            }
            let scale = 10f64.powi(i32::from(*max_decimals));
            let rounded = if scale.is_finite() && (value * scale).abs() < 9.0e15 {
                (value * scale).round() / scale
            } else {
                value
            };
            let start = out.len();
            let _ = write!(out, "{rounded}");
            let written = &out[start..];
            let have = written.split_once('.').map_or(0, |(_, f)| f.len());
            let want = usize::from(*min_decimals);
            if have < want {
                if have == 0 {
                    out.push('.');
                }
                out.extend(std::iter::repeat_n('0', want - have));
            }
        }
        _ => {
            let start = out.len();
            let _ = write!(out, "{value}");
            if value.is_finite() && !out[start..].contains(['.', 'e', 'E']) {
                out.push_str(".0");
            }
        }
    }
}

/// Writes the value at `row` as text into `out`; returns false when it is missing.
pub(crate) fn write_text(out: &mut String, data: &ColumnData, format: &TextFormat, row: usize) -> bool {
    match data {
        ColumnData::Float(v) => v[row].map(|x| write_float(out, x, format)).is_some(),
        ColumnData::Int(v) => v[row].map(|x| write!(out, "{x}")).is_some(),
        ColumnData::Bool(v) => v[row]
            .map(|x| match format {
                TextFormat::Boolean { true_token, false_token } => {
                    out.push_str(if x { true_token } else { false_token })
                }
                _ => out.push_str(if x { "true" } else { "false" }),
            })
            .is_some(),
        ColumnData::Text(v) => v[row].as_deref().map(|x| out.push_str(x)).is_some(),
        ColumnData::Category(categories, codes) => codes[row].map(|c| out.push_str(&categories[c as usize])).is_some(),
        ColumnData::Date(v) => v[row]
            .map(|days| {
                let pattern = match format {
                    TextFormat::Temporal { pattern, .. } => pattern.as_str(),
                    _ => temporal::ISO_DATE,
                };
                out.push_str(&temporal::format_date(days, pattern));
            })
            .is_some(),
        ColumnData::DateTime(v) => v[row]
            .map(|micros| {
                let (pattern, offset) = match format {
                    TextFormat::Temporal { pattern, offset_seconds } => (pattern.as_str(), *offset_seconds),
                    _ => (temporal::ISO_DATETIME, None),
                };
                out.push_str(&temporal::format_datetime(micros, pattern, offset));
            })
            .is_some(),
    }
}

struct CsvSink {
    writer: csv::Writer<Box<dyn Write + Send>>,
    file: Option<AtomicFile>,
    wrote_header: bool,
    origin: String,
    buffer: String,
}

impl CsvSink {
    fn new(out: Box<dyn Write + Send>, delimiter: u8, file: Option<AtomicFile>, origin: String) -> Self {
        let writer = csv::WriterBuilder::new().delimiter(delimiter).buffer_capacity(1 << 16).from_writer(out);
        CsvSink { writer, file, wrote_header: false, origin, buffer: String::new() }
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::InvalidData(format!("{}: cannot write: {e}", self.origin))
    }
}

impl Sink for CsvSink {
    fn write_batch(&mut self, batch: &Table) -> Result<()> {
        if !self.wrote_header {
            let names = batch.column_names();
            self.writer.write_record(&names).map_err(|e| self.error(e))?;
            self.wrote_header = true;
        }
        let columns = batch.columns();
        for row in 0..batch.n_rows() {
            for column in columns {
                self.buffer.clear();
                write_text(&mut self.buffer, &column.data, &column.format, row);
                let result = self.writer.write_field(self.buffer.as_bytes());
                result.map_err(|e| self.error(e))?;
            }
            self.writer.write_record(None::<&[u8]>).map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.writer.flush().map_err(|e| self.error(e))?;
        let origin = self.origin.clone();
        let file = self.file.take();
        let inner = self.writer.into_inner().map_err(|e| Error::InvalidData(format!("{origin}: cannot write: {e}")))?;
        drop(inner);
        match file {
            Some(file) => file.commit(),
            None => Ok(()),
        }
    }
}

struct JsonLinesSink {
    out: BufWriter<File>,
    file: Option<AtomicFile>,
    origin: String,
}

impl Sink for JsonLinesSink {
    fn write_batch(&mut self, batch: &Table) -> Result<()> {
        let keys: Vec<String> = batch
            .columns()
            .iter()
            .map(|c| serde_json::to_string(&c.name).expect("invariant: a string serialises"))
            .collect();
        let mut line = String::new();
        let mut value = String::new();
        for row in 0..batch.n_rows() {
            line.clear();
            line.push('{');
            for (index, column) in batch.columns().iter().enumerate() {
                if index > 0 {
                    line.push(',');
                }
                line.push_str(&keys[index]);
                line.push(':');
                value.clear();
                let quoted = !matches!(column.data, ColumnData::Float(_) | ColumnData::Int(_) | ColumnData::Bool(_));
                let present = match &column.data {
                    ColumnData::Bool(v) => v[row].map(|b| value.push_str(if b { "true" } else { "false" })).is_some(),
                    data => write_text(&mut value, data, &column.format, row),
                };
                if !present {
                    line.push_str("null");
                } else if quoted {
                    line.push_str(&serde_json::to_string(&value).expect("invariant: a string serialises"));
                } else {
                    line.push_str(&value);
                }
            }
            line.push_str("}\n");
            self.out.write_all(line.as_bytes()).map_err(|e| Error::io(&self.origin, e))?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.origin, e))?;
        match self.file.take() {
            Some(file) => file.commit(),
            None => Ok(()),
        }
    }
}

struct ParquetSink {
    writer: Option<(parquet::arrow::ArrowWriter<File>, arrow_schema::SchemaRef)>,
    file: Option<AtomicFile>,
    origin: String,
}

impl Sink for ParquetSink {
    fn write_batch(&mut self, batch: &Table) -> Result<()> {
        if self.writer.is_none() {
            let schema = schema_for(batch);
            let handle = self.file.as_ref().expect("invariant: the file is open until finish").try_clone_file()?;
            // Dictionary encoding pays for text; for numbers its hashing costs more time than it
            // saves space, so numbers are written plain.
            let mut properties = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY);
            for column in batch.columns() {
                if !matches!(column.data, ColumnData::Text(_) | ColumnData::Category(..)) {
                    properties = properties.set_column_dictionary_enabled(column.name.as_str().into(), false);
                }
            }
            let properties = properties.build();
            let writer = parquet::arrow::ArrowWriter::try_new(handle, schema, Some(properties))
                .map_err(|e| Error::InvalidData(format!("{}: cannot write Parquet: {e}", self.origin)))?;
            self.writer = Some((writer, schema_for(batch)));
        }
        let (writer, schema) = self.writer.as_mut().expect("invariant: created above");
        let batch = table_to_batch(batch, schema)?;
        writer.write(&batch).map_err(|e| Error::InvalidData(format!("{}: cannot write Parquet: {e}", self.origin)))
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        if let Some((writer, _)) = self.writer.take() {
            writer.close().map_err(|e| Error::InvalidData(format!("{}: cannot write Parquet: {e}", self.origin)))?;
        }
        match self.file.take() {
            Some(file) => file.commit(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(value: f64, format: &TextFormat) -> String {
        let mut out = String::new();
        write_float(&mut out, value, format);
        out
    }

    #[test]
    fn floats_keep_the_source_style() {
        let python = TextFormat::Decimal { max_decimals: 2, min_decimals: 1, fixed: false };
        assert_eq!(float(123.456, &python), "123.46");
        assert_eq!(float(45.0, &python), "45.0");
        assert_eq!(float(12.5, &python), "12.5");
        let fixed = TextFormat::Decimal { max_decimals: 2, min_decimals: 2, fixed: true };
        assert_eq!(float(12.5, &fixed), "12.50");
        assert_eq!(float(3.0, &TextFormat::Plain), "3.0");
    }
}
