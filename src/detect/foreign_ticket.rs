//! Accesses citing a ticket that the snapshot assigns to someone else, as a
//! share of the day's ticket citations, against the actor's usual share
//! shrunk toward the peers' (beta-binomial). The snapshot holds the latest
//! assignee, so a ticket handed over later reads as foreign: the peers'
//! handovers set the usual rate. Off without `--tickets`.

use super::{judge_share, Detector, Finding};
use crate::baseline::{Baseline, Share};
use crate::features::ActorDay;

pub struct ForeignTicket;

impl Detector for ForeignTicket {
    fn name(&self) -> &'static str {
        "foreign_ticket"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        judge_share(
            self.name(),
            Share::ForeignTicket,
            today,
            baseline,
            "ticket citations name someone else's ticket",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::*;

    #[test]
    fn citing_colleagues_tickets_is_flagged() {
        let b = baseline(); // usual share 0.5%
        let mut d = day();
        d.uncovered = Some(0.0);
        d.ticketed = 60.0;
        d.foreign_ticket = 0.0;
        assert_eq!(ForeignTicket.evaluate(&d, &b).unwrap().p_value, 1.0);
        d.foreign_ticket = 12.0;
        assert!(ForeignTicket.evaluate(&d, &b).unwrap().p_value < 1e-3);
    }
}
