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
}

impl ActorDay {
    pub fn is_human(&self) -> bool {
        matches!(self.kind.as_str(), "employee" | "contractor")
    }
}

/// All actor-days, sorted by day then actor, with the actor names.
pub struct ActorDays {
    pub actors: Vec<String>,
    pub rows: Vec<ActorDay>,
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

/// Builds the sorted actor-day rows from merged feature tables.
pub fn actor_days(tables: &FeatureTables) -> Result<ActorDays> {
    let customers = tables
        .customers
        .clone()
        .lazy()
        .group_by([col(ACTOR), col(DAY)])
        .agg([len().cast(DataType::Int64).alias("distinct_customers")]);
    let frame = tables
        .actor_days
        .clone()
        .lazy()
        .join(
            customers,
            [col(ACTOR), col(DAY)],
            [col(ACTOR), col(DAY)],
            JoinArgs::new(JoinType::Left),
        )
        .sort([DAY, ACTOR], SortMultipleOptions::default())
        .collect()?;
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
        num("distinct_customers")?,
    );
    let mut rows = Vec::with_capacity(frame.height());
    let mut position: HashMap<(usize, NaiveDate), usize> = HashMap::new();
    for i in 0..frame.height() {
        let name = actor_names[i].clone().unwrap_or_default();
        let actor = *index.entry(name.clone()).or_insert_with(|| {
            actors.push(name);
            actors.len() - 1
        });
        position.insert((actor, days[i]), i);
        rows.push(ActorDay {
            actor,
            day: days[i],
            team: teams[i].clone(),
            kind: kinds[i].clone().unwrap_or_else(|| "employee".into()),
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
            ..ActorDay::default()
        });
    }
    let lookup = |frame: &DataFrame| -> Result<Vec<Option<usize>>> {
        let names = str_column(frame, ACTOR)?;
        let days = days_column(frame)?;
        Ok(names
            .iter()
            .zip(days)
            .map(|(n, d)| {
                n.as_ref()
                    .and_then(|n| index.get(n))
                    .and_then(|a| position.get(&(*a, d)).copied())
            })
            .collect())
    };
    let hour_rows = lookup(&tables.hours)?;
    let hour = f64_column(&tables.hours, HOUR)?;
    let hour_n = f64_column(&tables.hours, N)?;
    for (i, row) in hour_rows.into_iter().enumerate() {
        if let Some(r) = row {
            rows[r].hours[(hour[i] as usize).min(23)] += hour_n[i];
        }
    }
    let item_rows = lookup(&tables.items)?;
    let item_kind = str_column(&tables.items, KIND)?;
    let item_value = str_column(&tables.items, VALUE)?;
    for (i, row) in item_rows.into_iter().enumerate() {
        if let (Some(r), Some(kind), Some(value)) = (row, &item_kind[i], &item_value[i]) {
            if let Some(k) = ItemKind::ALL.iter().find(|k| k.name() == kind) {
                rows[r].items[k.index()].push(value.clone());
            }
        }
    }
    for row in &mut rows {
        for list in row.items.iter_mut() {
            list.sort();
        }
    }
    Ok(ActorDays { actors, rows })
}
