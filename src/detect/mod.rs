//! Detectors: each compares one aspect of an actor-day with its
//! [`Baseline`] and returns a [`Finding`]: a p-value from a proper tail
//! probability, the observed and expected values, and one line in plain
//! words. A new detector is one new file plus one line in [`registry`].
//! [`combine`] merges an actor-day's findings into one p-value, FDR q-values,
//! score and severity.

pub mod bulk_export;
pub mod combine;
pub mod distinct_customers;
pub mod enumeration;
pub mod foreign_ticket;
pub mod need_to_know;
pub mod new_items;
pub mod off_hours;
pub mod record_volume;
pub mod segment_skew;
pub mod sensitive_share;
pub mod slow_drip;

use crate::baseline::Baseline;
use crate::features::{ActorDay, ItemKind};

/// One detector's verdict on one actor-day.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Finding {
    pub detector: &'static str,
    pub p_value: f64,
    pub observed: f64,
    pub expected: f64,
    pub detail: String,
    /// When what this finding sees began, if before today (a drip's run, a
    /// new field first used on an earlier anomalous day).
    pub onset: Option<chrono::NaiveDate>,
    /// The fields, clients, IPs or resources the finding names (what an
    /// `[[allow]]` entry can match).
    pub items: Vec<String>,
}

/// Compares one aspect of an actor-day with the actor's baseline.
pub trait Detector: Send + Sync {
    /// The name used in alerts' `reasons`.
    fn name(&self) -> &'static str;
    /// `None` when the detector has nothing to judge (no exports today, no
    /// baseline yet): it then takes no part in the combination.
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding>;
}

/// Every detector, in a fixed order.
pub fn registry() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(record_volume::RecordVolume),
        Box::new(distinct_customers::DistinctCustomers),
        Box::new(bulk_export::BulkExport),
        Box::new(sensitive_share::SensitiveShare),
        Box::new(off_hours::OffHours),
        Box::new(new_items::NewItems(ItemKind::Field)),
        Box::new(new_items::NewItems(ItemKind::Client)),
        Box::new(new_items::NewItems(ItemKind::SourceIp)),
        Box::new(new_items::NewItems(ItemKind::Resource)),
        Box::new(need_to_know::NeedToKnow),
        Box::new(foreign_ticket::ForeignTicket),
        Box::new(segment_skew::SegmentSkew),
        Box::new(enumeration::Enumeration),
        Box::new(slow_drip::SlowDrip),
    ]
}

/// A count judged against its predictive, explained as
/// "{verb} {observed} {noun}; usual {low}-{high}" (the central 80%).
pub(crate) fn count_finding(
    detector: &'static str,
    model: &crate::baseline::CountModel,
    observed: f64,
    verb: &str,
    noun: &str,
) -> Finding {
    let (lo, hi) = model.band();
    Finding {
        detector,
        p_value: model.p_upper(observed),
        observed,
        expected: model.expected(),
        detail: format!(
            "{verb} {} {noun}; usual {}-{}",
            num(observed),
            num(lo.round()),
            num(hi.round())
        ),
        ..Finding::default()
    }
}

/// A share judged against its beta-binomial predictive, explained as
/// "{k} of {n} {what} ({pct}%); usual {pct}%".
pub(crate) fn share_finding(
    detector: &'static str,
    model: &crate::baseline::ShareModel,
    (k, n): (f64, f64),
    what: &str,
) -> Finding {
    Finding {
        detector,
        p_value: model.p_upper(k, n),
        observed: k,
        expected: model.mean() * n,
        detail: format!(
            "{} of {} {what} ({}); usual {}",
            num(k),
            num(n),
            percent(k / n),
            percent(model.mean())
        ),
        ..Finding::default()
    }
}

/// The finding of a share detector: `share`'s (k, n) today against its
/// model, `None` when either is missing or nothing was counted.
pub(crate) fn judge_share(
    detector: &'static str,
    share: crate::baseline::Share,
    today: &ActorDay,
    baseline: &Baseline,
    what: &str,
) -> Option<Finding> {
    let model = baseline.shares[share.index()]?;
    let (k, n) = share.of(today)?;
    if n <= 0.0 {
        return None;
    }
    Some(share_finding(detector, &model, (k, n), what))
}

/// Formats a share as a percentage with sensible precision.
pub(crate) fn percent(x: f64) -> String {
    let p = 100.0 * x;
    if p == 0.0 || p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// Formats a count for a sentence.
pub(crate) fn num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 || x.abs() >= 100.0 {
        format!("{:.0}", x)
    } else {
        format!("{:.1}", x)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::baseline::{CountModel, ShareModel};

    pub fn day() -> ActorDay {
        ActorDay {
            day: chrono::NaiveDate::from_ymd_opt(2024, 3, 6).unwrap(),
            kind: "employee".into(),
            ..ActorDay::default()
        }
    }

    pub fn count(typical: f64, scale: f64, n: usize) -> CountModel {
        CountModel {
            loc: typical.ln_1p(),
            scale,
            dof: 6.0 + n as f64,
            n_personal: n,
        }
    }

    pub fn baseline() -> Baseline {
        Baseline {
            group: "team:t".into(),
            n_personal: 20,
            established: true,
            counts: [Some(count(100.0, 0.25, 20)), Some(count(60.0, 0.25, 20))],
            export: None,
            export_days: 0,
            export_rate: 1.0,
            shares: [
                Some(ShareModel { a: 2.0, b: 18.0 }),
                Some(ShareModel { a: 2.5, b: 47.5 }),
                Some(ShareModel { a: 0.1, b: 19.9 }),
                Some(ShareModel { a: 0.02, b: 199.98 }),
                Some(ShareModel { a: 100.0, b: 100.0 }),
            ],
            segments: None,
            drip: crate::baseline::DripBaseline {
                rule: crate::baseline::DripRule::new(1.0, 5000.0),
                before: Some([crate::baseline::Cusum::default(); crate::baseline::DRIP_STREAMS]),
            },
            off_hours: None,
            novelty: [None, None, None, None],
        }
    }
}
