//! Features: reduces validated events to per-actor-day tables, as polars
//! expressions, one input chunk at a time (so a year of raw events is never
//! held), and merges the chunks' tables.
//!
//! - `actor_days`: one row per actor and day with counts and sums;
//! - `hours`: events per actor, day and local hour;
//! - `items`: clients, source IPs, resources and fields used per actor-day;
//! - `customers`: one row per actor, day and customer touched, marked
//!   `covered` when one of the actor's own tickets covered it (with
//!   tickets; see [`need_to_know`]);
//! - `ticket_use`: ticket citations per actor-day, and how many named
//!   someone else's ticket (with tickets).
//!
//! After the merge, [`customer_order`] measures how the day's customers
//! were walked, and [`table`] turns everything into the [`ActorDay`] rows
//! the baselines and detectors walk through in day order.

pub mod customer_order;
pub mod need_to_know;
pub mod table;

use polars::prelude::*;

pub use table::{ActorDay, ActorDays, ItemKind, Segment, Segments};

use crate::error::Result;
use crate::schema::*;
use crate::settings::Settings;

pub const EVENTS: &str = "events";
pub const RECORDS_KNOWN: &str = "records_known";
pub const RECORDS_UNKNOWN: &str = "records_unknown";
pub const VIEWS: &str = "views";
pub const SEARCHES: &str = "searches";
pub const EXPORTS: &str = "exports";
pub const EXPORT_ROWS: &str = "export_rows";
pub const EXPORT_UNKNOWN: &str = "export_unknown";
pub const UPDATES: &str = "updates";
pub const DELETES: &str = "deletes";
pub const LOGINS: &str = "logins";
pub const DENIED: &str = "denied";
pub const ERRORS: &str = "errors";
pub const DATA_EVENTS: &str = "data_events";
pub const SENSITIVE_EVENTS: &str = "sensitive_events";
pub const TEAM_TS: &str = "team_ts";
pub const KIND_TS: &str = "kind_ts";
pub const N: &str = "n";
pub const KIND: &str = "kind";
pub const VALUE: &str = "value";
pub const ACCESSES: &str = "accesses";
pub const FIRST_TS: &str = "first_ts";
pub const LAST_TS: &str = "last_ts";
/// Whether one of the actor's own tickets covered the customer that day
/// (null without `--tickets`).
pub const COVERED: &str = "covered";

/// Columns summed when merging actor-day partials.
const SUMMED: [&str; 15] = [
    EVENTS,
    RECORDS_KNOWN,
    RECORDS_UNKNOWN,
    VIEWS,
    SEARCHES,
    EXPORTS,
    EXPORT_ROWS,
    EXPORT_UNKNOWN,
    UPDATES,
    DELETES,
    LOGINS,
    DENIED,
    ERRORS,
    DATA_EVENTS,
    SENSITIVE_EVENTS,
];

/// The columns of the actor-day table, in the order every chunk's table
/// and the merged one share (so chunks stack).
fn actor_day_columns() -> Vec<Expr> {
    [ACTOR, DAY]
        .into_iter()
        .chain(SUMMED)
        .chain([TEAM, TEAM_TS, ACTOR_KIND, KIND_TS])
        .map(col)
        .collect()
}

/// The per-actor-day tables of one chunk of events, or of all of them.
#[derive(Clone)]
pub struct FeatureTables {
    pub actor_days: DataFrame,
    pub hours: DataFrame,
    pub items: DataFrame,
    pub customers: DataFrame,
    /// Per actor-day ticket citations (see [`need_to_know::TicketIndex`]);
    /// `None` without `--tickets`.
    pub ticket_use: Option<DataFrame>,
}

/// Local day and hour of the UTC timestamps in `column` (UTC unless a time
/// zone is set).
pub fn local_time(column: &str, settings: &Settings) -> (Expr, Expr) {
    let local = match &settings.timezone {
        None => return utc_day_and_hour(column),
        Some(tz) => col(column)
            .dt()
            .replace_time_zone(Some(TimeZone::UTC), lit("raise"), NonExistent::Raise)
            .dt()
            .convert_time_zone(
                TimeZone::opt_try_new(Some(tz.as_str()))
                    .ok()
                    .flatten()
                    .unwrap_or(TimeZone::UTC),
            ),
    };
    (
        local.clone().dt().date(),
        local.dt().hour().cast(DataType::Int32),
    )
}

