//! Peer groups and what they say on day D: built each day from the members'
//! own learned history before D. A team with fewer than `min_team_size`
//! recently active members is not a group; its members fall back to their
//! `actor_kind`, and a group with too few established members falls back
//! further to everyone.

use foldhash::HashMap;

use chrono::NaiveDate;
use rayon::prelude::*;

use super::{add_hours, is_weekend, Baselines, Count, PeerCount, Share, SHARES};
use crate::features::{ItemKind, Segment};
use crate::settings::Settings;
use crate::stats::{mad, median, robust_mean_var};

#[derive(Default)]
struct GroupStats {
    counts: [Option<PeerCount>; 2],
    export: Option<PeerCount>,
    /// Share of member-days with an export.
    export_rate: Option<f64>,
    /// Pooled share of each [`Share`].
    shares: [Option<f64>; SHARES],
    /// Typical day-level concentration of members' shares.
    share_phi: [Option<f64>; SHARES],
    hours: Option<[f64; 24]>,
    /// Pooled share of each customer segment among judged customers.
    segments: Option<Vec<(Segment, f64)>>,
}

/// One member's learned window, summarised once per day and shared by every
/// group the member belongs to.
struct MemberSummary {
    /// Weekday (mean, sd) of each log-count, when established.
    counts: [Option<(f64, f64)>; 2],
    /// Weekend minus weekday mean of each log-count.
    weekend_shift: [Option<f64>; 2],
    /// (mean, sd) of log export sizes, with at least two export days.
    export: Option<(f64, f64)>,
    /// (days with an export, active days) in the export window.
    export_days: (f64, f64),
    /// (k, n) of each share summed over the window.
    shares: [(f64, f64); SHARES],
    share_phi: [Option<f64>; SHARES],
    hours: [f64; 24],
    /// Judged customers per segment over the window.
    segments: HashMap<Segment, f64>,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn summary(engine: &Baselines, actor: usize, day: NaiveDate) -> MemberSummary {
    let s = engine.settings;
    let floor = s.count_scale_floor;
    let window: Vec<&crate::features::ActorDay> =
        engine.window(actor, day, s.window_days).collect();
    let mut counts = [None, None];
    let mut weekend_shift = [None, None];
    for (k, count) in Count::ALL.iter().enumerate() {
        let (we, wd): (Vec<f64>, Vec<f64>) = (
            window
                .iter()
                .filter(|r| is_weekend(r.day))
                .map(|r| count.of(r).ln_1p())
                .collect(),
            window
                .iter()
                .filter(|r| !is_weekend(r.day))
                .map(|r| count.of(r).ln_1p())
                .collect(),
        );
        if we.len() >= 2 && wd.len() >= 2 {
            weekend_shift[k] = Some(mean(&we) - mean(&wd));
        }
        if wd.len() >= s.peer_min_days {
            let (m, v) = robust_mean_var(&wd, floor);
            counts[k] = Some((m, v.max(floor * floor).sqrt()));
        }
    }
    let (mut active, mut sizes) = (0.0, Vec::new());
    for r in engine.window(actor, day, s.export_window_days) {
        active += 1.0;
        if r.export_rows > 0.0 {
            sizes.push(r.export_rows.ln_1p());
        }
    }
    let export = (sizes.len() >= 2).then(|| {
        let (m, v) = robust_mean_var(&sizes, floor);
        (m, v.max(floor * floor).sqrt())
    });
    let mut hours = [0.0; 24];
    let mut segments: HashMap<Segment, f64> = HashMap::default();
    for r in &window {
        add_hours(&mut hours, &r.hours);
        for (name, n) in r.segments.iter() {
            *segments.entry(name.clone()).or_default() += n;
        }
    }
    let mut shares = [(0.0, 0.0); SHARES];
    let mut share_phi = [None; SHARES];
    for share in Share::ALL {
        let days: Vec<(f64, f64)> = window.iter().filter_map(|r| share.of(r)).collect();
        shares[share.index()] = days.iter().fold((0.0, 0.0), |(k, n), d| (k + d.0, n + d.1));
        share_phi[share.index()] = super::models::share_concentration(&days);
    }
    MemberSummary {
        counts,
        weekend_shift,
        export,
        export_days: (sizes.len() as f64, active),
        shares,
        share_phi,
        hours,
        segments,
    }
}

fn peer_count(pairs: &[(f64, f64)], settings: &Settings, weekend_shift: f64) -> Option<PeerCount> {
    let floor = settings.count_scale_floor;
    if pairs.len() < settings.peer_min_members {
        return None;
    }
    let means: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let sds: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    Some(PeerCount {
        mu: median(&means),
        tau: mad(&means).max(floor),
        sigma: median(&sds).max(floor),
        weekend_shift,
    })
}

fn group_stats<'s>(
    summary_of: &(impl Fn(usize) -> &'s MemberSummary + Sync),
    members: &[usize],
    settings: &Settings,
) -> GroupStats {
    let mut out = GroupStats::default();
    let of = |a: &usize| summary_of(*a);
    for k in 0..Count::ALL.len() {
        let shifts: Vec<f64> = members
            .iter()
            .filter_map(|a| of(a).weekend_shift[k])
            .collect();
        let shift = if shifts.len() >= settings.peer_min_members {
            median(&shifts)
        } else {
            0.0
        };
        let pairs: Vec<(f64, f64)> = members.iter().filter_map(|a| of(a).counts[k]).collect();
        out.counts[k] = peer_count(&pairs, settings, shift);
    }
    let exports: Vec<(f64, f64)> = members.iter().filter_map(|a| of(a).export).collect();
    out.export = peer_count(&exports, settings, 0.0);
    let (export_days, active_days) = members.iter().fold((0.0, 0.0), |(k, n), a| {
        (k + of(a).export_days.0, n + of(a).export_days.1)
    });
    if active_days > 0.0 {
        out.export_rate = Some(export_days / active_days);
    }
    let mut hours = [0.0; 24];
    let mut segments: HashMap<&Segment, f64> = HashMap::default();
    for a in members {
        let m = of(a);
        add_hours(&mut hours, &m.hours);
        for (name, n) in &m.segments {
            *segments.entry(name).or_default() += n;
        }
    }
    for share in Share::ALL {
        let i = share.index();
        let (k, n) = members.iter().fold((0.0, 0.0), |(k, n), a| {
            (k + of(a).shares[i].0, n + of(a).shares[i].1)
        });
        if n > 0.0 {
            out.shares[i] = Some(k / n);
        }
        let phis: Vec<f64> = members.iter().filter_map(|a| of(a).share_phi[i]).collect();
        if phis.len() >= settings.peer_min_members {
            out.share_phi[i] = Some(median(&phis));
        }
    }
    let judged: f64 = segments.values().sum();
    if judged > 0.0 {
        let mut shares: Vec<(Segment, f64)> = segments
            .into_iter()
            .map(|(name, n)| (name.clone(), n / judged))
            .collect();
        shares.sort_by(|a, b| a.0.cmp(&b.0));
        out.segments = Some(shares);
    }
    let total: f64 = hours.iter().sum();
    if total > 0.0 {
        out.hours = Some(hours.map(|h| h / total));
    }
    out
}

/// One peer group of the day: its name (`team:…`, `kind:…` or `all`), the
/// group asked next when this one has no opinion, its members and what they
/// say.
struct Group {
    name: String,
    next: Option<usize>,
    members: Vec<usize>,
    stats: GroupStats,
}

/// Peer statistics for one day. Groups are numbered; `ALL` is always the
/// first, and every chain of fallbacks ends there.
pub struct PeerStats {
    /// The group of each actor active in the peer window, by actor.
    group: Vec<Option<usize>>,
    groups: Vec<Group>,
}

/// The index of the group of everyone.
const ALL: usize = 0;

impl PeerStats {
    pub fn build(engine: &Baselines, day: NaiveDate) -> PeerStats {
        let start = day - chrono::Duration::days(engine.settings.window_days as i64);
        let active: Vec<usize> = (0..engine.actors.len())
            .filter(|&a| engine.actors[a].last_active.is_some_and(|d| d >= start))
            .collect();
        let mut team_size: HashMap<&str, usize> = HashMap::default();
        for &a in &active {
            if let Some(t) = &engine.actors[a].team {
                *team_size.entry(t.as_str()).or_default() += 1;
            }
        }
        let mut groups = vec![Group {
            name: "all".into(),
            next: None,
            members: Vec::new(),
            stats: GroupStats::default(),
        }];
        let mut index: HashMap<String, usize> = HashMap::default();
        // The index of the group called `name`, added (asking `next` after
        // it) the first time it is named.
        let mut group_named = |name: String, next: usize, groups: &mut Vec<Group>| -> usize {
            *index.entry(name).or_insert_with_key(|name| {
                groups.push(Group {
                    name: name.clone(),
                    next: Some(next),
                    members: Vec::new(),
                    stats: GroupStats::default(),
                });
                groups.len() - 1
            })
        };
        let mut group = vec![None; engine.actors.len()];
        for &a in &active {
            let h = &engine.actors[a];
            let kind = group_named(format!("kind:{}", h.kind), ALL, &mut groups);
            let g = match &h.team {
                Some(t) if team_size[t.as_str()] >= engine.settings.min_team_size => {
                    group_named(format!("team:{t}"), kind, &mut groups)
                }
                _ => kind,
            };
            if g != kind {
                groups[kind].members.push(a);
            }
            groups[g].members.push(a);
            groups[ALL].members.push(a);
            group[a] = Some(g);
        }
        // Members are summarised in parallel (each from its own history),
        // then each group from its members' summaries.
        let summaries: Vec<MemberSummary> = active
            .par_iter()
            .map(|&a| summary(engine, a, day))
            .collect();
        let mut slot = vec![usize::MAX; engine.actors.len()];
        for (i, &a) in active.iter().enumerate() {
            slot[a] = i;
        }
        let of = |a: usize| &summaries[slot[a]];
        groups
            .par_iter_mut()
            .for_each(|g| g.stats = group_stats(&of, &g.members, engine.settings));
        PeerStats { group, groups }
    }

