//! The slow-drip accumulator: a one-sided CUSUM per actor and count over
//! the actor's active days. Each day's evidence is the count's predictive
//! upper-tail p-value turned into a standard normal score `z`; the sum
//! `S = max(0, S + z - k)` grows by about `shift - k` a day while a modest
//! excess lasts and drains by `k` a day after it stops. The alarm threshold
//! `h` is the one whose in-control average run length is the configured
//! one, computed with the Brook-Evans Markov-chain approximation (Siegmund's
//! closed form is a few percent optimistic), and the p-value of a sum is its stationary tail under
//! no change, `exp(-2k (S + 0.583))` (the Brownian tail with the Gaussian
//! overshoot correction). The run's onset is the first day of the current
//! excursion above zero.

use chrono::NaiveDate;
use statrs::distribution::{ContinuousCDF, Normal};

/// Overshoot correction of a Gaussian random walk over a boundary.
const OVERSHOOT: f64 = 0.583;
/// Daily scores are clipped to this: one extreme day is the daily
/// detectors' business, not evidence of a drip.
const Z_CLIP: f64 = 4.0;

/// One count's accumulator, as of the end of the actor's last active day.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cusum {
    pub sum: f64,
    /// First day of the current excursion above zero.
    pub since: Option<NaiveDate>,
    /// Days in the current excursion.
    pub days: u32,
}

/// The CUSUM's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DripRule {
    /// Reference value `k`.
    pub reference: f64,
    /// Alarm threshold `h`.
    pub threshold: f64,
}

