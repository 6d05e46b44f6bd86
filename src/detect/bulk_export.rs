//! Bulk export: the chance of an export at least this large today. That is
//! the actor's export-day rate (own history, peers' rate as prior) times the
//! chance of the size given an export: against the actor's past export sizes
//! (a recurring scheduled export is learned), or, for an actor with no export
//! history, against their peers' exports or their own daily record volume,
//! so a first export is evidence in proportion to its size and its rarity.
//! Days without exports give p = 1, so the p-value is valid unconditionally.

use super::{num, Detector, Finding};
use crate::baseline::Baseline;
use crate::features::ActorDay;

pub struct BulkExport;

impl Detector for BulkExport {
    fn name(&self) -> &'static str {
        "bulk_export"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        let model = baseline.export?;
        if today.export_rows <= 0.0 {
            return Some(Finding {
                detector: self.name(),
                p_value: 1.0,
                observed: 0.0,
                expected: model.expected(),
                detail: "no export".into(),
                ..Finding::default()
            });
        }
        let observed = today.export_rows;
        let history = if baseline.export_days == 0 {
            "first export in the window; judged against usual daily volume".to_string()
        } else {
            format!(
                "usual export {} rows, on {:.0}% of days",
                num(model.expected().round()),
                100.0 * baseline.export_rate
            )
        };
        Some(Finding {
            detector: self.name(),
            p_value: (baseline.export_rate * model.p_upper(observed)).min(1.0),
            observed,
            expected: model.expected(),
            detail: format!("exported {} rows; {history}", num(observed)),
            ..Finding::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::*;

    #[test]
    fn export_is_judged_by_size() {
        let mut b = baseline();
        b.export = Some(count(100.0, 0.4, 0));
        let mut d = day();
        d.export_rows = 20_000.0;
        assert!(BulkExport.evaluate(&d, &b).unwrap().p_value < 1e-4);
        d.export_rows = 90.0;
        assert!(BulkExport.evaluate(&d, &b).unwrap().p_value > 0.3);
        d.export_rows = 0.0;
        assert_eq!(BulkExport.evaluate(&d, &b).unwrap().p_value, 1.0);
        // A rare exporter's export counts for more than a daily exporter's.
        d.export_rows = 400.0;
        b.export_rate = 1.0;
        let daily = BulkExport.evaluate(&d, &b).unwrap().p_value;
        b.export_rate = 0.01;
        assert!(BulkExport.evaluate(&d, &b).unwrap().p_value < daily / 50.0);
    }

    #[test]
    fn a_learned_nightly_export_is_normal() {
        let mut b = baseline();
        b.export = Some(count(40_000.0, 0.1, 25));
        b.export_days = 25;
        b.export_rate = 0.95;
        let mut d = day();
        d.export_rows = 40_500.0;
        assert!(BulkExport.evaluate(&d, &b).unwrap().p_value > 0.3);
    }
}
