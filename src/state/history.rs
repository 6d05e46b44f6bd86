//! The scored history a state keeps so that a nightly run resumes the
//! causal walk instead of replaying it: the values derived from the
//! customer table, the verdict on every stored actor-day (without its
//! findings: what charts and later runs need), and the baseline engine's
//! [`Checkpoint`] as of `late_days` before the last day, the last day a
//! later run can no longer change.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::baseline::checkpoint::scoring_key;
use crate::baseline::Checkpoint;
use crate::detect::combine::Severity;
use crate::error::Result;
use crate::features::table::{Derived, Reuse};
use crate::features::ActorDays;
use crate::schema::{ACTOR, DAY};
use crate::scoring::{Resume, Verdict};
use crate::settings::Settings;

/// What an earlier run scored.
#[derive(Clone)]
pub struct ScoredHistory {
    pub derived: Derived,
    /// One row per stored actor-day: see [`verdict_frame`].
    pub verdicts: DataFrame,
    pub checkpoint: Checkpoint,
}

const P_VALUE: &str = "p_value";
const Q_VALUE: &str = "q_value";
const ANOMALOUS: &str = "anomalous";
const ONSET: &str = "onset";
const GROUP: &str = "peer_group";
const BANDS: [[&str; 2]; 2] = [
    ["records_low", "records_high"],
    ["customers_low", "customers_high"],
];

impl ScoredHistory {
    /// Whether a run with `settings` that rescores days from `first_new`
    /// on can resume from this history.
    pub fn resumable(&self, settings: &Settings, first_new: NaiveDate) -> bool {
        self.checkpoint.as_of < first_new && self.checkpoint.settings == scoring_key(settings)
    }

    /// The derived values to reuse.
    pub fn reuse(&self) -> Reuse<'_> {
        Reuse {
            derived: &self.derived,
            through: self.checkpoint.as_of,
        }
    }

    /// Where the walk over `table` resumes: the checkpoint, with the stored
    /// verdicts of the rows it covers. `None` when a row it covers has no
    /// stored verdict (the history is then replayed).
    pub fn resume(&self, table: &ActorDays, settings: &Settings) -> Result<Option<Resume<'_>>> {
        let through = self.checkpoint.as_of;
        let frame = self
            .verdicts
            .clone()
            .lazy()
            .filter(col(DAY).lt_eq(lit(through)))
            .collect()?;
        let actors = frame.column(ACTOR)?.str()?.clone();
        let days = frame.column(DAY)?.cast(&DataType::Int32)?;
        let days = days.i32()?;
        let floats =
            |name: &str| -> Result<Float64Chunked> { Ok(frame.column(name)?.f64()?.clone()) };
        let (p, q) = (floats(P_VALUE)?, floats(Q_VALUE)?);
        let bands = BANDS.map(|[lo, hi]| (floats(lo), floats(hi)));
        let anomalous = frame.column(ANOMALOUS)?.bool()?.clone();
        let onset = frame.column(ONSET)?.cast(&DataType::Int32)?;
        let onset = onset.i32()?;
        let group = frame.column(GROUP)?.str()?.clone();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
        let date = |d: i32| epoch + chrono::Duration::days(d as i64);
        let mut at: HashMap<(&str, NaiveDate), usize> = HashMap::new();
        for i in 0..frame.height() {
            if let (Some(a), Some(d)) = (actors.get(i), days.get(i)) {
                at.insert((a, date(d)), i);
            }
        }
        let mut carried = Vec::new();
        for (row, r) in table.rows.iter().enumerate() {
            if r.day > through {
                break;
            }
            let Some(&i) = at.get(&(table.actors[r.actor].as_str(), r.day)) else {
                return Ok(None);
            };
            let q_value = q.get(i).unwrap_or(1.0);
            let mut band = [None, None];
            for (k, (lo, hi)) in bands.iter().enumerate() {
                if let (Ok(lo), Ok(hi)) = (lo, hi) {
                    band[k] = lo.get(i).zip(hi.get(i));
                }
            }
            carried.push(Verdict {
                row,
                p_value: p.get(i).unwrap_or(1.0),
                q_value,
                findings: Vec::new(),
                anomalous: anomalous.get(i).unwrap_or(false),
                onset: onset.get(i).map_or(r.day, date),
                group: group.get(i).unwrap_or("all").to_string(),
                severity: (q_value <= settings.alert_q).then(|| Severity::of(q_value, settings)),
                suppressed: Vec::new(),
                bands: band,
            });
        }
        Ok(Some(Resume {
            checkpoint: &self.checkpoint,
            carried,
        }))
    }
}

/// The verdicts of a scored table as a frame to store.
pub fn verdict_frame(table: &ActorDays, verdicts: &[Verdict]) -> Result<DataFrame> {
    let row = |v: &Verdict| &table.rows[v.row];
    let band = |k: usize, hi: bool| -> Vec<Option<f64>> {
        verdicts
            .iter()
            .map(|v| v.bands[k].map(|(l, h)| if hi { h } else { l }))
            .collect()
    };
    let frame = df!(
        ACTOR => verdicts.iter().map(|v| table.actors[row(v).actor].as_str()).collect::<Vec<_>>(),
        DAY => verdicts.iter().map(|v| row(v).day).collect::<Vec<_>>(),
        P_VALUE => verdicts.iter().map(|v| v.p_value).collect::<Vec<_>>(),
        Q_VALUE => verdicts.iter().map(|v| v.q_value).collect::<Vec<_>>(),
        ANOMALOUS => verdicts.iter().map(|v| v.anomalous).collect::<Vec<_>>(),
        ONSET => verdicts.iter().map(|v| v.onset).collect::<Vec<_>>(),
        GROUP => verdicts.iter().map(|v| v.group.as_str()).collect::<Vec<_>>(),
        BANDS[0][0] => band(0, false),
        BANDS[0][1] => band(0, true),
        BANDS[1][0] => band(1, false),
        BANDS[1][1] => band(1, true),
    )?;
    Ok(frame)
}
