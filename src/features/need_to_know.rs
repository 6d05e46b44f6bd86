//! Need-to-know: which of the customers an actor touched on a day were
//! covered by a ticket assigned to that actor, and which accesses cited a
//! ticket assigned to someone else. Polars joins over each chunk's reduced
//! tables (actor-day-customer and actor-day-ticket), never a loop over
//! events; the ticket index is built once and only the tickets open around
//! a chunk's time span take part in its joins, so a year of tickets is
//! never joined with a year of accesses at once.
//!
//! Coverage (contract §2, plus a grace period): a customer touched by the
//! actor on day D between `first_ts` and `last_ts` is covered when any
//! ticket of that (customer, assignee) pair, its open interval widened by
//! `ticket_grace_minutes` on each side, overlaps that span and was opened on
//! or before D (local day): a ticket filed tomorrow cannot justify today's
//! access. Every ticket of the pair is compared, not only the latest (an
//! as-of join on the latest ticket misses an earlier one still open), which
//! is what merging the pair's intervals first would achieve: two tickets
//! less than two graces apart cover the gap between them either way, and
//! each ticket keeps its own opening day. Merging a year of tickets (a sort
//! and a window over tens of millions of string pairs) cost more memory
//! than the rest of the run.

use std::sync::{Mutex, PoisonError};

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
/// Join keys: a 64-bit hash of the ticket id, or of the (customer,
/// assignee) pair. Joining on it is several times faster than on the
/// strings; rows it pairs by a hash collision are dropped by comparing the
/// strings after the join, so the result is exact.
const TICKET_KEY: &str = "_ticket_key";
const PAIR_KEY: &str = "_pair_key";
/// The ticket's own columns, renamed apart from the chunk's in joins.
const TICKET_CUSTOMER: &str = "_ticket_customer";
const TICKET: &str = "_ticket";
/// Row numbers: of the ticket snapshot (later rows win), and of a chunk's
/// table.
const TICKET_ROW: &str = "_ticket_row";
const ROW: &str = "_row";

/// Far enough in the future to stand for "still open", and safe to add to.
const STILL_OPEN: i64 = i64::MAX / 4;
/// How long after closing a ticket may still be cited (and judged as
/// someone else's or one's own): citations of older tickets count as cited
/// but are not judged.
const CITATION_DAYS: i64 = 30;
const DAY_NS: i64 = 86_400_000_000_000;

/// A timestamp column as UTC nanoseconds, whatever its time unit.
fn nanos(column: &str) -> Expr {
    col(column)
        .cast(DataType::Datetime(TimeUnit::Nanoseconds, None))
        .cast(DataType::Int64)
}

fn ticket_key(ticket: &str) -> Expr {
    col(ticket).hash(0x51_7cc1_b727, 0x220a_95a1, 0x2c1b_3c6d, 0x297a_2d39)
}

/// Seeded apart per column, so that (x, y) and (y, x) differ.
fn pair_key(customer: &str, actor: &str) -> Expr {
    col(customer).hash(0x9e37_79b9, 0x85eb_ca6b, 0xc2b2_ae35, 0x27d4_eb2f)
        + col(actor).hash(0x1656_67b1, 0xd3a2_646c, 0xfd70_46c5, 0xb55a_4f09)
}

/// Tickets open at most this long are looked up by when they opened.
const SHORT_NS: i64 = 7 * DAY_NS;

/// Chunks served by filtering the whole snapshot before it is sorted for
/// lookups: a night's one or two chunks never pay for the sort, a year's
/// hundreds of chunks do, once.
const CHUNKS_BEFORE_SORTING: usize = 4;

/// A table of tickets (`_open`, `_close` and more) for lookups by time.
/// After [`CHUNKS_BEFORE_SORTING`] chunks it is split: the tickets open at
/// most [`SHORT_NS`], sorted by opening, so that a chunk takes the slice that
/// opened around it by binary search instead of filtering the whole
/// snapshot; and the longer or still-open ones, which every chunk filters
/// whole.
struct ByOpening {
    state: Mutex<Lookup>,
    sort_after: usize,
}

enum Lookup {
    Whole { tickets: DataFrame, served: usize },
    Sorted { short: DataFrame, long: DataFrame },
}

impl ByOpening {
    fn new(tickets: DataFrame, sort_after: usize) -> ByOpening {
        ByOpening {
            state: Mutex::new(Lookup::Whole { tickets, served: 0 }),
            sort_after,
        }
    }

