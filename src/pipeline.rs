//! The one data flow: inputs → events (per file, validated, de-duplicated)
//! → feature tables (reduced per file, merged) → actor-days → verdicts →
//! alerts → outputs. Nothing else lives here.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use serde::Serialize;

use crate::detect::combine::Severity;
use crate::error::{Error, Result};
use crate::features::{self, ActorDays, FeatureTables};
use crate::ingest::{self, dedupe::Deduplicator, quarantine, tickets, Rejection};
use crate::report::{self, files::write_atomic, Alert};
use crate::schema;
use crate::scoring;
use crate::settings::Settings;
use crate::state;
use crate::state::history::ScoredHistory;

/// Events reduced together (see [`ingest`]). Smaller batches let the
/// reader and de-duplicating threads work on the next files while another
/// reduces: at 250 k,
/// a run over 1 M events took 8% less time and half the memory of 1 M
/// (measured side by side, median of 5).
const BATCH_EVENTS: usize = 250_000;
/// The first batch's size. Batches then double up to [`BATCH_EVENTS`], so
/// that reducing starts after the first file or two instead of waiting for
/// the reader to validate a full batch.
const FIRST_BATCH_EVENTS: usize = BATCH_EVENTS / 8;

/// Wall-clock seconds per stage of a run, in the order the stages ran, for
/// `run.json` (where a slow night's time went). Reading, de-duplication
/// and reduce overlap (three threads): `read` is the time spent waiting
/// for the next file, `reduce` the reducing thread's busy time.
#[derive(Debug, Clone, Default)]
pub struct Timings(Vec<(&'static str, f64)>);

impl Timings {
    /// Runs `work`, adding its time to `stage`.
    pub fn time<T>(&mut self, stage: &'static str, work: impl FnOnce() -> T) -> T {
        let started = std::time::Instant::now();
        let out = work();
        self.add(stage, started.elapsed().as_secs_f64());
        out
    }

    fn add(&mut self, stage: &'static str, seconds: f64) {
        match self.0.iter_mut().find(|(s, _)| *s == stage) {
            Some((_, total)) => *total += seconds,
            None => self.0.push((stage, seconds)),
        }
    }
}

/// A JSON object of seconds (to the millisecond), stages in the order they ran.
impl Serialize for Timings {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (stage, seconds) in &self.0 {
            map.serialize_entry(stage, &((seconds * 1000.0).round() / 1000.0))?;
        }
        map.end()
    }
}

/// What a run read, kept, dropped and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub files: usize,
    pub rows: usize,
    pub events: usize,
    pub rejected: usize,
    pub duplicates: usize,
    /// Searches and exports without a `records` value (left out of record sums).
    pub unknown_records: u64,
    pub actors: usize,
    pub days: usize,
    pub actor_days: usize,
    pub alerts: std::collections::BTreeMap<String, usize>,
    pub ticket_rows: Option<usize>,
    /// Reasons (p at most `reason_p`) silenced by `[[allow]]` entries.
    pub suppressed_reasons: usize,
}

/// Everything read from the inputs, reduced.
pub struct Ingested {
    pub tables: FeatureTables,
    pub counts: Counts,
    pub rejected: Vec<Rejection>,
    pub unknown_columns: Vec<String>,
    pub inputs: Vec<PathBuf>,
    pub first_ts: Option<NaiveDateTime>,
    pub last_ts: Option<NaiveDateTime>,
    /// The earliest event read, duplicates included: what a run rescores.
    pub input_first_ts: Option<NaiveDateTime>,
    /// The de-duplicator, holding the keys of every event seen.
    pub dedupe: Deduplicator,
    /// Where ingest's time went.
    pub timings: Timings,
}

fn ts_bounds(events: &DataFrame) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>)> {
    let ts = events.column(schema::TS)?.cast(&DataType::Int64)?;
    let ts = ts.i64()?;
    let conv =
        |ns: Option<i64>| ns.map(|ns| chrono::DateTime::from_timestamp_nanos(ns).naive_utc());
    Ok((conv(ts.min()), conv(ts.max())))
}

