//! Drops duplicate events (log shippers retry) across every input of a run:
//! two rows are duplicates when they are equal on every contract column after
//! parsing, or, when `event_id` is present, on `event_id` alone. Keys are two
//! independent 64-bit hashes, kept per batch with the UTC days and the span of
//! times it covers, so that each batch is compared only with the batches it
//! could repeat: a repeated row has the same `ts`, so batches whose times do
//! not overlap (files split at local midnight, read in order) are not
//! compared even when they share a UTC day.

use std::collections::HashSet;

use polars::prelude::*;

use crate::error::Result;
use crate::schema::{self, *};

const SEEDS: (u64, u64, u64, u64) = (0x9e37_79b9, 0x7f4a_7c15, 0x94d0_49bb, 0x1331_11eb);

/// The de-duplication key: `event_id`'s hash when present, else a wrapping
/// sum of per-column hashes with a different seed per column (much cheaper
/// than hashing a row encoding, and order-sensitive through the seeds).
/// `event_ids` says how many rows of the batch have an `event_id`: when
/// none or all do, only the hashes that key needs are computed (the same
/// values; a state's stored keys stay valid).
fn key(seeds: (u64, u64, u64, u64), event_ids: Present) -> Expr {
    let (a, b, c, d) = seeds;
    let by_id = || col(EVENT_ID).hash(a, b, c, d);
    let by_row = || {
        schema::EVENT_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let i = i as u64 + 1;
                col(*name).hash(a ^ i, b.rotate_left(i as u32), c.wrapping_mul(i), d)
            })
            .reduce(|acc, h| acc + h)
            .expect("contract has columns")
    };
    match event_ids {
        Present::Nowhere => by_row(),
        Present::Everywhere => by_id(),
        Present::Somewhere => when(col(EVENT_ID).is_not_null())
            .then(by_id())
            .otherwise(by_row()),
    }
}

/// How many rows of a column hold a value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Present {
    Nowhere,
    Somewhere,
    Everywhere,
}

impl Present {
    fn in_column(column: &Column) -> Present {
        match column.null_count() {
            0 if !column.is_empty() => Present::Everywhere,
            n if n == column.len() => Present::Nowhere,
            _ => Present::Somewhere,
        }
    }
}

/// The UTC days a keys frame covers.
fn utc_days(keys: &DataFrame) -> Result<HashSet<i32>> {
    Ok(keys
        .column(UTC_DAY)?
        .unique()?
        .i32()?
        .into_no_null_iter()
        .collect())
}

/// What a batch of events covers, to tell whether another batch can repeat
/// one of its rows.
struct Coverage {
    /// UTC days (since the epoch).
    days: HashSet<i32>,
    /// The first and last `ts`; unknown for keys from an earlier run, which
    /// are kept by day only.
    span: Option<(i64, i64)>,
    /// Whether any row had an `event_id` (and so may repeat a row at
    /// another time of the day).
    event_ids: bool,
}

impl Coverage {
    fn of(events: &DataFrame, keys: &DataFrame, event_ids: Present) -> Result<Coverage> {
        let ts = events.column(TS)?.cast(&DataType::Int64)?;
        let ts = ts.i64()?;
        Ok(Coverage {
            days: utc_days(keys)?,
            span: ts.min().zip(ts.max()),
            event_ids: event_ids != Present::Nowhere,
        })
    }

    /// Whether a row of one batch can repeat a row of the other: they share
    /// a day, and their times overlap unless both have event ids (equal ids
    /// are repeats at any time of the day).
    fn may_share_rows(&self, other: &Coverage) -> bool {
        if self.days.is_disjoint(&other.days) {
            return false;
        }
        match (self.span, other.span) {
            (Some((lo, hi)), Some((other_lo, other_hi)))
                if !(self.event_ids && other.event_ids) =>
            {
                lo <= other_hi && other_lo <= hi
            }
            _ => true,
        }
    }
}

/// Remembers the keys of every event kept so far, one frame per batch with
/// what the batch covers.
#[derive(Default)]
pub struct Deduplicator {
    seen: Vec<(Coverage, DataFrame)>,
    /// Duplicate rows dropped so far.
    pub dropped: usize,
}

impl Deduplicator {
    /// A de-duplicator that remembers the keys (`_utc_day`, `_key`) of
    /// events seen by earlier runs.
    pub fn seeded(keys: DataFrame) -> Result<Deduplicator> {
        let coverage = Coverage {
            days: utc_days(&keys)?,
            span: None,
            event_ids: true,
        };
        Ok(Deduplicator {
            seen: vec![(coverage, keys)],
            dropped: 0,
        })
    }

