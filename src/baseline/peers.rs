//! Peer groups and what they say on day D: built each day from the members'
//! own learned history before D. A team with fewer than `min_team_size`
//! recently active members is not a group; its members fall back to their
//! `actor_kind`, and a group with too few established members falls back
//! further to everyone.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{is_weekend, Baselines, Count, PeerCount};
use crate::features::ItemKind;
use crate::stats::{mad, median, robust_mean_var};

/// Members need this many learned days in the window to speak for a group.
const ESTABLISHED_DAYS: usize = 5;
/// A group needs this many established members to have an opinion.
const MIN_MEMBERS: usize = 3;

#[derive(Default)]
struct GroupStats {
    counts: [Option<PeerCount>; 2],
    export: Option<PeerCount>,
    sensitive: Option<f64>,
    hours: Option<[f64; 24]>,
}

/// Peer statistics for one day.
pub struct PeerStats {
    group: HashMap<usize, String>,
    fallback: HashMap<String, String>,
    members: HashMap<String, Vec<usize>>,
    stats: HashMap<String, GroupStats>,
}

fn group_stats(engine: &Baselines, members: &[usize], day: NaiveDate) -> GroupStats {
    let s = engine.settings;
    let floor = s.count_scale_floor;
    let mut out = GroupStats::default();
    let windows: Vec<Vec<&crate::features::ActorDay>> = members
        .iter()
        .map(|&a| engine.window(a, day, s.window_days).collect())
        .collect();
    for (k, count) in Count::ALL.iter().enumerate() {
        let mut shifts = Vec::new();
        for w in &windows {
            let (we, wd): (Vec<f64>, Vec<f64>) = (
                w.iter()
                    .filter(|r| is_weekend(r.day))
                    .map(|r| count.of(r).ln_1p())
                    .collect(),
                w.iter()
                    .filter(|r| !is_weekend(r.day))
                    .map(|r| count.of(r).ln_1p())
                    .collect(),
            );
            if we.len() >= 2 && wd.len() >= 2 {
                shifts.push(
                    we.iter().sum::<f64>() / we.len() as f64
                        - wd.iter().sum::<f64>() / wd.len() as f64,
                );
            }
        }
        let weekend_shift = if shifts.len() >= MIN_MEMBERS {
            median(&shifts)
        } else {
            0.0
        };
        let (mut means, mut sds) = (Vec::new(), Vec::new());
        for w in windows.iter().filter(|w| w.len() >= ESTABLISHED_DAYS) {
            let values: Vec<f64> = w
                .iter()
                .map(|r| {
                    count.of(r).ln_1p()
                        - if is_weekend(r.day) {
                            weekend_shift
                        } else {
                            0.0
                        }
                })
                .collect();
            let (m, v) = robust_mean_var(&values, floor);
            means.push(m);
            sds.push(v.max(floor * floor).sqrt());
        }
        if means.len() >= MIN_MEMBERS {
            out.counts[k] = Some(PeerCount {
                mu: median(&means),
                tau: mad(&means).max(floor),
                sigma: median(&sds).max(floor),
                weekend_shift,
            });
        }
    }
    let (mut export_means, mut export_sds) = (Vec::new(), Vec::new());
    for &a in members {
        let sizes: Vec<f64> = engine
            .window(a, day, s.export_window_days)
            .filter(|r| r.export_rows > 0.0)
            .map(|r| r.export_rows.ln_1p())
            .collect();
        if sizes.len() >= 2 {
            let (m, v) = robust_mean_var(&sizes, floor);
            export_means.push(m);
            export_sds.push(v.max(floor * floor).sqrt());
        }
    }
    if export_means.len() >= MIN_MEMBERS {
        out.export = Some(PeerCount {
            mu: median(&export_means),
            tau: mad(&export_means).max(floor),
            sigma: median(&export_sds).max(floor),
            weekend_shift: 0.0,
        });
    }
    let (mut k, mut n, mut hours) = (0.0, 0.0, [0.0; 24]);
    for w in &windows {
        for r in w {
            k += r.sensitive_events;
            n += r.data_events;
            for h in 0..24 {
                hours[h] += r.hours[h];
            }
        }
    }
    if n > 0.0 {
        out.sensitive = Some(k / n);
    }
    let total: f64 = hours.iter().sum();
    if total > 0.0 {
        out.hours = Some(hours.map(|h| h / total));
    }
    out
}

