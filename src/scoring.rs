//! The causal walk over the actor-day table, day by day: baselines from
//! earlier days → detectors → Cauchy combination → Benjamini-Hochberg over
//! the day's actor-days → severity; then each actor-day is learned into the
//! actor's baseline unless it was judged anomalous on the actor's own
//! evidence. Plain Rust over actor-days (never over events).

use chrono::NaiveDate;

use crate::baseline::Baselines;
use crate::detect::combine::{benjamini_hochberg, cauchy_combination, Severity};
use crate::detect::{registry, Finding};
use crate::features::ActorDays;
use crate::settings::Settings;

/// The verdict on one actor-day.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Index into [`ActorDays::rows`].
    pub row: usize,
    pub p_value: f64,
    pub q_value: f64,
    /// Every detector that judged the day, strongest first.
    pub findings: Vec<Finding>,
    /// Judged anomalous: kept out of the baseline.
    pub anomalous: bool,
    /// First day of the current anomalous run (this day when not in one).
    pub onset: NaiveDate,
    pub group: String,
    /// `Some` when flagged (q at most `alert_q`).
    pub severity: Option<Severity>,
}

/// Scores every actor-day, in table order (day, then actor).
pub fn verdicts(table: &ActorDays, settings: &Settings) -> Vec<Verdict> {
    let rows = &table.rows;
    let detectors = registry();
    let mut engine = Baselines::new(table.actors.len(), rows, settings);
    let mut run_start: Vec<Option<NaiveDate>> = vec![None; table.actors.len()];
    let mut out = Vec::with_capacity(rows.len());
    let mut start = 0;
    while start < rows.len() {
        let day = rows[start].day;
        let end = start + rows[start..].iter().take_while(|r| r.day == day).count();
        let today: Vec<usize> = (start..end).collect();
        let baselines = engine.for_day(day, &today);
        let mut day_verdicts: Vec<Verdict> = today
            .iter()
            .zip(&baselines)
            .map(|(&i, baseline)| {
                let mut findings: Vec<Finding> = detectors
                    .iter()
                    .filter_map(|d| d.evaluate(&rows[i], baseline))
                    .collect();
                findings.sort_by(|a, b| a.p_value.total_cmp(&b.p_value));
                let ps: Vec<f64> = findings.iter().map(|f| f.p_value).collect();
                let p_value = cauchy_combination(&ps);
                Verdict {
                    row: i,
                    p_value,
                    q_value: 1.0,
                    findings,
                    anomalous: baseline.established && p_value <= settings.anomalous_p,
                    onset: day,
                    group: baseline.group.clone(),
                    severity: None,
                }
            })
            .collect();
        let ps: Vec<f64> = day_verdicts.iter().map(|v| v.p_value).collect();
        for ((v, q), baseline) in day_verdicts
            .iter_mut()
            .zip(benjamini_hochberg(&ps))
            .zip(&baselines)
        {
            v.q_value = q;
            if q <= settings.alert_q {
                v.severity = Some(Severity::of(q, settings));
            }
            let actor = rows[v.row].actor;
            if v.anomalous {
                let onset = *run_start[actor].get_or_insert(day);
                v.onset = onset;
            } else {
                run_start[actor] = None;
            }
            engine.learn(v.row, v.anomalous, baseline);
        }
        out.extend(day_verdicts);
        start = end;
    }
    out
}
