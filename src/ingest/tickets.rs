//! Reads the ticket-assignment snapshot (`--tickets`, contract §2) with the
//! same formats, validation and quarantine rules as access events.

use polars::prelude::*;

use super::{conformed, readers, rejections, validate, InputFile, Rejection};
use crate::error::Result;
use crate::schema::*;
use crate::settings::Settings;

/// Validated ticket assignments: `ticket_id`, `customer_id`, `assignee`,
/// `opened_at`, `closed_at` (UTC, null while open).
pub struct Tickets {
    pub tickets: DataFrame,
    pub rejected: Vec<Rejection>,
    pub rows: usize,
}

fn required_text(name: &str) -> (Expr, Expr) {
    let trimmed = col(name).str().strip_chars(lit(NULL));
    let value = when(trimmed.clone().eq(lit("")))
        .then(lit(NULL).cast(DataType::String))
        .otherwise(trimmed);
    let reason = when(value.clone().is_null())
        .then(lit(format!("missing {name}")))
        .otherwise(lit(NULL).cast(DataType::String));
    (value, reason)
}

fn id_name() -> String {
    format!("__{TICKET_ID}")
}

/// Rows validated together (see [`read_tickets`]).
const TICKET_SLICE: usize = 2_000_000;

/// Validates one slice of a ticket file: the valid rows in contract columns,
/// and the bad rows with their reasons.
fn validate_slice(part: DataFrame) -> Result<(DataFrame, DataFrame)> {
    let (opened, opened_bad) = validate::parse_timestamp_parts(OPENED_AT, col("__opened_parts"));
    let (closed, closed_bad_raw) =
        validate::parse_timestamp_parts(CLOSED_AT, col("__closed_parts"));
    let closed_bad = when(col(CLOSED_AT).is_null())
        .then(lit(NULL).cast(DataType::String))
        .otherwise(closed_bad_raw);
    let (id, id_bad) = required_text(TICKET_ID);
    let (customer, customer_bad) = required_text(CUSTOMER_ID);
    let (assignee, assignee_bad) = required_text(ASSIGNEE);
    let bad = |c: &str| format!("{}{c}", validate::BAD_PREFIX);
    // Values and a bad flag for every row; reasons for the bad rows only.
    let any_bad = col(id_name())
        .is_null()
        .or(col(format!("__{CUSTOMER_ID}")).is_null())
        .or(col(format!("__{ASSIGNEE}")).is_null())
        .or(col(format!("__{OPENED_AT}")).is_null())
        .or(col(CLOSED_AT)
            .is_not_null()
            .and(col(format!("__{CLOSED_AT}")).is_null()));
    let checked = part
        .lazy()
        .with_columns([
            col(OPENED_AT).cast(DataType::String),
            col(CLOSED_AT).cast(DataType::String),
        ])
        // One regex pass per timestamp column.
        .with_columns([
            validate::timestamp_parts_of(OPENED_AT).alias("__opened_parts"),
            validate::timestamp_parts_of(CLOSED_AT).alias("__closed_parts"),
        ])
        .with_columns([
            id.alias(id_name()),
            customer.alias(format!("__{CUSTOMER_ID}")),
            assignee.alias(format!("__{ASSIGNEE}")),
            opened.alias(format!("__{OPENED_AT}")),
            closed.alias(format!("__{CLOSED_AT}")),
        ])
        .with_column(any_bad.alias("__bad"))
        .collect()?;
    let bad_rows = checked
        .clone()
        .lazy()
        .filter(col("__bad"))
        .with_columns([
            id_bad.alias(bad(TICKET_ID)),
            customer_bad.alias(bad(CUSTOMER_ID)),
            assignee_bad.alias(bad(ASSIGNEE)),
            opened_bad.alias(bad(OPENED_AT)),
            closed_bad.alias(bad(CLOSED_AT)),
        ])
        .collect()?;
    let valid = checked
        .lazy()
        .filter(col("__bad").not())
        .select(
            TICKET_COLUMNS
                .iter()
                .map(|c| col(format!("__{c}")).alias(*c))
                .collect::<Vec<_>>(),
        )
        .collect()?;
    Ok((valid, bad_rows))
}

/// Reads and validates every ticket file.
pub fn read_tickets(files: &[InputFile], settings: &Settings) -> Result<Tickets> {
    let mut frames = Vec::new();
    let mut rejected = Vec::new();
    let mut rows = 0;
    for file in files {
        let raw = readers::read_raw(file)?;
        rows += raw.frame.height() + raw.unparsable.len();
        rejected.extend(raw.unparsable);
        let frame = super::as_text(super::mapped(raw.frame, &file.path, settings)?)?;
        let (frame, _) = conformed(frame, &file.path, &TICKET_COLUMNS, &TICKET_REQUIRED)?;
        let row_columns: Vec<String> = frame
            .get_column_names()
            .iter()
            .filter(|c| c.as_str() != SOURCE_LINE)
            .map(|c| c.to_string())
            .collect();
        // Validated a slice at a time: the parsed timestamp parts of a
        // whole year of tickets would otherwise be held at once.
        for offset in (0..frame.height().max(1)).step_by(TICKET_SLICE) {
            let part = frame.slice(offset as i64, TICKET_SLICE);
            let (valid, bad) = validate_slice(part)?;
            rejected.extend(rejections(&bad, file, &TICKET_COLUMNS, &row_columns)?);
            frames.push(valid);
        }
    }
    let tickets = if frames.is_empty() {
        DataFrame::empty()
    } else {
        concat(
            frames.into_iter().map(DataFrame::lazy).collect::<Vec<_>>(),
            UnionArgs::default(),
        )?
        .collect()?
    };
    Ok(Tickets {
        tickets,
        rejected,
        rows,
    })
}
