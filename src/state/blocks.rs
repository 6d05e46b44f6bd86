//! Day blocks: how a state stores its day-keyed tables. Each table is cut
//! by its `day` column into blocks of seven days (Monday to Sunday), one
//! Parquet file per block, so that a nightly run rewrites only the blocks
//! that hold a day it changed and hard-links the others from the version
//! it loaded, instead of re-encoding the whole history every night.
//!
//! A block is reused only when the caller vouches that none of its days
//! changed (`unchanged_before`) and it still holds the same days and rows
//! as the stored block (retention may have dropped days from it).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::schema::DAY;

/// One stored block of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The Monday that starts the block; it also names the block's file.
    pub start: NaiveDate,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub rows: usize,
}

impl Block {
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.start)
    }
}

/// The file a table with no rows is stored in (it keeps the columns).
pub const EMPTY_FILE: &str = "empty.parquet";

const DAY_NUMBER: &str = "_day_number";
const START: &str = "_block_start";

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

fn date(days_since_epoch: i32) -> NaiveDate {
    epoch() + chrono::Duration::days(days_since_epoch as i64)
}

/// The block start (days since 1970-01-01, a Thursday) of each day.
fn block_start() -> Expr {
    let d = col(DAY).cast(DataType::Int32);
    // Days since the Monday on or before; the double remainder keeps days
    // before 1970 in range whatever the sign convention of `%`.
    let since_monday = ((d.clone() + lit(3)) % lit(7) + lit(7)) % lit(7);
    d - since_monday
}

/// The blocks `frame` holds, in day order.
pub fn blocks_of(frame: &DataFrame) -> Result<Vec<Block>> {
    let stats = frame
        .clone()
        .lazy()
        .select([
            col(DAY).cast(DataType::Int32).alias(DAY_NUMBER),
            block_start().alias(START),
        ])
        .group_by([col(START)])
        .agg([
            len().cast(DataType::UInt64).alias("rows"),
            col(DAY_NUMBER).min().alias("first"),
            col(DAY_NUMBER).max().alias("last"),
        ])
        .sort([START], SortMultipleOptions::default())
        .collect()?;
    let int = |name: &str| -> Result<Vec<i32>> {
        Ok(stats.column(name)?.i32()?.iter().flatten().collect())
    };
    let (starts, firsts, lasts) = (int(START)?, int("first")?, int("last")?);
    let rows: Vec<u64> = stats.column("rows")?.u64()?.iter().flatten().collect();
    Ok(starts
        .iter()
        .zip(&firsts)
        .zip(&lasts)
        .zip(&rows)
        .map(|(((&s, &f), &l), &n)| Block {
            start: date(s),
            first_day: date(f),
            last_day: date(l),
            rows: n as usize,
        })
        .collect())
}

/// How one block of a new version is stored.
pub enum Store {
    /// Hard-linked from the previous version's file.
    Link(PathBuf),
    /// Written from these rows.
    Write(DataFrame),
}

