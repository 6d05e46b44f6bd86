//! Distinct customers touched that day, against the actor's predictive: the
//! signature of an insider browsing customers beyond their queue.

use super::{count_finding, Detector, Finding};
use crate::baseline::{Baseline, Count};
use crate::features::ActorDay;

pub struct DistinctCustomers;

impl Detector for DistinctCustomers {
    fn name(&self) -> &'static str {
        "distinct_customers"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        let model = baseline.counts[Count::Customers as usize]?;
        Some(count_finding(
            self.name(),
            &model,
            Count::Customers.of(today),
            "viewed",
            "distinct customers",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::*;

    #[test]
    fn triple_customers_flags_and_usual_does_not() {
        let mut d = day();
        d.distinct_customers = 180.0;
        assert!(DistinctCustomers.evaluate(&d, &baseline()).unwrap().p_value < 1e-3);
        d.distinct_customers = 55.0;
        assert!(DistinctCustomers.evaluate(&d, &baseline()).unwrap().p_value > 0.5);
    }
}
