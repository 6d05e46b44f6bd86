//! `report.html`: one self-contained page (inline CSS and SVG, no scripts,
//! no network fetches) with the run's alerts ranked with their reasons and,
//! for each flagged actor, a chart of daily activity against the baseline
//! band with the flagged days marked. Every value that comes from a log is
//! escaped: a log can carry markup.

use std::fmt::Write;

use chrono::NaiveDate;

use super::Alert;
use crate::baseline::Count;
use crate::features::ActorDays;
use crate::scoring::Verdict;

/// Days charted before an actor's first alert.
const LEAD_DAYS: i64 = 21;

/// A chart for each actor with an alert: distinct customers (records for an
/// actor who touches no customers) from three weeks before their first
/// alert to the end of the data, with the baseline band and the flagged days.
pub fn charts(table: &ActorDays, verdicts: &[Verdict], alerts: &[Alert]) -> Vec<ActorChart> {
    let mut actors: Vec<&str> = Vec::new();
    for a in alerts {
        if !actors.contains(&a.actor.as_str()) {
            actors.push(&a.actor);
        }
    }
    actors
        .into_iter()
        .filter_map(|actor| {
            let index = table.actors.iter().position(|a| a == actor)?;
            let first = alerts
                .iter()
                .filter(|a| a.actor == actor)
                .map(|a| a.day)
                .min()?;
            let start = first - chrono::Duration::days(LEAD_DAYS);
            let mine: Vec<&Verdict> = verdicts
                .iter()
                .filter(|v| {
                    let r = &table.rows[v.row];
                    r.actor == index && r.day >= start
                })
                .collect();
            let customers = mine
                .iter()
                .any(|v| table.rows[v.row].distinct_customers > 0.0);
            let (k, measure) = if customers {
                (1, "distinct customers")
            } else {
                (0, "records")
            };
            let flagged_days: Vec<NaiveDate> = alerts
                .iter()
                .filter(|a| a.actor == actor)
                .map(|a| a.day)
                .collect();
            Some(ActorChart {
                actor: actor.to_string(),
                measure,
                days: mine
                    .iter()
                    .map(|v| {
                        let r = &table.rows[v.row];
                        ChartDay {
                            day: r.day,
                            observed: Count::ALL[k].of(r),
                            band: v.bands[k],
                            flagged: flagged_days.contains(&r.day),
                        }
                    })
                    .collect(),
            })
        })
        .collect()
}

/// One day of an actor's chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartDay {
    pub day: NaiveDate,
    pub observed: f64,
    /// The baseline's central 80% band, when there was a baseline.
    pub band: Option<(f64, f64)>,
    pub flagged: bool,
}

/// The daily series charted for one flagged actor.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorChart {
    pub actor: String,
    /// What is charted ("distinct customers" or "records").
    pub measure: &'static str,
    pub days: Vec<ChartDay>,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}.critical{background:#f8d0d0}.high{background:#fde2c8}.medium{background:#fff3c4}.low{background:#eef}\
.reason{font-size:90%;margin:0}svg{border:1px solid #ddd;background:#fff}h2{margin-top:2em}small{color:#666}";

/// Renders the page. `title` says what was analysed.
pub fn render(title: &str, alerts: &[Alert], charts: &[ActorChart]) -> String {
    let mut ranked: Vec<&Alert> = alerts.iter().collect();
    ranked.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.score.total_cmp(&a.score))
            .then(a.day.cmp(&b.day))
    });
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>leakwatch report</title><style>{STYLE}</style></head><body>\
         <h1>leakwatch report</h1><p><small>{}</small></p>",
        escape(title)
    );
    let _ = write!(html, "<h2>Alerts ({})</h2>", alerts.len());
    if ranked.is_empty() {
        html.push_str("<p>No actor-day was flagged.</p>");
    } else {
        html.push_str(
            "<table><tr><th>severity</th><th>score</th><th>day</th><th>actor</th><th>since</th>\
             <th>customers (since onset)</th><th>reasons</th></tr>",
        );
        for a in &ranked {
            let severity = a.severity.name();
            let _ = write!(
                html,
                "<tr class=\"{severity}\"><td>{severity}</td><td>{:.1}</td><td>{}</td>\
                 <td><a href=\"#{}\">{}</a><br><small>{} {}</small></td><td>{}</td><td>{} ({})</td><td>",
                a.score,
                a.day,
                anchor(&a.actor),
                escape(&a.actor),
                escape(&a.actor_kind),
                escape(a.team.as_deref().unwrap_or("")),
                a.first_anomalous_day,
                a.customers_touched,
                a.customers_since_onset
            );
            for r in &a.reasons {
                let _ = write!(
                    html,
                    "<p class=\"reason\"><b>{}</b> (p = {:.1e}): {}</p>",
                    escape(&r.detector),
                    r.p_value,
                    escape(&r.detail)
                );
            }
            html.push_str("</td></tr>");
        }
        html.push_str("</table>");
    }
    for chart in charts {
        let _ = write!(
            html,
            "<h2 id=\"{}\">{}</h2><p><small>daily {}: the line is what the actor did, the grey \
             band the usual range (central 80% of the baseline), red dots the flagged days</small></p>",
            anchor(&chart.actor),
            escape(&chart.actor),
            chart.measure
        );
        html.push_str(&svg(chart));
    }
    html.push_str("</body></html>\n");
    html
}

