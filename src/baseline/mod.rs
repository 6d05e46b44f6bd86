//! Baselines: for each actor-day D, what that actor would be expected to do,
//! from days before D only (contract §3).
//!
//! - personal history: the actor's *learned* days (not judged anomalous) in a
//!   trailing window, restarted when the actor changes team;
//! - peers: the team (or `actor_kind` when the team is small), summarised by
//!   the members' own baselines: median level, between-member spread,
//!   typical day-to-day spread, weekend shift, shares and hour profile;
//! - a team-wide surge on day D moves every member's expectation by the
//!   median change of the *other* members that day.
//!
//! [`models`] turns these into predictive distributions; [`Baselines`] walks
//! the days and is told by the scorer which days to learn; [`checkpoint`]
//! saves its memory at the end of a day and restores it, so a nightly run
//! resumes the walk instead of replaying it.

pub mod checkpoint;
pub mod drip;
pub mod models;
pub mod peers;

use foldhash::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate, Weekday};
use rayon::prelude::*;

pub use checkpoint::Checkpoint;
pub use drip::{Cusum, DripRule};
pub use models::{CountModel, PeerCount, ShareModel};

use crate::features::{ActorDay, ItemKind, Segment, Segments};
use crate::settings::Settings;
use crate::stats::median;

/// The counts judged on a log scale, in [`Baseline::counts`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Records,
    Customers,
}

impl Count {
    pub const ALL: [Count; 2] = [Count::Records, Count::Customers];
    pub fn of(self, row: &ActorDay) -> f64 {
        match self {
            // Exports are judged by `bulk_export`; counting them here too
            // would flag every scheduled report twice.
            Count::Records => (row.records - row.export_rows).max(0.0),
            Count::Customers => row.distinct_customers,
        }
    }
}

/// The shares judged with a beta-binomial ("k of today's n have property
/// X"), in [`Baseline::shares`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// Data events reading a sensitive field or resource.
    Sensitive,
    /// Customers touched that no ticket of the actor's covered.
    Uncovered,
    /// Ticket citations naming someone else's ticket.
    ForeignTicket,
    /// Steps between consecutive customers to an adjacent id.
    Adjacent,
    /// Steps between consecutive customers to a higher id.
    Ascending,
}

/// How many [`Share`]s there are.
pub const SHARES: usize = 5;

impl Share {
    pub const ALL: [Share; SHARES] = [
        Share::Sensitive,
        Share::Uncovered,
        Share::ForeignTicket,
        Share::Adjacent,
        Share::Ascending,
    ];
    pub fn index(self) -> usize {
        self as usize
    }
    /// Today's (k, n), or `None` when the share is unknown (no tickets).
    pub fn of(self, row: &ActorDay) -> Option<(f64, f64)> {
        match self {
            Share::Sensitive => Some((row.sensitive_events, row.data_events)),
            Share::Uncovered => row.uncovered.map(|u| (u, row.distinct_customers)),
            Share::ForeignTicket => row.uncovered.map(|_| (row.foreign_ticket, row.ticketed)),
            Share::Adjacent => Some((row.adjacent_steps, row.id_steps)),
            Share::Ascending => Some((row.ascending_steps, row.id_steps)),
        }
    }
}

/// What the judged customers' segments usually are, for the segment-skew
/// detector: the personal days' segment counts and the peers' shares.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentMix {
    /// Judged customers per segment on each personal day of the history.
    pub days: Vec<Segments>,
    /// The peer group's pooled share of each segment.
    pub peer: Vec<(Segment, f64)>,
    /// Prior strength of the peer shares, in customers.
    pub prior_events: f64,
}

/// The slow-drip accumulators as of the actor's previous active day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DripBaseline {
    pub rule: DripRule,
    /// Per [`DripStream`]; `None` until the actor is established.
    pub before: Option<[Cusum; DRIP_STREAMS]>,
}

/// A first use of an item today, with how common it is among peers.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    pub value: String,
    /// Peers (excluding the actor) who have used it.
    pub peer_users: usize,
    pub peers: usize,
}

impl NewItem {
    /// How rare the item is among peers: (users + 1) / (peers + 2).
    pub fn rarity(&self) -> f64 {
        (self.peer_users as f64 + 1.0) / (self.peers as f64 + 2.0)
    }
    /// The share of peers who use it (0 without peers); unlike `rarity` it
    /// does not move with the group's size, so past days compare exactly.
    pub fn peer_share(&self) -> f64 {
        if self.peers == 0 {
            0.0
        } else {
            self.peer_users as f64 / self.peers as f64
        }
    }
}

