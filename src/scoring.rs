//! The causal walk over the actor-day table, day by day: baselines from
//! earlier days → detectors → Cauchy combination → Benjamini-Hochberg over
//! the day's actor-days → severity; then each actor-day is learned into the
//! actor's baseline unless it was judged anomalous on the actor's own
//! evidence. Findings matching an `[[allow]]` entry are set aside before
//! the combination. The walk can start from a checkpoint of an earlier
//! walk and take one on its way ([`walk`]). Plain Rust over actor-days
//! (never over events).

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::baseline::{Baselines, Checkpoint};
use crate::detect::combine::{benjamini_hochberg, cauchy_combination, Severity};
use crate::detect::{registry, Finding};
use crate::features::ActorDays;
use crate::settings::{Allow, Settings};

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
    /// Findings silenced by `[[allow]]` entries (not combined).
    pub suppressed: Vec<Finding>,
    /// The usual range (central 80%) of records and of distinct customers
    /// that day, for charts.
    pub bands: [Option<(f64, f64)>; 2],
}

/// Whether an entry applies to this actor, detector and day.
fn applies(entry: &Allow, actor: &str, day: NaiveDate, finding: &Finding) -> bool {
    entry.actor == actor
        && entry.detector == finding.detector
        && entry.expires.is_none_or(|last| day <= last)
}

/// Whether `[[allow]]` entries silence a finding: one entry for the whole
/// detector, or entries naming every field or client the finding names.
pub fn is_allowed(allow: &[Allow], actor: &str, day: NaiveDate, finding: &Finding) -> bool {
    let entries: Vec<&Allow> = allow
        .iter()
        .filter(|e| applies(e, actor, day, finding))
        .collect();
    if entries
        .iter()
        .any(|e| e.field.is_none() && e.client.is_none())
    {
        return true;
    }
    !finding.items.is_empty()
        && finding.items.iter().all(|item| {
            entries.iter().any(|e| {
                [&e.field, &e.client]
                    .iter()
                    .any(|v| v.as_ref().is_some_and(|v| v.eq_ignore_ascii_case(item)))
            })
        })
}

/// Scores every actor-day, in table order (day, then actor).
pub fn verdicts(table: &ActorDays, settings: &Settings) -> Vec<Verdict> {
    walk(table, settings, None, None).verdicts
}

/// Where a walk starts: a checkpoint, and the verdicts of the days it
/// covers (carried over from the run that walked them, without findings).
pub struct Resume<'a> {
    pub checkpoint: &'a Checkpoint,
    pub carried: Vec<Verdict>,
}

/// What a walk produced.
pub struct Walk {
    /// One per row of the table, in table order.
    pub verdicts: Vec<Verdict>,
    /// The engine's memory after the last day on or before the day asked
    /// for, when the walk passed it.
    pub checkpoint: Option<Checkpoint>,
}

/// Scores the actor-days after `resume`'s checkpoint (every day without
/// one), and takes a checkpoint as of `checkpoint_at` on the way.
/// `resume.carried` must hold the verdicts of exactly the rows on or
/// before the checkpoint's day.
pub fn walk(
    table: &ActorDays,
    settings: &Settings,
    resume: Option<Resume>,
    checkpoint_at: Option<NaiveDate>,
) -> Walk {
    let rows = &table.rows;
    let detectors = registry();
    let mut engine = Baselines::new(table.actors.len(), rows, settings);
    let mut run_start: Vec<Option<NaiveDate>> = vec![None; table.actors.len()];
    let mut out = Vec::with_capacity(rows.len());
    let mut start = 0;
    let mut resumed_at = None;
    if let Some(resume) = resume {
        run_start = engine.restore(&table.actors, resume.checkpoint);
        start = resume.carried.len();
        debug_assert!(rows[..start]
            .iter()
            .all(|r| r.day <= resume.checkpoint.as_of));
        debug_assert!(rows[start..]
            .iter()
            .all(|r| r.day > resume.checkpoint.as_of));
        resumed_at = Some(resume.checkpoint.as_of);
        out.extend(resume.carried);
    }
    let mut checkpoint = None;
    let mut take_checkpoint = |engine: &Baselines, run_start: &[Option<NaiveDate>]| {
        if let Some(at) = checkpoint_at {
            if checkpoint.is_none() && resumed_at.is_none_or(|r| r < at) {
                checkpoint = Some(engine.checkpoint(&table.actors, run_start, at));
            }
        }
    };
    while start < rows.len() {
        let day = rows[start].day;
        if checkpoint_at.is_some_and(|at| day > at) {
            take_checkpoint(&engine, &run_start);
        }
        let end = start + rows[start..].iter().take_while(|r| r.day == day).count();
        let today: Vec<usize> = (start..end).collect();
        let baselines = engine.for_day(day, &today);
        // Actor-days of one day are judged in parallel; the order is kept.
        let mut day_verdicts: Vec<Verdict> = today
            .par_iter()
            .zip(baselines.par_iter())
            .map(|(&i, baseline)| {
                let (suppressed, mut findings): (Vec<Finding>, Vec<Finding>) = detectors
                    .iter()
                    .filter_map(|d| d.evaluate(&rows[i], baseline))
                    .partition(|f| {
                        !settings.allow.is_empty()
                            && is_allowed(&settings.allow, &table.actors[rows[i].actor], day, f)
                    });
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
                    suppressed,
                    bands: baseline.counts.map(|m| m.map(|m| m.band())),
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
            // A drip's run or a change first seen on an earlier day began
            // before the current anomalous run.
            if v.anomalous || v.severity.is_some() {
                let earlier = v
                    .findings
                    .iter()
                    .filter(|f| f.p_value <= settings.reason_p)
                    .filter_map(|f| f.onset)
                    .min();
                if let Some(earlier) = earlier {
                    v.onset = v.onset.min(earlier);
                }
            }
            engine.learn(v.row, v.anomalous, baseline);
        }
        out.extend(day_verdicts);
        start = end;
    }
    take_checkpoint(&engine, &run_start);
    Walk {
        verdicts: out,
        checkpoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detector: &str, field: Option<&str>, expires: Option<NaiveDate>) -> Allow {
        Allow {
            actor: "svc".into(),
            detector: detector.into(),
            field: field.map(String::from),
            client: None,
            expires,
            reason: "release".into(),
        }
    }

    #[test]
    fn allow_entries_match_actor_detector_items_and_expiry() {
        let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let finding = Finding {
            detector: "new_field",
            items: vec!["card_number".into(), "card_expiry".into()],
            ..Finding::default()
        };
        let one = [entry("new_field", Some("CARD_NUMBER"), None)];
        // One of two new fields approved: the other still speaks.
        assert!(!is_allowed(&one, "svc", day, &finding));
        let both = [
            entry("new_field", Some("card_number"), None),
            entry("new_field", Some("card_expiry"), None),
        ];
        assert!(is_allowed(&both, "svc", day, &finding));
        assert!(!is_allowed(&both, "other", day, &finding));
        // A whole-detector entry, until its expiry day inclusive.
        let until = [entry("new_field", None, Some(day))];
        assert!(is_allowed(&until, "svc", day, &finding));
        assert!(!is_allowed(
            &until,
            "svc",
            day.succ_opt().unwrap(),
            &finding
        ));
        // Another detector's entry does not apply.
        assert!(!is_allowed(
            &[entry("off_hours", None, None)],
            "svc",
            day,
            &finding
        ));
    }
}
