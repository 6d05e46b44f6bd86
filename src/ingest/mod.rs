//! Ingest: from input paths to validated, canonical access events.
//!
//! `paths` resolves arguments into files, `readers` reads each format into a
//! raw text frame, `validate` parses and checks it with polars expressions,
//! `dedupe` drops retried rows across all inputs, `quarantine` writes rejected
//! rows, and `tickets` reads the ticket-assignment snapshot.

pub mod dedupe;
pub mod paths;
pub mod quarantine;
pub mod readers;
pub mod tickets;
pub mod validate;

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

pub use paths::{resolve_inputs, Format, InputFile};

use crate::error::{Error, Result};
use crate::schema;
use crate::settings::Settings;

/// One bad value in a row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    pub column: String,
    pub value: Option<String>,
    pub reason: String,
}

/// A row the contract does not accept, with everything needed to find it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rejection {
    pub source: String,
    /// `12` for text formats, `row 12` for Parquet.
    pub line: String,
    pub problems: Vec<Problem>,
    pub row: BTreeMap<String, Option<String>>,
}

/// The events of one file, validated.
pub struct EventBatch {
    /// Canonical events (contract columns, parsed), good rows only.
    pub events: DataFrame,
    pub rejected: Vec<Rejection>,
    /// Source columns that are not part of the contract (ignored).
    pub unknown_columns: Vec<String>,
    /// Rows read, good and bad.
    pub rows: usize,
}

/// Renames source columns onto contract names as the config's `[columns]` says.
fn mapped(mut frame: DataFrame, path: &std::path::Path, settings: &Settings) -> Result<DataFrame> {
    for (from, to) in &settings.columns {
        if frame.get_column_names().iter().any(|c| c.as_str() == from) {
            if frame.get_column_names().iter().any(|c| c.as_str() == to) {
                frame.drop_in_place(to)?;
            }
            frame
                .rename(from, to.as_str().into())
                .map_err(|e| Error::Read {
                    path: path.to_path_buf(),
                    source: Box::new(e),
                })?;
        }
    }
    Ok(frame)
}

