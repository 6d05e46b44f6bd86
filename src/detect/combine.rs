//! From findings to a verdict: the Cauchy combination of an actor-day's
//! detector p-values (valid under arbitrary dependence between detectors,
//! unlike Fisher or Stouffer), Benjamini-Hochberg q-values over each day's
//! actor-days, the 0-100 score and the severity.

use serde::Serialize;

/// Smallest p-value represented (avoids infinities).
pub const P_FLOOR: f64 = 1e-300;

/// Cauchy combination (Liu & Xie 2020) with equal weights over the findings
/// that have something to say (p below 1), each term truncated at zero.
///
/// Two departures from the textbook form, both for power and both checked
/// against simulation (`truncated_combination_stays_calibrated`): a p-value
/// above one half would add a negative term that grows without bound as p
/// nears 1, so one quiet detector (no export today, nothing new) could hide
/// strong evidence elsewhere; its term is taken as zero instead, which
/// leaves the heavy right tail the test rests on unchanged. And a finding
/// at exactly p = 1 (nothing observed that could be evidence) takes no
/// weight.
pub fn cauchy_combination(p_values: &[f64]) -> f64 {
    let active: Vec<f64> = p_values.iter().copied().filter(|&p| p < 1.0).collect();
    if active.is_empty() {
        return 1.0;
    }
    let w = 1.0 / active.len() as f64;
    let t: f64 = active
        .iter()
        .map(|&p| {
            let p = p.clamp(P_FLOOR, 0.5);
            // tan((0.5 - p)π) loses precision for tiny p: use its expansion.
            if p < 1e-8 {
                1.0 / (p * std::f64::consts::PI)
            } else {
                ((0.5 - p) * std::f64::consts::PI).tan()
            }
        })
        .sum::<f64>()
        * w;
    let p = if t > 1e8 {
        1.0 / (t * std::f64::consts::PI)
    } else {
        0.5 - t.atan() / std::f64::consts::PI
    };
    p.clamp(P_FLOOR, 1.0)
}

/// Benjamini-Hochberg q-values, in input order.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]).then(a.cmp(&b)));
    let mut q = vec![1.0; m];
    let mut running: f64 = 1.0;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p_values[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

/// 0-100, increasing in the evidence: `100 (1 - exp(-(-log10 p) / 4))`.
/// p = 0.01 gives 39, 1e-6 gives 78, 1e-12 gives 95.
pub fn score(p_value: f64) -> f64 {
    let l = -p_value.max(P_FLOOR).log10();
    let s = 100.0 * (1.0 - (-l / 4.0).exp());
    (s * 10.0).round() / 10.0
}

/// How urgently a person must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    /// Severity of a flagged actor-day from its q-value.
    pub fn of(q: f64, settings: &crate::settings::Settings) -> Severity {
        if q <= settings.critical_q {
            Severity::Critical
        } else if q <= settings.high_q {
            Severity::High
        } else if q <= settings.medium_q {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cauchy_of_one_p_is_that_p() {
        for p in [1e-20, 1e-6, 0.01, 0.3, 0.5] {
            let c = cauchy_combination(&[p]);
            assert!((c - p).abs() / p < 1e-6, "{p} -> {c}");
        }
        // Above one half the term is truncated at zero.
        assert_eq!(cauchy_combination(&[0.9]), 0.5);
        assert_eq!(cauchy_combination(&[1.0]), 1.0);
    }

    #[test]
    fn quiet_detectors_do_not_hide_strong_evidence() {
        let c = cauchy_combination(&[1e-5, 1.0, 1.0, 1.0, 0.95, 0.9, 0.7]);
        assert!(c < 5e-5, "{c}");
    }

    /// Independent uniform p-values from 14 detectors, some of them
    /// degenerate (always 1): the combined p is at most alpha on about alpha
    /// of the days, at the levels alerts are made.
    #[test]
    fn truncated_combination_stays_calibrated() {
        let mut rng = crate::generate::rng::Rng::new(5);
        let n = 200_000;
        for degenerate in [0, 6] {
            let mut hits = [0usize; 3];
            let alphas = [1e-2, 1e-3, 1e-4];
            for _ in 0..n {
                let ps: Vec<f64> = (0..14)
                    .map(|i| if i < degenerate { 1.0 } else { rng.f64() })
                    .collect();
                let c = cauchy_combination(&ps);
                for (h, a) in hits.iter_mut().zip(alphas) {
                    *h += (c <= a) as usize;
                }
            }
            for (h, a) in hits.iter().zip(alphas) {
                let rate = *h as f64 / n as f64 / a;
                assert!(
                    (0.6..1.5).contains(&rate),
                    "{degenerate} degenerate: {rate} x alpha at {a}"
                );
            }
        }
    }

    #[test]
    fn cauchy_of_identical_ps_is_that_p() {
        // Perfectly dependent detectors must not add up to more evidence.
        let c = cauchy_combination(&[1e-4; 5]);
        assert!((c - 1e-4).abs() / 1e-4 < 1e-3, "{c}");
    }

    #[test]
    fn cauchy_is_calibrated_under_independence() {
        // Deterministic low-discrepancy uniforms for 3 independent detectors.
        let n = 20_000;
        let mut hits = 0;
        for i in 0..n {
            let u = |k: f64| ((i as f64 + 0.5) * k).fract();
            let p = cauchy_combination(&[u(0.754_877_666), u(0.569_840_290), u(0.372_765_363)]);
            if p <= 0.01 {
                hits += 1;
            }
        }
        let rate = hits as f64 / n as f64;
        assert!((0.005..0.015).contains(&rate), "rate {rate}");
    }

    #[test]
    fn bh_matches_a_hand_computation() {
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5]);
        let expected = [0.04, 0.04 * 4.0 / 3.0, 0.04 * 4.0 / 3.0, 0.5];
        for (a, b) in q.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn score_is_increasing_and_bounded() {
        assert_eq!(score(1.0), 0.0);
        assert!(score(1e-6) > score(1e-3));
        assert!(score(0.0) <= 100.0);
        assert!((score(1.2e-11) - 93.5).abs() < 0.5);
    }
}
