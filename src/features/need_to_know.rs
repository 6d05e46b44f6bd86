//! Need-to-know: which of the customers an actor touched on a day were
//! covered by a ticket assigned to that actor, and which accesses cited a
//! ticket assigned to someone else. Polars joins over the reduced tables
//! (actor-day-customer and actor-day-ticket), never a loop over events.
//!
//! Coverage (contract §2, plus a grace period): each (customer, assignee)'s
//! tickets are first merged into intervals, so that an earlier ticket still
//! open is not hidden behind a later one. A customer touched by the actor on
//! day D between `first_ts` and `last_ts` is covered when one of those
//! intervals, widened by `ticket_grace_minutes` on each side, overlaps that
//! span and the interval's first ticket was opened on or before D (local
//! day): a ticket filed tomorrow cannot justify today's access.

use polars::prelude::*;

use super::{COVERED, FIRST_TS, LAST_TS, N};
use crate::error::Result;
use crate::schema::*;
use crate::settings::Settings;

/// Accesses citing any ticket, per actor-day.
pub const TICKETED: &str = "ticketed";
/// Accesses citing a ticket assigned to someone else, per actor-day.
pub const FOREIGN: &str = "foreign_ticket";

const OPEN: &str = "_open";
const CLOSE: &str = "_close";
const OPEN_DAY: &str = "_open_day";

/// Far enough in the future to stand for "still open", and safe to add to.
const STILL_OPEN: i64 = i64::MAX / 4;

/// A timestamp column as UTC nanoseconds, whatever its time unit.
fn nanos(column: &str) -> Expr {
    col(column)
        .cast(DataType::Datetime(TimeUnit::Nanoseconds, None))
        .cast(DataType::Int64)
}

fn grace_ns(settings: &Settings) -> i64 {
    settings.ticket_grace_minutes.max(0) * 60 * 1_000_000_000
}

/// Merged coverage intervals per (customer, assignee): `_open` and `_close`
/// in UTC nanoseconds (`_close` far away while open) and the local day the
/// first ticket of the interval was opened.
pub fn merged_intervals(tickets: &DataFrame, settings: &Settings) -> Result<LazyFrame> {
    let grace = grace_ns(settings);
    let (open_day, _) = super::local_time(OPENED_AT, settings);
    let key = [col(CUSTOMER_ID), col(ASSIGNEE)];
    let covered_until = col(CLOSE).cum_max(false).shift(lit(1)).over(key)?;
    Ok(tickets
        .clone()
        .lazy()
        .select([
            col(CUSTOMER_ID),
            col(ASSIGNEE),
            nanos(OPENED_AT).alias(OPEN),
            nanos(CLOSED_AT).fill_null(lit(STILL_OPEN)).alias(CLOSE),
            open_day.alias(OPEN_DAY),
        ])
        .sort(
            [CUSTOMER_ID, ASSIGNEE, OPEN],
            SortMultipleOptions::default(),
        )
        // A ticket starts a new interval when it opens after every earlier
        // ticket of the pair has closed (with both graces between them).
        .with_column(covered_until.alias("_covered_until"))
        .with_column(
            col("_covered_until")
                .is_null()
                .or(col(OPEN).gt(col("_covered_until") + lit(2 * grace)))
                .cast(DataType::Int64)
                .cum_sum(false)
                .alias("_interval"),
        )
        .group_by([col(CUSTOMER_ID), col(ASSIGNEE), col("_interval")])
        .agg([col(OPEN).min(), col(CLOSE).max(), col(OPEN_DAY).min()]))
}