/// How far a run has got, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// Ticket assignments being read.
    Tickets,
    /// Access-log files read and reduced so far, of all, and events kept.
    Files {
        done: usize,
        of: usize,
        events: usize,
    },
    /// Actor-days being scored.
    Scoring { actor_days: usize },
}

/// Reads, validates, de-duplicates and reduces every input file.
pub fn ingest(
    inputs: &[String],
    tickets_paths: &[String],
    settings: &Settings,
) -> Result<Ingested> {
    ingest_with_progress(inputs, tickets_paths, settings, None, &mut |_| {})
}

/// [`ingest`], telling `progress` after each file.
pub fn ingest_with_progress(
    inputs: &[String],
    tickets_paths: &[String],
    settings: &Settings,
    seen_keys: Option<DataFrame>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Ingested> {
    let files = ingest::resolve_inputs(inputs)?;
    let mut timings = Timings::default();
    // Tickets first: a bad ticket file stops the run before the long part.
    let (tickets, ticket_rows, ticket_rejections) = if tickets_paths.is_empty() {
        (None, None, Vec::new())
    } else {
        progress(Progress::Tickets);
        timings.time("tickets", || -> Result<_> {
            let files = ingest::resolve_inputs(tickets_paths)?;
            let t = tickets::read_tickets(&files, settings)?;
            let index = features::need_to_know::TicketIndex::new(&t.tickets, settings)?;
            Ok((Some(index), Some(t.rows), t.rejected))
        })?
    };
    let mut dedupe = match seen_keys {
        Some(keys) => Deduplicator::seeded(keys)?,
        None => Deduplicator::default(),
    };
    let mut input_first_ts = None;
    let mut counts = Counts {
        files: files.len(),
        ticket_rows,
        ..Counts::default()
    };
    let mut rejected = Vec::new();
    let mut unknown = BTreeSet::new();
    let (mut first_ts, mut last_ts) = (None, None);
    // Files are validated one by one (errors name the file) and reduced in
    // batches of about BATCH_EVENTS events (the first ones smaller): large
    // enough that polars works on big columns, small enough that a year is
    // never held at once.
    // Three threads form a pipeline: a reader validates the next files, this
    // one batches and de-duplicates them (in input order, as the keys of
    // earlier batches decide), and a reducer reduces the previous batch.
    // Each stage is only partly parallel inside polars, so running them side
    // by side keeps both cores busy. The bounded channels keep at most two
    // files and one batch in flight.
    let mut pending: Option<DataFrame> = None;
    let mut batch_events = FIRST_BATCH_EVENTS;
    let ticket_index = &tickets;
    let reduced = std::thread::scope(|scope| -> Result<(Vec<FeatureTables>, Timings)> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(2);
        let files = &files;
        scope.spawn(move || {
            for file in files {
                let batch = ingest::read_events(file, settings);
                let failed = batch.is_err();
                if sender.send(batch).is_err() || failed {
                    break;
                }
            }
        });
        let (to_reducer, batches) = std::sync::mpsc::sync_channel::<DataFrame>(1);
        let reducer = scope.spawn(move || -> Result<(Vec<FeatureTables>, Timings)> {
            let mut reduced = Vec::new();
            let mut timings = Timings::default();
            for events in batches {
                reduced.push(timings.time("reduce", || {
                    features::reduce(events, settings, ticket_index.as_ref())
                })?);
            }
            Ok((reduced, timings))
        });
        let batching = (|| -> Result<()> {
            for i in 0.. {
                let Some(batch) = timings.time("read", || receiver.recv().ok()) else {
                    break;
                };
                let batch = batch?;
                progress(Progress::Files {
                    done: i + 1,
                    of: files.len(),
                    events: counts.events + batch.events.height(),
                });
                counts.rows += batch.rows;
                rejected.extend(batch.rejected);
                unknown.extend(batch.unknown_columns);
                match pending.as_mut() {
                    Some(frame) => {
                        frame.vstack_mut(&batch.events)?;
                    }
                    None => pending = Some(batch.events),
                }
                let full = pending.as_ref().is_some_and(|f| f.height() >= batch_events);
                if !(full || i + 1 == files.len()) {
                    continue;
                }
                let Some(events) = pending.take() else {
                    continue;
                };
                input_first_ts = earliest(input_first_ts, ts_bounds(&events)?.0);
                batch_events = (2 * batch_events).min(BATCH_EVENTS);
                let events = timings.time("dedupe", || dedupe.unseen(events))?;
                if events.height() == 0 {
                    continue;
                }
                counts.events += events.height();
                let (lo, hi) = ts_bounds(&events)?;
                first_ts = earliest(first_ts, lo);
                last_ts = last_ts.max(hi);
                if to_reducer.send(events).is_err() {
                    // The reducer stopped on an error, which joining it gives.
                    break;
                }
            }
            Ok(())
        })();
        drop(to_reducer);
        let reduced = features::joined(reducer);
        batching?;
        reduced
    })?;
    let (parts, reduce_timings) = reduced;
    for (stage, seconds) in reduce_timings.0 {
        timings.add(stage, seconds);
    }
    counts.duplicates = dedupe.dropped;
    rejected.extend(ticket_rejections);
    counts.rejected = rejected.len();
    let tables = if parts.is_empty() {
        features::reduce(empty_events(), settings, tickets.as_ref())?
    } else {
        timings.time("merge", || features::merge(parts))?
    };
    drop(tickets);
    counts.unknown_records = tables
        .actor_days
        .column(features::RECORDS_UNKNOWN)?
        .cast(&DataType::UInt64)?
        .u64()?
        .sum()
        .unwrap_or(0);
    counts.actor_days = tables.actor_days.height();
    counts.actors = tables.actor_days.column(schema::ACTOR)?.n_unique()?;
    counts.days = tables.actor_days.column(schema::DAY)?.n_unique()?;
    Ok(Ingested {
        tables,
        counts,
        rejected,
        unknown_columns: unknown.into_iter().collect(),
        inputs: files.into_iter().map(|f| f.path).collect(),
        first_ts,
        last_ts,
        input_first_ts,
        dedupe,
        timings,
    })
}

