//! `investigate`: one actor, once an alert has fired. Runs the analysis
//! over every input (baselines need the whole history and the peers), then
//! answers since when, what exactly and which customers:
//!
//! - the timeline: each of the actor's days against their baseline band,
//!   with the verdict, the first anomalous day and the top reasons;
//! - the blast radius: every customer the actor touched in the anomalous
//!   window (from the earliest `first_anomalous_day` of their alerts to the
//!   last alert), read back from the events themselves, with first and last
//!   access, accesses, fields read, clients used and whether the actor's own
//!   ticket covered it; plus the window's exports and searches with their
//!   row counts (a bulk export does not name its customers).
//!
//! With a state (`--state DIR`), the history comes from the state instead
//! of the logs; the logs, when given too, are read only for what the state
//! does not keep (the fields, clients, addresses and actions of each
//! customer, and the exports and searches).

use std::path::PathBuf;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::features::{self, ActorDays, COVERED};
use crate::ingest::{self, dedupe::Deduplicator};
use crate::pipeline::{self, Scored};
use crate::report::csv::CsvText;
use crate::report::files::write_atomic;
use crate::report::{self, Alert};
use crate::schema::*;
use crate::settings::Settings;
use crate::state;

/// What to investigate.
#[derive(Debug, Clone)]
pub struct InvestigateOptions {
    pub actor: String,
    pub inputs: Vec<String>,
    pub tickets: Vec<String>,
    pub out: PathBuf,
    pub state: Option<PathBuf>,
}

/// One day of the actor's timeline.
#[derive(Debug, Clone)]
pub struct TimelineDay {
    pub day: NaiveDate,
    pub events: f64,
    pub records: f64,
    pub customers: f64,
    /// Usual range of distinct customers (central 80%).
    pub usual_customers: Option<(f64, f64)>,
    pub uncovered: Option<f64>,
    pub export_rows: f64,
    pub p_value: f64,
    pub severity: Option<String>,
    pub first_anomalous_day: Option<NaiveDate>,
    pub reasons: Vec<String>,
}

/// What an investigation found.
pub struct Investigation {
    pub timeline: Vec<TimelineDay>,
    /// First and last day of the anomalous window, when the actor was flagged.
    pub window: Option<(NaiveDate, NaiveDate)>,
    pub customers: usize,
    pub exports: usize,
    pub export_rows: u64,
    pub alerts: Vec<Alert>,
    pub tickets_known: bool,
}

fn in_range(day: NaiveDate, settings: &Settings) -> bool {
    settings.from.is_none_or(|f| day >= f) && settings.to.is_none_or(|t| day <= t)
}

