//! Drops duplicate events (log shippers retry) across every input of a run:
//! two rows are duplicates when they are equal on every contract column after
//! parsing, or, when `event_id` is present, on `event_id` alone. Keys are two
//! independent 64-bit hashes, kept per UTC day so each batch is compared only
//! with the days it touches.

use std::collections::HashMap;

use polars::prelude::*;

use crate::error::Result;
use crate::schema::{self, *};

const SEEDS_HI: (u64, u64, u64, u64) = (0x9e37_79b9, 0x7f4a_7c15, 0x94d0_49bb, 0x1331_11eb);
const SEEDS_LO: (u64, u64, u64, u64) = (0xbf58_476d, 0x1ce4_e5b9, 0x2545_f491, 0x4f6c_dd1d);

fn key(seeds: (u64, u64, u64, u64)) -> Expr {
    let (a, b, c, d) = seeds;
    let row = as_struct(schema::EVENT_COLUMNS.iter().map(|c| col(*c)).collect());
    when(col(EVENT_ID).is_not_null())
        .then(col(EVENT_ID).hash(a, b, c, d))
        .otherwise(row.hash(a, b, c, d))
}

/// Remembers the keys of every event kept so far.
#[derive(Default)]
pub struct Deduplicator {
    seen: HashMap<i32, DataFrame>,
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
                key(SEEDS_HI).alias(KEY_HI),
                key(SEEDS_LO).alias(KEY_LO),
            ])
            .unique_stable(
                Some(cols([UTC_DAY, KEY_HI, KEY_LO])),
                UniqueKeepStrategy::First,
            )
            .collect()?;
        let days: Vec<i32> = keyed
            .column(UTC_DAY)?
            .unique()?
            .i32()?
            .into_no_null_iter()
            .collect();
        let earlier: Vec<LazyFrame> = days
            .iter()
            .filter_map(|d| self.seen.get(d).map(|f| f.clone().lazy()))
            .collect();
        let fresh = if earlier.is_empty() {
            keyed
        } else {
            let earlier = concat(earlier, UnionArgs::default())?;
            keyed
                .lazy()
                .join(
                    earlier,
                    [col(UTC_DAY), col(KEY_HI), col(KEY_LO)],
                    [col(UTC_DAY), col(KEY_HI), col(KEY_LO)],
                    JoinArgs::new(JoinType::Anti),
                )
                .collect()?
        };
        for day in days {
            let keys = fresh
                .clone()
                .lazy()
                .filter(col(UTC_DAY).eq(lit(day)))
                .select([col(UTC_DAY), col(KEY_HI), col(KEY_LO)])
                .collect()?;
            match self.seen.get_mut(&day) {
                Some(existing) => {
                    existing.vstack_mut(&keys)?;
                }
                None => {
                    self.seen.insert(day, keys);
                }
            }
        }
        self.dropped += before - fresh.height();
        Ok(fresh.drop_many([UTC_DAY, KEY_HI, KEY_LO]))
    }
}
