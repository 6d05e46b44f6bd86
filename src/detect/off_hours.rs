//! Off-hours activity: events in local hours that hold under
//! `off_hours_share` of the actor's usual activity (their hour profile,
//! smoothed toward the peers'), as a beta-binomial share.

use super::{Detector, Finding};
use crate::baseline::Baseline;
use crate::features::ActorDay;

pub struct OffHours;

impl Detector for OffHours {
    fn name(&self) -> &'static str {
        "off_hours"
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        let (off, model) = baseline.off_hours.as_ref()?;
        let n: f64 = today.hours.iter().sum();
        if n <= 0.0 {
            return None;
        }
        let k: f64 = (0..24).filter(|&h| off[h]).map(|h| today.hours[h]).sum();
        let hours: Vec<String> = (0..24)
            .filter(|&h| off[h] && today.hours[h] > 0.0)
            .map(|h| format!("{h:02}h"))
            .collect();
        Some(Finding {
            detector: self.name(),
            p_value: model.p_upper(k, n),
            observed: k,
            expected: model.mean() * n,
            detail: format!(
                "{k:.0} of {n:.0} events at hours the actor rarely works ({}); usual {:.1}%",
                if hours.is_empty() {
                    "none".to_string()
                } else {
                    hours.join(" ")
                },
                100.0 * model.mean()
            ),
            ..Finding::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::ShareModel;
    use crate::detect::testing::*;

    #[test]
    fn a_night_session_is_flagged() {
        let mut b = baseline();
        let mut off = [false; 24];
        for h in [0, 1, 2, 3, 4, 5, 22, 23] {
            off[h] = true;
        }
        b.off_hours = Some((off, ShareModel { a: 0.1, b: 19.9 }));
        let mut d = day();
        d.hours[10] = 50.0;
        d.hours[3] = 150.0;
        assert!(OffHours.evaluate(&d, &b).unwrap().p_value < 1e-4);
        d.hours[3] = 0.0;
        assert_eq!(OffHours.evaluate(&d, &b).unwrap().p_value, 1.0);
    }
}
