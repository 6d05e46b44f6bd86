//! Need-to-know: the share of the customers an actor touched that day that
//! no ticket assigned to them covered (see [`crate::features::need_to_know`]),
//! against their own usual share shrunk toward the peers', with a
//! beta-binomial tail (the day-to-day variation of a queue makes a plain
//! binomial over hundreds of customers overconfident). Off without
//! `--tickets`.

use super::{judge_share, Detector, Finding};
use crate::baseline::{Baseline, Share};
use crate::features::ActorDay;

pub struct NeedToKnow;

impl Detector for NeedToKnow {
    fn name(&self) -> &'static str {
        "need_to_know"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        judge_share(
            self.name(),
            Share::Uncovered,
            today,
            baseline,
            "customers touched without an own ticket",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::*;

    #[test]
    fn a_handful_of_unassigned_customers_among_usual_work_is_flagged() {
        let b = baseline(); // usual share 5%
        let mut d = day();
        d.distinct_customers = 30.0;
        d.uncovered = Some(1.0);
        assert!(NeedToKnow.evaluate(&d, &b).unwrap().p_value > 0.3);
        d.distinct_customers = 38.0;
        d.uncovered = Some(9.0);
        let f = NeedToKnow.evaluate(&d, &b).unwrap();
        assert!(f.p_value < 0.01, "{f:?}");
        assert!(f.detail.contains("9 of 38"), "{}", f.detail);
    }

    #[test]
    fn off_without_tickets() {
        let mut d = day();
        d.distinct_customers = 30.0;
        d.uncovered = None;
        assert!(NeedToKnow.evaluate(&d, &baseline()).is_none());
    }
}
