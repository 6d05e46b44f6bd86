//! Format readers: each turns one input file into a raw frame whose columns
//! are named as in the source, read as text (except a Parquet timestamp or
//! integer column), plus the source line of every row in `_line`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;

use polars::prelude::*;

use super::paths::{Format, InputFile};
use super::{Problem, Rejection};
use crate::error::{Error, Result};
use crate::schema;

/// A file read into memory, before validation.
pub struct RawFrame {
    pub frame: DataFrame,
    /// Rows that could not even be parsed (malformed JSON lines).
    pub unparsable: Vec<Rejection>,
}

fn read_error(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Read {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// The bytes of a text file, gunzipped (every member) when compressed.
pub fn file_bytes(file: &InputFile) -> Result<Vec<u8>> {
    let mut raw = Vec::new();
    File::open(&file.path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(|e| read_error(&file.path, e))?;
    if !file.gzip {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 6);
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| read_error(&file.path, e))?;
    Ok(out)
}

/// Reads one file into a raw frame.
pub fn read_raw(file: &InputFile) -> Result<RawFrame> {
    match file.format {
        Format::Csv => read_csv(file),
        Format::JsonLines => read_json_lines(file),
        Format::Parquet => read_parquet(file),
    }
}

fn read_csv(file: &InputFile) -> Result<RawFrame> {
    let bytes = file_bytes(file)?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(read_error(&file.path, "the file is empty (no header row)"));
    }
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_row_index(Some(RowIndex {
            name: schema::SOURCE_LINE.into(),
            offset: 0,
        }))
        .into_reader_with_file_handle(Cursor::new(&bytes))
        .finish()
        .map_err(|e| match csv_shape_problem(&bytes) {
            Some(problem) => read_error(&file.path, problem),
            None => read_error(&file.path, e),
        })?;
    // Physical line of each record; corrected for quoted newlines only when
    // rows are rejected (see `csv_record_lines`).
    let frame = frame
        .lazy()
        .with_column(
            (col(schema::SOURCE_LINE).cast(DataType::Int64) + lit(2i64)).alias(schema::SOURCE_LINE),
        )
        .collect()?;
    Ok(RawFrame {
        frame,
        unparsable: Vec::new(),
    })
}

/// Each CSV record (the header first): the 1-based physical line on which it
/// starts and its number of fields, honouring quoted fields that span lines
/// and doubled quotes. Used only to report problems.
fn csv_records(bytes: &[u8]) -> Vec<(i64, usize)> {
    let mut records = Vec::new();
    let mut line: i64 = 1;
    let mut in_quotes = false;
    let mut current: Option<(i64, usize)> = None;
    for &b in bytes {
        if current.is_none() && b != b'\n' && b != b'\r' {
            current = Some((line, 1));
        }
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                if let Some(c) = current.as_mut() {
                    c.1 += 1;
                }
            }
            b'\n' => {
                line += 1;
                if !in_quotes {
                    records.extend(current.take());
                }
            }
            _ => {}
        }
    }
    records.extend(current);
    records
}

/// The 1-based physical line on which each CSV data record starts (header =
/// line 1). Used only to report rejected rows.
pub fn csv_record_lines(bytes: &[u8]) -> Vec<i64> {
    csv_records(bytes)
        .into_iter()
        .skip(1)
        .map(|r| r.0)
        .collect()
}

/// The first record whose field count differs from the header's, as a
/// sentence, when the CSV reader has failed.
fn csv_shape_problem(bytes: &[u8]) -> Option<String> {
    let records = csv_records(bytes);
    let header = records.first()?.1;
    records.iter().skip(1).find(|r| r.1 != header).map(|r| {
        format!(
            "line {}: {} fields where the header has {}",
            r.0, r.1, header
        )
    })
}

fn json_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(json_text)
                .collect::<Vec<_>>()
                .join(";"),
        ),
        Value::Object(_) => Some(value.to_string()),
    }
}

fn read_json_lines(file: &InputFile) -> Result<RawFrame> {
    let bytes = file_bytes(file)?;
    let text = String::from_utf8(bytes).map_err(|e| read_error(&file.path, e))?;
    let mut columns: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    let mut lines: Vec<i64> = Vec::new();
    let mut unparsable = Vec::new();
    let source = file.path.display().to_string();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let object = match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) | Err(_) => {
                let reason = match serde_json::from_str::<serde_json::Value>(line) {
                    Err(e) => format!("not valid JSON: {e}"),
                    Ok(_) => "not a JSON object".to_string(),
                };
                unparsable.push(Rejection {
                    source: source.clone(),
                    line: (i + 1).to_string(),
                    problems: vec![Problem {
                        column: "(line)".into(),
                        value: Some(line.chars().take(200).collect()),
                        reason,
                    }],
                    row: BTreeMap::from([("_raw".to_string(), Some(line.to_string()))]),
                });
                continue;
            }
        };
        let n = lines.len();
        for (key, value) in object.iter() {
            let column = columns.entry(key.clone()).or_insert_with(|| vec![None; n]);
            column.push(json_text(value));
        }
        lines.push(i as i64 + 1);
        for column in columns.values_mut() {
            if column.len() < lines.len() {
                column.push(None);
            }
        }
    }
    let mut series: Vec<Column> = columns
        .into_iter()
        .map(|(name, values)| Column::new(name.into(), values))
        .collect();
    series.push(Column::new(schema::SOURCE_LINE.into(), lines));
    let frame = DataFrame::new_infer_height(series).map_err(|e| read_error(&file.path, e))?;
    Ok(RawFrame { frame, unparsable })
}

fn read_parquet(file: &InputFile) -> Result<RawFrame> {
    let handle = File::open(&file.path).map_err(|e| read_error(&file.path, e))?;
    let frame = ParquetReader::new(handle)
        .finish()
        .map_err(|e| read_error(&file.path, e))?;
    let height = frame.height() as i64;
    let mut frame = frame;
    frame
        .with_column(Column::new(
            schema::SOURCE_LINE.into(),
            (1..=height).collect::<Vec<i64>>(),
        ))
        .map_err(|e| read_error(&file.path, e))?;
    Ok(RawFrame {
        frame,
        unparsable: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_csv_rows_are_named_by_line() {
        let csv =
            b"ts,actor,action\n2024-01-01 10:00:00,\"a,b\",view\n2024-01-01 10:00:01,a,view,x\n";
        assert_eq!(
            csv_shape_problem(csv).as_deref(),
            Some("line 3: 4 fields where the header has 3")
        );
    }

    #[test]
    fn csv_record_lines_follow_quoted_newlines() {
        let csv = b"ts,actor\n2020-01-01 00:00:00,\"a\nb\"\n2020-01-01 00:00:01,c\n";
        assert_eq!(csv_record_lines(csv), vec![2, 4]);
    }

    #[test]
    fn json_arrays_become_semicolon_lists() {
        let v: serde_json::Value = serde_json::from_str(r#"["name","phone"]"#).unwrap();
        assert_eq!(json_text(&v).as_deref(), Some("name;phone"));
        let v: serde_json::Value = serde_json::from_str("00123").unwrap_or(serde_json::json!(123));
        assert!(json_text(&v).is_some());
    }
}
