//! The short ranked table `analyze` prints on stdout for a person.

use std::fmt::Write;

use super::Alert;
use crate::detect::combine::Severity;

/// Rows shown before the table is cut (the JSON file holds every alert).
const MAX_ROWS: usize = 40;

/// Alerts ranked by severity then score, most urgent first.
pub fn render(alerts: &[Alert]) -> String {
    let mut ranked: Vec<&Alert> = alerts.iter().collect();
    ranked.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.score.total_cmp(&a.score))
            .then(b.day.cmp(&a.day))
            .then(a.actor.cmp(&b.actor))
    });
    let mut out = String::new();
    if alerts.is_empty() {
        out.push_str("no alerts\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<10}  {:<8}  {:>5}  {:<22}  {:<10}  {:>9}  why",
        "day", "severity", "score", "actor", "since", "customers"
    );
    for a in ranked.iter().take(MAX_ROWS) {
        let why = a.reasons.first().map(|r| r.detail.as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "{:<10}  {:<8}  {:>5.1}  {:<22}  {:<10}  {:>9}  {}",
            a.day,
            a.severity.name(),
            a.score,
            truncate(&a.actor, 22),
            a.first_anomalous_day,
            a.customers_since_onset,
            why
        );
    }
    if ranked.len() > MAX_ROWS {
        let _ = writeln!(out, "... {} more in alerts.jsonl", ranked.len() - MAX_ROWS);
    }
    let counts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            format!(
                "{} {}",
                alerts.iter().filter(|a| a.severity == *s).count(),
                s.name()
            )
        })
        .collect();
    let _ = writeln!(out, "{} alert(s): {}", alerts.len(), counts.join(", "));
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('…')).collect()
    }
}
