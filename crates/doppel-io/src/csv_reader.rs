//! CSV reading: delimiter detection, BOM handling, null tokens, and errors that name the line.

use std::path::Path;

use doppel_core::{Column, ColumnData, Error, Result, Table};

use crate::{ReadOptions, truncate};

const CANDIDATE_DELIMITERS: &[u8] = b",;\t|";

/// Counts `delimiter` outside quotes in one line.
fn count_outside_quotes(line: &[u8], delimiter: u8, quote: u8) -> usize {
    let mut in_quotes = false;
    let mut count = 0;
    for &byte in line {
        if byte == quote {
            in_quotes = !in_quotes;
        } else if byte == delimiter && !in_quotes {
            count += 1;
        }
    }
    count
}

/// Picks the quote character: `'` when the first lines have more fields wrapped in single quotes
/// than in double quotes, else `"`.
pub(crate) fn detect_quote(bytes: &[u8]) -> u8 {
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    let wrapped = |quote: u8| {
        let mut count = 0usize;
        for line in sample.split(|b| *b == b'\n').take(50) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            for field in line.split(|b| CANDIDATE_DELIMITERS.contains(b)) {
                let field = field.trim_ascii();
                if field.len() >= 2 && field[0] == quote && field[field.len() - 1] == quote {
                    count += 1;
                }
            }
        }
        count
    };
    if wrapped(b'\'') > wrapped(b'"') { b'\'' } else { b'"' }
}

/// Picks the delimiter that splits the first lines into the same, largest number of fields.
pub(crate) fn detect_delimiter(bytes: &[u8], quote: u8) -> u8 {
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    let lines: Vec<&[u8]> = sample.split(|b| *b == b'\n').filter(|l| !l.is_empty()).take(20).collect();
    // The last sampled line may be cut off, so it does not vote unless it is the only one.
    let voting = if lines.len() > 2 { &lines[..lines.len() - 1] } else { &lines[..] };
    let mut best = (b',', 0usize, false);
    for &delimiter in CANDIDATE_DELIMITERS {
        let Some(first) = voting.first() else { break };
        let header_count = count_outside_quotes(first, delimiter, quote);
        if header_count == 0 {
            continue;
        }
        let consistent = voting.iter().all(|line| count_outside_quotes(line, delimiter, quote) == header_count);
        let better = match (consistent, best.2) {
            (true, false) => true,
            (false, true) => false,
            _ => header_count > best.1,
        };
        if better {
            best = (delimiter, header_count, consistent);
        }
    }
    best.0
}

/// Reads a CSV file with a header row. Empty fields and the configured null tokens become
/// missing values; every column is text until [`doppel_core::Metadata::detect`] types it.
pub fn read_csv(path: &Path, options: &ReadOptions) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    read_csv_bytes(&bytes, &path.display().to_string(), options)
}

pub(crate) fn read_csv_bytes(bytes: &[u8], origin: &str, options: &ReadOptions) -> Result<Table> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::InvalidData(format!("{origin}: the file is empty; expected a header row and data rows")));
    }
    let quote = detect_quote(bytes);
    let delimiter = options.delimiter.unwrap_or_else(|| detect_delimiter(bytes, quote));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quote(quote)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => return Err(Error::InvalidData(format!("{origin}: cannot read the header row: {e}"))),
        None => return Err(Error::InvalidData(format!("{origin}: the file is empty; expected a header row"))),
    };
    let mut names = Vec::with_capacity(header.len());
    for (index, field) in header.iter().enumerate() {
        let name = std::str::from_utf8(field)
            .map_err(|_| Error::InvalidData(format!("{origin}: line 1 (the header) is not valid UTF-8")))?
            .trim()
            .to_string();
        if name.is_empty() {
            return Err(Error::InvalidData(format!(
                "{origin}: header field {} is empty; expected a name for every column",
                index + 1
            )));
        }
        names.push(name);
    }
    let mut seen = std::collections::HashSet::new();
    for name in &names {
        if !seen.insert(name.as_str()) {
            return Err(Error::InvalidData(format!(
                "{origin}: column name `{name}` appears more than once in the header; expected unique column names"
            )));
        }
    }
    let n_columns = names.len();
    let mut values: Vec<TextColumnBuilder> = (0..n_columns).map(|_| TextColumnBuilder::default()).collect();
    for record in records {
        let record = record.map_err(|e| Error::InvalidData(format!("{origin}: {e}")))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) && n_columns > 1 {
            continue; // a blank line
        }
        if record.len() != n_columns {
            return Err(Error::InvalidData(format!(
                "{origin}: line {line} has {} fields, expected {n_columns} like the header",
                record.len()
            )));
        }
        for (column, field) in values.iter_mut().zip(record.iter()) {
            let text = std::str::from_utf8(field).map_err(|_| {
                Error::InvalidData(format!(
                    "{origin}: line {line} is not valid UTF-8 (near `{}`); expected UTF-8 text",
                    truncate(&String::from_utf8_lossy(field), 40)
                ))
            })?;
            if options.null_values.iter().any(|null| null == text) {
                column.push(None);
            } else {
                column.push(Some(text));
            }
        }
    }
    let columns = names.into_iter().zip(values).map(|(name, v)| Column::new(name, v.finish())).collect();
    Table::try_new(columns)
}