    /// The keys of every event seen on UTC days from `first_day` (days since
    /// the epoch) on, for a later run.
    pub fn keys_since(&self, first_day: i32) -> Result<DataFrame> {
        let frames: Vec<LazyFrame> = self
            .seen
            .iter()
            .map(|(_, keys)| keys.clone().lazy())
            .collect();
        if frames.is_empty() {
            return Ok(DataFrame::new_infer_height(vec![
                Column::new_empty(UTC_DAY.into(), &DataType::Int32),
                Column::new_empty(KEY.into(), &DataType::UInt64),
            ])?);
        }
        Ok(concat(frames, UnionArgs::default())?
            .filter(col(UTC_DAY).gt_eq(lit(first_day)))
            .collect()?)
    }

    /// Returns `events` without rows already seen (in this batch or earlier ones).
    /// Only the keys are deduplicated; the events themselves are gathered
    /// again only when something was dropped (usually nothing is).
    pub fn unseen(&mut self, events: DataFrame) -> Result<DataFrame> {
        let before = events.height();
        let event_ids = Present::in_column(events.column(EVENT_ID)?);
        let keys = events
            .clone()
            .lazy()
            .select([
                col(TS).dt().date().cast(DataType::Int32).alias(UTC_DAY),
                key(SEEDS, event_ids).alias(KEY),
            ])
            .collect()?;
        let coverage = Coverage::of(&events, &keys, event_ids)?;
        let earlier: Vec<LazyFrame> = self
            .seen
            .iter()
            .filter(|(covered, _)| covered.may_share_rows(&coverage))
            .map(|(_, keys)| keys.clone().lazy().select([day_key()]))
            .collect();
        // The usual case, a batch of new times without a repeated key, is
        // told by counting distinct keys: no first-of-each pass. (Distinct
        // keys make distinct day-and-key pairs, so the days need not be
        // hashed in.)
        if earlier.is_empty() && keys.column(KEY)?.n_unique()? == before {
            self.seen.push((coverage, keys));
            return Ok(events);
        }
        // The first row of each (day, key) in this batch, in input order,
        // unless an earlier batch had it.
        let mut first = keys
            .clone()
            .lazy()
            .with_row_index(ROW, None)
            .with_column(day_key())
            .unique_stable(Some(cols([DAY_KEY])), UniqueKeepStrategy::First);
        if !earlier.is_empty() {
            let earlier = concat(earlier, UnionArgs::default())?.collect()?;
            let earlier = earlier.column(DAY_KEY)?.as_materialized_series().clone();
            first = first.filter(col(DAY_KEY).is_in(lit(earlier).implode(true), false).not());
        }
        let fresh = first.select([col(ROW), col(UTC_DAY), col(KEY)]).collect()?;
        let (events, keys) = if fresh.height() == before {
            (events, keys)
        } else {
            let rows = fresh.column(ROW)?.idx()?.clone();
            (events.take(&rows)?, fresh.drop(ROW)?)
        };
        self.seen.push((coverage, keys));
        self.dropped += before - events.height();
        Ok(events)
    }
}

const DAY_KEY: &str = "_day_key";
const ROW: &str = "_row";

