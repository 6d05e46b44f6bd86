//! The actor-day table as Rust rows, sorted by day then actor: the input of
//! the sequential (causal) baseline and detector stage.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;

use super::*;
use crate::error::Result;

/// The kinds of thing an actor uses whose first use is evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Client,
    SourceIp,
    Resource,
    Field,
}

impl ItemKind {
    pub const ALL: [ItemKind; 4] = [
        ItemKind::Client,
        ItemKind::SourceIp,
        ItemKind::Resource,
        ItemKind::Field,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::Client => "client",
            ItemKind::SourceIp => "source_ip",
            ItemKind::Resource => "resource",
            ItemKind::Field => "field",
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One actor's activity on one day.
#[derive(Debug, Clone, Default)]
pub struct ActorDay {
    pub actor: usize,
    pub day: NaiveDate,
    pub team: Option<String>,
    pub kind: String,
    pub events: f64,
    pub records: f64,
    pub records_unknown: f64,
    pub views: f64,
    pub searches: f64,
    pub exports: f64,
    pub export_rows: f64,
    pub export_unknown: f64,
    pub updates: f64,
    pub deletes: f64,
    pub denied: f64,
    pub errors: f64,
    pub data_events: f64,
    pub sensitive_events: f64,
    pub distinct_customers: f64,
    pub hours: [f64; 24],
    /// Distinct items used that day, per [`ItemKind`].
    pub items: [Vec<String>; 4],
    /// Customers touched that no ticket of the actor's covered (`None`
    /// without `--tickets`).
    pub uncovered: Option<f64>,
    /// Accesses citing a ticket, and citing someone else's ticket.
    pub ticketed: f64,
    pub foreign_ticket: f64,
    /// Steps between consecutive customer ids in order of first access:
    /// all, to an adjacent id, to a higher id.
    pub id_steps: f64,
    pub adjacent_steps: f64,
    pub ascending_steps: f64,
    /// Customers per `customer_segment` among those judged for segment skew
    /// (the uncovered ones when tickets are known), sorted by segment.
    pub segments: Segments,
}

/// A `customer_segment` name, shared rather than copied (baselines hold
/// every day of a window).
pub type Segment = std::sync::Arc<str>;

/// Customers per segment on one actor-day, sorted by segment.
pub type Segments = std::sync::Arc<[(Segment, f64)]>;

impl ActorDay {
    pub fn is_human(&self) -> bool {
        matches!(self.kind.as_str(), "employee" | "contractor")
    }
}

/// All actor-days, sorted by day then actor, with the actor names.
pub struct ActorDays {
    pub actors: Vec<String>,
    pub rows: Vec<ActorDay>,
    /// The columns derived from the customer table, for a state to keep.
    pub derived: Derived,
}

/// Per-actor-day values derived from the actor-day-customer table, which
/// a state keeps so that a nightly run does not derive them again for the
/// whole history.
#[derive(Clone)]
pub struct Derived {
    /// `actor`, `day`, `distinct_customers`, `uncovered` (null without
    /// tickets), `id_steps`, `adjacent_steps`, `ascending_steps`, as floats.
    pub columns: DataFrame,
    /// `actor`, `day`, `customer_segment`, `n`: judged customers per segment.
    pub segments: DataFrame,
}

const DISTINCT_CUSTOMERS: &str = "distinct_customers";
const UNCOVERED: &str = "uncovered";
const ROW: &str = "_row";

/// Days of customers derived together. The id-order steps sort every
/// customer row; a year's table sorted and grouped as one took about twice
/// as long as its four-week spans one after another (the spans' sorts and
/// group tables stay small). No actor-day crosses a span, so the spans'
/// values stacked are the whole table's.
const DERIVE_SPAN_DAYS: i64 = 28;

/// Consecutive `[from, until)` day ranges of `span_days` days covering the
/// days of `frame` (none when it is empty).
fn day_spans(frame: &DataFrame, span_days: i64) -> Result<Vec<(NaiveDate, NaiveDate)>> {
    let Some((first, last)) = day_bounds(frame)? else {
        return Ok(Vec::new());
    };
    let step = chrono::Duration::days(span_days);
    Ok(
        std::iter::successors(Some(first), |&from| Some(from + step))
            .take_while(|&from| from <= last)
            .map(|from| (from, from + step))
            .collect(),
    )
}

/// Per actor-day of `customers`: distinct customers, uncovered ones (null
/// without tickets) and the id-order steps, as floats.
fn order_columns(customers: LazyFrame, tickets_known: bool) -> Result<DataFrame> {
    let on = || [col(ACTOR), col(DAY)];
    let float = |name: &str| col(name).cast(DataType::Float64).fill_null(lit(0.0));
    // One pass over the customers: counts and id-order steps together.
    collect_streaming(
        customer_order::in_access_order(customers, &[ACTOR, DAY, COVERED])
            .group_by(on())
            .agg(
                [
                    len().alias(DISTINCT_CUSTOMERS),
                    col(COVERED)
                        .not()
                        .cast(DataType::Int64)
                        .sum()
                        .alias(UNCOVERED),
                ]
                .into_iter()
                .chain(customer_order::step_aggregations())
                .collect::<Vec<_>>(),
            )
            .select([
                col(ACTOR),
                col(DAY),
                float(DISTINCT_CUSTOMERS),
                if tickets_known {
                    float(UNCOVERED)
                } else {
                    lit(NULL).cast(DataType::Float64).alias(UNCOVERED)
                },
                float(customer_order::ID_STEPS),
                float(customer_order::ADJACENT_STEPS),
                float(customer_order::ASCENDING_STEPS),
            ]),
    )
}

impl Derived {
    /// Derives the values from a customer table, [`DERIVE_SPAN_DAYS`] at a
    /// time.
    fn of(customers: &DataFrame, tickets_known: bool) -> Result<Derived> {
        let spans = day_spans(customers, DERIVE_SPAN_DAYS)?;
        if spans.len() <= 1 {
            return Derived::of_span(customers, tickets_known);
        }
        let mut parts = spans.iter().map(|&(from, until)| {
            let in_span = col(DAY).gt_eq(lit(from)).and(col(DAY).lt(lit(until)));
            Derived::of_span(
                &customers.clone().lazy().filter(in_span).collect()?,
                tickets_known,
            )
        });
        let mut derived = parts.next().expect("two spans or more")?;
        for part in parts {
            let part = part?;
            derived.columns.vstack_mut_owned(part.columns)?;
            derived.segments.vstack_mut_owned(part.segments)?;
        }
        Ok(derived)
    }

    /// Derives the values from the customers of whole actor-days.
    fn of_span(customers: &DataFrame, tickets_known: bool) -> Result<Derived> {
        let columns = order_columns(customers.clone().lazy(), tickets_known)?;
        // Segments of the customers judged for skew: with tickets, those no
        // ticket of the actor's covered (an agent moved to another queue
        // brings tickets for it); without, all of them.
        let judged = if tickets_known {
            col(COVERED).not()
        } else {
            lit(true)
        };
        let segments = collect_streaming(
            customers
                .clone()
                .lazy()
                .filter(judged.and(col(CUSTOMER_SEGMENT).is_not_null()))
                .group_by([col(ACTOR), col(DAY), col(CUSTOMER_SEGMENT)])
                .agg([len().cast(DataType::Float64).alias(N)]),
        )?;
        Ok(Derived { columns, segments })
    }

    /// These values through `through`, then `fresh`'s, for the actor-days
    /// of `keep` only (retention may have dropped old days).
    fn followed_by(&self, through: NaiveDate, fresh: Derived, keep: &DataFrame) -> Result<Derived> {
        let on = || [col(ACTOR), col(DAY)];
        let keep = keep.clone().lazy().select(on());
        let join = |old: &DataFrame, new: DataFrame| -> Result<DataFrame> {
            let columns: Vec<Expr> = new
                .get_column_names()
                .iter()
                .map(|c| col(c.as_str()))
                .collect();
            Ok(concat(
                [
                    old.clone()
                        .lazy()
                        .filter(col(DAY).lt_eq(lit(through)))
                        .join(keep.clone(), on(), on(), JoinArgs::new(JoinType::Semi))
                        .select(columns),
                    new.lazy(),
                ],
                UnionArgs::default(),
            )?
            .collect()?)
        };
        Ok(Derived {
            columns: join(&self.columns, fresh.columns)?,
            segments: join(&self.segments, fresh.segments)?,
        })
    }
}

/// What an earlier run already derived: its [`Derived`] values, valid for
/// every day through `through`, after which nothing changed; items used on
/// those days are not needed either (the baseline checkpoint as of
/// `through` holds what was learned from them).
#[derive(Clone, Copy)]
pub struct Reuse<'a> {
    pub derived: &'a Derived,
    pub through: NaiveDate,
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

fn days_column(frame: &DataFrame) -> Result<Vec<NaiveDate>> {
    let days = frame.column(DAY)?.cast(&DataType::Int32)?;
    Ok(days
        .i32()?
        .iter()
        .map(|d| epoch() + chrono::Duration::days(d.unwrap_or(0) as i64))
        .collect())
}

fn f64_column(frame: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let c = frame.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect())
}

fn str_column(frame: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = frame.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

fn row_column(frame: &DataFrame) -> Result<Vec<usize>> {
    let c = frame.column(ROW)?.cast(&DataType::UInt64)?;
    Ok(c.u64()?
        .iter()
        .map(|v| v.unwrap_or(u64::MAX) as usize)
        .collect())
}

/// Builds the sorted actor-day rows from merged feature tables.
pub fn actor_days(tables: &FeatureTables) -> Result<ActorDays> {
    actor_days_reusing(tables, None)
}

/// [`actor_days`], deriving values only for days after `reuse.through`.
pub fn actor_days_reusing(tables: &FeatureTables, reuse: Option<Reuse>) -> Result<ActorDays> {
    let tickets_known = tables.ticket_use.is_some();
    let fresh = |frame: &DataFrame| -> LazyFrame {
        match reuse {
            Some(r) => frame.clone().lazy().filter(col(DAY).gt(lit(r.through))),
            None => frame.clone().lazy(),
        }
    };
    let derived = match reuse {
        Some(r) => {
            let customers = fresh(&tables.customers).collect()?;
            r.derived.followed_by(
                r.through,
                Derived::of(&customers, tickets_known)?,
                &tables.actor_days,
            )?
        }
        None => Derived::of(&tables.customers, tickets_known)?,
    };
    let on = || [col(ACTOR), col(DAY)];
    let left = || JoinArgs::new(JoinType::Left);
    let mut frame =
        tables
            .actor_days
            .clone()
            .lazy()
            .join(derived.columns.clone().lazy(), on(), on(), left());
    if let Some(uses) = &tables.ticket_use {
        frame = frame.join(uses.clone().lazy(), on(), on(), left());
    }
    let frame = frame
        .sort([DAY, ACTOR], SortMultipleOptions::default())
        .collect()?;
    let optional = |n: &str| -> Result<Vec<f64>> {
        if frame.schema().contains(n) {
            f64_column(&frame, n)
        } else {
            Ok(vec![0.0; frame.height()])
        }
    };
    let actor_names = str_column(&frame, ACTOR)?;
    let mut actors: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let days = days_column(&frame)?;
    let teams = str_column(&frame, TEAM)?;
    let kinds = str_column(&frame, ACTOR_KIND)?;
    let num = |n: &str| f64_column(&frame, n);
    let (events, records, unknown, views, searches, exports, export_rows, export_unknown) = (
        num(EVENTS)?,
        num(RECORDS_KNOWN)?,
        num(RECORDS_UNKNOWN)?,
        num(VIEWS)?,
        num(SEARCHES)?,
        num(EXPORTS)?,
        num(EXPORT_ROWS)?,
        num(EXPORT_UNKNOWN)?,
    );
    let (updates, deletes, denied, errors, data_events, sensitive, customers) = (
        num(UPDATES)?,
        num(DELETES)?,
        num(DENIED)?,
        num(ERRORS)?,
        num(DATA_EVENTS)?,
        num(SENSITIVE_EVENTS)?,
        num(DISTINCT_CUSTOMERS)?,
    );
    let (uncovered, ticketed, foreign) = (
        num(UNCOVERED)?,
        optional(need_to_know::TICKETED)?,
        optional(need_to_know::FOREIGN)?,
    );
    let (id_steps, adjacent, ascending) = (
        num(customer_order::ID_STEPS)?,
        num(customer_order::ADJACENT_STEPS)?,
        num(customer_order::ASCENDING_STEPS)?,
    );
    let mut rows = Vec::with_capacity(frame.height());
    for i in 0..frame.height() {
        let name = actor_names[i].clone().unwrap_or_default();
        let actor = *index.entry(name.clone()).or_insert_with(|| {
            actors.push(name);
            actors.len() - 1
        });
        rows.push(ActorDay {
            actor,
            day: days[i],
            team: teams[i].clone(),
            kind: kinds[i]
                .clone()
                .unwrap_or_else(|| ACTOR_KIND_DEFAULT.into()),
            events: events[i],
            records: records[i],
            records_unknown: unknown[i],
            views: views[i],
            searches: searches[i],
            exports: exports[i],
            export_rows: export_rows[i],
            export_unknown: export_unknown[i],
            updates: updates[i],
            deletes: deletes[i],
            denied: denied[i],
            errors: errors[i],
            data_events: data_events[i],
            sensitive_events: sensitive[i],
            distinct_customers: customers[i],
            uncovered: tickets_known.then_some(uncovered[i]),
            ticketed: ticketed[i],
            foreign_ticket: foreign[i],
            id_steps: id_steps[i],
            adjacent_steps: adjacent[i],
            ascending_steps: ascending[i],
            ..ActorDay::default()
        });
    }
    // Hours, items and segments find their row by a join on the row number.
    let keys = frame
        .select([ACTOR, DAY])?
        .with_row_index(ROW.into(), None)?
        .lazy();
    let with_rows = |other: LazyFrame| -> Result<DataFrame> {
        Ok(other
            .join(keys.clone(), on(), on(), JoinArgs::new(JoinType::Inner))
            .collect()?)
    };
    let hours = with_rows(tables.hours.clone().lazy())?;
    let (hour_rows, hour, hour_n) = (
        row_column(&hours)?,
        f64_column(&hours, HOUR)?,
        f64_column(&hours, N)?,
    );
    for ((r, h), n) in hour_rows.into_iter().zip(hour).zip(hour_n) {
        rows[r].hours[(h as usize).min(23)] += n;
    }
    let items = with_rows(fresh(&tables.items))?;
    let item_rows = row_column(&items)?;
    let item_kind = items.column(KIND)?.cast(&DataType::String)?;
    let item_value = items.column(VALUE)?.cast(&DataType::String)?;
    for ((r, kind), value) in item_rows
        .into_iter()
        .zip(item_kind.str()?.iter())
        .zip(item_value.str()?.iter())
    {
        if let (Some(kind), Some(value)) = (kind, value) {
            if let Some(k) = ItemKind::ALL.iter().find(|k| k.name() == kind) {
                rows[r].items[k.index()].push(value.to_string());
            }
        }
    }
    let segments = with_rows(derived.segments.clone().lazy())?;
    let segment_rows = row_column(&segments)?;
    let segment_name = segments.column(CUSTOMER_SEGMENT)?.cast(&DataType::String)?;
    let segment_n = f64_column(&segments, N)?;
    let mut interned: HashMap<&str, Segment> = HashMap::new();
    let mut per_row: Vec<Vec<(Segment, f64)>> = vec![Vec::new(); rows.len()];
    for ((r, name), n) in segment_rows
        .into_iter()
        .zip(segment_name.str()?.iter())
        .zip(segment_n)
    {
        if let Some(name) = name {
            let name = interned
                .entry(name)
                .or_insert_with(|| Segment::from(name))
                .clone();
            per_row[r].push((name, n));
        }
    }
    for (row, mut segments) in rows.iter_mut().zip(per_row) {
        for list in row.items.iter_mut() {
            list.sort();
        }
        segments.sort_by(|a, b| a.0.cmp(&b.0));
        row.segments = segments.into();
    }
    Ok(ActorDays {
        actors,
        rows,
        derived,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(offset: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(offset)
    }

    /// A customer table of three actors over `days` days (some skipped),
    /// with ids and first-access times that go up and down.
    fn customers(days: i64) -> DataFrame {
        let (mut actors, mut days_col, mut ids, mut first, mut covered) =
            (vec![], vec![], vec![], vec![], vec![]);
        for d in (0..days).filter(|d| d % 9 != 4) {
            for (a, actor) in ["a", "b", "c"].iter().enumerate() {
                for k in 0..(5 + (d as usize * 7 + a) % 11) {
                    actors.push(*actor);
                    days_col.push(day(d));
                    ids.push(format!("C{:05}", (d as usize * 131 + k * 17 + a * 7) % 997));
                    let minute = ((k * 37 + d as usize) % 600) as i64;
                    first.push(
                        day(d).and_hms_opt(8, 0, 0).unwrap() + chrono::Duration::minutes(minute),
                    );
                    covered.push(k % 3 != 0);
                }
            }
        }
        let n = actors.len();
        df!(
            ACTOR => actors,
            DAY => days_col,
            CUSTOMER_ID => ids,
            CUSTOMER_SEGMENT => vec!["retail"; n],
            FIRST_TS => first,
            COVERED => covered,
        )
        .unwrap()
    }

    #[test]
    fn day_spans_cover_the_days_in_consecutive_spans() {
        let frame = customers(70);
        let spans = day_spans(&frame, 28).unwrap();
        assert_eq!(
            spans,
            [(day(0), day(28)), (day(28), day(56)), (day(56), day(84))]
        );
        assert!(day_spans(&frame.head(Some(0)), 28).unwrap().is_empty());
    }

    #[test]
    fn deriving_span_by_span_gives_what_the_whole_table_gives() {
        let table = customers(70);
        for tickets_known in [false, true] {
            let by_span = Derived::of(&table, tickets_known).unwrap();
            let whole = Derived::of_span(&table, tickets_known).unwrap();
            let sorted =
                |frame: DataFrame, by: &[&str]| frame.sort(by, Default::default()).unwrap();
            let columns = sorted(by_span.columns, &[ACTOR, DAY]);
            assert_eq!(columns.height(), 3 * 62);
            assert!(columns.equals_missing(&sorted(whole.columns, &[ACTOR, DAY])));
            let segments = [ACTOR, DAY, CUSTOMER_SEGMENT];
            let by_span_segments = sorted(by_span.segments, &segments);
            assert_eq!(by_span_segments.height(), 3 * 62);
            assert!(by_span_segments.equals_missing(&sorted(whole.segments, &segments)));
            // Not a table of zeros: the steps were counted.
            let steps = columns.column(customer_order::ID_STEPS).unwrap();
            assert!(steps.f64().unwrap().sum().unwrap() > 1000.0);
        }
    }
}