/// An element id for an actor: only letters, digits, `-` and `_` survive.
fn anchor(actor: &str) -> String {
    let safe: String = actor
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("actor-{safe}")
}

fn svg(chart: &ActorChart) -> String {
    let (w, h, pad) = (720.0, 220.0, 36.0);
    let n = chart.days.len().max(1);
    let top = chart
        .days
        .iter()
        .map(|d| d.observed.max(d.band.map_or(0.0, |b| b.1)))
        .fold(1.0_f64, f64::max)
        * 1.1;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / (n.max(2) - 1) as f64;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * (v / top);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\">"
    );
    // The band, as one polygon over the days that have one.
    let banded: Vec<(usize, (f64, f64))> = chart
        .days
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.band.map(|b| (i, b)))
        .collect();
    if !banded.is_empty() {
        let mut points: Vec<String> = banded
            .iter()
            .map(|(i, b)| format!("{:.1},{:.1}", x(*i), y(b.1)))
            .collect();
        points.extend(
            banded
                .iter()
                .rev()
                .map(|(i, b)| format!("{:.1},{:.1}", x(*i), y(b.0))),
        );
        let _ = write!(
            out,
            "<polygon points=\"{}\" fill=\"#ddd\" stroke=\"none\"/>",
            points.join(" ")
        );
    }
    let line: Vec<String> = chart
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{:.1},{:.1}", x(i), y(d.observed)))
        .collect();
    let _ = write!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.5\"/>",
        line.join(" ")
    );
    for (i, d) in chart.days.iter().enumerate() {
        if d.flagged {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#c0392b\"><title>{}: {}</title></circle>",
                x(i),
                y(d.observed),
                d.day,
                d.observed
            );
        }
    }
    // Axes: the top value, and the first and last day.
    let _ = write!(
        out,
        "<line x1=\"{pad}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#999\"/>\
         <text x=\"4\" y=\"{2:.1}\" font-size=\"11\">{3:.0}</text><text x=\"4\" y=\"{0}\" font-size=\"11\">0</text>",
        h - pad,
        w - pad,
        pad,
        top
    );
    if let (Some(first), Some(last)) = (chart.days.first(), chart.days.last()) {
        let _ = write!(
            out,
            "<text x=\"{pad}\" y=\"{0}\" font-size=\"11\">{1}</text>\
             <text x=\"{2}\" y=\"{0}\" font-size=\"11\" text-anchor=\"end\">{3}</text>",
            h - 8.0,
            first.day,
            w - pad,
            last.day
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::combine::Severity;
    use crate::report::Reason;

    fn hostile_alert() -> Alert {
        Alert {
            actor: "<script>alert(1)</script>".into(),
            actor_kind: "employee".into(),
            team: Some("t\" onmouseover=\"x".into()),
            day: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            score: 80.0,
            severity: Severity::High,
            p_value: 1e-6,
            q_value: 1e-5,
            reasons: vec![Reason {
                detector: "new_field".into(),
                observed: 1.0,
                expected: 0.1,
                p_value: 1e-6,
                detail: "first use of field `<img src=x onerror=alert(2)>`".into(),
            }],
            customers_touched: 3,
            customers_since_onset: 3,
            first_anomalous_day: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            peer_group: "all".into(),
            events: 10,
        }
    }

    #[test]
    fn values_from_logs_are_escaped() {
        let alert = hostile_alert();
        let chart = ActorChart {
            actor: alert.actor.clone(),
            measure: "records",
            days: vec![ChartDay {
                day: alert.day,
                observed: 5.0,
                band: Some((1.0, 3.0)),
                flagged: true,
            }],
        };
        let page = render("<b>logs</b>", &[alert], &[chart]);
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("\" onmouseover"), "{page}");
        assert!(!page.contains("<b>logs"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&lt;img src=x onerror=alert(2)&gt;"));
        // Self-contained: no scripts and no fetches.
        assert!(!page.contains("<script"));
        assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
        // The chart marks the flagged day.
        assert!(page.contains("<circle"));
    }
}