fn earliest(a: Option<NaiveDateTime>, b: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn empty_events() -> DataFrame {
    let columns: Vec<Column> = schema::EVENT_COLUMNS
        .iter()
        .map(|c| {
            let dtype = match *c {
                schema::TS => DataType::Datetime(TimeUnit::Nanoseconds, None),
                schema::RECORDS => DataType::Int64,
                _ => DataType::String,
            };
            Column::new_empty((*c).into(), &dtype)
        })
        .collect();
    DataFrame::new_infer_height(columns).expect("static schema")
}

/// Options of an `analyze` run that are not analysis settings.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub inputs: Vec<String>,
    pub tickets: Vec<String>,
    pub out: PathBuf,
    pub quarantine: Option<PathBuf>,
    /// Persistent state for nightly runs (see [`crate::state`]).
    pub state: Option<PathBuf>,
    /// Rebuild the state from the inputs given instead of adding to it.
    pub rebuild: bool,
}

/// The result of a completed run.
pub struct Analysis {
    pub alerts: Vec<Alert>,
    pub counts: Counts,
    pub unknown_columns: Vec<String>,
    pub table: String,
    /// Things the user should act on (expired `[[allow]]` entries).
    pub warnings: Vec<String>,
}

/// `run.json`: the proof a run completed, and what it was.
#[derive(Serialize)]
struct RunRecord<'a> {
    version: &'static str,
    completed_at: String,
    settings: &'a Settings,
    inputs: Vec<String>,
    tickets: &'a [String],
    counts: &'a Counts,
    unknown_columns: &'a [String],
    detectors: Vec<&'static str>,
    notes: Vec<String>,
    warnings: &'a [String],
    /// With `--state`: where the scoring walk started.
    #[serde(skip_serializing_if = "Option::is_none")]
    state_walk: Option<StateWalk>,
    /// Seconds per stage (see [`Timings`]).
    timings: &'a Timings,
}