    fn group_index(&self, actor: usize) -> usize {
        self.group.get(actor).copied().flatten().unwrap_or(ALL)
    }

    pub fn group_of(&self, actor: usize) -> String {
        self.groups[self.group_index(actor)].name.clone()
    }

    /// The first group in the actor's chain that has an opinion.
    fn first<T>(&self, actor: usize, pick: impl Fn(&GroupStats) -> Option<T>) -> Option<T> {
        let mut g = self.group_index(actor);
        loop {
            if let Some(v) = pick(&self.groups[g].stats) {
                return Some(v);
            }
            g = self.groups[g].next?;
        }
    }

    pub fn count(&self, actor: usize, k: usize) -> Option<PeerCount> {
        self.first(actor, |s| s.counts[k])
    }
    /// Only the actor's own group: other groups' export habits say nothing.
    pub fn export(&self, actor: usize) -> Option<PeerCount> {
        self.groups[self.group_index(actor)].stats.export
    }
    pub fn export_rate(&self, actor: usize) -> Option<f64> {
        self.first(actor, |s| s.export_rate)
    }
    pub fn share(&self, actor: usize, share: Share) -> Option<f64> {
        self.first(actor, |s| s.shares[share.index()])
    }
    pub fn share_phi(&self, actor: usize, share: Share) -> Option<f64> {
        self.first(actor, |s| s.share_phi[share.index()])
    }
    pub fn segments(&self, actor: usize) -> Option<Vec<(Segment, f64)>> {
        self.first(actor, |s| s.segments.clone())
    }
    pub fn hour_profile(&self, actor: usize) -> Option<[f64; 24]> {
        self.first(actor, |s| s.hours)
    }

    /// How many other members of the actor's group have used an item, of how
    /// many. A group with fewer than `peer_min_members` others (a lone
    /// vendor, two batch services) says nothing about rarity: the next
    /// group in the chain (kind, then everyone) is asked instead.
    pub fn item_users(
        &self,
        engine: &Baselines,
        actor: usize,
        kind: ItemKind,
        value: &str,
    ) -> (usize, usize) {
        let mut g = self.group_index(actor);
        loop {
            let group = &self.groups[g];
            let others = group.members.iter().filter(|&&m| m != actor);
            let peers = others.clone().count();
            if peers >= engine.settings.peer_min_members || group.next.is_none() {
                let users = others
                    .filter(|&&m| engine.actors[m].seen[kind.index()].contains(value))
                    .count();
                return (users, peers);
            }
            g = group.next.unwrap_or(ALL);
        }
    }
}
