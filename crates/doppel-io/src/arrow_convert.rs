//! Conversions between Arrow record batches and doppel tables (Parquet and Arrow IPC).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use doppel_core::{Column, ColumnData, Error, Result, Table, TextFormat};

pub(crate) fn read_parquet(path: &Path) -> Result<Table> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::Format(format!("{}: not a readable Parquet file: {e}", path.display())))?;
    let schema = builder.schema().clone();
    let reader =
        builder.with_batch_size(65_536).build().map_err(|e| Error::Format(format!("{}: {e}", path.display())))?;
    let batches = reader.map(|b| b.map_err(|e| Error::Format(format!("{}: {e}", path.display()))));
    batches_to_table(schema, batches, path)
}

pub(crate) fn read_ipc(path: &Path) -> Result<Table> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    match arrow_ipc::reader::FileReader::try_new(file, None) {
        Ok(reader) => {
            let schema = reader.schema();
            let batches = reader.map(|b| b.map_err(|e| Error::Format(format!("{}: {e}", path.display()))));
            batches_to_table(schema, batches, path)
        }
        Err(_) => {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            let reader =
                arrow_ipc::reader::StreamReader::try_new(std::io::BufReader::new(file), None).map_err(|e| {
                    Error::Format(format!("{}: not a readable Arrow IPC file or stream: {e}", path.display()))
                })?;
            let schema = reader.schema();
            let batches = reader.map(|b| b.map_err(|e| Error::Format(format!("{}: {e}", path.display()))));
            batches_to_table(schema, batches, path)
        }
    }
}

fn batches_to_table(
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch>>,
    path: &Path,
) -> Result<Table> {
    let mut columns: Vec<Column> = Vec::new();
    for field in schema.fields() {
        let data = empty_for(field.data_type()).ok_or_else(|| {
            Error::Unsupported(format!(
                "{}: column `{}` has Arrow type {}, which doppel cannot model yet; expected numbers, \
                 strings, booleans, dates or timestamps",
                path.display(),
                field.name(),
                field.data_type()
            ))
        })?;
        columns.push(Column::new(field.name().clone(), data));
    }
    for batch in batches {
        let batch = batch?;
        for (column, array) in columns.iter_mut().zip(batch.columns()) {
            let values = array_to_data(array.as_ref()).ok_or_else(|| {
                Error::Unsupported(format!(
                    "{}: column `{}`: unsupported type {}",
                    path.display(),
                    column.name,
                    array.data_type()
                ))
            })?;
            column.data.extend(values)?;
        }
    }
    Table::try_new(columns).map_err(|e| e.context(path.display().to_string()))
}

fn empty_for(data_type: &DataType) -> Option<ColumnData> {
    Some(match data_type {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => ColumnData::Int(Vec::new()),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => ColumnData::Int(Vec::new()),
        DataType::Float32 | DataType::Float64 => ColumnData::Float(Vec::new()),
        DataType::Boolean => ColumnData::Bool(Vec::new()),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnData::Text(Vec::new()),
        DataType::Dictionary(_, value) if matches!(value.as_ref(), DataType::Utf8 | DataType::LargeUtf8) => {
            ColumnData::Text(Vec::new())
        }
        DataType::Date32 => ColumnData::Date(Vec::new()),
        DataType::Timestamp(_, _) => ColumnData::DateTime(Vec::new()),
        _ => return None,
    })
}

fn collect<T, U>(array: &arrow_array::PrimitiveArray<T>, f: impl Fn(T::Native) -> U) -> Vec<Option<U>>
where
    T: arrow_array::ArrowPrimitiveType,
{
    array.iter().map(|v| v.map(&f)).collect()
}