/// Adds `covered` to the actor-day-customer table.
pub fn mark_coverage(
    customers: &DataFrame,
    tickets: &DataFrame,
    settings: &Settings,
) -> Result<DataFrame> {
    let grace = grace_ns(settings);
    let keys = [col(ACTOR), col(DAY), col(CUSTOMER_ID)];
    let hits = customers
        .clone()
        .lazy()
        .select([
            col(ACTOR),
            col(DAY),
            col(CUSTOMER_ID),
            nanos(FIRST_TS).alias("_first"),
            nanos(LAST_TS).alias("_last"),
        ])
        .join(
            merged_intervals(tickets, settings)?,
            [col(CUSTOMER_ID), col(ACTOR)],
            [col(CUSTOMER_ID), col(ASSIGNEE)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            (col(OPEN) - lit(grace))
                .lt_eq(col("_last"))
                .and((col(CLOSE) + lit(grace)).gt_eq(col("_first")))
                .and(col(OPEN_DAY).lt_eq(col(DAY))),
        )
        .select(keys.clone())
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(lit(true).alias(COVERED));
    Ok(customers
        .clone()
        .lazy()
        .join(hits, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .with_column(col(COVERED).fill_null(lit(false)))
        .collect()?)
}

/// Without tickets nothing is known about coverage: `covered` is null.
pub fn unknown_coverage(customers: &DataFrame) -> Result<DataFrame> {
    Ok(customers
        .clone()
        .lazy()
        .with_column(lit(NULL).cast(DataType::Boolean).alias(COVERED))
        .collect()?)
}

/// Per actor-day: accesses citing a ticket (`ticketed`) and accesses citing
/// a ticket the snapshot assigns to someone else (`foreign_ticket`). A cited
/// ticket missing from the snapshot counts as ticketed, not foreign.
pub fn ticket_use(ticket_uses: &DataFrame, tickets: &DataFrame) -> Result<DataFrame> {
    let owners = tickets
        .clone()
        .lazy()
        .select([col(TICKET_ID), col(ASSIGNEE)])
        .unique_stable(Some(cols([TICKET_ID])), UniqueKeepStrategy::Last);
    Ok(ticket_uses
        .clone()
        .lazy()
        .join(
            owners,
            [col(TICKET_ID)],
            [col(TICKET_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .group_by([col(ACTOR), col(DAY)])
        .agg([
            col(N).sum().alias(TICKETED),
            col(N)
                .filter(
                    col(ASSIGNEE)
                        .is_not_null()
                        .and(col(ASSIGNEE).neq(col(ACTOR))),
                )
                .sum()
                .alias(FOREIGN),
        ])
        .collect()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime};

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn tickets(rows: &[(&str, &str, &str, &str, Option<&str>)]) -> DataFrame {
        df!(
            TICKET_ID => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            CUSTOMER_ID => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            ASSIGNEE => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            OPENED_AT => rows.iter().map(|r| ts(r.3)).collect::<Vec<_>>(),
            CLOSED_AT => rows.iter().map(|r| r.4.map(ts)).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    /// (actor, day, customer, first access, last access)
    fn customers(rows: &[(&str, &str, &str, &str, &str)]) -> DataFrame {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        df!(
            ACTOR => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            DAY => rows.iter().map(|r| day(r.1)).collect::<Vec<_>>(),
            CUSTOMER_ID => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            FIRST_TS => rows.iter().map(|r| ts(r.3)).collect::<Vec<_>>(),
            LAST_TS => rows.iter().map(|r| ts(r.4)).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn covered(c: &DataFrame, t: &DataFrame) -> Vec<(String, bool)> {
        let out = mark_coverage(c, t, &Settings::default())
            .unwrap()
            .sort([DAY, CUSTOMER_ID], SortMultipleOptions::default())
            .unwrap();
        let ids = out.column(CUSTOMER_ID).unwrap().str().unwrap().clone();
        let flags = out.column(COVERED).unwrap().bool().unwrap().clone();
        ids.iter()
            .zip(flags.iter())
            .map(|(i, f)| (i.unwrap().to_string(), f.unwrap()))
            .collect()
    }

    #[test]
    fn an_earlier_ticket_still_open_covers_despite_a_later_one() {
        // c1: a long ticket from March 1 to 20 and a short later one on the
        // 10th; an access on the 15th is covered by the first. An as-of
        // join on the latest ticket (the 10th, closed the 11th) would miss it.
        let t = tickets(&[
            (
                "T1",
                "c1",
                "a",
                "2024-03-01 09:00",
                Some("2024-03-20 09:00"),
            ),
            (
                "T2",
                "c1",
                "a",
                "2024-03-10 09:00",
                Some("2024-03-11 09:00"),
            ),
        ]);
        let c = customers(&[(
            "a",
            "2024-03-15",
            "c1",
            "2024-03-15 10:00",
            "2024-03-15 11:00",
        )]);
        assert_eq!(covered(&c, &t), vec![("c1".to_string(), true)]);
    }

    #[test]
    fn coverage_needs_the_actors_own_ticket_in_time() {
        let t = tickets(&[
            // c1 is someone else's.
            ("T1", "c1", "b", "2024-03-01 09:00", None),
            // c2 was closed two days before the access.
            (
                "T2",
                "c2",
                "a",
                "2024-03-01 09:00",
                Some("2024-03-13 09:00"),
            ),
            // c3 is opened 30 minutes after the access: within the grace.
            ("T3", "c3", "a", "2024-03-15 10:30", None),
            // c4 is opened the next day, after a late-night access: not
            // covered, even though it is within the grace (contract §2).
            ("T4", "c4", "a", "2024-03-16 00:20", None),
            // c5 is still open.
            ("T5", "c5", "a", "2024-02-01 09:00", None),
        ]);
        let c = customers(&[
            (
                "a",
                "2024-03-15",
                "c1",
                "2024-03-15 10:00",
                "2024-03-15 10:00",
            ),
            (
                "a",
                "2024-03-15",
                "c2",
                "2024-03-15 10:00",
                "2024-03-15 10:00",
            ),
            (
                "a",
                "2024-03-15",
                "c3",
                "2024-03-15 10:00",
                "2024-03-15 10:00",
            ),
            (
                "a",
                "2024-03-15",
                "c4",
                "2024-03-15 23:50",
                "2024-03-15 23:50",
            ),
            (
                "a",
                "2024-03-15",
                "c5",
                "2024-03-15 10:00",
                "2024-03-15 10:00",
            ),
            (
                "a",
                "2024-03-15",
                "c6",
                "2024-03-15 10:00",
                "2024-03-15 10:00",
            ),
        ]);
        let flags: Vec<bool> = covered(&c, &t).into_iter().map(|x| x.1).collect();
        assert_eq!(flags, vec![false, false, true, false, true, false]);
    }

    #[test]
    fn citing_someone_elses_ticket_is_counted() {
        let t = tickets(&[
            ("T1", "c1", "a", "2024-03-01 09:00", None),
            ("T2", "c2", "b", "2024-03-01 09:00", None),
        ]);
        let uses = df!(
            ACTOR => ["a", "a", "a"],
            DAY => [NaiveDate::from_ymd_opt(2024, 3, 2).unwrap(); 3],
            TICKET_ID => ["T1", "T2", "T9"],
            N => [3i64, 2, 1],
        )
        .unwrap();
        let out = ticket_use(&uses, &t).unwrap();
        assert_eq!(out.column(TICKETED).unwrap().i64().unwrap().get(0), Some(6));
        assert_eq!(out.column(FOREIGN).unwrap().i64().unwrap().get(0), Some(2));
    }
}
