//! How an actor walked through the day's customers: the numeric part of
//! each customer id (its last run of digits), in order of first access,
//! and the steps between consecutive ids. A script paging through the
//! customer table walks ids in order; people follow tickets, whose ids come
//! in no order. Computed on the actor-day-customer table (one row per
//! customer touched), so no event-level sort.

use polars::prelude::*;

use super::FIRST_TS;
use crate::error::Result;
use crate::schema::*;

/// Steps between consecutive customers with numeric ids, per actor-day.
pub const ID_STEPS: &str = "id_steps";
/// Steps to an adjacent id (plus or minus one).
pub const ADJACENT_STEPS: &str = "adjacent_steps";
/// Steps to a higher id.
pub const ASCENDING_STEPS: &str = "ascending_steps";

/// The numeric part of `customer_id` (null when it has no digits).
const CUSTOMER_NUMBER: &str = "_customer_number";
/// The index of an actor-day among those with numbered customers.
const ACTOR_DAY: &str = "_actor_day";
const ROW: &str = "_row";
const STEP: &str = "_step";
/// Whether a row's predecessor in walk order is of the same actor-day.
const SAME: &str = "_same";

/// [`CUSTOMER_NUMBER`] as an expression.
fn customer_number() -> Expr {
    col(CUSTOMER_ID)
        .str()
        .extract(lit(r"(\d{1,18})\D*$"), 1)
        .cast(DataType::Int64)
        .alias(CUSTOMER_NUMBER)
}

/// Per actor-day with at least one numbered customer: `id_steps`,
/// `adjacent_steps`, `ascending_steps`, from the numbers in order of
/// first access (ties by number).
///
/// Every row gets its actor-day's index, the rows are put in order of
/// (actor-day, first access, number) by one sort on three integer columns,
/// and each row is compared with the row before it: a step when both are
/// of the same actor-day. Cheaper than a sort or a shift within each
/// group of a group-by.
pub fn order_stats(customers: &DataFrame) -> Result<DataFrame> {
    let numbered = customers
        .clone()
        .lazy()
        .select([col(ACTOR), col(DAY), col(FIRST_TS), customer_number()])
        .filter(col(CUSTOMER_NUMBER).is_not_null())
        .collect()?;
    let actor_days = numbered
        .clone()
        .lazy()
        .select([col(ACTOR), col(DAY)])
        .unique(None, UniqueKeepStrategy::Any)
        .with_row_index(ACTOR_DAY, None)
        .collect()?;
    let rows = numbered
        .lazy()
        .join(
            actor_days.clone().lazy(),
            [col(ACTOR), col(DAY)],
            [col(ACTOR), col(DAY)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col(ACTOR_DAY), col(FIRST_TS), col(CUSTOMER_NUMBER)])
        .with_row_index(ROW, None)
        .collect()?;
    let walk_order = rows
        .clone()
        .lazy()
        .select([col(ROW).sort_by(
            [col(ACTOR_DAY), col(FIRST_TS), col(CUSTOMER_NUMBER)],
            SortMultipleOptions::default(),
        )])
        .collect()?;
    let walk_order = walk_order.column(ROW)?.as_materialized_series().clone();
    let in_order = |c: &str| col(c).gather(lit(walk_order.clone()), false);
    let counted = |cond: Expr| col(SAME).and(cond).cast(DataType::Int64).sum();
    Ok(rows
        .lazy()
        .select([in_order(ACTOR_DAY), in_order(CUSTOMER_NUMBER)])
        .with_columns([
            (col(CUSTOMER_NUMBER) - col(CUSTOMER_NUMBER).shift(lit(1))).alias(STEP),
            col(ACTOR_DAY)
                .eq(col(ACTOR_DAY).shift(lit(1)))
                .fill_null(lit(false))
                .alias(SAME),
        ])
        .group_by([col(ACTOR_DAY)])
        .agg([
            counted(lit(true)).alias(ID_STEPS),
            counted(col(STEP).eq(lit(1i64)).or(col(STEP).eq(lit(-1i64)))).alias(ADJACENT_STEPS),
            counted(col(STEP).gt(lit(0i64))).alias(ASCENDING_STEPS),
        ])
        .join(
            actor_days.lazy(),
            [col(ACTOR_DAY)],
            [col(ACTOR_DAY)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([
            col(ACTOR),
            col(DAY),
            col(ID_STEPS),
            col(ADJACENT_STEPS),
            col(ASCENDING_STEPS),
        ])
        .sort([ACTOR, DAY], SortMultipleOptions::default())
        .collect()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime};

    #[test]
    fn steps_follow_the_order_of_first_access() {
        let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let at = |m: u32| day.and_hms_opt(9, m, 0).unwrap();
        // Actor a accessed C0010, C0011, C0012, C0005, X (no digits); actor
        // b, interleaved in time, C0003 then C0001 and C0002 at one instant
        // (ties go by number).
        let frame = df!(
            ACTOR => ["a", "b", "a", "a", "b", "a", "b", "a"],
            DAY => [day; 8],
            CUSTOMER_ID => ["C0012", "C0002", "C0010", "C0005", "C0003", "C0011", "C0001", "X"],
            FIRST_TS => [at(3), at(2), at(1), at(4), at(1), at(2), at(2), at(5)] as [NaiveDateTime; 8],
        )
        .unwrap();
        let out = order_stats(&frame).unwrap();
        let get = |c: &str| -> Vec<i64> {
            out.column(c)
                .unwrap()
                .i64()
                .unwrap()
                .iter()
                .flatten()
                .collect()
        };
        // a: +1, +1, -7; b: 3 -> 1 -> 2: -2, +1.
        assert_eq!(get(ID_STEPS), vec![3, 2]);
        assert_eq!(get(ADJACENT_STEPS), vec![2, 1]);
        assert_eq!(get(ASCENDING_STEPS), vec![2, 1]);
    }
}