/// One 64-bit value per (UTC day, key) pair, to compare pairs as one column.
fn day_key() -> Expr {
    let (a, b, c, d) = SEEDS;
    (col(KEY) + col(UTC_DAY).hash(d, c, b, a)).alias(DAY_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(rows: &[(&str, &str, Option<&str>)]) -> DataFrame {
        let ts: Vec<chrono::NaiveDateTime> = rows
            .iter()
            .map(|r| chrono::NaiveDateTime::parse_from_str(r.0, "%Y-%m-%d %H:%M:%S").unwrap())
            .collect();
        let n = rows.len();
        let mut columns = vec![Column::new(TS.into(), ts)];
        for c in schema::EVENT_COLUMNS.iter().skip(1) {
            let values: Vec<Option<&str>> = match *c {
                ACTOR => rows.iter().map(|r| Some(r.1)).collect(),
                EVENT_ID => rows.iter().map(|r| r.2).collect(),
                _ => vec![None; n],
            };
            columns.push(Column::new((*c).into(), values));
        }
        DataFrame::new_infer_height(columns).unwrap()
    }

    #[test]
    fn equal_rows_and_equal_event_ids_are_kept_once_across_batches() {
        let mut d = Deduplicator::default();
        let first = d
            .unseen(events(&[
                ("2024-01-01 10:00:00", "a", None),
                ("2024-01-01 10:00:00", "a", None),
                ("2024-01-01 10:00:00", "b", None),
                ("2024-01-01 11:00:00", "c", Some("e1")),
            ]))
            .unwrap();
        assert_eq!(first.height(), 3);
        assert_eq!(d.dropped, 1);
        // event_id alone decides: same id, other content, still a duplicate;
        // the same content on another day is not.
        let second = d
            .unseen(events(&[
                ("2024-01-01 11:00:00", "zzz", Some("e1")),
                ("2024-01-02 10:00:00", "a", None),
                ("2024-01-01 10:00:00", "b", None),
            ]))
            .unwrap();
        assert_eq!(second.height(), 1);
        assert_eq!(d.dropped, 3);
        let actors: Vec<Option<&str>> = second
            .column(ACTOR)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(actors, [Some("a")]);
    }

    #[test]
    fn keys_do_not_depend_on_whether_other_rows_have_event_ids() {
        let mixed = events(&[
            ("2024-01-01 10:00:00", "a", None),
            ("2024-01-01 10:00:00", "b", Some("e1")),
            ("2024-01-02 09:00:00", "c", None),
            ("2024-01-02 09:00:00", "d", Some("e2")),
        ]);
        let keys = |frame: &DataFrame| -> Vec<u64> {
            let present = Present::in_column(frame.column(EVENT_ID).unwrap());
            let keys = frame
                .clone()
                .lazy()
                .select([key(SEEDS, present).alias(KEY)])
                .collect()
                .unwrap();
            keys.column(KEY)
                .unwrap()
                .u64()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        let rows = |take: &[u32]| {
            mixed
                .take(&IdxCa::from_vec("i".into(), take.to_vec()))
                .unwrap()
        };
        assert_eq!(
            Present::in_column(rows(&[0, 2]).column(EVENT_ID).unwrap()),
            Present::Nowhere
        );
        assert_eq!(
            Present::in_column(rows(&[1, 3]).column(EVENT_ID).unwrap()),
            Present::Everywhere
        );
        assert_eq!(
            Present::in_column(mixed.column(EVENT_ID).unwrap()),
            Present::Somewhere
        );
        let all = keys(&mixed);
        assert_eq!(keys(&rows(&[0, 2])), [all[0], all[2]]);
        assert_eq!(keys(&rows(&[1, 3])), [all[1], all[3]]);
        // An id decides alone; without one, every column counts.
        assert_ne!(all[0], all[2]);
        assert_ne!(all[1], all[3]);
    }

    #[test]
    fn batches_sharing_a_day_are_compared_only_where_a_row_can_repeat() {
        let mut d = Deduplicator::default();
        let morning = [
            ("2024-01-01 08:00:00", "a", None),
            ("2024-01-01 09:00:00", "b", None),
            ("2024-01-01 10:00:00", "c", Some("e1")),
        ];
        assert_eq!(d.unseen(events(&morning)).unwrap().height(), 3);
        // The afternoon shares the UTC day but not the times: nothing in it
        // can repeat a morning row, and nothing is dropped.
        let afternoon = d
            .unseen(events(&[
                ("2024-01-01 14:00:00", "a", None),
                ("2024-01-01 15:00:00", "b", None),
            ]))
            .unwrap();
        assert_eq!(afternoon.height(), 2);
        // A retried morning row in a later batch, and an event id seen in
        // the morning sent again in the evening, are repeats.
        let late = d
            .unseen(events(&[
                ("2024-01-01 09:00:00", "b", None),
                ("2024-01-01 18:00:00", "z", Some("e1")),
                ("2024-01-01 19:00:00", "d", None),
            ]))
            .unwrap();
        assert_eq!(late.height(), 1);
        assert_eq!(d.dropped, 2);

        let at = |lo: i64, hi: i64, event_ids: bool| Coverage {
            days: HashSet::from([19723]),
            span: Some((lo, hi)),
            event_ids,
        };
        assert!(!at(0, 10, false).may_share_rows(&at(11, 20, false)));
        assert!(!at(0, 10, true).may_share_rows(&at(11, 20, false)));
        assert!(at(0, 10, true).may_share_rows(&at(11, 20, true)));
        assert!(at(0, 10, false).may_share_rows(&at(10, 20, false)));
        // Keys from an earlier run are known by day only.
        let stored = Coverage {
            span: None,
            ..at(0, 0, true)
        };
        assert!(stored.may_share_rows(&at(11, 20, false)));
        let other_day = Coverage {
            days: HashSet::from([19724]),
            ..at(0, 10, true)
        };
        assert!(!other_day.may_share_rows(&at(0, 10, true)));
    }

    #[test]
    fn a_batch_of_new_distinct_days_is_kept_whole_and_remembered() {
        let mut d = Deduplicator::default();
        let batch = [
            ("2024-01-05 10:00:00", "a", None),
            ("2024-01-05 10:00:00", "b", None),
            ("2024-01-06 09:00:00", "a", Some("e9")),
        ];
        assert_eq!(d.unseen(events(&batch)).unwrap().height(), 3);
        assert_eq!(d.dropped, 0);
        // The same rows again, and one new one: only the new one is kept.
        let again = d
            .unseen(events(&[
                batch[1],
                ("2024-01-06 09:30:00", "zzz", Some("e9")),
                ("2024-01-06 11:00:00", "c", None),
            ]))
            .unwrap();
        assert_eq!(again.height(), 1);
        assert_eq!(d.dropped, 2);
    }
}