/// How a run on a state scored: resumed from the stored checkpoint, or
/// replayed the whole history (a new state, other scoring settings).
#[derive(Debug, Clone, Serialize)]
pub struct StateWalk {
    /// The checkpoint's day: days after it were walked.
    pub resumed_after: Option<NaiveDate>,
    pub actor_days_walked: usize,
    /// The next run resumes after this day.
    pub checkpoint: Option<NaiveDate>,
}

/// What scoring produced.
pub struct Scored {
    pub table: ActorDays,
    pub verdicts: Vec<scoring::Verdict>,
    pub alerts: Vec<Alert>,
}

/// The local day of a UTC time (contract §3).
fn local_day(utc: NaiveDateTime, settings: &Settings) -> NaiveDate {
    match settings
        .timezone
        .as_deref()
        .and_then(|tz| tz.parse::<chrono_tz::Tz>().ok())
    {
        Some(tz) => {
            use chrono::TimeZone;
            tz.from_utc_datetime(&utc).date_naive()
        }
        None => utc.date(),
    }
}

/// First and last day of the actor-day table.
fn day_range(tables: &FeatureTables) -> Result<(Option<NaiveDate>, Option<NaiveDate>)> {
    let bounds = features::day_bounds(&tables.actor_days)?;
    Ok((bounds.map(|b| b.0), bounds.map(|b| b.1)))
}

/// The tables without days older than `retain_days` before the last one.
fn retained(tables: FeatureTables, settings: &Settings) -> Result<FeatureTables> {
    let Some(last) = day_range(&tables)?.1 else {
        return Ok(tables);
    };
    let first = last - chrono::Duration::days(settings.retain_days as i64 - 1);
    let keep = |frame: DataFrame| -> Result<DataFrame> {
        Ok(frame
            .lazy()
            .filter(col(schema::DAY).gt_eq(lit(first)))
            .collect()?)
    };
    Ok(FeatureTables {
        actor_days: keep(tables.actor_days)?,
        hours: keep(tables.hours)?,
        items: keep(tables.items)?,
        customers: keep(tables.customers)?,
        ticket_use: tables.ticket_use.map(keep).transpose()?,
    })
}

/// Scores ingested tables into alerts.
pub fn alerts(ingested: &Ingested, settings: &Settings) -> Result<Scored> {
    let table = features::table::actor_days(&ingested.tables)?;
    score_table(&ingested.tables, table, settings)
}

/// Scores feature tables (from inputs or from a state) into alerts.
pub fn score_tables(tables: &FeatureTables, settings: &Settings) -> Result<Scored> {
    let table = features::table::actor_days(tables)?;
    score_table(tables, table, settings)
}

fn score_table(tables: &FeatureTables, table: ActorDays, settings: &Settings) -> Result<Scored> {
    let verdicts = scoring::verdicts(&table, settings);
    scored(tables, table, verdicts, settings)
}

fn scored(
    tables: &FeatureTables,
    table: ActorDays,
    verdicts: Vec<scoring::Verdict>,
    settings: &Settings,
) -> Result<Scored> {
    let alerts = report::alerts(&table, &verdicts, tables, settings)?;
    Ok(Scored {
        table,
        verdicts,
        alerts,
    })
}