impl DripRule {
    /// The rule whose in-control average run length is `run_length` days.
    pub fn new(reference: f64, run_length: f64) -> DripRule {
        let (mut lo, mut hi) = (0.0, 1.0);
        while in_control_run_length(reference, hi) < run_length && hi < 100.0 {
            hi *= 2.0;
        }
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if in_control_run_length(reference, mid) < run_length {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        DripRule {
            reference,
            threshold: hi,
        }
    }

    /// The largest sum kept: twice the threshold, so that after a drip
    /// stops the alarm drains within about `2h / k` days.
    pub fn cap(&self) -> f64 {
        2.0 * self.threshold
    }

    /// P(S >= sum) on a day of an in-control actor (stationary tail).
    pub fn p_value(&self, sum: f64) -> f64 {
        if sum <= 0.0 {
            return 1.0;
        }
        (-2.0 * self.reference * (sum + OVERSHOOT)).exp().min(1.0)
    }

    /// Today's accumulator from yesterday's and today's predictive p-value.
    pub fn advance(&self, state: Cusum, p_today: f64, day: NaiveDate) -> Cusum {
        let z = z_score(p_today);
        let sum = (state.sum + z - self.reference).clamp(0.0, self.cap());
        if sum <= 0.0 {
            return Cusum::default();
        }
        Cusum {
            sum,
            since: Some(state.since.unwrap_or(day)),
            days: state.days + 1,
        }
    }
}

/// The average run length to an alarm of `S = max(0, S + z - k)` with
/// standard normal `z`, from zero, for threshold `h`: the Brook-Evans
/// Markov chain on `[0, h)` in 100 cells plus the atom at zero.
pub fn in_control_run_length(k: f64, h: f64) -> f64 {
    const CELLS: usize = 100;
    let normal = Normal::standard();
    let w = h / CELLS as f64;
    let states = CELLS + 1;
    let width = states + 1;
    // Value of each state: 0, then cell midpoints.
    let value = |i: usize| if i == 0 { 0.0 } else { (i as f64 - 0.5) * w };
    // (I - P) L = 1, solved by Gauss-Jordan elimination on the augmented
    // matrix, stored flat (row-major). The normal CDF at each cell edge is
    // computed once per row and differenced.
    let mut a = vec![0.0; states * width];
    let mut edge = vec![0.0; states];
    for (i, row) in a.chunks_exact_mut(width).enumerate() {
        let v = value(i) - k;
        for (j, e) in edge.iter_mut().enumerate() {
            *e = normal.cdf(j as f64 * w - v);
        }
        for (j, cell) in row.iter_mut().enumerate().take(states) {
            let p = if j == 0 {
                edge[0]
            } else {
                edge[j] - edge[j - 1]
            };
            *cell = if i == j { 1.0 - p } else { -p };
        }
        row[states] = 1.0;
    }
    let mut pivot_row = vec![0.0; width];
    for c in 0..states {
        let pivot = (c..states)
            .max_by(|&x, &y| a[x * width + c].abs().total_cmp(&a[y * width + c].abs()))
            .unwrap_or(c);
        if pivot != c {
            for j in 0..width {
                a.swap(c * width + j, pivot * width + j);
            }
        }
        let d = a[c * width + c];
        if d.abs() < 1e-300 {
            return f64::INFINITY;
        }
        pivot_row.copy_from_slice(&a[c * width..(c + 1) * width]);
        for (r, row) in a.chunks_exact_mut(width).enumerate() {
            if r != c {
                let f = row[c] / d;
                if f != 0.0 {
                    for (x, p) in row[c..].iter_mut().zip(&pivot_row[c..]) {
                        *x -= f * p;
                    }
                }
            }
        }
    }
    a[states] / a[0]
}

/// The standard normal score of an upper-tail p-value, clipped.
pub fn z_score(p: f64) -> f64 {
    let normal = Normal::standard();
    normal
        .inverse_cdf((1.0 - p).clamp(1e-12, 1.0 - 1e-12))
        .clamp(-Z_CLIP, Z_CLIP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng::Rng;

    fn day(i: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(i)
    }

    #[test]
    fn markov_chain_run_length_matches_known_values() {
        // Textbook values for k = 0.5: h = 4 gives about 336 days, h = 5
        // about 930 (Montgomery, Statistical Quality Control, table 9.3:
        // 336 and 930 with the 1.166 correction of the threshold).
        let a4 = in_control_run_length(0.5, 4.0);
        let a5 = in_control_run_length(0.5, 5.0);
        assert!((300.0..370.0).contains(&a4), "{a4}");
        assert!((850.0..1000.0).contains(&a5), "{a5}");
    }

    #[test]
    fn threshold_matches_the_run_length() {
        let rule = DripRule::new(1.0, 5000.0);
        assert!(
            (3.2..3.7).contains(&rule.threshold),
            "h = {}",
            rule.threshold
        );
        // A longer run length needs a higher threshold.
        assert!(DripRule::new(1.0, 50_000.0).threshold > rule.threshold);
    }

    /// Benign days (uniform p-values): the sum's p-value is at most alpha on
    /// about alpha of days (not more: the test is valid), and the alarm
    /// threshold is crossed less than once in 5,000 days.
    #[test]
    fn in_control_sums_are_calibrated() {
        let rule = DripRule::new(1.0, 5000.0);
        let mut rng = Rng::new(11);
        let (mut state, mut crossings) = (Cusum::default(), 0);
        let n = 400_000;
        let mut small = [0usize; 3];
        let alphas = [1e-2, 1e-3, 1e-4];
        for i in 0..n {
            state = rule.advance(state, rng.f64().max(1e-300), day(i));
            let p = rule.p_value(state.sum);
            for (c, a) in small.iter_mut().zip(alphas) {
                *c += (p <= a) as usize;
            }
            // The run length counts from a fresh start after each alarm.
            if state.sum >= rule.threshold {
                crossings += 1;
                state = Cusum::default();
            }
        }
        for (c, a) in small.iter().zip(alphas) {
            let rate = *c as f64 / n as f64;
            assert!(rate <= 1.3 * a, "p <= {a} on {rate} of days");
            assert!(rate >= 0.2 * a, "p <= {a} on only {rate} of days");
        }
        assert!(
            (crossings as f64) < n as f64 / 5000.0,
            "{crossings} crossings in {n} days"
        );
    }

    #[test]
    fn a_sustained_shift_accumulates_with_its_onset() {
        let rule = DripRule::new(1.0, 5000.0);
        let mut state = Cusum::default();
        // Three ordinary days, then days 2.3 sd above the usual.
        let p_shift = 1.0 - Normal::standard().cdf(2.3);
        let ps = [0.5, 0.6, 0.4, p_shift, p_shift, p_shift, p_shift];
        let mut sums = Vec::new();
        for (i, p) in ps.iter().enumerate() {
            state = rule.advance(state, *p, day(i as i64));
            sums.push(state.sum);
        }
        assert_eq!(state.since, Some(day(3)));
        assert!(sums[5] > rule.threshold, "{sums:?}");
        assert!(rule.p_value(sums[6]) < 1e-5);
        // It drains after the drip stops, and is capped meanwhile.
        for i in 0..20 {
            state = rule.advance(state, p_shift, day(10 + i));
        }
        assert!(state.sum <= rule.cap());
        let mut drained = 0;
        while state.sum > 0.0 {
            state = rule.advance(state, 0.5, day(40 + drained));
            drained += 1;
        }
        assert!(drained <= 8, "{drained} days to drain");
        assert_eq!(state, Cusum::default());
    }
}