/// Checks required columns and adds absent optional ones as nulls.
pub(crate) fn conformed(
    mut frame: DataFrame,
    path: &std::path::Path,
    all: &[&str],
    required: &[&str],
) -> Result<(DataFrame, Vec<String>)> {
    let present: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    for column in required {
        if !present.iter().any(|c| c == column) {
            return Err(Error::MissingColumn {
                path: path.to_path_buf(),
                column: column.to_string(),
                found: present
                    .iter()
                    .filter(|c| !c.starts_with('_'))
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let unknown = present
        .iter()
        .filter(|c| !all.contains(&c.as_str()) && c.as_str() != schema::SOURCE_LINE)
        .cloned()
        .collect();
    let height = frame.height();
    for column in all {
        if !present.iter().any(|c| c == column) {
            frame.with_column(Column::full_null(
                (*column).into(),
                height,
                &DataType::String,
            ))?;
        }
    }
    Ok((frame, unknown))
}

/// Casts every column to text (contract §1: "every column except `ts` and
/// `records` is read as text"), keeping a native timestamp `ts` and an
/// integer `records` as they are. Only Parquet brings typed columns.
pub(crate) fn as_text(mut frame: DataFrame) -> Result<DataFrame> {
    let typed: Vec<(String, DataType)> = frame
        .schema()
        .iter()
        .map(|(name, dtype)| (name.to_string(), dtype.clone()))
        .collect();
    for (name, dtype) in typed {
        let keep = dtype == DataType::String
            || name == schema::SOURCE_LINE
            || (name == schema::TS && matches!(dtype, DataType::Datetime(_, _)))
            || (name == schema::RECORDS && (dtype.is_integer() || dtype.is_float()));
        if !keep {
            let text = frame.column(&name)?.cast(&DataType::String)?;
            frame.with_column(text)?;
        }
    }
    Ok(frame)
}

/// Builds rejections from the bad rows of a validated frame.
pub(crate) fn rejections(
    bad: &DataFrame,
    source: &InputFile,
    checked: &[&str],
    row_columns: &[String],
) -> Result<Vec<Rejection>> {
    if bad.height() == 0 {
        return Ok(Vec::new());
    }
    let text = |name: &str| -> Result<StringChunked> {
        Ok(bad.column(name)?.cast(&DataType::String)?.str()?.clone())
    };
    let lines = bad.column(schema::SOURCE_LINE)?.cast(&DataType::Int64)?;
    let lines = lines.i64()?;
    // Text formats report physical lines; CSV records may span lines.
    let csv_lines = if source.format == Format::Csv {
        Some(readers::csv_record_lines(&readers::file_bytes(source)?))
    } else {
        None
    };
    let reasons: Vec<(String, StringChunked, StringChunked)> = checked
        .iter()
        .map(|c| {
            Ok((
                c.to_string(),
                text(&format!("{}{c}", validate::BAD_PREFIX))?,
                text(c)?,
            ))
        })
        .collect::<Result<_>>()?;
    let row_values: Vec<(String, StringChunked)> = row_columns
        .iter()
        .map(|c| Ok((c.clone(), text(c)?)))
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(bad.height());
    for i in 0..bad.height() {
        let raw_line = lines.get(i).unwrap_or(0);
        let line = match (&csv_lines, source.format) {
            (Some(map), _) => map
                .get((raw_line - 2).max(0) as usize)
                .copied()
                .unwrap_or(raw_line)
                .to_string(),
            (None, Format::Parquet) => format!("row {raw_line}"),
            _ => raw_line.to_string(),
        };
        let problems = reasons
            .iter()
            .filter_map(|(column, reason, value)| {
                reason.get(i).map(|r| Problem {
                    column: column.clone(),
                    value: value.get(i).map(str::to_string),
                    reason: r.to_string(),
                })
            })
            .collect();
        let row = row_values
            .iter()
            .map(|(c, v)| (c.clone(), v.get(i).map(str::to_string)))
            .collect();
        out.push(Rejection {
            source: source.path.display().to_string(),
            line,
            problems,
            row,
        });
    }
    Ok(out)
}

/// Reads and validates one access-event file.
pub fn read_events(file: &InputFile, settings: &Settings) -> Result<EventBatch> {
    let raw = readers::read_raw(file)?;
    let rows = raw.frame.height() + raw.unparsable.len();
    let frame = mapped(raw.frame, &file.path, settings)?;
    let frame = as_text(frame)?;
    let (frame, unknown_columns) = conformed(
        frame,
        &file.path,
        &schema::EVENT_COLUMNS,
        &schema::EVENT_REQUIRED,
    )?;
    let row_columns: Vec<String> = frame
        .get_column_names()
        .iter()
        .filter(|c| c.as_str() != schema::SOURCE_LINE)
        .map(|c| c.to_string())
        .collect();
    let raw_schema = frame.schema().clone();
    let canonical = validate::AlreadyCanonical::of(&frame, settings)?;
    let checked = validate::validated(frame.lazy(), &raw_schema, canonical, settings);
    if canonical.no_row_can_be_bad() {
        return Ok(EventBatch {
            events: checked.select(validate::canonical_columns()).collect()?,
            rejected: raw.unparsable,
            unknown_columns,
            rows,
        });
    }
    let checked = checked.collect()?;
    let bad = validate::with_reasons(
        checked.clone().lazy().filter(col(validate::BAD)),
        &raw_schema,
        settings,
    )
    .collect()?;
    let mut rejected = raw.unparsable;
    rejected.extend(rejections(&bad, file, &validate::CHECKED, &row_columns)?);
    // Filtering copies every column: skip it when no row is bad.
    let events = if bad.height() == 0 {
        checked.lazy()
    } else {
        checked.lazy().filter(col(validate::BAD).not())
    }
    .select(validate::canonical_columns())
    .collect()?;
    Ok(EventBatch {
        events,
        rejected,
        unknown_columns,
        rows,
    })
}
