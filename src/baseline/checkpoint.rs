//! The engine's memory at the end of a day, keyed by actor names and days
//! instead of row indices, so that a nightly run resumes the causal walk
//! there instead of replaying the whole history (see [`crate::state`]).
//!
//! Resuming is exact: the walk after the checkpoint reads the same rows,
//! the same learned days, seen sets, novelty counts and drip accumulators
//! as a walk from the first day would, so the batch-equals-nightly property
//! holds to the last bit (floats are written so that they read back
//! exactly).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{ActorHistory, Baselines, Cusum, DRIP_STREAMS};
use crate::settings::Settings;

/// Everything the walk knew after `as_of`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    /// Every day up to and including this one was walked.
    pub as_of: NaiveDate,
    /// The scoring settings of that walk ([`scoring_key`]); a run with
    /// other settings replays the history instead.
    pub settings: String,
    pub actors: Vec<SavedActor>,
}

/// One actor's [`ActorHistory`], and the start of their anomalous run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SavedActor {
    pub name: String,
    pub team: Option<String>,
    pub kind: String,
    /// Days learned into the baseline, in order.
    pub learned: Vec<NaiveDate>,
    /// Per item kind, sorted.
    pub seen: [Vec<String>; 4],
    pub novelty_days: [u32; 4],
    pub observed_days: u32,
    pub past_peer_share: [Vec<f64>; 4],
    /// Per item kind, sorted by item.
    pub unlearned: [Vec<(String, NaiveDate)>; 4],
    pub drip: Option<[Cusum; DRIP_STREAMS]>,
    pub started: bool,
    pub last_active: Option<NaiveDate>,
    /// First day of the actor's current anomalous run, if in one.
    pub run_start: Option<NaiveDate>,
}

/// The settings that shape scoring, as one comparable string: all of them
/// but the range of days written.
pub fn scoring_key(settings: &Settings) -> String {
    let mut s = settings.clone();
    s.from = None;
    s.to = None;
    serde_json::to_string(&s).unwrap_or_default()
}

impl Baselines<'_> {
    /// The engine's memory as a checkpoint.
    pub fn checkpoint(
        &self,
        names: &[String],
        run_start: &[Option<NaiveDate>],
        as_of: NaiveDate,
    ) -> Checkpoint {
        let actors = self
            .actors
            .iter()
            .zip(names)
            .zip(run_start)
            .filter(|((h, _), _)| h.started || h.last_active.is_some())
            .map(|((h, name), run_start)| SavedActor {
                name: name.clone(),
                team: h.team.clone(),
                kind: h.kind.clone(),
                learned: h.learned.iter().map(|&i| self.rows[i].day).collect(),
                seen: std::array::from_fn(|k| {
                    let mut v: Vec<String> = h.seen[k].iter().cloned().collect();
                    v.sort();
                    v
                }),
                novelty_days: h.novelty_days,
                observed_days: h.observed_days,
                past_peer_share: h.past_peer_share.clone(),
                unlearned: std::array::from_fn(|k| {
                    let mut v: Vec<(String, NaiveDate)> = h.unlearned[k]
                        .iter()
                        .map(|(item, day)| (item.clone(), *day))
                        .collect();
                    v.sort();
                    v
                }),
                drip: h.drip,
                started: h.started,
                last_active: h.last_active,
                run_start: *run_start,
            })
            .collect();
        Checkpoint {
            as_of,
            settings: scoring_key(self.settings),
            actors,
        }
    }

    /// Restores a checkpoint into a fresh engine over `names` (the table's
    /// actors). Learned days no longer in the table (dropped by retention)
    /// are forgotten; actors no longer in it are left out. Returns the
    /// start of each actor's anomalous run.
    pub fn restore(&mut self, names: &[String], saved: &Checkpoint) -> Vec<Option<NaiveDate>> {
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut row_of: HashMap<(usize, NaiveDate), usize> = HashMap::new();
        for (i, r) in self.rows.iter().enumerate() {
            if r.day > saved.as_of {
                break;
            }
            row_of.insert((r.actor, r.day), i);
        }
        let mut run_start = vec![None; names.len()];
        for a in &saved.actors {
            let Some(&actor) = index.get(a.name.as_str()) else {
                continue;
            };
            run_start[actor] = a.run_start;
            self.actors[actor] = ActorHistory {
                team: a.team.clone(),
                kind: a.kind.clone(),
                learned: a
                    .learned
                    .iter()
                    .filter_map(|d| row_of.get(&(actor, *d)).copied())
                    .collect(),
                seen: std::array::from_fn(|k| a.seen[k].iter().cloned().collect()),
                novelty_days: a.novelty_days,
                observed_days: a.observed_days,
                past_peer_share: a.past_peer_share.clone(),
                unlearned: std::array::from_fn(|k| a.unlearned[k].iter().cloned().collect()),
                drip: a.drip,
                started: a.started,
                last_active: a.last_active,
            };
        }
        run_start
    }
}
