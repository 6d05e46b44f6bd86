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
        None => col(column),
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

fn count_where(cond: Expr) -> Expr {
    cond.cast(DataType::Int64).sum()
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
    // Events are hashed twice: once per (hour, action, status, team, kind)
    // for the counts and the hour profile, once per (client, IP, resource,
    // fields) for the items and sensitive reads; the few rows per actor-day
    // that result are then pivoted. No per-event pattern matching, no
    // per-event splitting.
    let parts = events
        .clone()
        .lazy()
        .group_by([
            col(ACTOR),
            col(DAY),
            col(HOUR),
            col(ACTION),
            col(STATUS),
            col(TEAM),
            col(ACTOR_KIND),
        ])
        .agg([
            len().cast(DataType::Int64).alias(N),
            col(RECORDS).sum().alias(RECORDS_KNOWN),
            count_where(col(RECORDS).is_null()).alias(RECORDS_UNKNOWN),
            col(TS).max().alias(LAST_TS),
        ])
        .collect()?;
    let action = |a: &str| col(ACTION).eq(lit(a));
    let n_where = |cond: Expr| col(N).filter(cond).sum();
    let is_export = action("export");
    let actor_days = parts
        .clone()
        .lazy()
        .group_by([col(ACTOR), col(DAY)])
        .agg(
            [
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
                n_where(col(STATUS).eq(lit("denied"))).alias(DENIED),
                n_where(col(STATUS).eq(lit("error"))).alias(ERRORS),
                n_where(action("login").not()).alias(DATA_EVENTS),
            ]
            .into_iter()
            .chain(last_team_and_kind(LAST_TS, LAST_TS))
            .collect::<Vec<_>>(),
        )
        .collect()?;
    let hours = parts
        .lazy()
        .group_by([col(ACTOR), col(DAY), col(HOUR)])
        .agg([col(N).sum()])
        .collect()?;
    let usage = events
        .clone()
        .lazy()
        .group_by([
            col(ACTOR),
            col(DAY),
            col(CLIENT),
            col(SOURCE_IP),
            col(RESOURCE),
            col(FIELDS),
        ])
        .agg([
            len().cast(DataType::Int64).alias(N),
            count_where(col(ACTION).neq(lit("login"))).alias(DATA_EVENTS),
        ])
        .collect()?;
    // Sensitivity depends on the resource and fields only: judged once per
    // distinct use, not per event.
    let sensitive_reads = usage
        .clone()
        .lazy()
        .filter(sensitive(settings))
        .group_by([col(ACTOR), col(DAY)])
        .agg([col(DATA_EVENTS).sum().alias(SENSITIVE_EVENTS)]);
    let on = || [col(ACTOR), col(DAY)];
    let actor_days = actor_days
        .lazy()
        .join(sensitive_reads, on(), on(), JoinArgs::new(JoinType::Left))
        .with_column(col(SENSITIVE_EVENTS).fill_null(lit(0i64)))
        .select(actor_day_columns())
        .collect()?;
    let item = |kind: &str, column: &str| {
        usage
            .clone()
            .lazy()
            .filter(col(column).is_not_null())
            .select([
                col(ACTOR),
                col(DAY),
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
    .group_by([col(ACTOR), col(DAY), col(KIND), col(VALUE)])
    .agg([col(N).sum()])
    .collect()?;
    let ticket_use = match tickets {
        Some(index) => {
            let uses = events
                .clone()
                .lazy()
                .filter(col(TICKET_ID).is_not_null())
                .group_by([col(ACTOR), col(DAY), col(TICKET_ID)])
                .agg([len().cast(DataType::Int64).alias(N)])
                .collect()?;
            Some(index.ticket_use(uses, need_to_know::span(&events, TS, TS)?)?)
        }
        None => None,
    };
    let customers = events
        .lazy()
        .filter(col(CUSTOMER_ID).is_not_null())
        .group_by([col(ACTOR), col(DAY), col(CUSTOMER_ID)])
        .agg([
            col(CUSTOMER_SEGMENT)
                .drop_nulls()
                .first()
                .alias(CUSTOMER_SEGMENT),
            len().cast(DataType::Int64).alias(ACCESSES),
            col(TS).min().alias(FIRST_TS),
            col(TS).max().alias(LAST_TS),
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
}

/// The day's last non-null team and last actor kind, with when each was
/// last seen (so chunks can be merged by the same rule), as aggregations.
fn last_team_and_kind(team_ts: &str, kind_ts: &str) -> [Expr; 4] {
    let has_team = col(TEAM).is_not_null();
    [
        col(TEAM)
            .filter(has_team.clone())
            .sort_by(
                [col(team_ts).filter(has_team.clone())],
                SortMultipleOptions::default(),
            )
            .last()
            .alias(TEAM),
        col(team_ts).filter(has_team).max().alias(TEAM_TS),
        col(ACTOR_KIND)
            .sort_by([col(kind_ts)], SortMultipleOptions::default())
            .last()
            .alias(ACTOR_KIND),
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

/// Merges the tables of several chunks: an actor-day split across files
/// becomes one row, with the last `team` and `actor_kind` of the day.
pub fn merge(parts: Vec<FeatureTables>) -> Result<FeatureTables> {
    let stack = |pick: fn(&FeatureTables) -> &DataFrame| -> Result<LazyFrame> {
        Ok(concat(
            parts
                .iter()
                .map(|p| pick(p).clone().lazy())
                .collect::<Vec<_>>(),
            UnionArgs::default(),
        )?)
    };
    let mut aggs: Vec<Expr> = SUMMED.iter().map(|c| col(*c).sum()).collect();
    aggs.extend(last_team_and_kind(TEAM_TS, KIND_TS));
    let actor_days = stack(|p| &p.actor_days)?
        .group_by([col(ACTOR), col(DAY)])
        .agg(aggs)
        .sort([ACTOR, DAY], SortMultipleOptions::default())
        .collect()?;
    let hours = stack(|p| &p.hours)?
        .group_by([col(ACTOR), col(DAY), col(HOUR)])
        .agg([col(N).sum()])
        .collect()?;
    let items = stack(|p| &p.items)?
        .group_by([col(ACTOR), col(DAY), col(KIND), col(VALUE)])
        .agg([col(N).sum()])
        .collect()?;
    let customers = stack(|p| &p.customers)?
        .group_by([col(ACTOR), col(DAY), col(CUSTOMER_ID)])
        .agg([
            col(CUSTOMER_SEGMENT).drop_nulls().first(),
            col(ACCESSES).sum(),
            col(FIRST_TS).min(),
            col(LAST_TS).max(),
            // Covered in any chunk is covered (null: tickets unknown).
            col(COVERED).max(),
        ])
        .collect()?;
    let uses: Option<Vec<LazyFrame>> = parts
        .iter()
        .map(|p| p.ticket_use.clone().map(DataFrame::lazy))
        .collect();
    let ticket_use = match uses {
        Some(uses) if !uses.is_empty() => Some(
            concat(uses, UnionArgs::default())?
                .group_by([col(ACTOR), col(DAY)])
                .agg([
                    col(need_to_know::TICKETED).sum(),
                    col(need_to_know::FOREIGN).sum(),
                ])
                .collect()?,
        ),
        _ => None,
    };
    Ok(FeatureTables {
        actor_days,
        hours,
        items,
        customers,
        ticket_use,
    })
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