fn rarest(items: &[NewItem]) -> Option<&NewItem> {
    items
        .iter()
        .min_by(|a, b| a.rarity().total_cmp(&b.rarity()))
}

/// The actor's novelty rate for one item kind, and today's new items.
#[derive(Debug, Clone, PartialEq)]
pub struct Novelty {
    /// Posterior probability that a day brings a new item of this kind.
    pub rate: f64,
    pub new_items: Vec<NewItem>,
    /// Given a new item, the chance it is at least as rare among peers as
    /// today's rarest: the share of the actor's past novelty days that were,
    /// with today's peer rarity as a prior worth two days. An agent whose
    /// every new IP is unique to them learns that a unique IP is ordinary.
    pub rarity_tail: f64,
    /// The first day any of today's new items was used: items used on
    /// anomalous days are never learned, so a change that persists keeps
    /// being new, with the day it began.
    pub onset: Option<NaiveDate>,
}

/// Everything a detector may compare an actor-day against.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The peer group used: `team:NAME`, `kind:KIND` or `all`.
    pub group: String,
    /// Learned personal days behind the personal estimates.
    pub n_personal: usize,
    /// Enough learned history (`min_history_days`, ever) for a day to be
    /// judged anomalous on the actor's own evidence.
    pub established: bool,
    pub counts: [Option<CountModel>; 2],
    /// Rows exported on a day with exports.
    pub export: Option<CountModel>,
    pub export_days: usize,
    /// Probability that a day of this actor has an export: their own
    /// export-day rate, with the peers' rate worth ten days as prior.
    pub export_rate: f64,
    /// Per [`Share`].
    pub shares: [Option<ShareModel>; SHARES],
    pub segments: Option<SegmentMix>,
    pub drip: DripBaseline,
    /// Which local hours are off-hours for this actor, and the share model.
    pub off_hours: Option<([bool; 24], ShareModel)>,
    pub novelty: [Option<Novelty>; 4],
}

/// One actor's learned history.
#[derive(Debug, Default, Clone)]
pub struct ActorHistory {
    pub team: Option<String>,
    pub kind: String,
    /// Row indices of learned days, in day order.
    pub learned: Vec<usize>,
    /// Items used on learned days, per kind: what counts as seen before.
    pub seen: [HashSet<String>; 4],
    /// Days after the first (anomalous or not) that brought a new item, per kind.
    pub novelty_days: [u32; 4],
    /// Days after the first, anomalous or not. Counting anomalous days too
    /// keeps the novelty rate from shrinking each time novelty is flagged.
    pub observed_days: u32,
    /// The peer share of the rarest new item on each past novelty day.
    pub past_peer_share: [Vec<f64>; 4],
    /// Items used only on anomalous days so far, with the first such day.
    pub unlearned: [HashMap<String, NaiveDate>; 4],
    /// Slow-drip accumulators per [`DripStream`], from the first established day.
    pub drip: Option<[Cusum; DRIP_STREAMS]>,
    pub started: bool,
    pub last_active: Option<NaiveDate>,
}

/// The median of `sorted` without the element at `skip` (if any).
pub fn median_without(sorted: &[f64], skip: Option<usize>) -> f64 {
    let n = sorted.len() - skip.is_some() as usize;
    let at = |j: usize| match skip {
        Some(r) if j >= r => sorted[j + 1],
        _ => sorted[j],
    };
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        at(n / 2)
    } else {
        0.5 * (at(n / 2 - 1) + at(n / 2))
    }
}

/// Adds one hour histogram to another.
pub fn add_hours(total: &mut [f64; 24], more: &[f64; 24]) {
    for (t, m) in total.iter_mut().zip(more) {
        *t += m;
    }
}

pub fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The causal baseline engine.
pub struct Baselines<'r> {
    rows: &'r [ActorDay],
    settings: &'r Settings,
    drip_rule: DripRule,
    pub actors: Vec<ActorHistory>,
}

impl<'r> Baselines<'r> {
    pub fn new(n_actors: usize, rows: &'r [ActorDay], settings: &'r Settings) -> Self {
        Baselines {
            rows,
            settings,
            drip_rule: DripRule::new(settings.drip_reference, settings.drip_run_length),
            actors: vec![ActorHistory::default(); n_actors],
        }
    }

