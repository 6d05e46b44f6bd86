//! Slow drip: a sustained modest excess of records, distinct customers or
//! (with tickets) customers touched without an own ticket, never extreme on
//! any one day, accumulated over the actor's active days by a one-sided
//! CUSUM per stream (see [`crate::baseline::drip`]). The p-value is the
//! stationary tail of the largest accumulated sum, times the three streams
//! (Bonferroni); once the sum is over the alarm threshold, the onset is the
//! first day of its run.

use super::{num, Detector, Finding};
use crate::baseline::{drip_today, Baseline, DripStream, DRIP_STREAMS};
use crate::features::ActorDay;

pub struct SlowDrip;

impl Detector for SlowDrip {
    fn name(&self) -> &'static str {
        "slow_drip"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        let sums = drip_today(today, baseline)?;
        let rule = baseline.drip.rule;
        let (i, state) = sums
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.sum.total_cmp(&b.1.sum))?;
        let stream = DripStream::ALL[i];
        let (_, observed, expected) = stream.today(today, baseline).unwrap_or((1.0, 0.0, 0.0));
        let p_value = (DRIP_STREAMS as f64 * rule.p_value(state.sum)).min(1.0);
        let what = stream.name();
        let detail = match state.since {
            Some(since) => format!(
                "{what} above usual for {} active days since {since}: accumulated excess {:.1} sd (alarm at {:.1}); today {}, usual {}",
                state.days,
                state.sum,
                rule.threshold,
                num(observed),
                num(expected.round())
            ),
            None => "no sustained excess".to_string(),
        };
        Some(Finding {
            detector: self.name(),
            p_value,
            observed,
            expected,
            detail,
            // The run's first day speaks for when it began only once the
            // alarm is on: before that it may be a day of ordinary noise
            // ahead of a discrete change that other reasons date exactly.
            onset: state
                .since
                .filter(|d| *d < today.day && state.sum >= rule.threshold),
            ..Finding::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Cusum;
    use crate::detect::testing::*;

    #[test]
    fn a_doubling_accumulates_to_a_small_p_with_its_onset() {
        let mut b = baseline(); // usual 60 customers, log-scale sd 0.25
        let mut d = day();
        d.records = 100.0;
        d.distinct_customers = 120.0;
        let mut state = [Cusum::default(); DRIP_STREAMS];
        let mut ps = Vec::new();
        for i in 0..4 {
            d.day = day().day + chrono::Duration::days(i);
            b.drip.before = Some(state);
            let f = SlowDrip.evaluate(&d, &b).unwrap();
            ps.push(f.p_value);
            // The run's first day is named once the alarm is on.
            if i >= 2 {
                assert_eq!(f.onset, Some(day().day), "{f:?}");
            } else {
                assert_eq!(f.onset, None, "{f:?}");
            }
            state = drip_today(&d, &b).unwrap();
        }
        assert!(ps.windows(2).all(|w| w[1] < w[0]), "{ps:?}");
        assert!(ps[3] < 1e-4, "{ps:?}");
    }

    #[test]
    fn ordinary_days_leave_nothing_to_report() {
        let b = baseline();
        let mut d = day();
        d.records = 100.0;
        d.distinct_customers = 55.0;
        let f = SlowDrip.evaluate(&d, &b).unwrap();
        assert_eq!(f.p_value, 1.0);
        assert_eq!(f.onset, None);
    }
}
