//! Streaming writers. Each takes batches of rows and writes them as they come.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::file::writer::SerializedFileWriter;

use doppel_core::temporal;
use doppel_core::{ColumnData, Error, Result, Table, TextFormat};

use crate::FileFormat;
use crate::arrow_convert::{schema_for, table_to_batch};

/// A batch encoded for its sink (CSV text, a Parquet row group, ...), ready to be written.
pub struct EncodedBatch {
    /// The batch's position in the output, from 0.
    index: usize,
    content: EncodedContent,
}

enum EncodedContent {
    Bytes(Vec<u8>),
    RowGroup(Vec<ArrowColumnChunk>),
}

/// Encodes batches for one sink. Encoding is the expensive part of writing, so it runs on the
/// worker threads that produce the batches; the sink only appends the results in order.
pub trait BatchEncoder: Send + Sync {
    /// Encodes the batch that will be the `index`-th (from 0) written to the sink.
    fn encode(&self, batch: &Table, index: usize) -> Result<EncodedBatch>;
}

/// A destination for rows, written batch by batch in order.
pub trait Sink: Send {
    /// The encoder that prepares batches for this sink (shareable across threads).
    fn encoder(&self) -> Arc<dyn BatchEncoder>;
    /// Writes an encoded batch; batches must arrive in the order of their index.
    fn write_encoded(&mut self, batch: EncodedBatch) -> Result<()>;
    /// Encodes and writes one batch on the calling thread.
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

    /// A second handle to the temporary file, for writers that own their file.
    pub fn try_clone_file(&self) -> Result<File> {
        self.temporary.as_file().try_clone().map_err(|e| Error::io(&self.target, e))
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
/// `template` is a table (rows are not used) with the columns, types and formats that every batch
/// will have.
pub fn open_sink(path: &Path, overwrite: bool, template: &Table) -> Result<Box<dyn Sink>> {
    if path.as_os_str() == "-" {
        let encoder = Arc::new(TextEncoder { format: TextKind::Csv(b','), origin: "standard output".into() });
        return ByteSink::open(Box::new(std::io::stdout()), None, encoder, template);
    }
    let format = FileFormat::from_path(path)?;
    let file = AtomicFile::create(path, overwrite)?;
    let origin = path.display().to_string();
    match format {
        FileFormat::Csv | FileFormat::JsonLines => {
            let kind = match (format, path.extension().and_then(|e| e.to_str())) {
                (FileFormat::JsonLines, _) => TextKind::JsonLines,
                (_, Some("tsv") | Some("tab")) => TextKind::Csv(b'\t'),
                _ => TextKind::Csv(b','),
            };
            let handle = file.try_clone_file()?;
            let encoder = Arc::new(TextEncoder { format: kind, origin });
            ByteSink::open(Box::new(BufWriter::with_capacity(1 << 20, handle)), Some(file), encoder, template)
        }
        FileFormat::Parquet => Ok(Box::new(ParquetSink::open(file, origin, template)?)),
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

#[derive(Debug, Clone, Copy)]
enum TextKind {
    Csv(u8),
    JsonLines,
}

/// Renders batches as CSV or JSON Lines text.
struct TextEncoder {
    format: TextKind,
    origin: String,
}

impl TextEncoder {
    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::InvalidData(format!("{}: cannot write: {e}", self.origin))
    }

    fn header(&self, template: &Table) -> Result<Vec<u8>> {
        match self.format {
            TextKind::Csv(delimiter) => {
                let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
                writer.write_record(template.column_names()).map_err(|e| self.error(e))?;
                writer.into_inner().map_err(|e| self.error(e))
            }
            TextKind::JsonLines => Ok(Vec::new()),
        }
    }

    fn csv(&self, batch: &Table, delimiter: u8) -> Result<Vec<u8>> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(Vec::with_capacity(batch.n_rows() * batch.n_columns() * 8));
        let mut buffer = String::new();
        for row in 0..batch.n_rows() {
            for column in batch.columns() {
                buffer.clear();
                write_text(&mut buffer, &column.data, &column.format, row);
                writer.write_field(buffer.as_bytes()).map_err(|e| self.error(e))?;
            }
            writer.write_record(None::<&[u8]>).map_err(|e| self.error(e))?;
        }
        writer.into_inner().map_err(|e| self.error(e))
    }

    fn json_lines(batch: &Table) -> Vec<u8> {
        let keys: Vec<String> = batch
            .columns()
            .iter()
            .map(|c| serde_json::to_string(&c.name).expect("invariant: a string serialises"))
            .collect();
        let mut out = String::with_capacity(batch.n_rows() * batch.n_columns() * 16);
        let mut value = String::new();
        for row in 0..batch.n_rows() {
            out.push('{');
            for (index, column) in batch.columns().iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&keys[index]);
                out.push(':');
                value.clear();
                let quoted = !matches!(column.data, ColumnData::Float(_) | ColumnData::Int(_) | ColumnData::Bool(_));
                let present = match &column.data {
                    ColumnData::Bool(v) => v[row].map(|b| value.push_str(if b { "true" } else { "false" })).is_some(),
                    data => write_text(&mut value, data, &column.format, row),
                };
                if !present {
                    out.push_str("null");
                } else if quoted {
                    out.push_str(&serde_json::to_string(&value).expect("invariant: a string serialises"));
                } else {
                    out.push_str(&value);
                }
            }
            out.push_str("}\n");
        }
        out.into_bytes()
    }
}

impl BatchEncoder for TextEncoder {
    fn encode(&self, batch: &Table, index: usize) -> Result<EncodedBatch> {
        let bytes = match self.format {
            TextKind::Csv(delimiter) => self.csv(batch, delimiter)?,
            TextKind::JsonLines => Self::json_lines(batch),
        };
        Ok(EncodedBatch { index, content: EncodedContent::Bytes(bytes) })
    }
}