    /// Every ticket whose opening may lie from `from` through `to` (UTC
    /// ns): the short tickets opened then, and all the long ones; or the
    /// whole table while it is not sorted. Callers filter the result.
    fn opened_between(&self, from: i64, to: i64) -> Result<LazyFrame> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Lookup::Whole { tickets, served } = &mut *state {
            if *served < self.sort_after {
                *served += 1;
                return Ok(tickets.clone().lazy());
            }
            *state = Self::sorted(tickets.clone())?;
        }
        let Lookup::Sorted { short, long } = &*state else {
            unreachable!("sorted above");
        };
        let (start, end) = if short.height() == 0 {
            (0, 0)
        } else {
            let open = short.column(OPEN)?.i64()?.cont_slice()?;
            let start = open.partition_point(|&t| t < from);
            (start, open.partition_point(|&t| t <= to).max(start))
        };
        Ok(concat(
            [
                short.slice(start as i64, end - start).lazy(),
                long.clone().lazy(),
            ],
            UnionArgs::default(),
        )?)
    }

    fn sorted(tickets: DataFrame) -> Result<Lookup> {
        // Sorted first, so that at most two copies of the table are held
        // at once, and split only when some ticket is long.
        let mut sorted = tickets
            .lazy()
            .filter(col(OPEN).is_not_null())
            .sort([OPEN], SortMultipleOptions::default())
            .collect()?;
        sorted.rechunk_mut_par();
        let is_long = (col(CLOSE) - col(OPEN)).gt(lit(SHORT_NS));
        let long_rows = sorted
            .clone()
            .lazy()
            .select([is_long.clone().sum()])
            .collect()?;
        if long_rows.columns()[0].get(0)?.extract::<usize>() == Some(0) {
            let long = sorted.clear();
            return Ok(Lookup::Sorted {
                short: sorted,
                long,
            });
        }
        let mut short = sorted
            .clone()
            .lazy()
            .filter(is_long.clone().not())
            .collect()?;
        short.rechunk_mut_par();
        let long = sorted.lazy().filter(is_long).collect()?;
        Ok(Lookup::Sorted { short, long })
    }
}

fn grace_ns(settings: &Settings) -> i64 {
    settings.ticket_grace_minutes.max(0) * 60 * 1_000_000_000
}

/// The ticket snapshot, prepared once for every chunk's need-to-know joins.
pub struct TicketIndex {
    /// Every ticket's coverage: `_pair_key`, `_ticket_customer`,
    /// `assignee`, `_open`, `_close` (UTC ns, far away while open) and the
    /// local day it opened.
    intervals: ByOpening,
    /// `_ticket_key`, `_ticket`, `_ticket_row`, `assignee`, `_open`,
    /// `_close` of every ticket.
    owners: ByOpening,
    grace: i64,
}

impl TicketIndex {
    pub fn new(tickets: &DataFrame, settings: &Settings) -> Result<TicketIndex> {
        Self::sorting_after(tickets, settings, CHUNKS_BEFORE_SORTING)
    }

    /// [`TicketIndex::new`], sorting the snapshot for lookups after
    /// `sort_after` chunks.
    fn sorting_after(
        tickets: &DataFrame,
        settings: &Settings,
        sort_after: usize,
    ) -> Result<TicketIndex> {
        let grace = grace_ns(settings);
        let (open_day, _) = super::local_time(OPENED_AT, settings);
        let timed = tickets.clone().lazy().with_columns([
            nanos(OPENED_AT).alias(OPEN),
            nanos(CLOSED_AT).fill_null(lit(STILL_OPEN)).alias(CLOSE),
        ]);
        let intervals = timed
            .clone()
            .select([
                pair_key(CUSTOMER_ID, ASSIGNEE).alias(PAIR_KEY),
                col(CUSTOMER_ID).alias(TICKET_CUSTOMER),
                col(ASSIGNEE),
                col(OPEN),
                col(CLOSE),
                open_day.alias(OPEN_DAY),
            ])
            .collect()?;
        let intervals = ByOpening::new(intervals, sort_after);
        let owners = timed
            .with_row_index(TICKET_ROW, None)
            .select([
                ticket_key(TICKET_ID).alias(TICKET_KEY),
                col(TICKET_ID).alias(TICKET),
                col(TICKET_ROW),
                col(ASSIGNEE),
                col(OPEN),
                col(CLOSE),
            ])
            .collect()?;
        Ok(TicketIndex {
            intervals,
            owners: ByOpening::new(owners, sort_after),
            grace,
        })
    }

