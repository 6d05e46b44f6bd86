//! Tail probabilities used by the baselines and detectors: Student-t upper
//! tail (predictive of a log-count), beta-binomial upper tail (predictive of
//! a share), robust location and scale.

use statrs::function::beta::beta_reg;
use statrs::function::gamma::ln_gamma;

/// P(T >= t) for a Student-t with `dof` degrees of freedom, accurate far into the tail.
pub fn t_upper(t: f64, dof: f64) -> f64 {
    if !t.is_finite() {
        return if t > 0.0 { 0.0 } else { 1.0 };
    }
    let x = dof / (dof + t * t);
    let half = 0.5 * beta_reg(dof / 2.0, 0.5, x);
    if t > 0.0 {
        half
    } else {
        1.0 - half
    }
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

fn bb_ln_pmf(j: f64, n: f64, a: f64, b: f64) -> f64 {
    ln_gamma(n + 1.0) - ln_gamma(j + 1.0) - ln_gamma(n - j + 1.0) + ln_beta(j + a, n - j + b)
        - ln_beta(a, b)
}

/// ln of pmf(j + 1) / pmf(j) for BetaBinomial(n, a, b).
fn bb_ln_ratio(j: f64, n: f64, a: f64, b: f64) -> f64 {
    ((n - j) * (j + a)).ln() - ((j + 1.0) * (n - j - 1.0 + b)).ln()
}

/// P(K >= k) for K ~ BetaBinomial(n, a, b). The first term comes from the
/// gamma functions, each next one from the ratio of consecutive terms (in
/// logs, so no term underflows on the way), stopping once terms no longer
/// matter.
pub fn beta_binomial_upper(k: u64, n: u64, a: f64, b: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let (nf, kf) = (n as f64, k as f64);
    let mean = nf * a / (a + b);
    if kf <= mean {
        // Complement of the (short) lower sum.
        let mut ln_term = bb_ln_pmf(0.0, nf, a, b);
        let mut lower = 0.0;
        for j in 0..k {
            lower += ln_term.exp();
            ln_term += bb_ln_ratio(j as f64, nf, a, b);
        }
        return (1.0 - lower).clamp(0.0, 1.0);
    }
    let mut ln_term = bb_ln_pmf(kf, nf, a, b);
    let mut sum = 0.0;
    for j in k..=n {
        let term = ln_term.exp();
        sum += term;
        if term < sum * 1e-16 || j == n {
            break;
        }
        ln_term += bb_ln_ratio(j as f64, nf, a, b);
    }
    sum.clamp(0.0, 1.0)
}

/// The median of a slice (NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

/// Normal-consistent median absolute deviation.
pub fn mad(values: &[f64]) -> f64 {
    let m = median(values);
    let dev: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    1.4826 * median(&dev)
}

/// Mean and sample variance after winsorising at median ± 3 robust sd, so
/// one extreme day cannot dominate a baseline.
pub fn robust_mean_var(values: &[f64], floor: f64) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let m = median(values);
    let s = mad(values).max(floor);
    let clipped: Vec<f64> = values
        .iter()
        .map(|v| v.clamp(m - 3.0 * s, m + 3.0 * s))
        .collect();
    let mean = clipped.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        clipped.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        f64::NAN
    };
    (mean, var)
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{ContinuousCDF, StudentsT};

    #[test]
    fn t_upper_matches_statrs_and_stays_accurate_in_the_tail() {
        let t = StudentsT::new(0.0, 1.0, 7.0).unwrap();
        for x in [-2.0, -0.3, 0.0, 0.5, 1.7, 3.0] {
            assert!((t_upper(x, 7.0) - t.sf(x)).abs() < 1e-10, "x={x}");
        }
        let far = t_upper(60.0, 30.0);
        assert!(far > 0.0 && far < 1e-30);
    }

    #[test]
    fn beta_binomial_tail_sums_to_one_and_matches_direct_sum() {
        let (n, a, b) = (40u64, 2.0, 18.0);
        let total: f64 = (0..=n)
            .map(|j| bb_ln_pmf(j as f64, n as f64, a, b).exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-9);
        for k in [0u64, 1, 2, 5, 10, 30, 40] {
            let direct: f64 = (k..=n)
                .map(|j| bb_ln_pmf(j as f64, n as f64, a, b).exp())
                .sum();
            assert!(
                (beta_binomial_upper(k, n, a, b) - direct).abs() < 1e-9,
                "k={k}"
            );
        }
        assert_eq!(beta_binomial_upper(41, 40, a, b), 0.0);
    }

    /// The ratio recurrence keeps its accuracy deep in the tails and for
    /// the large counts and extreme shapes the detectors use.
    #[test]
    fn beta_binomial_recurrence_matches_the_direct_sum_in_the_tails() {
        for (n, a, b) in [
            (500u64, 0.02, 199.98),
            (299, 100.0, 100.0),
            (1000, 2.5, 47.5),
            (60, 0.5, 0.5),
        ] {
            for k in [1u64, 2, 5, n / 10, n / 2, n - 1, n] {
                let direct: f64 = (k..=n)
                    .map(|j| bb_ln_pmf(j as f64, n as f64, a, b).exp())
                    .sum::<f64>()
                    .min(1.0);
                let fast = beta_binomial_upper(k, n, a, b);
                if direct > 1e-290 {
                    assert!(
                        ((fast - direct) / direct).abs() < 1e-8 || (fast - direct).abs() < 1e-12,
                        "n={n} a={a} b={b} k={k}: {fast} vs {direct}"
                    );
                }
            }
        }
    }

    #[test]
    fn beta_binomial_is_wider_than_binomial() {
        // Same mean share 0.1; a concentrated beta is close to the binomial,
        // a diffuse one gives a much larger tail for an extreme count.
        let tight = beta_binomial_upper(30, 100, 100.0, 900.0);
        let loose = beta_binomial_upper(30, 100, 1.0, 9.0);
        assert!(loose > 100.0 * tight);
    }

    #[test]
    fn robust_mean_ignores_one_outlier() {
        let mut v = vec![1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.02];
        let (m0, _) = robust_mean_var(&v, 0.01);
        v.push(50.0);
        let (m1, _) = robust_mean_var(&v, 0.01);
        assert!((m1 - m0).abs() < 0.1);
        assert!((median(&[3.0, 1.0, 2.0]) - 2.0).abs() < 1e-12);
    }
}
