//! Drops duplicate events (log shippers retry) across every input of a run:
//! two rows are duplicates when they are equal on every contract column after
//! parsing, or, when `event_id` is present, on `event_id` alone. Keys are two
//! independent 64-bit hashes, kept per UTC day so each batch is compared only
//! with the days it touches.

use std::collections::HashSet;

use polars::prelude::*;

use crate::error::Result;
use crate::schema::{self, *};

const SEEDS: (u64, u64, u64, u64) = (0x9e37_79b9, 0x7f4a_7c15, 0x94d0_49bb, 0x1331_11eb);

/// The de-duplication key: `event_id`'s hash when present, else a wrapping
/// sum of per-column hashes with a different seed per column (much cheaper
/// than hashing a row encoding, and order-sensitive through the seeds).
fn key(seeds: (u64, u64, u64, u64)) -> Expr {
    let (a, b, c, d) = seeds;
    let row = schema::EVENT_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let i = i as u64 + 1;
            col(*name).hash(a ^ i, b.rotate_left(i as u32), c.wrapping_mul(i), d)
        })
        .reduce(|acc, h| acc + h)
        .expect("contract has columns");
    when(col(EVENT_ID).is_not_null())
        .then(col(EVENT_ID).hash(a, b, c, d))
        .otherwise(row)
}

/// Remembers the keys of every event kept so far, one frame per batch with
/// the days it covers.
#[derive(Default)]
pub struct Deduplicator {
    seen: Vec<(HashSet<i32>, DataFrame)>,
    /// Duplicate rows dropped so far.
    pub dropped: usize,
}

impl Deduplicator {
    /// Returns `events` without rows already seen (in this batch or earlier ones).
    pub fn unseen(&mut self, events: DataFrame) -> Result<DataFrame> {
        let before = events.height();
        let keyed = events
            .lazy()
            .with_columns([
                col(TS).dt().date().cast(DataType::Int32).alias(UTC_DAY),
                key(SEEDS).alias(KEY),
            ])
            .unique(Some(cols([UTC_DAY, KEY])), UniqueKeepStrategy::First)
            .collect()?;
        let days: HashSet<i32> = keyed
            .column(UTC_DAY)?
            .unique()?
            .i32()?
            .into_no_null_iter()
            .collect();
        let earlier: Vec<LazyFrame> = self
            .seen
            .iter()
            .filter(|(covered, _)| !covered.is_disjoint(&days))
            .map(|(_, keys)| keys.clone().lazy())
            .collect();
        let fresh = if earlier.is_empty() {
            keyed
        } else {
            let earlier = concat(earlier, UnionArgs::default())?;
            keyed
                .lazy()
                .join(
                    earlier,
                    [col(UTC_DAY), col(KEY)],
                    [col(UTC_DAY), col(KEY)],
                    JoinArgs::new(JoinType::Anti),
                )
                .collect()?
        };
        let keys = fresh.select([UTC_DAY, KEY])?;
        self.seen.push((days, keys));
        self.dropped += before - fresh.height();
        Ok(fresh.drop_many([UTC_DAY, KEY]))
    }
}