    fn window_start(&self, day: NaiveDate, days: u32) -> NaiveDate {
        day - chrono::Duration::days(days as i64)
    }

    /// Learned rows of an actor within the trailing window before `day`.
    pub fn window(
        &self,
        actor: usize,
        day: NaiveDate,
        days: u32,
    ) -> impl Iterator<Item = &ActorDay> {
        let start = self.window_start(day, days);
        self.actors[actor]
            .learned
            .iter()
            .rev()
            .map(|&i| &self.rows[i])
            .take_while(move |r| r.day >= start)
            .filter(move |r| r.day < day)
    }

    /// The personal history for day D: learned days in the trailing window,
    /// topped up with older learned days to at least `min_history_days`, so
    /// a change that outlasts the window is still compared with what came
    /// before it rather than with nothing.
    pub fn history(&self, actor: usize, day: NaiveDate) -> Vec<&ActorDay> {
        let s = self.settings;
        let mut rows: Vec<&ActorDay> = self.window(actor, day, s.window_days).collect();
        let want = s.min_history_days as usize;
        if rows.len() < want {
            rows = self.actors[actor]
                .learned
                .iter()
                .rev()
                .map(|&i| &self.rows[i])
                .filter(|r| r.day < day)
                .take(want)
                .collect();
        }
        rows
    }

    /// Baselines for every row of `day` (`today` holds their row indices).
    pub fn for_day(&mut self, day: NaiveDate, today: &[usize]) -> Vec<Baseline> {
        // A team change starts a fresh personal baseline.
        for &i in today {
            let row = &self.rows[i];
            let h = &mut self.actors[row.actor];
            if h.last_active.is_some() && row.team.is_some() && h.team != row.team {
                *h = ActorHistory::default();
            }
            h.team = row.team.clone().or(h.team.take());
            h.kind = row.kind.clone();
            h.last_active = Some(day);
        }
        let peers = peers::PeerStats::build(self, day);
        let mut out: Vec<Baseline> = today
            .par_iter()
            .map(|&i| self.baseline(&self.rows[i], day, &peers))
            .collect();
        self.adjust_for_team_surge(today, &mut out);
        out
    }

    fn baseline(&self, row: &ActorDay, day: NaiveDate, peers: &peers::PeerStats) -> Baseline {
        let s = self.settings;
        let group = peers.group_of(row.actor);
        let history = self.history(row.actor, day);
        let weekend = is_weekend(day);
        let mut counts = [None, None];
        for (k, count) in Count::ALL.iter().enumerate() {
            let peer = peers.count(row.actor, k);
            let shift = weekend_shift(&history, *count, row.is_human(), peer);
            let values: Vec<f64> = history
                .iter()
                .map(|r| count.of(r).ln_1p() - if is_weekend(r.day) { shift } else { 0.0 })
                .collect();
            counts[k] = models::count_predictive(&values, peer, s.prior_days, s.count_scale_floor)
                .map(|m| if weekend { m.shifted(shift, 0.0) } else { m });
        }
        // Exports: sizes of past export days over a longer window, with the
        // peers' exports as prior. A first export (no export history, no
        // exporting peers) is judged against the actor's own daily record
        // volume, so it is evidence in proportion to its size; that prior
        // says nothing about later exports, which are judged against the
        // actor's own once there are enough of them.
        let mut active_days = 0.0;
        let mut export_sizes = Vec::new();
        for r in self.window(row.actor, day, s.export_window_days) {
            active_days += 1.0;
            if r.export_rows > 0.0 {
                export_sizes.push(r.export_rows.ln_1p());
            }
        }
        let peer_rate = peers.export_rate(row.actor).unwrap_or(0.5);
        let export_rate = (export_sizes.len() as f64 + s.rate_prior_days * peer_rate)
            / (active_days + s.rate_prior_days);
        let export_peer = peers.export(row.actor).or_else(|| {
            if !export_sizes.is_empty() {
                return None;
            }
            counts[0].map(|m| PeerCount {
                mu: m.loc,
                tau: m.scale,
                sigma: m.scale,
                weekend_shift: 0.0,
            })
        });
        let export = models::count_predictive(
            &export_sizes,
            export_peer,
            s.prior_days,
            s.count_scale_floor,
        );
        let shares = Share::ALL.map(|share| {
            share.of(row)?;
            let days: Vec<(f64, f64)> = history.iter().filter_map(|r| share.of(r)).collect();
            peers.share(row.actor, share).map(|g| {
                models::share_predictive(
                    &days,
                    g,
                    s.share_prior_events,
                    peers.share_phi(row.actor, share),
                )
            })
        });
        let segments = if row.segments.is_empty() {
            None
        } else {
            peers.segments(row.actor).map(|peer| SegmentMix {
                days: history.iter().map(|r| r.segments.clone()).collect(),
                peer,
                prior_events: s.share_prior_events,
            })
        };
        let established = self.actors[row.actor].learned.len() >= s.min_history_days as usize;
        let drip = DripBaseline {
            rule: self.drip_rule,
            before: match self.actors[row.actor].drip {
                Some(state) => Some(state),
                None if established => Some([Cusum::default(); DRIP_STREAMS]),
                None => None,
            },
        };
        let off_hours = self.off_hours(&history, peers.hour_profile(row.actor));
        let novelty = ItemKind::ALL.map(|kind| self.novelty(row, kind, peers));
        Baseline {
            group,
            n_personal: history.len(),
            established,
            counts,
            export,
            export_days: export_sizes.len(),
            export_rate,
            shares,
            segments,
            drip,
            off_hours,
            novelty,
        }
    }

