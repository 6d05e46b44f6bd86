//! Enumeration: a script paging through the customer table walks ids in
//! order. Two shares of the steps between consecutive customers (in order
//! of first access, see [`crate::features::customer_order`]) are judged
//! against the actor's own and the peers' usual shares (beta-binomial):
//! steps to an adjacent id (±1), and steps to a higher id (about half for
//! ids in no order). The smaller p-value, doubled (Bonferroni), is the
//! finding's. A sync job that always walks in order learns that it does.

use super::{num, percent, Detector, Finding};
use crate::baseline::{Baseline, Share};
use crate::features::ActorDay;

pub struct Enumeration;

impl Detector for Enumeration {
    fn name(&self) -> &'static str {
        "enumeration"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        let adjacent = baseline.shares[Share::Adjacent.index()]?;
        let ascending = baseline.shares[Share::Ascending.index()]?;
        let n = today.id_steps;
        if n <= 0.0 {
            return None;
        }
        let p_adjacent = adjacent.p_upper(today.adjacent_steps, n);
        let p_ascending = ascending.p_upper(today.ascending_steps, n);
        let (observed, expected) = if p_adjacent <= p_ascending {
            (today.adjacent_steps, adjacent.mean() * n)
        } else {
            (today.ascending_steps, ascending.mean() * n)
        };
        Some(Finding {
            detector: self.name(),
            p_value: (2.0 * p_adjacent.min(p_ascending)).min(1.0),
            observed,
            expected,
            detail: format!(
                "walked customer ids in order: {} of {} steps to the next id (usual {}), {} to a higher id (usual {})",
                num(today.adjacent_steps),
                num(n),
                percent(adjacent.mean()),
                percent(today.ascending_steps / n),
                percent(ascending.mean()),
            ),
            ..Finding::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::*;

    #[test]
    fn paging_through_ids_is_flagged_and_shuffled_ids_are_not() {
        let b = baseline(); // adjacent 0.01%, ascending 50%
        let mut d = day();
        d.id_steps = 40.0;
        d.adjacent_steps = 0.0;
        d.ascending_steps = 21.0;
        assert!(Enumeration.evaluate(&d, &b).unwrap().p_value > 0.5);
        // 300 customers in id order.
        d.id_steps = 299.0;
        d.adjacent_steps = 299.0;
        d.ascending_steps = 299.0;
        assert!(Enumeration.evaluate(&d, &b).unwrap().p_value < 1e-12);
        // Ascending with gaps (every tenth id): still a walk.
        d.adjacent_steps = 0.0;
        assert!(Enumeration.evaluate(&d, &b).unwrap().p_value < 1e-12);
    }
}
