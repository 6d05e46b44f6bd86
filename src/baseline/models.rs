//! Predictive distributions for tomorrow's value, built from a personal
//! history shrunk toward the peer group (empirical Bayes):
//!
//! - [`CountModel`]: a Student-t on `ln(1 + count)`: the actor's mean has a
//!   normal prior from the peers (location `mu_g`, between-actor spread
//!   `tau`), the day-to-day variance a scaled prior from the peers (worth
//!   `prior_days` days), so few days of history give wide, honest tails and
//!   no history gives the peer distribution;
//! - [`ShareModel`]: a beta-binomial for "k of today's n events have
//!   property X", whose mean is shrunk toward the peers' share and whose
//!   concentration is estimated from the day-to-day variation.

use crate::stats::{beta_binomial_upper, robust_mean_var, t_upper};

/// Predictive of `ln(1 + x)` for one count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountModel {
    pub loc: f64,
    pub scale: f64,
    pub dof: f64,
    /// Personal days behind the estimate.
    pub n_personal: usize,
}

impl CountModel {
    /// P(X >= x) under the predictive (1 for nothing at all: a count
    /// cannot be above its floor).
    pub fn p_upper(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        t_upper((x.ln_1p() - self.loc) / self.scale, self.dof)
    }
    /// The typical value (the predictive median, back on the count scale).
    pub fn expected(&self) -> f64 {
        self.loc.exp_m1().max(0.0)
    }
    /// The usual range: the central 80% of the predictive.
    pub fn band(&self) -> (f64, f64) {
        let z = 1.2816 * self.scale;
        ((self.loc - z).exp_m1().max(0.0), (self.loc + z).exp_m1())
    }
    /// The same model shifted by `delta` on the log scale, with extra
    /// variance; never below zero (`ln(1 + x)` of a count is not negative,
    /// so a weekend dip does not make an idle account's zero unusual).
    pub fn shifted(&self, delta: f64, extra_var: f64) -> CountModel {
        CountModel {
            loc: (self.loc + delta).max(0.0),
            scale: (self.scale * self.scale + extra_var).sqrt(),
            ..*self
        }
    }
}

/// What the peer group says about one count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerCount {
    /// Median of members' mean log-counts.
    pub mu: f64,
    /// Between-member spread of those means.
    pub tau: f64,
    /// Typical within-member day-to-day spread.
    pub sigma: f64,
    /// Weekend minus weekday log-level.
    pub weekend_shift: f64,
}

/// Predictive for tomorrow from the personal (weekday-equivalent) log values
/// and the peer prior. `None` when there is neither enough history nor peers.
pub fn count_predictive(
    personal: &[f64],
    peer: Option<PeerCount>,
    prior_days: f64,
    floor: f64,
) -> Option<CountModel> {
    let n = personal.len();
    let (mean, var) = robust_mean_var(personal, floor);
    let peer = match peer {
        Some(p) => p,
        None if n >= 3 => PeerCount {
            mu: mean,
            tau: 1e3,
            sigma: var.max(floor * floor).sqrt(),
            weekend_shift: 0.0,
        },
        None => return None,
    };
    let tau2 = peer.tau.max(floor).powi(2);
    let prior_var = peer.sigma.max(floor).powi(2);
    let sigma2 = if n >= 2 {
        (prior_days * prior_var + (n - 1) as f64 * var) / (prior_days + (n - 1) as f64)
    } else {
        prior_var
    }
    .max(floor * floor);
    let (post_mean, post_var) = if n == 0 {
        (peer.mu, tau2)
    } else {
        let precision = 1.0 / tau2 + n as f64 / sigma2;
        (
            (peer.mu / tau2 + n as f64 * mean / sigma2) / precision,
            1.0 / precision,
        )
    };
    Some(CountModel {
        loc: post_mean,
        scale: (sigma2 + post_var).sqrt(),
        dof: prior_days + n.saturating_sub(1) as f64,
        n_personal: n,
    })
}

/// Predictive of a share: k of n events ~ BetaBinomial(n, a, b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShareModel {
    pub a: f64,
    pub b: f64,
}

impl ShareModel {
    pub fn mean(&self) -> f64 {
        self.a / (self.a + self.b)
    }
    pub fn p_upper(&self, k: f64, n: f64) -> f64 {
        beta_binomial_upper(k.round() as u64, n.round() as u64, self.a, self.b)
    }
}

