//! The alert of contract §4: one flagged actor-day with its evidence, the
//! onset of its anomalous run and the customers affected since then.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

use crate::detect::combine::{score, Severity};
use crate::error::Result;
use crate::features::{ActorDays, FeatureTables};
use crate::schema::{ACTOR, CUSTOMER_ID, DAY};
use crate::scoring::Verdict;
use crate::settings::Settings;

/// One reason: a detector with p at most `reason_p`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reason {
    pub detector: String,
    pub observed: f64,
    pub expected: f64,
    pub p_value: f64,
    pub detail: String,
}

/// One line of `alerts.jsonl`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    pub actor: String,
    pub actor_kind: String,
    pub team: Option<String>,
    pub day: NaiveDate,
    pub score: f64,
    pub severity: Severity,
    pub p_value: f64,
    pub q_value: f64,
    pub reasons: Vec<Reason>,
    pub customers_touched: u64,
    pub customers_since_onset: u64,
    pub first_anomalous_day: NaiveDate,
    /// The peer group the actor was compared with.
    pub peer_group: String,
    /// Events that day.
    pub events: u64,
}

pub fn in_range(day: NaiveDate, settings: &Settings) -> bool {
    settings.from.is_none_or(|f| day >= f) && settings.to.is_none_or(|t| day <= t)
}

/// Distinct customers per (actor, onset, day) window, as one polars join.
fn customers_since(
    tables: &FeatureTables,
    windows: &[(String, NaiveDate, NaiveDate)],
) -> Result<HashMap<(String, NaiveDate), u64>> {
    if windows.is_empty() {
        return Ok(HashMap::new());
    }
    let wanted = DataFrame::new_infer_height(vec![
        Column::new(
            ACTOR.into(),
            windows.iter().map(|w| w.0.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "onset".into(),
            windows.iter().map(|w| w.1).collect::<Vec<_>>(),
        ),
        Column::new(
            "until".into(),
            windows.iter().map(|w| w.2).collect::<Vec<_>>(),
        ),
    ])?;
    let counts = wanted
        .lazy()
        .join(
            tables
                .customers
                .clone()
                .lazy()
                .select([col(ACTOR), col(DAY), col(CUSTOMER_ID)]),
            [col(ACTOR)],
            [col(ACTOR)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col(DAY)
                .gt_eq(col("onset"))
                .and(col(DAY).lt_eq(col("until"))),
        )
        .group_by([col(ACTOR), col("until")])
        .agg([col(CUSTOMER_ID)
            .n_unique()
            .cast(DataType::UInt64)
            .alias("n")])
        .collect()?;
    let actors = counts.column(ACTOR)?.str()?.clone();
    let until = counts.column("until")?.cast(&DataType::Int32)?;
    let until = until.i32()?;
    let n = counts.column("n")?.u64()?.clone();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
    let mut out = HashMap::new();
    for i in 0..counts.height() {
        if let (Some(a), Some(d), Some(n)) = (actors.get(i), until.get(i), n.get(i)) {
            out.insert((a.to_string(), epoch + chrono::Duration::days(d as i64)), n);
        }
    }
    Ok(out)
}

/// Alerts for every flagged actor-day in the scored range, sorted by day,
/// then score descending, then actor.
pub fn alerts(
    table: &ActorDays,
    verdicts: &[Verdict],
    tables: &FeatureTables,
    settings: &Settings,
) -> Result<Vec<Alert>> {
    let flagged: Vec<&Verdict> = verdicts
        .iter()
        .filter(|v| v.severity.is_some() && in_range(table.rows[v.row].day, settings))
        .collect();
    let windows: Vec<(String, NaiveDate, NaiveDate)> = flagged
        .iter()
        .map(|v| {
            let r = &table.rows[v.row];
            (table.actors[r.actor].clone(), v.onset, r.day)
        })
        .collect();
    let since = customers_since(tables, &windows)?;
    let mut out: Vec<Alert> = flagged
        .iter()
        .map(|v| {
            let r = &table.rows[v.row];
            let actor = table.actors[r.actor].clone();
            let mut reasons: Vec<Reason> = v
                .findings
                .iter()
                .filter(|f| f.p_value <= settings.reason_p)
                .map(|f| Reason {
                    detector: f.detector.to_string(),
                    observed: f.observed,
                    expected: f.expected,
                    p_value: f.p_value,
                    detail: f.detail.clone(),
                })
                .collect();
            if reasons.is_empty() {
                if let Some(f) = v.findings.first() {
                    reasons.push(Reason {
                        detector: f.detector.to_string(),
                        observed: f.observed,
                        expected: f.expected,
                        p_value: f.p_value,
                        detail: f.detail.clone(),
                    });
                }
            }
            Alert {
                customers_since_onset: since
                    .get(&(actor.clone(), r.day))
                    .copied()
                    .unwrap_or(r.distinct_customers as u64),
                actor,
                actor_kind: r.kind.clone(),
                team: r.team.clone(),
                day: r.day,
                score: score(v.p_value),
                severity: v.severity.unwrap_or(Severity::Low),
                p_value: v.p_value,
                q_value: v.q_value,
                reasons,
                customers_touched: r.distinct_customers as u64,
                first_anomalous_day: v.onset,
                peer_group: v.group.clone(),
                events: r.events as u64,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        a.day
            .cmp(&b.day)
            .then(b.score.total_cmp(&a.score))
            .then(a.actor.cmp(&b.actor))
    });
    Ok(out)
}
