//! Progress on stderr for long runs: one line redrawn in place, only when
//! stderr is a terminal (so nothing under cron or in a pipe) and not with
//! `--quiet`; cleared when the run ends.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use crate::pipeline::Progress;

/// Draws [`Progress`] updates, at most a few times a second.
pub struct ProgressLine {
    enabled: bool,
    started: Instant,
    last_drawn: Option<Instant>,
}

impl ProgressLine {
    /// Draws only when `wanted` and stderr is a terminal.
    pub fn new(wanted: bool) -> ProgressLine {
        ProgressLine {
            enabled: wanted && std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_drawn: None,
        }
    }

    pub fn update(&mut self, progress: Progress) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let last_file = matches!(progress, Progress::Files { done, of, .. } if done == of);
        let due = self
            .last_drawn
            .is_none_or(|t| now.duration_since(t).as_millis() >= 200);
        if !(due || last_file || !matches!(progress, Progress::Files { .. })) {
            return;
        }
        self.last_drawn = Some(now);
        let elapsed = self.started.elapsed().as_secs_f64();
        let text = match progress {
            Progress::Tickets => "reading ticket assignments".to_string(),
            Progress::Files { done, of, events } => {
                let width = 30;
                let filled = (done * width).checked_div(of).unwrap_or(width).min(width);
                format!(
                    "[{}{}] {done}/{of} files, {:.1} M events",
                    "#".repeat(filled),
                    "-".repeat(width - filled),
                    events as f64 / 1e6
                )
            }
            Progress::Scoring { actor_days } => format!("scoring {actor_days} actor-days"),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{text} ({elapsed:.0}s)");
        let _ = err.flush();
    }

    /// Clears the line (also on drop, so an error message starts clean).
    pub fn finish(&mut self) {
        if self.enabled && self.last_drawn.take().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.finish();
    }
}