    fn off_hours(
        &self,
        history: &[&ActorDay],
        peer_profile: Option<[f64; 24]>,
    ) -> Option<([bool; 24], ShareModel)> {
        let mut counts = [0.0; 24];
        for r in history {
            add_hours(&mut counts, &r.hours);
        }
        let total: f64 = counts.iter().sum();
        let lambda = self.settings.share_prior_events;
        let peer = peer_profile.unwrap_or([1.0 / 24.0; 24]);
        if total == 0.0 && peer_profile.is_none() {
            return None;
        }
        let profile: Vec<f64> = (0..24)
            .map(|h| (counts[h] + lambda * peer[h]) / (total + lambda))
            .collect();
        let mut off = [false; 24];
        let mut share = 0.0;
        for h in 0..24 {
            if profile[h] < self.settings.off_hours_share {
                off[h] = true;
                share += profile[h];
            }
        }
        if !off.iter().any(|&o| o) {
            return None;
        }
        let share = share.clamp(1e-3, 0.5);
        // Off-hours work comes in sessions, so days vary a lot: a fixed,
        // modest concentration keeps one late evening from looking extreme.
        let phi = self.settings.off_hours_concentration;
        Some((
            off,
            ShareModel {
                a: share * phi,
                b: (1.0 - share) * phi,
            },
        ))
    }

    fn novelty(&self, row: &ActorDay, kind: ItemKind, peers: &peers::PeerStats) -> Option<Novelty> {
        let h = &self.actors[row.actor];
        let k = kind.index();
        if h.observed_days < 3 {
            return None;
        }
        let s = self.settings;
        let rate = (h.novelty_days[k] as f64 + s.rate_prior_days * s.novelty_prior_rate)
            / (h.observed_days as f64 + s.rate_prior_days);
        let new_items: Vec<NewItem> = row.items[k]
            .iter()
            .filter(|v| !h.seen[k].contains(*v))
            .map(|v| {
                let (peer_users, peers) = peers.item_users(self, row.actor, kind, v);
                NewItem {
                    value: v.clone(),
                    peer_users,
                    peers,
                }
            })
            .collect();
        let rarity_tail = match rarest(&new_items) {
            Some(item) => {
                let past = &h.past_peer_share[k];
                let share = item.peer_share();
                let as_rare = past.iter().filter(|&&r| r <= share + 1e-12).count();
                (as_rare as f64 + 2.0 * item.rarity()) / (past.len() as f64 + 2.0)
            }
            None => 1.0,
        };
        let onset = new_items
            .iter()
            .map(|i| h.unlearned[k].get(&i.value).copied().unwrap_or(row.day))
            .min();
        Some(Novelty {
            rate,
            new_items,
            rarity_tail,
            onset,
        })
    }

