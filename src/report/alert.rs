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

/// Distinct customers per (actor, onset, day) window. The alerts of one
/// anomalous run share its onset, so each run's customers are read once:
/// the first day of the run each customer was touched, counted per day,
/// then summed up to each alerted day (joining every window with all of
/// its actor's customers instead took seconds on a year's table).
fn customers_since(
    tables: &FeatureTables,
    windows: &[(String, NaiveDate, NaiveDate)],
) -> Result<HashMap<(String, NaiveDate), u64>> {
    if windows.is_empty() {
        return Ok(HashMap::new());
    }
    const ONSET: &str = "onset";
    const UNTIL: &str = "until";
    const LAST: &str = "last";
    const FIRST: &str = "first";
    const NEW: &str = "new";
    let wanted = DataFrame::new_infer_height(vec![
        Column::new(
            ACTOR.into(),
            windows.iter().map(|w| w.0.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            ONSET.into(),
            windows.iter().map(|w| w.1).collect::<Vec<_>>(),
        ),
        Column::new(
            UNTIL.into(),
            windows.iter().map(|w| w.2).collect::<Vec<_>>(),
        ),
    ])?
    .lazy();
    let run = || [col(ACTOR), col(ONSET)];
    let runs = wanted
        .clone()
        .group_by(run())
        .agg([col(UNTIL).max().alias(LAST)]);
    let new_per_day = tables
        .customers
        .clone()
        .lazy()
        .select([col(ACTOR), col(DAY), col(CUSTOMER_ID)])
        .join(
            runs,
            [col(ACTOR)],
            [col(ACTOR)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(col(DAY).gt_eq(col(ONSET)).and(col(DAY).lt_eq(col(LAST))))
        .group_by([col(ACTOR), col(ONSET), col(CUSTOMER_ID)])
        .agg([col(DAY).min().alias(FIRST)])
        .group_by([col(ACTOR), col(ONSET), col(FIRST)])
        .agg([len().alias(NEW)]);
    let counts = wanted
        .join(new_per_day, run(), run(), JoinArgs::new(JoinType::Inner))
        .filter(col(FIRST).lt_eq(col(UNTIL)))
        .group_by([col(ACTOR), col(UNTIL)])
        .agg([col(NEW).sum().cast(DataType::UInt64).alias("n")])
        .collect()?;
    let actors = counts.column(ACTOR)?.str()?.clone();
    let until = counts.column(UNTIL)?.cast(&DataType::Int32)?;
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
    // A run that began that day touched the day's distinct customers; only
    // longer runs need the customer table.
    let windows: Vec<(String, NaiveDate, NaiveDate)> = flagged
        .iter()
        .map(|v| (&table.rows[v.row], v.onset))
        .filter(|(r, onset)| *onset < r.day)
        .map(|(r, onset)| (table.actors[r.actor].clone(), onset, r.day))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 3, d).unwrap()
    }

    #[test]
    fn customers_since_onset_counts_each_customer_of_the_run_once() {
        let customers = df!(
            ACTOR => ["a", "a", "a", "a", "a", "a", "b", "a"],
            DAY => [day(1), day(2), day(2), day(3), day(3), day(9), day(2), day(10)],
            CUSTOMER_ID => ["C0", "C1", "C2", "C1", "C3", "C1", "C9", "C4"],
        )
        .unwrap();
        let tables = FeatureTables {
            actor_days: DataFrame::empty(),
            hours: DataFrame::empty(),
            items: DataFrame::empty(),
            customers,
            ticket_use: None,
        };
        let windows = [
            // One run from day 2 alerted on days 2 and 3; a later run of
            // the same actor from day 9 alerted on day 10; and b.
            ("a".to_string(), day(2), day(2)),
            ("a".to_string(), day(2), day(3)),
            ("a".to_string(), day(9), day(10)),
            ("b".to_string(), day(1), day(2)),
        ];
        let since = customers_since(&tables, &windows).unwrap();
        let get = |actor: &str, d: u32| since.get(&(actor.to_string(), day(d))).copied();
        // C0 was before the onset; C1 on days 2 and 3 counts once.
        assert_eq!(get("a", 2), Some(2));
        assert_eq!(get("a", 3), Some(3));
        // The later run starts over: C1 again on day 9, then C4.
        assert_eq!(get("a", 10), Some(2));
        assert_eq!(get("b", 2), Some(1));
        assert_eq!(since.len(), 4);
        assert!(customers_since(&tables, &[]).unwrap().is_empty());
    }
}