/// Plans the blocks of `frame` for a new version: those before
/// `unchanged_before` that the previous version (`previous`: its table
/// directory and blocks) holds with the same days and rows are linked,
/// every other block is written.
pub fn plan(
    frame: &DataFrame,
    previous: Option<(&Path, &[Block])>,
    unchanged_before: NaiveDate,
) -> Result<Vec<(Block, Store)>> {
    let blocks = blocks_of(frame)?;
    let reusable = |block: &Block| -> Option<PathBuf> {
        let (dir, stored) = previous?;
        (block.last_day < unchanged_before && stored.contains(block))
            .then(|| dir.join(block.file_name()))
    };
    let links: Vec<Option<PathBuf>> = blocks.iter().map(reusable).collect();
    let written: Vec<i32> = blocks
        .iter()
        .zip(&links)
        .filter(|(_, link)| link.is_none())
        .map(|(b, _)| (b.start - epoch()).num_days() as i32)
        .collect();
    // The rows of every block to write, grouped by block (in their order
    // within each block) so that each block is one slice.
    let rows = if written.is_empty() {
        frame.clear()
    } else {
        let starts = Series::new("starts".into(), &written);
        frame
            .clone()
            .lazy()
            .with_column(block_start().alias(START))
            .filter(col(START).is_in(lit(starts).implode(true), false))
            .sort(
                [START],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .drop(cols([START]))
            .collect()?
    };
    let mut offset = 0i64;
    Ok(blocks
        .into_iter()
        .zip(links)
        .map(|(block, link)| {
            let store = match link {
                Some(path) => Store::Link(path),
                None => {
                    let slice = rows.slice(offset, block.rows);
                    offset += block.rows as i64;
                    Store::Write(slice)
                }
            };
            (block, store)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn frame(days: &[&str]) -> DataFrame {
        let days: Vec<NaiveDate> = days.iter().map(|d| day(d)).collect();
        let n: Vec<i64> = (0..days.len() as i64).collect();
        df!(DAY => days, "n" => n).unwrap()
    }

    #[test]
    fn blocks_run_monday_to_sunday_also_before_1970() {
        // 2024-03-25 is a Monday; 1969-12-29 too.
        let f = frame(&[
            "2024-03-31",
            "2024-03-25",
            "2024-04-01",
            "2024-03-27",
            "1969-12-31",
            "1970-01-04",
            "1970-01-05",
        ]);
        let blocks = blocks_of(&f).unwrap();
        let summary: Vec<(NaiveDate, NaiveDate, NaiveDate, usize)> = blocks
            .iter()
            .map(|b| (b.start, b.first_day, b.last_day, b.rows))
            .collect();
        assert_eq!(
            summary,
            vec![
                (day("1969-12-29"), day("1969-12-31"), day("1970-01-04"), 2),
                (day("1970-01-05"), day("1970-01-05"), day("1970-01-05"), 1),
                (day("2024-03-25"), day("2024-03-25"), day("2024-03-31"), 3),
                (day("2024-04-01"), day("2024-04-01"), day("2024-04-01"), 1),
            ]
        );
    }

    #[test]
    fn only_unchanged_identical_blocks_are_linked() {
        let old = frame(&["2024-03-18", "2024-03-19", "2024-03-25", "2024-03-26"]);
        let stored = blocks_of(&old).unwrap();
        let dir = Path::new("/previous/customers");
        // A night adds 2024-03-27 and retention dropped 2024-03-18.
        let new = frame(&["2024-03-19", "2024-03-25", "2024-03-26", "2024-03-27"]);
        let plan = plan(&new, Some((dir, &stored)), day("2024-03-27")).unwrap();
        assert_eq!(plan.len(), 2);
        // The first block lost a day: rewritten, with its one row.
        match &plan[0].1 {
            Store::Write(rows) => assert_eq!(rows.height(), 1),
            Store::Link(_) => panic!("a block that lost a day was linked"),
        }
        // The second block gained a day: rewritten with all three rows,
        // in their order.
        match &plan[1].1 {
            Store::Write(rows) => {
                assert_eq!(
                    rows.column("n").unwrap().i64().unwrap().to_vec(),
                    vec![Some(1), Some(2), Some(3)]
                )
            }
            Store::Link(_) => panic!("a changed block was linked"),
        }
        // Nothing changed before 2024-04-01 and the blocks are the same:
        // both are linked.
        let same = plan_of(&old, &stored, dir, "2024-04-01");
        assert!(same
            .iter()
            .all(|(_, s)| matches!(s, Store::Link(p) if p.starts_with(dir))));
        // A day inside the second block changed: it is written even though
        // its days and rows are the same.
        let changed = plan_of(&old, &stored, dir, "2024-03-26");
        assert!(matches!(changed[0].1, Store::Link(_)));
        assert!(matches!(&changed[1].1, Store::Write(rows) if rows.height() == 2));
    }

    fn plan_of(
        frame: &DataFrame,
        stored: &[Block],
        dir: &Path,
        unchanged_before: &str,
    ) -> Vec<(Block, Store)> {
        plan(frame, Some((dir, stored)), day(unchanged_before)).unwrap()
    }
}
