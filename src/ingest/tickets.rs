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
/// and the bad rows with their reasons. A slice whose timestamps all have
/// the plain shape `YYYY-MM-DD HH:MM:SS` (the usual export) is parsed
/// without the full timestamp parse, which costs most of the validation.
fn validate_slice(part: DataFrame) -> Result<(DataFrame, DataFrame)> {
    let unparsed = |name: &str, plain: &str| validate::is_given(name).and(col(plain).is_null());
    let part = part
        .lazy()
        .with_columns([
            col(OPENED_AT).cast(DataType::String),
            col(CLOSED_AT).cast(DataType::String),
        ])
        .with_columns([
            validate::plain_timestamp(OPENED_AT).alias("__opened_plain"),
            validate::plain_timestamp(CLOSED_AT).alias("__closed_plain"),
        ])
        .with_column(
            unparsed(OPENED_AT, "__opened_plain")
                .or(unparsed(CLOSED_AT, "__closed_plain"))
                .alias("__not_plain"),
        )
        .collect()?;
    let not_plain = part.column("__not_plain")?.bool()?.sum().unwrap_or(0);
    let (part, opened, opened_bad, closed, closed_bad_raw) = if not_plain == 0 {
        (
            part,
            col("__opened_plain"),
            validate::missing_timestamp(OPENED_AT),
            col("__closed_plain"),
            validate::missing_timestamp(CLOSED_AT),
        )
    } else {
        // One regex pass per timestamp column.
        let part = part
            .lazy()
            .with_columns([
                validate::timestamp_parts_of(OPENED_AT).alias("__opened_parts"),
                validate::timestamp_parts_of(CLOSED_AT).alias("__closed_parts"),
            ])
            .collect()?;
        let (opened, opened_bad) =
            validate::parse_timestamp_parts(OPENED_AT, col("__opened_parts"));
        let (closed, closed_bad) =
            validate::parse_timestamp_parts(CLOSED_AT, col("__closed_parts"));
        (part, opened, opened_bad, closed, closed_bad)
    };
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
            id.alias(id_name()),
            customer.alias(format!("__{CUSTOMER_ID}")),
            assignee.alias(format!("__{ASSIGNEE}")),
            opened.alias(format!("__{OPENED_AT}")),
            closed.alias(format!("__{CLOSED_AT}")),
        ])
        .with_column(any_bad.alias("__bad"))
        .collect()?;
    // Most slices have no bad row: then nothing is filtered.
    let bad_count = checked.column("__bad")?.bool()?.sum().unwrap_or(0);
    let bad_rows = if bad_count == 0 {
        checked.clear()
    } else {
        checked.clone().lazy().filter(col("__bad")).collect()?
    }
    .lazy()
    .with_columns([
        id_bad.alias(bad(TICKET_ID)),
        customer_bad.alias(bad(CUSTOMER_ID)),
        assignee_bad.alias(bad(ASSIGNEE)),
        opened_bad.alias(bad(OPENED_AT)),
        closed_bad.alias(bad(CLOSED_AT)),
    ])
    .collect()?;
    let valid = if bad_count == 0 {
        checked.lazy()
    } else {
        checked.lazy().filter(col("__bad").not())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(opened: &[Option<&str>]) -> DataFrame {
        let n = opened.len();
        df!(
            TICKET_ID => (0..n).map(|i| format!("T{i}")).collect::<Vec<_>>(),
            CUSTOMER_ID => vec!["C1"; n],
            ASSIGNEE => vec!["emp-1"; n],
            OPENED_AT => opened.to_vec(),
            CLOSED_AT => vec![Some("2024-03-02 08:00:00"); n],
        )
        .unwrap()
    }

    fn opened_ns(valid: &DataFrame) -> Vec<Option<i64>> {
        valid
            .column(OPENED_AT)
            .unwrap()
            .cast(&DataType::Int64)
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect()
    }

    /// The plain-shape shortcut and the full parse agree, and a missing
    /// timestamp is rejected with the same reason on both paths.
    #[test]
    fn plain_timestamps_parse_as_the_full_parse_does() {
        let plain = [
            Some("2024-03-01 09:15:00"),
            None,
            Some("2024-02-29 23:59:59"),
        ];
        let (valid, bad) = validate_slice(slice(&plain)).unwrap();
        // One value of another shape sends the slice down the full parse.
        let mut mixed = plain.to_vec();
        mixed.push(Some("2024-03-01T10:15:00+01:00"));
        let (valid_full, bad_full) = validate_slice(slice(&mixed)).unwrap();
        let fast = opened_ns(&valid);
        let full = opened_ns(&valid_full);
        assert_eq!(fast.len(), 2);
        assert_eq!(full.len(), 3);
        assert_eq!(fast, full[..2]);
        // 2024-03-01 09:15:00 UTC, and the offset row is the same instant.
        assert_eq!(fast[0], Some(1_709_284_500_000_000_000));
        assert_eq!(full[2], fast[0]);
        let reason = |bad: &DataFrame| {
            bad.column(&format!("{}{OPENED_AT}", validate::BAD_PREFIX))
                .unwrap()
                .str()
                .unwrap()
                .get(0)
                .map(str::to_string)
        };
        assert_eq!(bad.height(), 1);
        assert_eq!(bad_full.height(), 1);
        assert_eq!(reason(&bad).as_deref(), Some("missing timestamp"));
        assert_eq!(reason(&bad), reason(&bad_full));
        // An impossible date of the plain shape is judged by the full parse.
        let (_, bad) = validate_slice(slice(&[Some("2024-02-30 10:00:00")])).unwrap();
        assert_eq!(
            reason(&bad).as_deref(),
            Some("not a valid date, time or UTC offset")
        );
    }
}