    /// Moves each member's count expectations by the median change of the
    /// other members of the group active today (only upward: a quiet team
    /// day does not make ordinary work look unusual).
    fn adjust_for_team_surge(&self, today: &[usize], baselines: &mut [Baseline]) {
        let mut by_group: HashMap<String, Vec<usize>> = HashMap::default();
        for (j, b) in baselines.iter().enumerate() {
            by_group.entry(b.group.clone()).or_default().push(j);
        }
        for members in by_group.values() {
            if members.len() < 4 {
                continue;
            }
            for k in 0..Count::ALL.len() {
                let residuals: Vec<Option<f64>> = members
                    .iter()
                    .map(|&j| {
                        baselines[j].counts[k]
                            .filter(|m| m.n_personal >= 3)
                            .map(|m| (Count::ALL[k].of(&self.rows[today[j]]).ln_1p() - m.loc) / 1.0)
                    })
                    .collect();
                let scales: Vec<f64> = members
                    .iter()
                    .filter_map(|&j| baselines[j].counts[k].map(|m| m.scale))
                    .collect();
                let typical_scale = median(&scales);
                // Leave-one-out medians from one sort of the group's residuals.
                let mut known: Vec<(f64, usize)> = residuals
                    .iter()
                    .enumerate()
                    .filter_map(|(a, r)| r.map(|r| (r, a)))
                    .collect();
                known.sort_by(|x, y| x.0.total_cmp(&y.0));
                let sorted: Vec<f64> = known.iter().map(|x| x.0).collect();
                let mut rank = vec![None; members.len()];
                for (r, &(_, a)) in known.iter().enumerate() {
                    rank[a] = Some(r);
                }
                for (a, &j) in members.iter().enumerate() {
                    let others = sorted.len() - rank[a].is_some() as usize;
                    if others < 3 {
                        continue;
                    }
                    let shift = median_without(&sorted, rank[a]);
                    if shift > 0.0 {
                        let extra =
                            std::f64::consts::FRAC_PI_2 * typical_scale.powi(2) / others as f64;
                        if let Some(m) = baselines[j].counts[k] {
                            baselines[j].counts[k] = Some(m.shifted(shift, extra));
                        }
                    }
                }
            }
        }
    }

    /// Ends `row`'s day: novelty is counted whatever the verdict; a learned
    /// day joins the baseline and the seen sets, an anomalous one is kept
    /// out. (Holding out the first days of every slow-drip run too was
    /// tried: it caught a plain doubling at 1,000 agents in 2 days instead
    /// of 7, but an ordinary excursion held out that way keeps a baseline
    /// low until the alarm locks it there.)
    pub fn learn(&mut self, row_index: usize, anomalous: bool, baseline: &Baseline) {
        let row = &self.rows[row_index];
        let h = &mut self.actors[row.actor];
        if h.started {
            h.observed_days += 1;
            for kind in ItemKind::ALL {
                let k = kind.index();
                match &baseline.novelty[k] {
                    Some(n) => {
                        if let Some(item) = rarest(&n.new_items) {
                            h.novelty_days[k] += 1;
                            h.past_peer_share[k].push(item.peer_share());
                        }
                    }
                    None => {
                        if row.items[k].iter().any(|v| !h.seen[k].contains(v)) {
                            h.novelty_days[k] += 1;
                        }
                    }
                }
            }
        }
        h.started = true;
        if let Some(today) = drip_today(row, baseline) {
            h.drip = Some(today);
        }
        if anomalous {
            for kind in ItemKind::ALL {
                let k = kind.index();
                for v in &row.items[k] {
                    if !h.seen[k].contains(v) {
                        h.unlearned[k].entry(v.clone()).or_insert(row.day);
                    }
                }
            }
            return;
        }
        for kind in ItemKind::ALL {
            let k = kind.index();
            for v in &row.items[k] {
                if !h.seen[k].contains(v) {
                    h.unlearned[k].remove(v);
                    h.seen[k].insert(v.clone());
                }
            }
        }
        h.learned.push(row_index);
    }
}

/// What the slow-drip accumulators watch, in [`DripBaseline::before`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DripStream {
    Records,
    Customers,
    /// Customers touched without an own ticket (with `--tickets`).
    Uncovered,
}

/// How many [`DripStream`]s there are.
pub const DRIP_STREAMS: usize = 3;

impl DripStream {
    pub const ALL: [DripStream; DRIP_STREAMS] = [
        DripStream::Records,
        DripStream::Customers,
        DripStream::Uncovered,
    ];

