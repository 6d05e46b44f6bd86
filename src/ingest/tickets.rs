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
        let (opened, opened_bad) = validate::parse_timestamp_text(OPENED_AT);
        let (closed, closed_bad_raw) = validate::parse_timestamp_text(CLOSED_AT);
        let closed_bad = when(col(CLOSED_AT).is_null())
            .then(lit(NULL).cast(DataType::String))
            .otherwise(closed_bad_raw);
        let (id, id_bad) = required_text(TICKET_ID);
        let (customer, customer_bad) = required_text(CUSTOMER_ID);
        let (assignee, assignee_bad) = required_text(ASSIGNEE);
        let bad = |c: &str| format!("{}{c}", validate::BAD_PREFIX);
        let checked = frame
            .lazy()
            .with_columns([
                col(OPENED_AT).cast(DataType::String),
                col(CLOSED_AT).cast(DataType::String),
            ])
            .with_columns([
                id.alias(format!("__{TICKET_ID}")),
                customer.alias(format!("__{CUSTOMER_ID}")),
                assignee.alias(format!("__{ASSIGNEE}")),
                opened.alias(format!("__{OPENED_AT}")),
                closed.alias(format!("__{CLOSED_AT}")),
                id_bad.alias(bad(TICKET_ID)),
                customer_bad.alias(bad(CUSTOMER_ID)),
                assignee_bad.alias(bad(ASSIGNEE)),
                opened_bad.alias(bad(OPENED_AT)),
                closed_bad.alias(bad(CLOSED_AT)),
            ])
            .collect()?;
        let mut any_bad = lit(false);
        for c in TICKET_COLUMNS {
            any_bad = any_bad.or(col(bad(c)).is_not_null());
        }
        let bad_rows = checked.clone().lazy().filter(any_bad.clone()).collect()?;
        rejected.extend(rejections(&bad_rows, file, &TICKET_COLUMNS, &row_columns)?);
        frames.push(
            checked.lazy().filter(any_bad.not()).select(
                TICKET_COLUMNS
                    .iter()
                    .map(|c| col(format!("__{c}")).alias(*c))
                    .collect::<Vec<_>>(),
            ),
        );
    }
    let tickets = if frames.is_empty() {
        DataFrame::empty()
    } else {
        concat(frames, UnionArgs::default())?.collect()?
    };
    Ok(Tickets {
        tickets,
        rejected,
        rows,
    })
}