    /// Adds `covered` to one chunk's actor-day-customer table.
    pub fn coverage(&self, customers: DataFrame) -> Result<DataFrame> {
        let grace = self.grace;
        let (lo, hi) = span(&customers, FIRST_TS, LAST_TS)?;
        let nearby = self
            .intervals
            .opened_between(lo - grace - SHORT_NS, hi + grace)?
            .filter(
                (col(OPEN) - lit(grace))
                    .lt_eq(lit(hi))
                    .and((col(CLOSE) + lit(grace)).gt_eq(lit(lo))),
            );
        let customers = customers.lazy().with_row_index(ROW, None).collect()?;
        let hits = customers
            .clone()
            .lazy()
            .select([
                col(ROW),
                col(ACTOR),
                col(DAY),
                col(CUSTOMER_ID),
                pair_key(CUSTOMER_ID, ACTOR).alias(PAIR_KEY),
                nanos(FIRST_TS).alias("_first"),
                nanos(LAST_TS).alias("_last"),
            ])
            .join(
                nearby,
                [col(PAIR_KEY)],
                [col(PAIR_KEY)],
                JoinArgs::new(JoinType::Inner),
            )
            .filter(
                col(TICKET_CUSTOMER)
                    .eq(col(CUSTOMER_ID))
                    .and(col(ASSIGNEE).eq(col(ACTOR)))
                    .and((col(OPEN) - lit(grace)).lt_eq(col("_last")))
                    .and((col(CLOSE) + lit(grace)).gt_eq(col("_first")))
                    .and(col(OPEN_DAY).lt_eq(col(DAY))),
            )
            .select([col(ROW)])
            .collect()?;
        let hits = hits.column(ROW)?.as_materialized_series().clone();
        Ok(customers
            .lazy()
            .with_column(
                col(ROW)
                    .is_in(lit(hits).implode(true), false)
                    .alias(COVERED),
            )
            .drop(cols([ROW]))
            .collect()?)
    }

    /// Per actor-day of one chunk: accesses citing a ticket (`ticketed`)
    /// and citing a ticket the snapshot assigns to someone else
    /// (`foreign_ticket`), from the chunk's (actor, day, ticket_id, n)
    /// table and its time span. A ticket id on several rows of the
    /// snapshot belongs to the assignee of its last row open around the
    /// chunk. A cited ticket missing from the snapshot, or closed more than
    /// 30 days before the chunk, counts as cited, not judged.
    pub fn ticket_use(&self, uses: DataFrame, (lo, hi): (i64, i64)) -> Result<DataFrame> {
        let on = || [col(ACTOR), col(DAY)];
        let since = lo - CITATION_DAYS * DAY_NS;
        let nearby = self
            .owners
            .opened_between(since - SHORT_NS, hi)?
            .filter(col(OPEN).lt_eq(lit(hi)).and(col(CLOSE).gt_eq(lit(since))));
        let uses = uses.lazy().with_row_index(ROW, None);
        let foreign = uses
            .clone()
            .with_column(ticket_key(TICKET_ID).alias(TICKET_KEY))
            .join(
                nearby,
                [col(TICKET_KEY)],
                [col(TICKET_KEY)],
                JoinArgs::new(JoinType::Inner),
            )
            .filter(col(TICKET).eq(col(TICKET_ID)))
            .group_by([col(ROW)])
            .agg([
                col(ACTOR).first(),
                col(DAY).first(),
                col(N).first(),
                col(ASSIGNEE).max_by(col(TICKET_ROW)),
            ])
            .filter(
                col(ASSIGNEE)
                    .is_not_null()
                    .and(col(ASSIGNEE).neq(col(ACTOR))),
            )
            .group_by(on())
            .agg([col(N).sum().alias(FOREIGN)]);
        Ok(uses
            .group_by(on())
            .agg([col(N).sum().alias(TICKETED)])
            .join(foreign, on(), on(), JoinArgs::new(JoinType::Left))
            .with_column(col(FOREIGN).fill_null(lit(0i64)))
            .collect()?)
    }
}