/// Collects a text column, as a dictionary of distinct values and codes while the values repeat
/// (most columns: a few bytes per cell instead of a string each), falling back to plain strings
/// when a column turns out to be mostly distinct.
#[derive(Default)]
struct TextColumnBuilder {
    index: std::collections::HashMap<String, u32>,
    distinct: Vec<String>,
    codes: Vec<Option<u32>>,
    plain: Option<Vec<Option<String>>>,
}

/// Beyond this many distinct values a column is stored as plain strings.
const MAX_DICTIONARY: usize = 65_536;

impl TextColumnBuilder {
    fn push(&mut self, value: Option<&str>) {
        if let Some(plain) = &mut self.plain {
            plain.push(value.map(str::to_string));
            return;
        }
        let Some(text) = value else {
            self.codes.push(None);
            return;
        };
        if let Some(&code) = self.index.get(text) {
            self.codes.push(Some(code));
            return;
        }
        if self.distinct.len() >= MAX_DICTIONARY {
            let mut plain: Vec<Option<String>> =
                self.codes.iter().map(|code| code.map(|c| self.distinct[c as usize].clone())).collect();
            plain.push(Some(text.to_string()));
            self.plain = Some(plain);
            self.index = std::collections::HashMap::new();
            self.distinct = Vec::new();
            self.codes = Vec::new();
            return;
        }
        let code = self.distinct.len() as u32;
        self.index.insert(text.to_string(), code);
        self.distinct.push(text.to_string());
        self.codes.push(Some(code));
    }

    fn finish(self) -> ColumnData {
        match self.plain {
            Some(plain) => ColumnData::Text(plain),
            None => ColumnData::Category(self.distinct.into(), self.codes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(data: &ColumnData) -> Vec<Option<String>> {
        (0..data.len()).map(|row| data.text_at(row).map(|t| t.into_owned())).collect()
    }

    #[test]
    fn many_distinct_values_fall_back_to_plain_strings() {
        let mut builder = TextColumnBuilder::default();
        for i in 0..(MAX_DICTIONARY + 10) {
            builder.push(Some(&format!("v{i}")));
        }
        builder.push(None);
        let data = builder.finish();
        assert!(matches!(data, ColumnData::Text(_)));
        assert_eq!(data.len(), MAX_DICTIONARY + 11);
        assert_eq!(data.text_at(5).as_deref(), Some("v5"));
        assert!(data.is_null(MAX_DICTIONARY + 10));
    }

    #[test]
    fn detects_delimiters() {
        assert_eq!(detect_delimiter(b"a,b,c\n1,2,3\n", b'"'), b',');
        assert_eq!(detect_delimiter(b"a;b;c\n1,5;2;3\n", b'"'), b';');
        assert_eq!(detect_delimiter(b"a\tb\n1\t2\n", b'"'), b'\t');
        assert_eq!(detect_delimiter(b"\"x,y\";b\n\"1,2\";3\n", b'"'), b';');
        assert_eq!(detect_quote(b"a,b\n'x,y',2\n'z',3\n"), b'\'');
        assert_eq!(detect_quote(b"a,b\n\"it's\",2\n"), b'"');
    }

    #[test]
    fn reads_nulls_bom_and_quotes() {
        let table =
            read_csv_bytes(b"\xEF\xBB\xBFa,b\n1,\"x,y\"\nNA,\n", "t.csv", &ReadOptions::default()).expect("reads");
        assert_eq!(table.column_names(), vec!["a", "b"]);
        assert_eq!(texts(&table.columns()[0].data), vec![Some("1".to_string()), None]);
        assert_eq!(texts(&table.columns()[1].data), vec![Some("x,y".to_string()), None]);
    }

    #[test]
    fn single_quoted_fields() {
        let table =
            read_csv_bytes(b"name,n\n'Smith, Jo',1\n'Lee',2\n", "t.csv", &ReadOptions::default()).expect("reads");
        assert_eq!(texts(&table.columns()[0].data), vec![Some("Smith, Jo".to_string()), Some("Lee".to_string())]);
    }

    #[test]
    fn ragged_rows_name_the_line() {
        let error = read_csv_bytes(b"a,b\n1,2\n3\n", "t.csv", &ReadOptions::default()).expect_err("ragged").to_string();
        assert_eq!(error, "t.csv: line 3 has 1 fields, expected 2 like the header");
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let error =
            read_csv_bytes(b"a,b\n1,2\n3,\xff\xfe\n", "t.csv", &ReadOptions::default()).expect_err("utf8").to_string();
        assert!(error.starts_with("t.csv: line 3 is not valid UTF-8"), "{error}");
    }
}