/// A sink for text formats: writes encoded bytes in order.
struct ByteSink {
    out: Box<dyn Write + Send>,
    file: Option<AtomicFile>,
    encoder: Arc<TextEncoder>,
    next_index: usize,
}

impl ByteSink {
    fn open(
        mut out: Box<dyn Write + Send>,
        file: Option<AtomicFile>,
        encoder: Arc<TextEncoder>,
        template: &Table,
    ) -> Result<Box<dyn Sink>> {
        let header = encoder.header(template)?;
        out.write_all(&header).map_err(|e| encoder.error(e))?;
        Ok(Box::new(ByteSink { out, file, encoder, next_index: 0 }))
    }
}

fn check_order(expected: &mut usize, batch: &EncodedBatch) -> Result<()> {
    if batch.index != *expected {
        return Err(Error::InvalidData(format!(
            "internal error: batch {} arrived when batch {} was expected",
            batch.index, expected
        )));
    }
    *expected += 1;
    Ok(())
}

impl Sink for ByteSink {
    fn encoder(&self) -> Arc<dyn BatchEncoder> {
        self.encoder.clone()
    }

    fn write_encoded(&mut self, batch: EncodedBatch) -> Result<()> {
        check_order(&mut self.next_index, &batch)?;
        match batch.content {
            EncodedContent::Bytes(bytes) => self.out.write_all(&bytes).map_err(|e| self.encoder.error(e)),
            EncodedContent::RowGroup(_) => Err(self.encoder.error("a Parquet row group cannot go to a text file")),
        }
    }

    fn write_batch(&mut self, batch: &Table) -> Result<()> {
        let encoded = self.encoder.encode(batch, self.next_index)?;
        self.write_encoded(encoded)
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.out.flush().map_err(|e| self.encoder.error(e))?;
        let file = self.file.take();
        drop(self);
        match file {
            Some(file) => file.commit(),
            None => Ok(()),
        }
    }
}

/// Encodes batches into Parquet row groups (one per batch), column by column.
struct ParquetEncoder {
    factory: ArrowRowGroupWriterFactory,
    schema: arrow_schema::SchemaRef,
    origin: String,
}

impl ParquetEncoder {
    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::InvalidData(format!("{}: cannot write Parquet: {e}", self.origin))
    }
}

impl BatchEncoder for ParquetEncoder {
    fn encode(&self, batch: &Table, index: usize) -> Result<EncodedBatch> {
        let record_batch = table_to_batch(batch, &self.schema)?;
        let writers = self.factory.create_column_writers(index).map_err(|e| self.error(e))?;
        let mut chunks = Vec::with_capacity(writers.len());
        for ((field, array), mut writer) in self.schema.fields().iter().zip(record_batch.columns()).zip(writers) {
            for leaf in compute_leaves(field, array).map_err(|e| self.error(e))? {
                writer.write(&leaf).map_err(|e| self.error(e))?;
            }
            chunks.push(writer.close().map_err(|e| self.error(e))?);
        }
        Ok(EncodedBatch { index, content: EncodedContent::RowGroup(chunks) })
    }
}

/// A Parquet sink: appends encoded row groups in order.
struct ParquetSink {
    writer: Option<SerializedFileWriter<File>>,
    encoder: Arc<ParquetEncoder>,
    file: Option<AtomicFile>,
    next_index: usize,
}

impl ParquetSink {
    fn open(file: AtomicFile, origin: String, template: &Table) -> Result<Self> {
        let schema = schema_for(template);
        // Dictionary encoding pays for text; for numbers its hashing costs more time than it
        // saves space, so numbers are written plain.
        let mut properties =
            parquet::file::properties::WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY);
        for column in template.columns() {
            if !matches!(column.data, ColumnData::Text(_) | ColumnData::Category(..)) {
                properties = properties.set_column_dictionary_enabled(column.name.as_str().into(), false);
            }
        }
        let error =
            |e: parquet::errors::ParquetError| Error::InvalidData(format!("{origin}: cannot write Parquet: {e}"));
        let handle = file.try_clone_file()?;
        let arrow_writer =
            parquet::arrow::ArrowWriter::try_new(handle, schema.clone(), Some(properties.build())).map_err(error)?;
        let (writer, factory) = arrow_writer.into_serialized_writer().map_err(error)?;
        let encoder = Arc::new(ParquetEncoder { factory, schema, origin });
        Ok(ParquetSink { writer: Some(writer), encoder, file: Some(file), next_index: 0 })
    }
}

impl Sink for ParquetSink {
    fn encoder(&self) -> Arc<dyn BatchEncoder> {
        self.encoder.clone()
    }

    fn write_encoded(&mut self, batch: EncodedBatch) -> Result<()> {
        check_order(&mut self.next_index, &batch)?;
        let EncodedContent::RowGroup(chunks) = batch.content else {
            return Err(self.encoder.error("text cannot go to a Parquet file"));
        };
        let writer = self.writer.as_mut().expect("invariant: the writer is open until finish");
        let mut row_group = writer.next_row_group().map_err(|e| self.encoder.error(e))?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group).map_err(|e| self.encoder.error(e))?;
        }
        row_group.close().map_err(|e| self.encoder.error(e))?;
        Ok(())
    }

    fn write_batch(&mut self, batch: &Table) -> Result<()> {
        let encoded = self.encoder.encode(batch, self.next_index)?;
        self.write_encoded(encoded)
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        if let Some(writer) = self.writer.take() {
            writer.close().map_err(|e| self.encoder.error(e))?;
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