    /// Today's upper-tail p-value of the stream, with today's value and the
    /// usual one; `None` when there is nothing to judge.
    pub fn today(self, row: &ActorDay, baseline: &Baseline) -> Option<(f64, f64, f64)> {
        match self {
            DripStream::Records | DripStream::Customers => {
                let k = if self == DripStream::Records { 0 } else { 1 };
                let model = baseline.counts[k]?;
                let x = Count::ALL[k].of(row);
                Some((model.p_upper(x), x, model.expected()))
            }
            DripStream::Uncovered => {
                let model = baseline.shares[Share::Uncovered.index()]?;
                let (k, n) = Share::Uncovered.of(row)?;
                (n > 0.0).then(|| (model.p_upper(k, n), k, model.mean() * n))
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DripStream::Records => "records",
            DripStream::Customers => "distinct customers",
            DripStream::Uncovered => "customers without an own ticket",
        }
    }
}

/// Pseudo-days of weekend history the peers' weekend shift is worth.
const WEEKEND_PRIOR_DAYS: f64 = 4.0;

/// The weekend minus weekday level of a log-count for this actor. People
/// work less at weekends in a way their peers show best (a window holds
/// few weekend days), so the peers' shift is the prior and the actor's own
/// weekend days refine it. Services and vendors run on their own clock: only
/// their own history speaks (no shift without it).
fn weekend_shift(history: &[&ActorDay], count: Count, human: bool, peer: Option<PeerCount>) -> f64 {
    let (mut we, mut wd) = (Vec::new(), Vec::new());
    for r in history {
        let v = count.of(r).ln_1p();
        if is_weekend(r.day) {
            we.push(v);
        } else {
            wd.push(v);
        }
    }
    let own = (we.len() >= 2 && wd.len() >= 2).then(|| {
        we.iter().sum::<f64>() / we.len() as f64 - wd.iter().sum::<f64>() / wd.len() as f64
    });
    let prior = peer.map(|p| p.weekend_shift).unwrap_or(0.0);
    match (human, own) {
        (true, Some(own)) => {
            let n = we.len() as f64;
            (n * own + WEEKEND_PRIOR_DAYS * prior) / (n + WEEKEND_PRIOR_DAYS)
        }
        (true, None) => prior,
        (false, own) => own.unwrap_or(0.0),
    }
}

/// Today's slow-drip accumulators, per [`DripStream`]: the accumulator
/// after today (unchanged for a stream with nothing to judge today).
/// `None` before the actor is established.
pub fn drip_today(row: &ActorDay, baseline: &Baseline) -> Option<[Cusum; DRIP_STREAMS]> {
    let before = baseline.drip.before?;
    let mut out = before;
    for (i, stream) in DripStream::ALL.iter().enumerate() {
        if let Some((p, _, _)) = stream.today(row, baseline) {
            out[i] = baseline.drip.rule.advance(before[i], p, row.day);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_keep_their_own_weekends_and_people_lean_on_peers() {
        // Two weeks of a steady 150 a day, weekends included.
        let rows: Vec<ActorDay> = (0..14)
            .map(|i| ActorDay {
                day: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(i),
                distinct_customers: 150.0,
                ..ActorDay::default()
            })
            .collect();
        let history: Vec<&ActorDay> = rows.iter().collect();
        let peer = PeerCount {
            mu: 3.0,
            tau: 0.5,
            sigma: 0.3,
            weekend_shift: -0.8,
        };
        let service = weekend_shift(&history, Count::Customers, false, Some(peer));
        assert!(service.abs() < 1e-12, "{service}");
        // A person with four weekend days as busy as weekdays: halfway.
        let person = weekend_shift(&history, Count::Customers, true, Some(peer));
        assert!((person + 0.4).abs() < 1e-9, "{person}");
        assert_eq!(weekend_shift(&[], Count::Customers, true, Some(peer)), -0.8);
        assert_eq!(weekend_shift(&[], Count::Customers, false, Some(peer)), 0.0);
    }

    #[test]
    fn leave_one_out_median_matches_brute_force() {
        let sorted = [1.0, 2.0, 4.0, 7.0, 11.0, 16.0];
        for skip in 0..sorted.len() {
            let rest: Vec<f64> = sorted
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, v)| *v)
                .collect();
            assert_eq!(median_without(&sorted, Some(skip)), median(&rest));
        }
        assert_eq!(median_without(&sorted, None), median(&sorted));
    }
}