/// Scores the tables of a state: resumes the walk from the stored
/// history's checkpoint when it can (`history` is then resumable), and
/// takes the next checkpoint `late_days` before the last day.
fn score_state(
    tables: &FeatureTables,
    history: Option<&ScoredHistory>,
    settings: &Settings,
    timings: &mut Timings,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Scored, Option<ScoredHistory>, StateWalk)> {
    let mut table = timings.time("actor_day_rows", || {
        features::table::actor_days_reusing(tables, history.map(|h| h.reuse()))
    })?;
    let mut resume = match history {
        Some(h) => timings.time("resume", || h.resume(&table, settings))?,
        None => None,
    };
    if history.is_some() && resume.is_none() {
        // A stored day without a verdict: replay everything.
        table = timings.time("actor_day_rows", || features::table::actor_days(tables))?;
    }
    let checkpoint_at = table
        .rows
        .last()
        .map(|r| r.day - chrono::Duration::days(settings.late_days as i64 + 1));
    progress(Progress::Scoring {
        actor_days: table.rows.len() - resume.as_ref().map_or(0, |r| r.carried.len()),
    });
    let kept = resume.as_ref().map(|r| r.checkpoint.clone());
    let carried = resume.as_ref().map_or(0, |r| r.carried.len());
    let record = |next: &Option<ScoredHistory>| StateWalk {
        resumed_after: kept.as_ref().map(|c| c.as_of),
        actor_days_walked: table.rows.len() - carried,
        checkpoint: next.as_ref().map(|h| h.checkpoint.as_of),
    };
    let walk = timings.time("scoring", || {
        scoring::walk(&table, settings, resume.take(), checkpoint_at)
    });
    let next = match walk.checkpoint.or(kept.clone()) {
        Some(checkpoint) => Some(ScoredHistory {
            derived: table.derived.clone(),
            verdicts: timings.time("history", || {
                state::history::verdict_frame(&table, &walk.verdicts)
            })?,
            checkpoint,
        }),
        None => None,
    };
    let record = record(&next);
    Ok((
        timings.time("alerts", || scored(tables, table, walk.verdicts, settings))?,
        next,
        record,
    ))
}

/// Reasons silenced by `[[allow]]` entries on the days written.
fn suppressed_reasons(scored: &Scored, settings: &Settings) -> usize {
    scored
        .verdicts
        .iter()
        .filter(|v| report::in_range(scored.table.rows[v.row].day, settings))
        .map(|v| {
            v.suppressed
                .iter()
                .filter(|f| f.p_value <= settings.reason_p)
                .count()
        })
        .sum()
}

/// `[[allow]]` entries that expired before the last day scored: they no
/// longer suppress anything, and someone should renew or remove them.
fn expired_allow_entries(scored: &Scored, settings: &Settings) -> Vec<String> {
    let Some(last) = scored.table.rows.iter().map(|r| r.day).max() else {
        return Vec::new();
    };
    settings
        .allow
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let expires = a.expires?;
            (expires < last).then(|| {
                format!(
                    "[[allow]] entry {} (actor `{}`, detector `{}`) expired on {expires}: it no longer suppresses anything after that day",
                    i + 1,
                    a.actor,
                    a.detector
                )
            })
        })
        .collect()
}

fn rejected_error(rejected: Vec<Rejection>) -> Error {
    Error::BadValues {
        total: rejected.len(),
        shown: rejected.into_iter().take(10).collect(),
    }
}

/// The main job: analyse inputs and write `alerts.jsonl` and `run.json` to `out`.
pub fn analyze(options: &AnalyzeOptions, settings: &Settings) -> Result<Analysis> {
    analyze_with_progress(options, settings, &mut |_| {})
}