/// Day-level concentration of a share, from the excess of the day-to-day
/// variance of daily shares over binomial noise (method of moments), or
/// `None` with fewer than five days. Clamped to [2, 200].
pub fn share_concentration(days: &[(f64, f64)]) -> Option<f64> {
    let used: Vec<&(f64, f64)> = days.iter().filter(|d| d.1 > 0.0).collect();
    if used.len() < 5 {
        return None;
    }
    let (k, n): (f64, f64) = used.iter().fold((0.0, 0.0), |(k, n), d| (k + d.0, n + d.1));
    let mean = (k / n).clamp(1e-4, 1.0 - 1e-4);
    let shares: Vec<f64> = used.iter().map(|d| d.0 / d.1).collect();
    let m = shares.iter().sum::<f64>() / shares.len() as f64;
    let v = shares.iter().map(|s| (s - m).powi(2)).sum::<f64>() / (shares.len() - 1) as f64;
    let mean_n = n / used.len() as f64;
    let excess = v - mean * (1.0 - mean) / mean_n;
    let phi = if excess > 0.0 {
        mean * (1.0 - mean) / excess - 1.0
    } else {
        200.0
    };
    Some(phi.clamp(2.0, 200.0))
}

/// Builds a share predictive from personal daily (k, n) pairs and the peers'
/// pooled share, with `prior_events` pseudo-events of peer evidence. The
/// day-level concentration is `phi` (the peers' typical one, estimated from
/// many members and so stable), else the actor's own, else 50.
pub fn share_predictive(
    days: &[(f64, f64)],
    peer_share: f64,
    prior_events: f64,
    phi: Option<f64>,
) -> ShareModel {
    let (k, n): (f64, f64) = days.iter().fold((0.0, 0.0), |(k, n), d| (k + d.0, n + d.1));
    let mean = ((k + prior_events * peer_share) / (n + prior_events)).clamp(1e-4, 1.0 - 1e-4);
    let phi = phi
        .or_else(|| share_concentration(days))
        .unwrap_or(50.0)
        .clamp(2.0, 200.0);
    ShareModel {
        a: mean * phi,
        b: (1.0 - mean) * phi,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerCount {
        PeerCount {
            mu: 4.0,
            tau: 0.5,
            sigma: 0.25,
            weekend_shift: 0.0,
        }
    }

    #[test]
    fn cold_start_is_judged_against_peers_with_wide_tails() {
        let m = count_predictive(&[], Some(peer()), 6.0, 0.1).unwrap();
        assert!((m.loc - 4.0).abs() < 1e-12);
        // The peer spread (tau) and the daily spread both widen the predictive.
        assert!(m.scale > 0.55);
        // Twice the peer median is not evidence for a newcomer.
        assert!(m.p_upper(2.0 * 4f64.exp_m1()) > 0.05);
    }

    #[test]
    fn personal_history_dominates_with_time() {
        let history = vec![5.0; 20];
        let m = count_predictive(&history, Some(peer()), 6.0, 0.1).unwrap();
        assert!((m.loc - 5.0).abs() < 0.05, "loc {}", m.loc);
        // Three times the usual is strong evidence, the usual is none.
        assert!(m.p_upper(3.0 * 5f64.exp_m1()) < 1e-4);
        assert!(m.p_upper(5f64.exp_m1()) > 0.3);
    }

    #[test]
    fn no_peers_and_short_history_gives_no_model() {
        assert!(count_predictive(&[1.0, 2.0], None, 6.0, 0.1).is_none());
        assert!(count_predictive(&[1.0, 2.0, 1.5], None, 6.0, 0.1).is_some());
    }

    #[test]
    fn share_model_flags_a_jump_from_never_to_always() {
        let days = vec![(0.0, 300.0); 30];
        let m = share_predictive(&days, 0.2, 50.0, None);
        assert!(m.mean() < 0.01);
        assert!(m.p_upper(300.0, 300.0) < 1e-12);
        assert!(m.p_upper(1.0, 300.0) > 0.01);
    }

    #[test]
    fn share_model_absorbs_ordinary_day_to_day_variation() {
        let days: Vec<(f64, f64)> = (0..28)
            .map(|i| (if i % 2 == 0 { 10.0 } else { 30.0 }, 100.0))
            .collect();
        let m = share_predictive(&days, 0.2, 50.0, None);
        assert!(m.p_upper(35.0, 100.0) > 0.01);
    }
}
