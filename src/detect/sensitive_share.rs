//! Sensitive reads: the share of the day's data events that read a sensitive
//! field or resource, against the actor's usual share (beta-binomial, shrunk
//! toward the peers' share).

use super::{judge_share, Detector, Finding};
use crate::baseline::{Baseline, Share};
use crate::features::ActorDay;

pub struct SensitiveShare;

impl Detector for SensitiveShare {
    fn name(&self) -> &'static str {
        "sensitive_share"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        judge_share(
            self.name(),
            Share::Sensitive,
            today,
            baseline,
            "events read sensitive fields",
        )
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
