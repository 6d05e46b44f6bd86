//! Bulk export: rows exported on a day with exports, against the actor's past
//! export sizes (a recurring scheduled export is learned), or, for an actor
//! with no export history, against their peers' exports or their own daily
//! record volume, so that a first export is evidence in proportion to its size.

use super::{num, Detector, Finding};
use crate::baseline::Baseline;
use crate::features::ActorDay;

pub struct BulkExport;

impl Detector for BulkExport {
    fn name(&self) -> &'static str {
        "bulk_export"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        if today.export_rows <= 0.0 {
            return None;
        }
        let model = baseline.export?;
        let observed = today.export_rows;
        let history = if baseline.export_days == 0 {
            "first export in the window; judged against usual daily volume".to_string()
        } else {
            format!("usual export {} rows", num(model.expected().round()))
        };
        Some(Finding {
            detector: self.name(),
            p_value: model.p_upper(observed),
            observed,
            expected: model.expected(),
            detail: format!("exported {} rows; {history}", num(observed)),
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
        assert!(BulkExport.evaluate(&d, &b).is_none());
    }

    #[test]
    fn a_learned_nightly_export_is_normal() {
        let mut b = baseline();
        b.export = Some(count(40_000.0, 0.1, 25));
        b.export_days = 25;
        let mut d = day();
        d.export_rows = 40_500.0;
        assert!(BulkExport.evaluate(&d, &b).unwrap().p_value > 0.3);
    }
}
