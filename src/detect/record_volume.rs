//! Record volume: customer records returned or affected that day, against
//! the actor's predictive (personal history shrunk toward peers).

use super::{count_finding, Detector, Finding};
use crate::baseline::{Baseline, Count};
use crate::features::ActorDay;

pub struct RecordVolume;

impl Detector for RecordVolume {
    fn name(&self) -> &'static str {
        "record_volume"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        let model = baseline.counts[Count::Records as usize]?;
        Some(count_finding(
            self.name(),
            &model,
            Count::Records.of(today),
            "touched",
            "records outside exports",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::*;

    #[test]
    fn four_times_the_usual_volume_is_strong_evidence() {
        let mut d = day();
        d.records = 400.0;
        let f = RecordVolume.evaluate(&d, &baseline()).unwrap();
        assert!(f.p_value < 1e-4, "{f:?}");
        assert!((f.expected - 100.0).abs() < 1e-6);
        d.records = 110.0;
        assert!(RecordVolume.evaluate(&d, &baseline()).unwrap().p_value > 0.2);
    }
}