/// [`analyze`], telling `progress` how far it has got.
pub fn analyze_with_progress(
    options: &AnalyzeOptions,
    settings: &Settings,
    progress: &mut dyn FnMut(Progress),
) -> Result<Analysis> {
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| Error::Write {
        path: out.clone(),
        source: e,
    })?;
    let run_json = out.join("run.json");
    match std::fs::remove_file(&run_json) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::Write {
                path: run_json,
                source: e,
            })
        }
    }
    // The state's lock is held until this function returns.
    let _lock = options.state.as_deref().map(state::lock).transpose()?;
    let load_started = std::time::Instant::now();
    let stored = match &options.state {
        Some(dir) if !options.rebuild => state::load(dir)?,
        _ => None,
    };
    let load_seconds = load_started.elapsed().as_secs_f64();
    if let (Some(dir), Some(stored)) = (&options.state, &stored) {
        if stored.manifest.table_settings
            != state::table_settings(settings, !options.tickets.is_empty())
        {
            return Err(Error::StateMismatch {
                path: dir.clone(),
                reason: format!(
                    "built with other settings for tickets, time zone, sensitive fields, column or value maps or ticket grace ({}); this run has {}",
                    stored.manifest.table_settings,
                    state::table_settings(settings, !options.tickets.is_empty())
                ),
            });
        }
    }
    let seen_keys = stored.as_ref().map(|s| s.keys.clone());
    let mut ingested = ingest_with_progress(
        &options.inputs,
        &options.tickets,
        settings,
        seen_keys,
        progress,
    )?;
    let mut timings = Timings::default();
    if options.state.is_some() {
        timings.add("state_load", load_seconds);
    }
    timings.0.extend(std::mem::take(&mut ingested.timings).0);
    match &options.quarantine {
        Some(path) => quarantine::write(path, &ingested.rejected)?,
        None if !ingested.rejected.is_empty() => return Err(rejected_error(ingested.rejected)),
        None => {}
    }
    // With a state: merge the new tables into the stored history, refuse
    // input too late to de-duplicate, and write the days from the earliest
    // one read (late days are rescored with every day after them).
    let mut run_settings = settings.clone();
    let mut history = None;
    let mut inputs_seen = Vec::new();
    let mut runs = 1;
    // The first day this run may change in a state's tables.
    let mut first_changed = NaiveDate::MIN;
    if let (Some(dir), Some(stored)) = (&options.state, stored) {
        let input_day = ingested.input_first_ts.map(|t| local_day(t, settings));
        if let (Some(day), Some(last)) = (input_day, stored.manifest.last_day) {
            let oldest = last - chrono::Duration::days(settings.late_days as i64);
            if day < oldest {
                return Err(Error::StateMismatch {
                    path: dir.clone(),
                    reason: format!(
                        "the input holds events of {day}, more than `late_days` ({}) before the state's last day {last}: they can no longer be de-duplicated against it",
                        settings.late_days
                    ),
                });
            }
        }
        let from = match (input_day, stored.manifest.last_day) {
            (Some(day), _) => day,
            // Nothing read: nothing to rescore.
            (None, Some(last)) => last + chrono::Duration::days(1),
            (None, None) => NaiveDate::MIN,
        };
        first_changed = from;
        run_settings.from = Some(settings.from.map_or(from, |f| f.max(from)));
        history = stored.history.filter(|h| h.resumable(settings, from));
        inputs_seen = stored.manifest.inputs;
        runs = stored.manifest.runs + 1;
        ingested.tables = timings.time("state_merge", || {
            features::merge_from(stored.tables, ingested.tables, from)
        })?;
    }
    if options.state.is_some() {
        ingested.tables = retained(ingested.tables, settings)?;
    }
    let settings = &run_settings;
    let (scored, history, state_walk) = if options.state.is_some() {
        let (scored, history, walk) = score_state(
            &ingested.tables,
            history.as_ref(),
            settings,
            &mut timings,
            progress,
        )?;
        (scored, history, Some(walk))
    } else {
        let table = timings.time("actor_day_rows", || {
            features::table::actor_days(&ingested.tables)
        })?;
        progress(Progress::Scoring {
            actor_days: table.rows.len(),
        });
        let verdicts = timings.time("scoring", || scoring::verdicts(&table, settings));
        let scored = timings.time("alerts", || {
            scored(&ingested.tables, table, verdicts, settings)
        })?;
        (scored, None, None)
    };
    let outputs_started = std::time::Instant::now();
    let mut counts = ingested.counts.clone();
    counts.suppressed_reasons = suppressed_reasons(&scored, settings);
    let warnings = expired_allow_entries(&scored, settings);
    let charts = report::html::charts(&scored.table, &scored.verdicts, &scored.alerts);
    let title = format!(
        "{} event(s) from {} file(s), {} actor-days scored",
        ingested.counts.events, ingested.counts.files, ingested.counts.actor_days
    );
    write_atomic(
        &out.join("report.html"),
        report::html::render(&title, &scored.alerts, &charts).as_bytes(),
    )?;
    let alerts = scored.alerts;
    for s in Severity::ALL {
        counts.alerts.insert(
            s.name().to_string(),
            alerts.iter().filter(|a| a.severity == s).count(),
        );
    }
    let mut jsonl = String::new();
    for a in &alerts {
        jsonl.push_str(&serde_json::to_string(a).map_err(|e| Error::Write {
            path: out.join("alerts.jsonl"),
            source: e.into(),
        })?);
        jsonl.push('\n');
    }
    write_atomic(&out.join("alerts.jsonl"), jsonl.as_bytes())?;
    timings.add("outputs", outputs_started.elapsed().as_secs_f64());
    let save_started = std::time::Instant::now();
    if let Some(dir) = &options.state {
        let days = day_range(&ingested.tables)?;
        // Keys of the last `late_days` UTC days (one more for time zones).
        let cutoff = days.1.map_or(i32::MIN, |last| {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
            ((last - epoch).num_days() - settings.late_days as i64 - 1) as i32
        });
        inputs_seen.extend(ingested.inputs.iter().map(|p| p.display().to_string()));
        // The scored history changes from the day after the checkpoint the
        // walk resumed at; without one, it was all replayed.
        let unchanged = state::UnchangedBefore {
            features: first_changed,
            history: match state_walk.as_ref().and_then(|w| w.resumed_after) {
                Some(as_of) => first_changed.min(as_of + chrono::Duration::days(1)),
                None => NaiveDate::MIN,
            },
        };
        state::save(
            dir,
            &state::Stored {
                manifest: state::Manifest {
                    format_version: state::FORMAT_VERSION,
                    table_settings: state::table_settings(settings, !options.tickets.is_empty()),
                    first_day: days.0,
                    last_day: days.1,
                    inputs: inputs_seen,
                    runs,
                    written_at: chrono::Utc::now().to_rfc3339(),
                    blocks: Default::default(),
                },
                tables: ingested.tables.clone(),
                keys: ingested.dedupe.keys_since(cutoff)?,
                history,
            },
            unchanged,
        )?;
    }
    if options.state.is_some() {
        timings.add("state_save", save_started.elapsed().as_secs_f64());
    }
    let mut notes = Vec::new();
    if options.tickets.is_empty() {
        notes.push("need-to-know judging is off: no --tickets given".to_string());
    } else {
        notes.push(format!(
            "need-to-know judged against {} ticket rows",
            counts.ticket_rows.unwrap_or(0)
        ));
    }
    let record = RunRecord {
        version: env!("CARGO_PKG_VERSION"),
        completed_at: chrono::Utc::now().to_rfc3339(),
        settings,
        inputs: ingested
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        tickets: &options.tickets,
        counts: &counts,
        unknown_columns: &ingested.unknown_columns,
        detectors: crate::detect::registry().iter().map(|d| d.name()).collect(),
        notes,
        warnings: &warnings,
        state_walk,
        timings: &timings,
    };
    let text = serde_json::to_string_pretty(&record).map_err(|e| Error::Write {
        path: run_json.clone(),
        source: e.into(),
    })?;
    let table = report::table::render(&alerts);
    write_atomic(&run_json, text.as_bytes())?;
    Ok(Analysis {
        alerts,
        counts,
        unknown_columns: ingested.unknown_columns,
        table,
        warnings,
    })
}

/// `check`: validation only.
pub fn check(inputs: &[String], tickets: &[String], settings: &Settings) -> Result<Ingested> {
    ingest(inputs, tickets, settings)
}