fn array_to_data(array: &dyn Array) -> Option<ColumnData> {
    Some(match array.data_type() {
        DataType::Int8 => ColumnData::Int(collect(array.as_primitive::<Int8Type>(), i64::from)),
        DataType::Int16 => ColumnData::Int(collect(array.as_primitive::<Int16Type>(), i64::from)),
        DataType::Int32 => ColumnData::Int(collect(array.as_primitive::<Int32Type>(), i64::from)),
        DataType::Int64 => ColumnData::Int(collect(array.as_primitive::<Int64Type>(), |v| v)),
        DataType::UInt8 => ColumnData::Int(collect(array.as_primitive::<UInt8Type>(), i64::from)),
        DataType::UInt16 => ColumnData::Int(collect(array.as_primitive::<UInt16Type>(), i64::from)),
        DataType::UInt32 => ColumnData::Int(collect(array.as_primitive::<UInt32Type>(), i64::from)),
        DataType::UInt64 => {
            ColumnData::Int(collect(array.as_primitive::<UInt64Type>(), |v| i64::try_from(v).unwrap_or(i64::MAX)))
        }
        DataType::Float32 => ColumnData::Float(
            array.as_primitive::<Float32Type>().iter().map(|v| v.filter(|x| !x.is_nan()).map(f64::from)).collect(),
        ),
        DataType::Float64 => {
            ColumnData::Float(array.as_primitive::<Float64Type>().iter().map(|v| v.filter(|x| !x.is_nan())).collect())
        }
        DataType::Boolean => ColumnData::Bool(array.as_boolean().iter().collect()),
        DataType::Utf8 => ColumnData::Text(array.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()),
        DataType::LargeUtf8 => {
            ColumnData::Text(array.as_string::<i64>().iter().map(|v| v.map(str::to_string)).collect())
        }
        DataType::Utf8View => ColumnData::Text(array.as_string_view().iter().map(|v| v.map(str::to_string)).collect()),
        DataType::Dictionary(_, _) => {
            let casted = arrow_cast_to_string(array)?;
            ColumnData::Text(casted)
        }
        DataType::Date32 => ColumnData::Date(collect(array.as_primitive::<Date32Type>(), |v| v)),
        DataType::Timestamp(unit, _) => ColumnData::DateTime(match unit {
            TimeUnit::Second => collect(array.as_primitive::<TimestampSecondType>(), |v| v.saturating_mul(1_000_000)),
            TimeUnit::Millisecond => {
                collect(array.as_primitive::<TimestampMillisecondType>(), |v| v.saturating_mul(1_000))
            }
            TimeUnit::Microsecond => collect(array.as_primitive::<TimestampMicrosecondType>(), |v| v),
            TimeUnit::Nanosecond => collect(array.as_primitive::<TimestampNanosecondType>(), |v| v.div_euclid(1_000)),
        }),
        _ => return None,
    })
}

fn arrow_cast_to_string(array: &dyn Array) -> Option<Vec<Option<String>>> {
    let dictionary = array.as_any_dictionary_opt()?;
    let values = dictionary.values();
    let strings: Vec<Option<String>> = match values.data_type() {
        DataType::Utf8 => values.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect(),
        DataType::LargeUtf8 => values.as_string::<i64>().iter().map(|v| v.map(str::to_string)).collect(),
        _ => return None,
    };
    let keys = dictionary.normalized_keys();
    Some(
        (0..array.len())
            .map(|row| if array.is_null(row) { None } else { strings.get(keys[row]).cloned().flatten() })
            .collect(),
    )
}

/// Whether a column's text format says it carries a UTC instant.
fn is_utc(format: &TextFormat) -> bool {
    matches!(format, TextFormat::Temporal { pattern, .. } if pattern.ends_with('Z') || pattern.contains("%z") || pattern.contains("%:z"))
}

/// The Arrow schema for a table (used by the Parquet writer).
pub(crate) fn schema_for(table: &Table) -> SchemaRef {
    let fields: Vec<Field> = table
        .columns()
        .iter()
        .map(|column| {
            let data_type = match &column.data {
                ColumnData::Float(_) => DataType::Float64,
                ColumnData::Int(_) => DataType::Int64,
                ColumnData::Bool(_) => DataType::Boolean,
                ColumnData::Text(_) | ColumnData::Category(..) => DataType::Utf8,
                ColumnData::Date(_) => DataType::Date32,
                ColumnData::DateTime(_) => {
                    DataType::Timestamp(TimeUnit::Microsecond, is_utc(&column.format).then(|| Arc::from("UTC")))
                }
            };
            Field::new(column.name.clone(), data_type, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Converts a table to a record batch with `schema`.
pub(crate) fn table_to_batch(table: &Table, schema: &SchemaRef) -> Result<RecordBatch> {
    let arrays: Vec<ArrayRef> = table
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| -> ArrayRef {
            match &column.data {
                ColumnData::Float(v) => Arc::new(Float64Array::from(v.clone())),
                ColumnData::Int(v) => Arc::new(Int64Array::from(v.clone())),
                ColumnData::Bool(v) => Arc::new(BooleanArray::from(v.clone())),
                ColumnData::Text(v) => Arc::new(StringArray::from_iter(v.iter().map(|s| s.as_deref()))),
                ColumnData::Category(categories, codes) => Arc::new(StringArray::from_iter(
                    codes.iter().map(|code| code.map(|c| categories[c as usize].as_str())),
                )),
                ColumnData::Date(v) => Arc::new(Date32Array::from(v.clone())),
                ColumnData::DateTime(v) => {
                    let array = TimestampMicrosecondArray::from(v.clone());
                    match field.data_type() {
                        DataType::Timestamp(_, Some(tz)) => Arc::new(array.with_timezone(tz.clone())),
                        _ => Arc::new(array),
                    }
                }
            }
        })
        .collect();
    RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| Error::InvalidData(format!("cannot build a record batch: {e}")))
}