/// The earliest and latest UTC nanosecond of two timestamp columns.
pub fn span(frame: &DataFrame, first: &str, last: &str) -> Result<(i64, i64)> {
    let bounds = frame
        .clone()
        .lazy()
        .select([
            nanos(first).min().alias("lo"),
            nanos(last).max().alias("hi"),
        ])
        .collect()?;
    let get = |c: &str| -> Result<Option<i64>> { Ok(bounds.column(c)?.i64()?.get(0)) };
    Ok((get("lo")?.unwrap_or(0), get("hi")?.unwrap_or(0)))
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

    /// The snapshot as an index that filters it whole, and as one sorted
    /// for lookups from the first chunk on: every test asks both.
    fn indexes(t: &DataFrame) -> [TicketIndex; 2] {
        [usize::MAX, 0].map(|sort_after| {
            TicketIndex::sorting_after(t, &Settings::default(), sort_after).unwrap()
        })
    }

    fn covered(c: &DataFrame, t: &DataFrame) -> Vec<(String, bool)> {
        let [whole, sorted] = indexes(t).map(|index| {
            let out = index
                .coverage(c.clone())
                .unwrap()
                .sort([DAY, CUSTOMER_ID], SortMultipleOptions::default())
                .unwrap();
            let ids = out.column(CUSTOMER_ID).unwrap().str().unwrap().clone();
            let flags = out.column(COVERED).unwrap().bool().unwrap().clone();
            ids.iter()
                .zip(flags.iter())
                .map(|(i, f)| (i.unwrap().to_string(), f.unwrap()))
                .collect::<Vec<_>>()
        });
        assert_eq!(whole, sorted);
        whole
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

    /// (ticketed, foreign_ticket) of actor `a` on 2024-03-02, citing each
    /// (ticket, accesses) of `cites`.
    fn citations(tickets: &DataFrame, cites: &[(&str, i64)]) -> (i64, i64) {
        let uses = df!(
            ACTOR => vec!["a"; cites.len()],
            DAY => vec![NaiveDate::from_ymd_opt(2024, 3, 2).unwrap(); cites.len()],
            TICKET_ID => cites.iter().map(|c| c.0).collect::<Vec<_>>(),
            N => cites.iter().map(|c| c.1).collect::<Vec<_>>(),
        )
        .unwrap();
        let day = ts("2024-03-02 00:00")
            .and_utc()
            .timestamp_nanos_opt()
            .unwrap();
        let [whole, sorted] = indexes(tickets).map(|index| {
            let out = index.ticket_use(uses.clone(), (day, day + DAY_NS)).unwrap();
            let get = |c: &str| out.column(c).unwrap().i64().unwrap().get(0).unwrap();
            (get(TICKETED), get(FOREIGN))
        });
        assert_eq!(whole, sorted);
        whole
    }

    #[test]
    fn citing_someone_elses_ticket_is_counted() {
        let t = tickets(&[
            ("T1", "c1", "a", "2024-03-01 09:00", None),
            ("T2", "c2", "b", "2024-03-01 09:00", None),
        ]);
        assert_eq!(citations(&t, &[("T1", 3), ("T2", 2), ("T9", 1)]), (6, 2));
    }

    #[test]
    fn a_ticket_on_several_rows_belongs_to_its_last_row_open_around_the_chunk() {
        let t = tickets(&[
            // Reassigned from b to a, and from a to b.
            ("T1", "c1", "b", "2024-03-01 09:00", None),
            ("T2", "c2", "a", "2024-03-01 09:00", None),
            ("T1", "c1", "a", "2024-03-01 10:00", None),
            ("T2", "c2", "b", "2024-03-01 10:00", None),
            // The later row opens after the chunk: a's row still counts.
            ("T3", "c3", "a", "2024-03-01 09:00", None),
            ("T3", "c3", "b", "2024-04-01 09:00", None),
        ]);
        assert_eq!(
            citations(&t, &[("T1", 1), ("T2", 10), ("T3", 100)]),
            (111, 10)
        );
    }

    #[test]
    fn a_ticket_closed_within_the_citation_window_is_judged_however_early_it_opened() {
        // Citations on March 2 judge tickets closed from February 1 on.
        let t = tickets(&[
            // Opened 36 days before the citations, closed within the window: b's.
            (
                "T4",
                "c4",
                "b",
                "2024-01-26 09:00",
                Some("2024-02-01 09:00"),
            ),
            // Closed before the window: cited, not judged.
            (
                "T5",
                "c5",
                "b",
                "2024-01-25 09:00",
                Some("2024-01-31 09:00"),
            ),
            // Open for months and still open: b's.
            ("T6", "c6", "b", "2023-10-01 09:00", None),
        ]);
        assert_eq!(citations(&t, &[("T4", 5), ("T5", 7), ("T6", 11)]), (23, 16));
    }

    #[test]
    fn a_short_ticket_opened_well_before_the_chunk_still_covers() {
        // Opened the day before, closed after the access: it covers, though
        // it opened long before the chunk's first access.
        let t = tickets(&[(
            "T7",
            "c7",
            "a",
            "2024-03-14 09:00",
            Some("2024-03-15 12:00"),
        )]);
        let c = customers(&[(
            "a",
            "2024-03-15",
            "c7",
            "2024-03-15 10:00",
            "2024-03-15 10:00",
        )]);
        assert_eq!(covered(&c, &t), vec![("c7".to_string(), true)]);
    }
}
