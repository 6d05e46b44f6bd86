//! Segment skew: the mix of `customer_segment` among the customers judged
//! that day (the ones no ticket of the actor's covered, when tickets are
//! known, so an agent moved to another queue brings the tickets that
//! explain it; else all of them) against the actor's usual mix shrunk
//! toward the peers'. Segments are ranked by how far today's share exceeds
//! the usual one; each leading set ("en-US", then "en-US/en-GB", ...) is
//! judged as one share with a beta-binomial whose concentration comes from
//! the actor's own day-to-day variation, which stays valid for small counts
//! and for a queue whose mix moves from day to day (chi-square and G-tests
//! do neither). The smallest p-value, times the number of sets tried
//! (Bonferroni), is the finding's. The usual share has half a customer of
//! Jeffreys smoothing and the concentration is at most 50: a segment never
//! seen before says little about how often it may turn up.

use super::{percent, Detector, Finding};
use crate::baseline::models::share_concentration;
use crate::baseline::{Baseline, SegmentMix, ShareModel};
use crate::features::{ActorDay, Segment, Segments};

pub struct SegmentSkew;

/// The usual share of each segment: the actor's pooled days, with the
/// peers' shares worth `prior_events` customers.
fn usual_shares(mix: &SegmentMix, names: &[Segment]) -> Vec<f64> {
    let mut personal = vec![0.0; names.len()];
    let mut total = 0.0;
    for day in &mix.days {
        for (name, n) in day.iter() {
            if let Some(i) = names.iter().position(|x| x == name) {
                personal[i] += n;
            }
            total += n;
        }
    }
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let peer = mix.peer.iter().find(|p| &p.0 == name).map_or(0.0, |p| p.1);
            (personal[i] + mix.prior_events * peer) / (total + mix.prior_events)
        })
        .collect()
}

/// The predictive of a set's share from the personal days' (k, n) and the
/// peers' share of it.
fn set_model(days: &[(f64, f64)], peer: f64, prior: f64) -> ShareModel {
    let (k, n) = days.iter().fold((0.0, 0.0), |(k, n), d| (k + d.0, n + d.1));
    let mean = ((k + prior * peer + 0.5) / (n + prior + 1.0)).clamp(1e-4, 1.0 - 1e-4);
    let phi = share_concentration(days).unwrap_or(50.0).clamp(2.0, 50.0);
    ShareModel {
        a: mean * phi,
        b: (1.0 - mean) * phi,
    }
}

impl Detector for SegmentSkew {
    fn name(&self) -> &'static str {
        "segment_skew"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        let mix = baseline.segments.as_ref()?;
        let n: f64 = today.segments.iter().map(|s| s.1).sum();
        if n <= 0.0 {
            return None;
        }
        let names: Vec<Segment> = today.segments.iter().map(|s| s.0.clone()).collect();
        let usual = usual_shares(mix, &names);
        // Segments over-represented today, most over-represented first.
        let mut over: Vec<usize> = (0..names.len())
            .filter(|&i| today.segments[i].1 / n > usual[i])
            .collect();
        over.sort_by(|&a, &b| {
            let ratio = |i: usize| today.segments[i].1 / n / usual[i].max(1e-6);
            ratio(b).total_cmp(&ratio(a))
        });
        let whom = if today.uncovered.is_some() {
            "customers touched without an own ticket"
        } else {
            "customers"
        };
        let mut best: Option<(f64, usize, f64, f64)> = None;
        for end in 1..=over.len() {
            let set = &over[..end];
            let in_set = |day: &Segments| -> (f64, f64) {
                let k = day
                    .iter()
                    .filter(|(name, _)| set.iter().any(|&i| &names[i] == name))
                    .map(|d| d.1)
                    .sum();
                (k, day.iter().map(|d| d.1).sum())
            };
            let days: Vec<(f64, f64)> = mix.days.iter().map(in_set).collect();
            let peer: f64 = mix
                .peer
                .iter()
                .filter(|(name, _)| set.iter().any(|&i| &names[i] == name))
                .map(|p| p.1)
                .sum();
            let model = set_model(&days, peer, mix.prior_events);
            let k: f64 = set.iter().map(|&i| today.segments[i].1).sum();
            let p = model.p_upper(k, n);
            if best.is_none_or(|b| p < b.0) {
                best = Some((p, end, k, model.mean()));
            }
        }
        let Some((p, end, k, usual_share)) = best else {
            return Some(Finding {
                detector: self.name(),
                p_value: 1.0,
                observed: 0.0,
                expected: 0.0,
                detail: format!("usual segment mix of {whom}"),
                ..Finding::default()
            });
        };
        let set: Vec<String> = over[..end].iter().map(|&i| names[i].to_string()).collect();
        Some(Finding {
            detector: self.name(),
            p_value: (p * over.len() as f64).min(1.0),
            observed: k,
            expected: usual_share * n,
            detail: format!(
                "{} of {} {whom} in {} against a usual {}",
                percent(k / n),
                n,
                set.join("/"),
                percent(usual_share)
            ),
            items: set,
            ..Finding::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::*;

    fn mix(days: usize) -> SegmentMix {
        // A German-language queue: mostly de-DE and de-AT, a few en-US.
        let day = |i: usize| -> Segments {
            vec![
                (Segment::from("de-AT"), 8.0 + (i % 3) as f64),
                (Segment::from("de-DE"), 14.0 - (i % 3) as f64),
                (Segment::from("en-US"), 2.0 + (i % 2) as f64),
            ]
            .into()
        };
        SegmentMix {
            days: (0..days).map(day).collect(),
            peer: vec![
                ("de-AT".into(), 0.35),
                ("de-DE".into(), 0.55),
                ("en-US".into(), 0.1),
            ],
            prior_events: 50.0,
        }
    }

    fn with(segments: &[(&str, f64)]) -> ActorDay {
        let mut d = day();
        d.segments = segments
            .iter()
            .map(|(s, n)| (Segment::from(*s), *n))
            .collect();
        d
    }

    #[test]
    fn an_english_speaking_drip_in_a_german_queue_is_flagged_and_named() {
        let mut b = baseline();
        b.segments = Some(mix(20));
        let d = with(&[
            ("de-AT", 9.0),
            ("de-DE", 13.0),
            ("en-AU", 8.0),
            ("en-GB", 9.0),
            ("en-US", 12.0),
        ]);
        let f = SegmentSkew.evaluate(&d, &b).unwrap();
        assert!(f.p_value < 1e-6, "{f:?}");
        assert!(f.detail.contains("en-"), "{}", f.detail);
        assert!(
            !f.items.iter().any(|s| s.starts_with("de")),
            "{:?}",
            f.items
        );
    }

    #[test]
    fn an_ordinary_day_and_a_small_count_are_not_flagged() {
        let mut b = baseline();
        b.segments = Some(mix(20));
        let usual = with(&[("de-AT", 10.0), ("de-DE", 12.0), ("en-US", 3.0)]);
        assert!(SegmentSkew.evaluate(&usual, &b).unwrap().p_value > 0.05);
        // Two customers of a rare segment prove little.
        let small = with(&[("fr-FR", 2.0)]);
        assert!(SegmentSkew.evaluate(&small, &b).unwrap().p_value > 1e-5);
    }
}