/// Runs the investigation and writes `timeline.csv`, `customers.csv`,
/// `activity.csv` and `report.html` to `out`.
pub fn investigate(options: &InvestigateOptions, settings: &Settings) -> Result<Investigation> {
    // Scoring sees every day (causality); --from/--to narrow what is shown.
    let scoring_settings = Settings {
        from: None,
        to: None,
        ..settings.clone()
    };
    let (tables, tickets_known) = match &options.state {
        Some(dir) => {
            // The lock keeps a nightly run from removing the version read.
            let _lock = state::lock(dir)?;
            let stored = state::load(dir)?.ok_or_else(|| Error::StateMismatch {
                path: dir.clone(),
                reason: "holds no state yet".into(),
            })?;
            let tickets = stored.tables.ticket_use.is_some();
            (stored.tables, tickets)
        }
        None => {
            let ingested = pipeline::ingest(&options.inputs, &options.tickets, &scoring_settings)?;
            if !ingested.rejected.is_empty() {
                return Err(Error::BadValues {
                    total: ingested.rejected.len(),
                    shown: ingested.rejected.into_iter().take(10).collect(),
                });
            }
            (ingested.tables, !options.tickets.is_empty())
        }
    };
    let scored = pipeline::score_tables(&tables, &scoring_settings)?;
    let Some(actor) = scored.table.actors.iter().position(|a| *a == options.actor) else {
        return Err(Error::Usage(format!(
            "actor `{}` does not appear in the logs given",
            options.actor
        )));
    };
    let alerts: Vec<Alert> = scored
        .alerts
        .iter()
        .filter(|a| a.actor == options.actor && in_range(a.day, settings))
        .cloned()
        .collect();
    let timeline = timeline(&scored, actor, settings);
    let window = match (
        alerts.iter().map(|a| a.first_anomalous_day).min(),
        alerts.iter().map(|a| a.day).max(),
    ) {
        (Some(start), Some(end)) => Some((start, end)),
        _ => None,
    };
    // Without alerts, the whole range asked for (or every day) is listed.
    let days = &scored.table.rows;
    let listed = window.unwrap_or_else(|| {
        let mine = days.iter().filter(|r| r.actor == actor).map(|r| r.day);
        (
            settings
                .from
                .or(mine.clone().min())
                .unwrap_or(NaiveDate::MIN),
            settings.to.or(mine.max()).unwrap_or(NaiveDate::MAX),
        )
    });
    let events = if options.inputs.is_empty() {
        None
    } else {
        Some(actor_events(options, &scoring_settings, listed)?)
    };
    let customers = match &events {
        Some(events) => blast_radius(events, &tables.customers, &options.actor, listed)?,
        None => kept_blast_radius(&tables.customers, &options.actor, listed)?,
    };
    let events = events.unwrap_or_else(DataFrame::empty);
    let activity = exports_and_searches(&events)?;
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| Error::Write {
        path: out.clone(),
        source: e,
    })?;
    write_atomic(
        &out.join("timeline.csv"),
        timeline_csv(&timeline).as_bytes(),
    )?;
    write_atomic(
        &out.join("customers.csv"),
        customers_csv(&customers, tickets_known)?.as_bytes(),
    )?;
    write_atomic(
        &out.join("activity.csv"),
        activity_csv(&activity)?.as_bytes(),
    )?;
    let charts = report::html::charts(&scored.table, &scored.verdicts, &alerts);
    let title = format!(
        "investigation of {}: {} customer(s) touched from {} to {}",
        options.actor,
        customers.height(),
        listed.0,
        listed.1
    );
    write_atomic(
        &out.join("report.html"),
        report::html::render(&title, &alerts, &charts).as_bytes(),
    )?;
    let export_rows = activity
        .clone()
        .lazy()
        .filter(col(ACTION).eq(lit("export")))
        .select([col(RECORDS).sum()])
        .collect()?
        .column(RECORDS)?
        .cast(&DataType::UInt64)?
        .u64()?
        .get(0)
        .unwrap_or(0);
    let exports = activity
        .column(ACTION)?
        .str()?
        .iter()
        .filter(|a| *a == Some("export"))
        .count();
    Ok(Investigation {
        timeline,
        window,
        customers: customers.height(),
        exports,
        export_rows,
        alerts,
        tickets_known,
    })
}

fn timeline(scored: &Scored, actor: usize, settings: &Settings) -> Vec<TimelineDay> {
    let table: &ActorDays = &scored.table;
    scored
        .verdicts
        .iter()
        .filter(|v| table.rows[v.row].actor == actor && in_range(table.rows[v.row].day, settings))
        .map(|v| {
            let r = &table.rows[v.row];
            TimelineDay {
                day: r.day,
                events: r.events,
                records: r.records,
                customers: r.distinct_customers,
                usual_customers: v.bands[1],
                uncovered: r.uncovered,
                export_rows: r.export_rows,
                p_value: v.p_value,
                severity: v.severity.map(|s| s.name().to_string()),
                first_anomalous_day: v.severity.map(|_| v.onset),
                reasons: v
                    .findings
                    .iter()
                    .filter(|f| f.p_value <= settings.reason_p)
                    .take(3)
                    .map(|f| format!("{}: {}", f.detector, f.detail))
                    .collect(),
            }
        })
        .collect()
}