impl PeerStats {
    pub fn build(engine: &Baselines, day: NaiveDate) -> PeerStats {
        let start = day - chrono::Duration::days(engine.settings.window_days as i64);
        let active: Vec<usize> = (0..engine.actors.len())
            .filter(|&a| engine.actors[a].last_active.is_some_and(|d| d >= start))
            .collect();
        let mut team_size: HashMap<&str, usize> = HashMap::new();
        for &a in &active {
            if let Some(t) = &engine.actors[a].team {
                *team_size.entry(t.as_str()).or_default() += 1;
            }
        }
        let mut group = HashMap::new();
        let mut fallback = HashMap::new();
        let mut members: HashMap<String, Vec<usize>> = HashMap::new();
        for &a in &active {
            let h = &engine.actors[a];
            let kind = format!("kind:{}", h.kind);
            let g = match &h.team {
                Some(t) if team_size[t.as_str()] >= engine.settings.min_team_size => {
                    fallback.insert(format!("team:{t}"), kind.clone());
                    format!("team:{t}")
                }
                _ => kind.clone(),
            };
            fallback
                .entry(kind.clone())
                .or_insert_with(|| "all".to_string());
            if g != kind {
                members.entry(kind).or_default().push(a);
            }
            members.entry(g.clone()).or_default().push(a);
            members.entry("all".into()).or_default().push(a);
            group.insert(a, g);
        }
        let stats = members
            .iter()
            .map(|(g, m)| (g.clone(), group_stats(engine, m, day)))
            .collect();
        PeerStats {
            group,
            fallback,
            members,
            stats,
        }
    }

    pub fn group_of(&self, actor: usize) -> String {
        self.group
            .get(&actor)
            .cloned()
            .unwrap_or_else(|| "all".into())
    }

    /// The first group in the actor's chain that has an opinion.
    fn first<T>(&self, actor: usize, pick: impl Fn(&GroupStats) -> Option<T>) -> Option<T> {
        let mut g = self.group_of(actor);
        loop {
            if let Some(v) = self.stats.get(&g).and_then(&pick) {
                return Some(v);
            }
            match self.fallback.get(&g) {
                Some(next) => g = next.clone(),
                None if g != "all" => g = "all".into(),
                None => return None,
            }
        }
    }

    pub fn count(&self, actor: usize, k: usize) -> Option<PeerCount> {
        self.first(actor, |s| s.counts[k])
    }
    /// Only the actor's own group: other groups' export habits say nothing.
    pub fn export(&self, actor: usize) -> Option<PeerCount> {
        self.stats.get(&self.group_of(actor)).and_then(|s| s.export)
    }
    pub fn sensitive_share(&self, actor: usize) -> Option<f64> {
        self.first(actor, |s| s.sensitive)
    }
    pub fn hour_profile(&self, actor: usize) -> Option<[f64; 24]> {
        self.first(actor, |s| s.hours)
    }

    /// How many other members of the actor's group have used an item, of how many.
    pub fn item_users(
        &self,
        engine: &Baselines,
        actor: usize,
        kind: ItemKind,
        value: &str,
    ) -> (usize, usize) {
        let g = self.group_of(actor);
        let members = self.members.get(&g).map(Vec::as_slice).unwrap_or(&[]);
        let others = members.iter().filter(|&&m| m != actor);
        let peers = others.clone().count();
        let users = others
            .filter(|&&m| engine.actors[m].seen[kind.index()].contains(value))
            .count();
        (users, peers)
    }
}
