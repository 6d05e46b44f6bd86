//! Sensitive reads: the share of the day's data events that read a sensitive
//! field or resource, against the actor's usual share (beta-binomial, shrunk
//! toward the peers' share).

use super::{Detector, Finding};
use crate::baseline::Baseline;
use crate::features::ActorDay;

pub struct SensitiveShare;

impl Detector for SensitiveShare {
    fn name(&self) -> &'static str {
        "sensitive_share"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        let model = baseline.sensitive?;
        if today.data_events <= 0.0 {
            return None;
        }
        let (k, n) = (today.sensitive_events, today.data_events);
        Some(Finding {
            detector: self.name(),
            p_value: model.p_upper(k, n),
            observed: k,
            expected: model.mean() * n,
            detail: format!(
                "{:.0}% of {} events read sensitive fields; usual {:.1}%",
                100.0 * k / n,
                n,
                100.0 * model.mean()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::*;

    #[test]
    fn reading_sensitive_fields_on_every_event_is_flagged() {
        let mut d = day();
        d.data_events = 200.0;
        d.sensitive_events = 200.0;
        assert!(SensitiveShare.evaluate(&d, &baseline()).unwrap().p_value < 1e-10);
        d.sensitive_events = 22.0;
        assert!(SensitiveShare.evaluate(&d, &baseline()).unwrap().p_value > 0.3);
    }
}