/// The actor's events on the listed days, read back from every input and
/// de-duplicated as the analysis does.
fn actor_events(
    options: &InvestigateOptions,
    settings: &Settings,
    (first, last): (NaiveDate, NaiveDate),
) -> Result<DataFrame> {
    let (day, _) = features::local_time(TS, settings);
    let mut dedupe = Deduplicator::default();
    let mut parts = Vec::new();
    for file in ingest::resolve_inputs(&options.inputs)? {
        let batch = ingest::read_events(&file, settings)?;
        let mine = batch
            .events
            .lazy()
            .filter(col(ACTOR).eq(lit(options.actor.as_str())))
            .with_column(day.clone().alias(DAY))
            .filter(col(DAY).gt_eq(lit(first)).and(col(DAY).lt_eq(lit(last))))
            .collect()?;
        let mine = dedupe.unseen(mine)?;
        if mine.height() > 0 {
            parts.push(mine.lazy());
        }
    }
    if parts.is_empty() {
        return Ok(DataFrame::empty());
    }
    Ok(concat(parts, UnionArgs::default())?.collect()?)
}

/// Every customer in `events`, with when, how often, what and how, and
/// whether the actor's own tickets covered them on the days touched.
fn blast_radius(
    events: &DataFrame,
    customer_days: &DataFrame,
    actor: &str,
    (first, last): (NaiveDate, NaiveDate),
) -> Result<DataFrame> {
    if events.height() == 0 {
        return Ok(DataFrame::empty());
    }
    let joined = |c: &str| {
        col(c)
            .drop_nulls()
            .unique()
            .sort(SortOptions::default())
            .str()
            .join(";", true)
    };
    let touched = events
        .clone()
        .lazy()
        .filter(col(CUSTOMER_ID).is_not_null())
        .with_column(col(FIELDS).str().to_lowercase())
        .group_by([col(CUSTOMER_ID)])
        .agg([
            col(TS).min().alias("first_access"),
            col(TS).max().alias("last_access"),
            len().cast(DataType::Int64).alias("accesses"),
            col(DAY).n_unique().cast(DataType::Int64).alias("days"),
            joined(ACTION).alias("actions"),
            joined(FIELDS).alias("fields"),
            joined(CLIENT).alias("clients"),
            joined(SOURCE_IP).alias("source_ips"),
        ]);
    let coverage = actor_window(customer_days, actor, (first, last))
        .group_by([col(CUSTOMER_ID)])
        .agg([
            col(COVERED)
                .cast(DataType::Int64)
                .sum()
                .alias("covered_days"),
            col(COVERED).is_null().any(true).alias("coverage_unknown"),
        ]);
    Ok(touched
        .join(
            coverage,
            [col(CUSTOMER_ID)],
            [col(CUSTOMER_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .sort(
            ["first_access", CUSTOMER_ID],
            SortMultipleOptions::default(),
        )
        .collect()?)
}

/// The actor's rows of the actor-day-customer table within the window.
fn actor_window(
    customer_days: &DataFrame,
    actor: &str,
    (first, last): (NaiveDate, NaiveDate),
) -> LazyFrame {
    customer_days.clone().lazy().filter(
        col(ACTOR)
            .eq(lit(actor))
            .and(col(DAY).gt_eq(lit(first)))
            .and(col(DAY).lt_eq(lit(last))),
    )
}

/// The blast radius from the state's customer table alone: when, how often
/// and whether covered, without what the state does not keep.
fn kept_blast_radius(
    customer_days: &DataFrame,
    actor: &str,
    (first, last): (NaiveDate, NaiveDate),
) -> Result<DataFrame> {
    let not_kept = || lit("not kept in the state: give the logs too");
    Ok(actor_window(customer_days, actor, (first, last))
        .group_by([col(CUSTOMER_ID)])
        .agg([
            col(features::FIRST_TS).min().alias("first_access"),
            col(features::LAST_TS).max().alias("last_access"),
            col(features::ACCESSES)
                .sum()
                .cast(DataType::Int64)
                .alias("accesses"),
            len().cast(DataType::Int64).alias("days"),
            col(COVERED)
                .cast(DataType::Int64)
                .sum()
                .alias("covered_days"),
        ])
        .with_columns([
            not_kept().alias("actions"),
            not_kept().alias("fields"),
            not_kept().alias("clients"),
            not_kept().alias("source_ips"),
        ])
        .sort(
            ["first_access", CUSTOMER_ID],
            SortMultipleOptions::default(),
        )
        .collect()?)
}

/// The actor's exports and searches, in time order.
fn exports_and_searches(events: &DataFrame) -> Result<DataFrame> {
    if events.height() == 0 {
        return Ok(df!(
            TS => Vec::<i64>::new(),
            ACTION => Vec::<String>::new(),
            RECORDS => Vec::<i64>::new(),
        )?);
    }
    Ok(events
        .clone()
        .lazy()
        .filter(col(ACTION).is_in(
            lit(Series::new("a".into(), ["export", "search"])).implode(true),
            false,
        ))
        .select([
            col(TS),
            col(ACTION),
            col(RECORDS),
            col(RESOURCE),
            col(FIELDS),
            col(CLIENT),
            col(SOURCE_IP),
            col(CUSTOMER_ID),
        ])
        .sort([TS], SortMultipleOptions::default())
        .collect()?)
}

fn text_at(frame: &DataFrame, name: &str, i: usize) -> Result<String> {
    Ok(match frame.column(name)?.get(i)? {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    })
}

fn num_at(frame: &DataFrame, name: &str, i: usize) -> Result<Option<f64>> {
    let c = frame.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.get(i))
}

fn timeline_csv(days: &[TimelineDay]) -> String {
    let mut csv = CsvText::new(&[
        "day",
        "events",
        "records",
        "customers",
        "usual_customers_low",
        "usual_customers_high",
        "customers_without_own_ticket",
        "export_rows",
        "p_value",
        "severity",
        "first_anomalous_day",
        "reasons",
    ]);
    for d in days {
        csv.text(&d.day.to_string())
            .num(d.events)
            .num(d.records)
            .num(d.customers);
        match d.usual_customers {
            Some((lo, hi)) => csv.num(lo.round()).num(hi.round()),
            None => csv.text("").text(""),
        };
        match d.uncovered {
            Some(u) => csv.num(u),
            None => csv.text(""),
        };
        csv.num(d.export_rows)
            .text(&format!("{:.3e}", d.p_value))
            .text(d.severity.as_deref().unwrap_or(""))
            .text(
                &d.first_anomalous_day
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            )
            .text(&d.reasons.join(" | "));
        csv.end_row();
    }
    csv.into_string()
}

fn customers_csv(customers: &DataFrame, tickets_known: bool) -> Result<String> {
    let mut csv = CsvText::new(&[
        "customer_id",
        "first_access",
        "last_access",
        "accesses",
        "days",
        "actions",
        "fields",
        "clients",
        "source_ips",
        "own_ticket",
    ]);
    for i in 0..customers.height() {
        for c in [CUSTOMER_ID, "first_access", "last_access"] {
            csv.text(&text_at(customers, c, i)?);
        }
        for c in ["accesses", "days"] {
            csv.num(num_at(customers, c, i)?.unwrap_or(0.0));
        }
        for c in ["actions", "fields", "clients", "source_ips"] {
            csv.text(&text_at(customers, c, i)?);
        }
        let days = num_at(customers, "days", i)?.unwrap_or(0.0);
        let covered = num_at(customers, "covered_days", i)?.unwrap_or(0.0);
        let own_ticket = if !tickets_known {
            "unknown (no --tickets)"
        } else if covered >= days && days > 0.0 {
            "yes"
        } else if covered > 0.0 {
            "some days"
        } else {
            "no"
        };
        csv.text(own_ticket);
        csv.end_row();
    }
    Ok(csv.into_string())
}

fn activity_csv(activity: &DataFrame) -> Result<String> {
    let mut csv = CsvText::new(&[
        "ts",
        "action",
        "rows",
        "resource",
        "fields",
        "client",
        "source_ip",
        "customers_named",
    ]);
    for i in 0..activity.height() {
        csv.text(&text_at(activity, TS, i)?)
            .text(&text_at(activity, ACTION, i)?);
        match num_at(activity, RECORDS, i)? {
            Some(n) => csv.num(n),
            None => csv.text(""),
        };
        for c in [RESOURCE, FIELDS, CLIENT, SOURCE_IP] {
            csv.text(&text_at(activity, c, i)?);
        }
        let named = text_at(activity, CUSTOMER_ID, i)?;
        csv.text(if named.is_empty() {
            "not named in the log (see rows)"
        } else {
            &named
        });
        csv.end_row();
    }
    Ok(csv.into_string())
}