/// The UTC day and hour of a timestamp column, in integer arithmetic on
/// nanoseconds since the epoch (floor division, so times before 1970 fall
/// on the right day): what `dt().date()` and `dt().hour()` give, without
/// converting every row through calendar types.
fn utc_day_and_hour(column: &str) -> (Expr, Expr) {
    const NS_PER_HOUR: i64 = 3_600_000_000_000;
    const NS_PER_DAY: i64 = 24 * NS_PER_HOUR;
    let ns = col(column)
        .dt()
        .cast_time_unit(TimeUnit::Nanoseconds)
        .cast(DataType::Int64);
    let days = ns.clone().floor_div(lit(NS_PER_DAY));
    (
        days.clone().cast(DataType::Int32).cast(DataType::Date),
        (ns - days * lit(NS_PER_DAY))
            .floor_div(lit(NS_PER_HOUR))
            .cast(DataType::Int32),
    )
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// True for events reading a sensitive field or resource.
fn sensitive(settings: &Settings) -> Expr {
    let fields: Vec<String> = settings
        .sensitive_fields
        .iter()
        .map(|f| regex_escape(f))
        .collect();
    let field_hit = if fields.is_empty() {
        lit(false)
    } else {
        col(FIELDS)
            .str()
            .contains(
                lit(format!(r"(?i)(^|;)\s*({})\s*(;|$)", fields.join("|"))),
                true,
            )
            .fill_null(lit(false))
    };
    let resources: Vec<String> = settings
        .sensitive_resources
        .iter()
        .map(|r| r.to_lowercase())
        .collect();
    let resource_hit = col(RESOURCE)
        .str()
        .to_lowercase()
        .is_in(lit(Series::new("r".into(), resources)).implode(true), false)
        .fill_null(lit(false));
    field_hit.or(resource_hit)
}

/// Collects `frame` on polars' streaming engine, which runs large
/// group-bys about twice as fast as the in-memory one on two cores (it
/// splits the rows into morsels that both cores aggregate). Its `first`
/// and `last` follow row order, as the in-memory engine's do, and a
/// group-by it cannot stream sees the rows in order, so results are the
/// same; small queries and joins stay in memory, where they start faster.
pub(crate) fn collect_streaming(frame: LazyFrame) -> Result<DataFrame> {
    Ok(frame
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single())
}

/// The first and last `day` of a feature table (`None` when it is empty).
pub(crate) fn day_bounds(
    frame: &DataFrame,
) -> Result<Option<(chrono::NaiveDate, chrono::NaiveDate)>> {
    let bounds = frame
        .clone()
        .lazy()
        .select([
            col(DAY).min().cast(DataType::Int32).alias("first"),
            col(DAY).max().cast(DataType::Int32).alias("last"),
        ])
        .collect()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let day = |c: &str| -> Result<Option<chrono::NaiveDate>> {
        Ok(bounds
            .column(c)?
            .i32()?
            .get(0)
            .map(|d| epoch + chrono::Duration::days(d as i64)))
    };
    Ok(day("first")?.zip(day("last")?))
}

fn count_where(cond: Expr) -> Expr {
    cond.cast(DataType::Int64).sum()
}

// Events of one chunk are grouped by one packed integer key instead of
// string columns: from the top, the actor's code (a hash of the name,
// checked to be one-to-one within the chunk), the day's offset from the
// chunk's first day, the hour, and the action and status. Grouping on it
// is several times faster than grouping on the strings.
const DAY_SHIFT: u64 = 1 << 10;
const HOUR_SHIFT: u64 = 1 << 5;
const ACTOR_SHIFT: u64 = 1 << 24;
/// Days one chunk may span (the day's offset has 14 bits).
const MAX_DAY_SPAN: i32 = 1 << 14;
/// Actor codes tried before a chunk is split in two by actor.
const ACTOR_SEEDS: u64 = 8;
/// Packed key columns: actor-day, and actor-day-hour-action-status.
const AD: &str = "_ad";
const KEY: &str = "_key";

/// The action's index in [`ACTIONS`] times the number of statuses, plus
/// the status's index in [`STATUSES`] (validated events have both).
fn action_status_code() -> Expr {
    // The index of a column's value in `values` (0 for the first).
    let index = |column: &str, values: &[&str]| {
        values
            .iter()
            .enumerate()
            .skip(1)
            .rev()
            .fold(lit(0u64), |rest, (i, value)| {
                when(col(column).eq(lit(*value)))
                    .then(lit(i as u64))
                    .otherwise(rest)
            })
    };
    (index(ACTION, &ACTIONS) * lit(STATUSES.len() as u64) + index(STATUS, &STATUSES))
        .cast(DataType::UInt64)
}

/// The action's index in [`ACTIONS`].
fn action_index(action: &str) -> u64 {
    ACTIONS
        .iter()
        .position(|a| *a == action)
        .expect("an action") as u64
}

/// The action's index from a packed key (or an [`action_status_code`]):
/// comparing integers, not strings.
fn action_of_key(key: Expr) -> Expr {
    (key % lit(HOUR_SHIFT)).floor_div(lit(STATUSES.len() as u64))
}

fn actor_hash(seed: u64) -> Expr {
    col(ACTOR).hash(seed, seed ^ 0x5bd1_e995, seed.rotate_left(17), 0x27d4_eb2f)
}

/// The actor code: the top bits of a seeded hash of the name.
fn actor_code(seed: u64) -> Expr {
    actor_hash(seed).floor_div(lit(ACTOR_SHIFT)) * lit(ACTOR_SHIFT)
}

/// A seed whose actor codes are one-to-one on `events`' actors (checked on
/// the distinct names, not on every event).
fn actor_seed(events: &DataFrame) -> Result<Option<u64>> {
    let names = events
        .clone()
        .lazy()
        .select([col(ACTOR).unique()])
        .collect()?;
    for seed in 1..=ACTOR_SEEDS {
        let codes = names
            .clone()
            .lazy()
            .select([actor_code(seed).n_unique()])
            .collect()?;
        if codes.column(ACTOR)?.get(0)?.extract::<usize>() == Some(names.height()) {
            return Ok(Some(seed));
        }
    }
    Ok(None)
}

/// Reduces one chunk of canonical events to its feature tables.
pub fn reduce(
    events: DataFrame,
    settings: &Settings,
    tickets: Option<&need_to_know::TicketIndex>,
) -> Result<FeatureTables> {
    let (day, hour) = local_time(TS, settings);
    let events = events
        .lazy()
        .with_columns([day.alias(DAY), hour.alias(HOUR)])
        .collect()?;
    reduce_local(events, 0, settings, tickets)
}

/// [`reduce`] of events that carry their local day and hour. A chunk
/// whose days or actors do not fit the packed key is reduced in two halves
/// (by day, or by actor) that are then merged: the same tables. `splits`
/// counts the splits by actor above this chunk, so that each uses another
/// bit of the actor's hash.
fn reduce_local(
    events: DataFrame,
    splits: u32,
    settings: &Settings,
    tickets: Option<&need_to_know::TicketIndex>,
) -> Result<FeatureTables> {
    let days = events.column(DAY)?.cast(&DataType::Int32)?;
    let (first, last) = (days.i32()?.min(), days.i32()?.max());
    let (Some(first), Some(last)) = (first, last) else {
        return reduce_packed(events, 0, 0, settings, tickets);
    };
    if last - first >= MAX_DAY_SPAN {
        let middle = first + (last - first) / 2;
        let early = col(DAY).cast(DataType::Int32).lt_eq(lit(middle));
        return reduce_in_halves(events, early, splits, settings, tickets);
    }
    match actor_seed(&events)? {
        Some(seed) => reduce_packed(events, seed, first, settings, tickets),
        None if splits < u64::BITS => {
            let half = by_actor_halves(splits);
            reduce_in_halves(events, half, splits + 1, settings, tickets)
        }
        None => Err(PolarsError::ComputeError(
            format!(
                "no one-to-one code for the {} actors of a chunk",
                events.column(ACTOR)?.n_unique()?
            )
            .into(),
        )
        .into()),
    }
}

/// Splits events in two by actor: bit `bit` of an unseeded hash of the
/// name (a chunk split again uses the next bit, so both halves shrink).
fn by_actor_halves(bit: u32) -> Expr {
    (actor_hash(0).floor_div(lit(1u64 << bit)) % lit(2u64)).eq(lit(0u64))
}

/// Reduces the events where `first_half` holds and the others apart, and
/// merges the two.
fn reduce_in_halves(
    events: DataFrame,
    first_half: Expr,
    splits: u32,
    settings: &Settings,
    tickets: Option<&need_to_know::TicketIndex>,
) -> Result<FeatureTables> {
    let part = |c: Expr| events.clone().lazy().filter(c).collect();
    merge(vec![
        reduce_local(part(first_half.clone())?, splits, settings, tickets)?,
        reduce_local(part(first_half.not())?, splits, settings, tickets)?,
    ])
}

fn reduce_packed(
    events: DataFrame,
    seed: u64,
    first_day: i32,
    settings: &Settings,
    tickets: Option<&need_to_know::TicketIndex>,
) -> Result<FeatureTables> {
    let ad = actor_code(seed)
        + (col(DAY).cast(DataType::Int32) - lit(first_day)).cast(DataType::UInt64) * lit(DAY_SHIFT);
    // Computed apart on the streaming engine (both cores, a morsel each),
    // then put in one piece beside the events so that later queries see
    // the columns chunked alike.
    let mut keys =
        collect_streaming(
            events.clone().lazy().select([
                ad.clone().alias(AD),
                (ad + col(HOUR).cast(DataType::UInt64) * lit(HOUR_SHIFT) + action_status_code())
                    .alias(KEY),
            ]),
        )?;
    keys.rechunk_mut_par();
    let events = events.hstack(keys.columns())?;
    // The two largest group-bys run on threads of their own while this one
    // does the rest: each query is only partly parallel inside polars, so
    // running them side by side keeps both cores busier.
    std::thread::scope(|scope| {
        let customers = scope.spawn(|| collect_streaming(customer_query(&events)));
        let usage = scope.spawn(|| collect_streaming(usage_query(&events)));
        // Who and when each actor-day is, with the day's last team and kind.
        let mut actor_day_names = events.clone().lazy().group_by([col(AD)]).agg(
            [col(ACTOR).first(), col(DAY).first()]
                .into_iter()
                .chain(last_team_and_kind(TS, TS))
                .collect::<Vec<_>>(),
        );
        // Polars 0.55 fails on `max_by` over a frame without rows (a chunk of
        // nothing but repeats), so such a chunk gets the empty table directly.
        let actor_day_names = if events.height() == 0 {
            DataFrame::empty_with_schema(actor_day_names.collect_schema()?.as_ref())
        } else {
            actor_day_names.collect()?
        };
        let named = |frame: LazyFrame| {
            frame.join(
                actor_day_names
                    .clone()
                    .lazy()
                    .select([col(AD), col(ACTOR), col(DAY)]),
                [col(AD)],
                [col(AD)],
                JoinArgs::new(JoinType::Inner),
            )
        };
        // Counts per actor, day, hour, action and status: a few rows per
        // actor-day, then pivoted.
        let parts = events
            .clone()
            .lazy()
            .group_by([col(KEY)])
            .agg([
                len().cast(DataType::Int64).alias(N),
                col(RECORDS).sum().alias(RECORDS_KNOWN),
                count_where(col(RECORDS).is_null()).alias(RECORDS_UNKNOWN),
            ])
            .with_column((col(KEY) % lit(HOUR_SHIFT)).alias(ACTION))
            .collect()?;
        // `ACTION` holds the code of [`action_status_code`].
        let action = |a: &str| action_of_key(col(ACTION)).eq(lit(action_index(a)));
        let status = |s: &str| {
            let s = STATUSES.iter().position(|x| *x == s).expect("a status") as u64;
            (col(ACTION) % lit(STATUSES.len() as u64)).eq(lit(s))
        };
        let n_where = |cond: Expr| col(N).filter(cond).sum();
        let is_export = action("export");
        let counts = parts
            .clone()
            .lazy()
            .with_column((col(KEY).floor_div(lit(DAY_SHIFT)) * lit(DAY_SHIFT)).alias(AD))
            .group_by([col(AD)])
            .agg([
                col(N).sum().alias(EVENTS),
                col(RECORDS_KNOWN).sum(),
                col(RECORDS_UNKNOWN).sum(),
                n_where(action("view")).alias(VIEWS),
                n_where(action("search")).alias(SEARCHES),
                n_where(is_export.clone()).alias(EXPORTS),
                col(RECORDS_KNOWN)
                    .filter(is_export.clone())
                    .sum()
                    .alias(EXPORT_ROWS),
                col(RECORDS_UNKNOWN)
                    .filter(is_export)
                    .sum()
                    .alias(EXPORT_UNKNOWN),
                n_where(action("update")).alias(UPDATES),
                n_where(action("delete")).alias(DELETES),
                n_where(action("login")).alias(LOGINS),
                n_where(status("denied")).alias(DENIED),
                n_where(status("error")).alias(ERRORS),
                n_where(action("login").not()).alias(DATA_EVENTS),
            ]);
        let hours = parts
            .lazy()
            .group_by([(col(KEY).floor_div(lit(HOUR_SHIFT))).alias(KEY)])
            .agg([col(N).sum()])
            .with_columns([
                (col(KEY).floor_div(lit(DAY_SHIFT / HOUR_SHIFT)) * lit(DAY_SHIFT)).alias(AD),
                (col(KEY) % lit(DAY_SHIFT / HOUR_SHIFT))
                    .cast(DataType::Int32)
                    .alias(HOUR),
            ]);
        let hours = named(hours)
            .select([col(ACTOR), col(DAY), col(HOUR), col(N)])
            .collect()?;
        let usage = joined(usage)?;
        // Sensitivity depends on the resource and fields only: judged once per
        // distinct use, not per event.
        let sensitive_reads = usage
            .clone()
            .lazy()
            .filter(sensitive(settings))
            .group_by([col(AD)])
            .agg([col(DATA_EVENTS).sum().alias(SENSITIVE_EVENTS)]);
        let actor_days = actor_day_names
            .clone()
            .lazy()
            .join(counts, [col(AD)], [col(AD)], JoinArgs::new(JoinType::Left))
            .join(
                sensitive_reads,
                [col(AD)],
                [col(AD)],
                JoinArgs::new(JoinType::Left),
            )
            .with_column(col(SENSITIVE_EVENTS).fill_null(lit(0i64)))
            .select(actor_day_columns())
            .collect()?;
        let item = |kind: &str, column: &str| {
            usage
                .clone()
                .lazy()
                .filter(col(column).is_not_null())
                .select([
                    col(AD),
                    lit(kind).alias(KIND),
                    col(column).alias(VALUE),
                    col(N),
                ])
        };
        let fields = item(ItemKind::Field.name(), FIELDS)
            .with_column(col(VALUE).str().split(lit(";")))
            .explode(
                cols([VALUE]),
                ExplodeOptions {
                    empty_as_null: true,
                    keep_nulls: false,
                },
            )
            .with_column(col(VALUE).str().strip_chars(lit(NULL)).str().to_lowercase())
            .filter(col(VALUE).is_not_null().and(col(VALUE).neq(lit(""))));
        let items = concat(
            [
                item(ItemKind::Client.name(), CLIENT),
                item(ItemKind::SourceIp.name(), SOURCE_IP),
                item(ItemKind::Resource.name(), RESOURCE),
                fields,
            ],
            UnionArgs::default(),
        )?
        .group_by([col(AD), col(KIND), col(VALUE)])
        .agg([col(N).sum()]);
        let items = named(items)
            .select([col(ACTOR), col(DAY), col(KIND), col(VALUE), col(N)])
            .collect()?;
        let ticket_use = match tickets {
            Some(index) => {
                let uses = collect_streaming(
                    events
                        .clone()
                        .lazy()
                        .filter(col(TICKET_ID).is_not_null())
                        .group_by([col(AD), col(TICKET_ID)])
                        .agg([len().cast(DataType::Int64).alias(N)]),
                )?;
                let uses = named(uses.lazy())
                    .select([col(ACTOR), col(DAY), col(TICKET_ID), col(N)])
                    .collect()?;
                Some(index.ticket_use(uses, need_to_know::span(&events, TS, TS)?)?)
            }
            None => None,
        };
        let customers = joined(customers)?;
        let customers = named(customers.lazy())
            .select([
                col(ACTOR),
                col(DAY),
                col(CUSTOMER_ID),
                col(CUSTOMER_SEGMENT),
                col(ACCESSES),
                col(FIRST_TS),
                col(LAST_TS),
            ])
            .collect()?;
        let customers = match tickets {
            Some(index) => index.coverage(customers)?,
            None => customers
                .lazy()
                .with_column(lit(NULL).cast(DataType::Boolean).alias(COVERED))
                .collect()?,
        };
        Ok(FeatureTables {
            actor_days,
            hours,
            items,
            customers,
            ticket_use,
        })
    })
}

/// One row per actor-day and distinct use of a client, source IP,
/// resource and fields: events, and data events (not logins).
fn usage_query(events: &DataFrame) -> LazyFrame {
    events
        .clone()
        .lazy()
        .group_by([
            col(AD),
            col(CLIENT),
            col(SOURCE_IP),
            col(RESOURCE),
            col(FIELDS),
        ])
        .agg([
            len().cast(DataType::Int64).alias(N),
            count_where(action_of_key(col(KEY)).neq(lit(action_index("login")))).alias(DATA_EVENTS),
        ])
}

/// One row per actor-day and customer: the customer's segment (the first
/// given), accesses, and first and last access.
fn customer_query(events: &DataFrame) -> LazyFrame {
    events
        .clone()
        .lazy()
        .filter(col(CUSTOMER_ID).is_not_null())
        .group_by([col(AD), col(CUSTOMER_ID)])
        .agg([
            col(CUSTOMER_SEGMENT)
                .drop_nulls()
                .first()
                .alias(CUSTOMER_SEGMENT),
            len().cast(DataType::Int64).alias(ACCESSES),
            col(TS).min().alias(FIRST_TS),
            col(TS).max().alias(LAST_TS),
        ])
}

/// What a scoped thread returned; its panic, resumed.
pub(crate) fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The day's last non-null team and last actor kind, with when each was
/// last seen (so chunks can be merged by the same rule), as aggregations.
/// Of rows seen at the same last instant, the first in row order wins.
fn last_team_and_kind(team_ts: &str, kind_ts: &str) -> [Expr; 4] {
    let has_team = col(TEAM).is_not_null();
    [
        col(TEAM)
            .filter(has_team.clone())
            .max_by(col(team_ts).filter(has_team.clone()))
            .alias(TEAM),
        col(team_ts).filter(has_team).max().alias(TEAM_TS),
        col(ACTOR_KIND).max_by(col(kind_ts)).alias(ACTOR_KIND),
        col(kind_ts).max().alias(KIND_TS),
    ]
}

/// Merges new tables into stored ones where only days from `first_new`
/// on can hold new events: earlier stored rows are kept as they are, and
/// only the rest is re-aggregated (a nightly run then merges a day, not the
/// history).
pub fn merge_from(
    stored: FeatureTables,
    new: FeatureTables,
    first_new: chrono::NaiveDate,
) -> Result<FeatureTables> {
    let split = |frame: DataFrame| -> Result<(DataFrame, DataFrame)> {
        let before = frame
            .clone()
            .lazy()
            .filter(col(DAY).lt(lit(first_new)))
            .collect()?;
        let after = frame
            .lazy()
            .filter(col(DAY).gt_eq(lit(first_new)))
            .collect()?;
        Ok((before, after))
    };
    let (ad_old, ad_new) = split(stored.actor_days)?;
    let (h_old, h_new) = split(stored.hours)?;
    let (i_old, i_new) = split(stored.items)?;
    let (c_old, c_new) = split(stored.customers)?;
    let (t_old, t_new) = match stored.ticket_use {
        Some(t) => {
            let (a, b) = split(t)?;
            (Some(a), Some(b))
        }
        None => (None, None),
    };
    let recent = merge(vec![
        FeatureTables {
            actor_days: ad_new,
            hours: h_new,
            items: i_new,
            customers: c_new,
            ticket_use: t_new,
        },
        new,
    ])?;
    let stack = |old: DataFrame, recent: &DataFrame| -> Result<DataFrame> {
        let columns: Vec<Expr> = old
            .get_column_names()
            .iter()
            .map(|c| col(c.as_str()))
            .collect();
        Ok(concat(
            [old.lazy(), recent.clone().lazy().select(columns)],
            UnionArgs::default(),
        )?
        .collect()?)
    };
    Ok(FeatureTables {
        actor_days: stack(ad_old, &recent.actor_days)?,
        hours: stack(h_old, &recent.hours)?,
        items: stack(i_old, &recent.items)?,
        customers: stack(c_old, &recent.customers)?,
        ticket_use: match (t_old, &recent.ticket_use) {
            (Some(old), Some(recent)) => Some(stack(old, recent)?),
            _ => None,
        },
    })
}

/// Merges the tables of several chunks: an actor-day split across chunks
/// becomes one row, with the last `team` and `actor_kind` of the day. Only
/// rows of days that more than one chunk holds are re-aggregated; the rest
/// (with daily input files, nearly everything) are already whole and are
/// stacked as they are.
pub fn merge(parts: Vec<FeatureTables>) -> Result<FeatureTables> {
    let shared = shared_days(&parts)?;
    let regroup = |pick: fn(&FeatureTables) -> Option<&DataFrame>,
                   keys: &[&str],
                   aggs: Vec<Expr>|
     -> Result<Option<DataFrame>> {
        let frames: Option<Vec<&DataFrame>> = parts.iter().map(pick).collect();
        let Some(frames) = frames.filter(|f| !f.is_empty()) else {
            return Ok(None);
        };
        let columns: Vec<Expr> = frames[0]
            .get_column_names()
            .iter()
            .map(|c| col(c.as_str()))
            .collect();
        let stacked = concat(
            frames
                .iter()
                .map(|f| (*f).clone().lazy())
                .collect::<Vec<_>>(),
            UnionArgs::default(),
        )?;
        let merged = if shared.is_empty() {
            stacked
        } else {
            let in_shared = col(DAY).is_in(lit(shared.clone()).implode(true), false);
            let whole = stacked.clone().filter(in_shared.clone().not());
            let split = stacked
                .filter(in_shared)
                .group_by(keys.iter().map(|k| col(*k)).collect::<Vec<_>>())
                .agg(aggs)
                .select(columns);
            concat([whole, split], UnionArgs::default())?
        };
        Ok(Some(merged.collect()?))
    };
    let mut aggs: Vec<Expr> = SUMMED.iter().map(|c| col(*c).sum()).collect();
    aggs.extend(last_team_and_kind(TEAM_TS, KIND_TS));
    let actor_days = regroup(|p| Some(&p.actor_days), &[ACTOR, DAY], aggs)?
        .expect("at least one chunk")
        .sort([ACTOR, DAY], SortMultipleOptions::default())?;
    let hours = regroup(|p| Some(&p.hours), &[ACTOR, DAY, HOUR], vec![col(N).sum()])?
        .expect("at least one chunk");
    let items = regroup(
        |p| Some(&p.items),
        &[ACTOR, DAY, KIND, VALUE],
        vec![col(N).sum()],
    )?
    .expect("at least one chunk");
    let customers = regroup(
        |p| Some(&p.customers),
        &[ACTOR, DAY, CUSTOMER_ID],
        vec![
            col(CUSTOMER_SEGMENT).drop_nulls().first(),
            col(ACCESSES).sum(),
            col(FIRST_TS).min(),
            col(LAST_TS).max(),
            // Covered in any chunk is covered (null: tickets unknown).
            col(COVERED).max(),
        ],
    )?
    .expect("at least one chunk");
    let ticket_use = regroup(
        |p| p.ticket_use.as_ref(),
        &[ACTOR, DAY],
        vec![
            col(need_to_know::TICKETED).sum(),
            col(need_to_know::FOREIGN).sum(),
        ],
    )?;
    Ok(FeatureTables {
        actor_days,
        hours,
        items,
        customers,
        ticket_use,
    })
}

/// The days that more than one chunk's actor-day table holds.
fn shared_days(parts: &[FeatureTables]) -> Result<Series> {
    let days: Vec<LazyFrame> = parts
        .iter()
        .map(|p| {
            p.actor_days
                .clone()
                .lazy()
                .select([col(DAY)])
                .unique(None, UniqueKeepStrategy::Any)
        })
        .collect();
    let shared = concat(days, UnionArgs::default())?
        .group_by([col(DAY)])
        .agg([len().alias(N)])
        .filter(col(N).gt(lit(1)))
        .select([col(DAY)])
        .collect()?;
    Ok(shared.column(DAY)?.as_materialized_series().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn events(rows: &[(&str, &str, Option<&str>, &str)]) -> DataFrame {
        let ts: Vec<chrono::NaiveDateTime> = rows
            .iter()
            .map(|r| chrono::NaiveDateTime::parse_from_str(r.0, "%Y-%m-%d %H:%M:%S").unwrap())
            .collect();
        let n = rows.len();
        let none = || vec![None::<&str>; n];
        df!(
            TS => ts,
            ACTOR => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            ACTION => vec!["view"; n],
            RECORDS => vec![Some(1i64); n],
            CUSTOMER_ID => rows.iter().map(|r| Some(r.3)).collect::<Vec<_>>(),
            CUSTOMER_SEGMENT => none(),
            RESOURCE => none(),
            FIELDS => vec![Some("name;Phone"); n],
            CLIENT => none(),
            SOURCE_IP => none(),
            TICKET_ID => none(),
            ACTOR_KIND => vec!["employee"; n],
            TEAM => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            STATUS => vec!["ok"; n],
            EVENT_ID => none(),
        )
        .unwrap()
    }

    #[test]
    fn utc_day_and_hour_match_the_calendar_before_and_after_1970() {
        let at =
            |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        let times = [
            at("1969-12-31 23:59:59.999999999"),
            at("1969-12-31 00:00:00"),
            at("1960-02-29 13:30:00"),
            at("1970-01-01 00:00:00"),
            at("2024-03-01 00:59:59.5"),
            at("2024-03-01 23:00:00"),
        ];
        for unit in [TimeUnit::Nanoseconds, TimeUnit::Microseconds] {
            let frame = df!(TS => times)
                .unwrap()
                .lazy()
                .with_column(col(TS).dt().cast_time_unit(unit))
                .collect()
                .unwrap();
            let (day, hour) = utc_day_and_hour(TS);
            let ours = frame
                .clone()
                .lazy()
                .select([day.alias(DAY), hour.alias(HOUR)])
                .collect()
                .unwrap();
            let calendar = frame
                .lazy()
                .select([
                    col(TS).dt().date().alias(DAY),
                    col(TS).dt().hour().cast(DataType::Int32).alias(HOUR),
                ])
                .collect()
                .unwrap();
            assert_eq!(ours, calendar, "{unit:?}");
        }
    }

    #[test]
    fn every_action_and_status_gets_its_own_code() {
        let pairs: Vec<(&str, &str)> = ACTIONS
            .iter()
            .flat_map(|a| STATUSES.iter().map(move |s| (*a, *s)))
            .collect();
        let frame = df!(
            ACTION => pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
            STATUS => pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
        )
        .unwrap();
        let codes = frame
            .lazy()
            .select([action_status_code().alias(KEY)])
            .collect()
            .unwrap();
        let codes: Vec<u64> = codes
            .column(KEY)
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        let expected: Vec<u64> = (0..pairs.len() as u64).collect();
        assert_eq!(codes, expected);
    }

    #[test]
    fn chunks_merge_into_one_actor_day_with_the_last_team() {
        let settings = Settings::default();
        let early = reduce(
            events(&[
                ("2024-03-01 09:00:00", "a", Some("billing"), "c1"),
                ("2024-03-01 10:00:00", "a", Some("billing"), "c2"),
            ]),
            &settings,
            None,
        )
        .unwrap();
        let late = reduce(
            events(&[
                ("2024-03-01 17:00:00", "a", Some("consumer-en"), "c2"),
                ("2024-03-01 18:00:00", "a", None, "c3"),
            ]),
            &settings,
            None,
        )
        .unwrap();
        let merged = merge(vec![late, early]).unwrap();
        let table = table::actor_days(&merged).unwrap();
        assert_eq!(table.rows.len(), 1);
        let day = &table.rows[0];
        assert_eq!(day.day, NaiveDate::from_ymd_opt(2024, 3, 1).unwrap());
        assert_eq!(day.team.as_deref(), Some("consumer-en"));
        assert_eq!(day.events, 4.0);
        assert_eq!(day.records, 4.0);
        assert_eq!(day.distinct_customers, 3.0);
        // `phone` is sensitive whatever its case.
        assert_eq!(day.sensitive_events, 4.0);
        assert_eq!(day.items[ItemKind::Field.index()], vec!["name", "phone"]);
        assert_eq!(
            day.hours[9] + day.hours[10] + day.hours[17] + day.hours[18],
            4.0
        );
    }

    #[test]
    fn a_chunk_without_events_reduces_to_empty_tables() {
        // As de-duplication leaves a chunk of nothing but repeats.
        let none = events(&[("2024-03-01 09:00:00", "a", Some("billing"), "c1")])
            .lazy()
            .filter(lit(false))
            .collect()
            .unwrap();
        let tables = reduce(none, &Settings::default(), None).unwrap();
        assert_eq!(tables.actor_days.height(), 0);
        assert_eq!(tables.customers.height(), 0);
        let merged = merge(vec![tables.clone(), tables]).unwrap();
        assert_eq!(merged.actor_days.height(), 0);
    }

    #[test]
    fn an_actor_day_without_a_team_has_none() {
        let settings = Settings::default();
        let part = |t: &str| {
            reduce(
                events(&[(t, "a", None, "c1"), (t, "b", Some("billing"), "c1")]),
                &settings,
                None,
            )
            .unwrap()
        };
        let merged = merge(vec![
            part("2024-03-01 09:00:00"),
            part("2024-03-01 10:00:00"),
        ])
        .unwrap();
        let table = table::actor_days(&merged).unwrap();
        let teams: Vec<Option<&str>> = table.rows.iter().map(|r| r.team.as_deref()).collect();
        assert_eq!(teams, [None, Some("billing")]);
    }

    /// Regression guard for the streaming engine (which splits a frame into
    /// morsels of 100,000 rows): over a chunk larger than a morsel, a
    /// customer's segment is still its first non-null one in row order, the
    /// day's team its last, and the id-order steps follow first access.
    #[test]
    fn order_sensitive_features_hold_across_streaming_morsels() {
        const CUSTOMERS: usize = 80_000;
        let n = CUSTOMERS * 3;
        let start = NaiveDate::from_ymd_opt(2024, 3, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        // Customer k is touched three times in a row: first without a
        // segment, then as gold, then as silver.
        let ts: Vec<chrono::NaiveDateTime> = (0..n)
            .map(|i| start + chrono::Duration::milliseconds(300 * i as i64))
            .collect();
        let customer: Vec<String> = (0..n).map(|i| format!("C{:07}", i / 3)).collect();
        let segment: Vec<Option<&str>> = (0..n)
            .map(|i| [None, Some("gold"), Some("silver")][i % 3])
            .collect();
        let team: Vec<Option<&str>> = (0..n)
            .map(|i| match i {
                _ if i == n - 1 => None,
                _ if i >= n - 10 => Some("consumer-en"),
                _ => Some("billing"),
            })
            .collect();
        let none = || vec![None::<&str>; n];
        let frame = df!(
            TS => ts,
            ACTOR => vec!["a"; n],
            ACTION => vec!["view"; n],
            RECORDS => vec![Some(1i64); n],
            CUSTOMER_ID => customer,
            CUSTOMER_SEGMENT => segment,
            RESOURCE => none(),
            FIELDS => none(),
            CLIENT => none(),
            SOURCE_IP => none(),
            TICKET_ID => none(),
            ACTOR_KIND => vec!["employee"; n],
            TEAM => team,
            STATUS => vec!["ok"; n],
            EVENT_ID => none(),
        )
        .unwrap();
        let tables = reduce(frame, &Settings::default(), None).unwrap();
        let segments = tables.customers.column(CUSTOMER_SEGMENT).unwrap();
        assert_eq!(segments.len(), CUSTOMERS);
        let gold = segments
            .str()
            .unwrap()
            .iter()
            .filter(|s| *s == Some("gold"))
            .count();
        assert_eq!(gold, CUSTOMERS);
        let accesses = tables.customers.column(ACCESSES).unwrap().i64().unwrap();
        assert_eq!(accesses.min(), Some(3));
        assert_eq!(accesses.max(), Some(3));
        let table = table::actor_days(&tables).unwrap();
        assert_eq!(table.rows.len(), 1);
        let day = &table.rows[0];
        assert_eq!(day.team.as_deref(), Some("consumer-en"));
        assert_eq!(day.distinct_customers, CUSTOMERS as f64);
        let steps = (CUSTOMERS - 1) as f64;
        assert_eq!(
            (day.id_steps, day.adjacent_steps, day.ascending_steps),
            (steps, steps, steps)
        );
    }

    /// The tables sorted by every column, to compare two ways of building them.
    fn sorted(t: &FeatureTables) -> Vec<DataFrame> {
        [&t.actor_days, &t.hours, &t.items, &t.customers]
            .into_iter()
            .map(|f| {
                let by: Vec<String> = f.get_column_names().iter().map(|c| c.to_string()).collect();
                f.sort(by, SortMultipleOptions::default()).unwrap()
            })
            .collect()
    }

    #[test]
    fn chunks_split_by_actor_or_by_day_reduce_to_the_same_tables() {
        let settings = Settings::default();
        let mut rows = Vec::new();
        let names: Vec<String> = (0..40).map(|i| format!("agent-{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            for h in 0..3 {
                let ts = format!("2024-03-0{} 1{h}:00:00", 1 + i % 3);
                rows.push((
                    ts,
                    name.as_str(),
                    Some("billing"),
                    format!("c{}", i * 7 + h),
                ));
            }
        }
        let rows: Vec<(&str, &str, Option<&str>, &str)> = rows
            .iter()
            .map(|r| (r.0.as_str(), r.1, r.2, r.3.as_str()))
            .collect();
        let whole = reduce(events(&rows), &settings, None).unwrap();
        assert_eq!(whole.actor_days.height(), 40);
        let (day, hour) = local_time(TS, &settings);
        let local = events(&rows)
            .lazy()
            .with_columns([day.alias(DAY), hour.alias(HOUR)])
            .collect()
            .unwrap();
        let by_actor =
            reduce_in_halves(local.clone(), by_actor_halves(0), 1, &settings, None).unwrap();
        assert_eq!(sorted(&by_actor), sorted(&whole));
        // A half split again takes the next bit: both parts are non-empty.
        let half = local
            .clone()
            .lazy()
            .filter(by_actor_halves(0))
            .collect()
            .unwrap();
        let again = half
            .clone()
            .lazy()
            .filter(by_actor_halves(1))
            .collect()
            .unwrap()
            .height();
        assert!(
            again > 0 && again < half.height(),
            "{again} of {}",
            half.height()
        );
        let twice = reduce_in_halves(half.clone(), by_actor_halves(1), 2, &settings, None).unwrap();
        let direct = reduce(half.drop_many([DAY, HOUR]), &settings, None).unwrap();
        assert_eq!(sorted(&twice), sorted(&direct));
        let early = col(DAY).lt_eq(lit(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()));
        let by_day = reduce_in_halves(local, early, 0, &settings, None).unwrap();
        assert_eq!(sorted(&by_day), sorted(&whole));
    }

    #[test]
    fn a_chunk_spanning_more_days_than_the_key_holds_is_reduced_in_parts() {
        let settings = Settings::default();
        let t = reduce(
            events(&[
                ("1960-01-01 09:00:00", "a", None, "c1"),
                ("2024-03-01 09:00:00", "a", None, "c1"),
                ("2024-03-01 10:00:00", "a", None, "c2"),
            ]),
            &settings,
            None,
        )
        .unwrap();
        let table = table::actor_days(&t).unwrap();
        let per_day: Vec<(NaiveDate, f64, f64)> = table
            .rows
            .iter()
            .map(|r| (r.day, r.events, r.distinct_customers))
            .collect();
        assert_eq!(
            per_day,
            [
                (NaiveDate::from_ymd_opt(1960, 1, 1).unwrap(), 1.0, 1.0),
                (NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(), 2.0, 2.0),
            ]
        );
    }

    #[test]
    fn chunks_of_other_days_are_stacked_and_shared_days_summed() {
        let settings = Settings::default();
        let chunk = |rows: &[(&str, &str, Option<&str>, &str)]| {
            reduce(events(rows), &settings, None).unwrap()
        };
        let merged = merge(vec![
            chunk(&[("2024-03-01 09:00:00", "a", None, "c1")]),
            chunk(&[("2024-03-02 09:00:00", "a", None, "c1")]),
            chunk(&[
                ("2024-03-02 10:00:00", "a", None, "c1"),
                ("2024-03-03 10:00:00", "b", None, "c2"),
            ]),
        ])
        .unwrap();
        let table = table::actor_days(&merged).unwrap();
        let rows: Vec<(String, u32, f64, f64)> = table
            .rows
            .iter()
            .map(|r| {
                use chrono::Datelike;
                (
                    table.actors[r.actor].clone(),
                    r.day.day(),
                    r.events,
                    r.distinct_customers,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("a".to_string(), 1, 1.0, 1.0),
                ("a".to_string(), 2, 2.0, 1.0),
                ("b".to_string(), 3, 1.0, 1.0),
            ]
        );
        assert_eq!(
            merged.customers.height(),
            3,
            "one row per actor, day and customer"
        );
    }

    #[test]
    fn time_zone_moves_days_and_hours() {
        let settings = Settings {
            timezone: Some("Asia/Tokyo".into()),
            ..Settings::default()
        };
        let t = reduce(
            events(&[("2024-03-01 20:00:00", "a", None, "c1")]),
            &settings,
            None,
        )
        .unwrap();
        let table = table::actor_days(&t).unwrap();
        assert_eq!(
            table.rows[0].day,
            NaiveDate::from_ymd_opt(2024, 3, 2).unwrap()
        );
        assert_eq!(table.rows[0].hours[5], 1.0);
    }
}
