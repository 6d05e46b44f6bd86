//! A deterministic synthetic support organisation, for trying, testing and
//! benchmarking leakwatch: teams in several time zones serving different
//! customer segments, assigned tickets, weekends, vacations, new hires, a
//! team-wide surge day, team leads' weekly reports, a chat vendor account
//! and batch service accounts with scheduled exports; plus planted attacks
//! and a ground-truth file naming them.

pub(crate) mod rng;

use std::io::Write;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use rng::Rng;

/// A planted attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Trend-Micro-style insider: several times their usual customers, every day, for weeks.
    Insider,
    /// One bulk export of 20,000 customer rows from a SQL console.
    SmashAndGrab,
    /// Ticketmaster-style vendor account that starts reading card fields.
    VendorCard,
    /// An agent who looks up 5-10 customers a day without a ticket, inside normal work.
    Snoop,
    /// An agent who doubles their daily customers with English speakers outside their queue.
    SegmentDrip,
    /// An agent who doubles their daily customers in their own segments, without tickets.
    Drip,
    /// A compromised account walking customer ids in order, at night, from a new IP.
    Enumeration,
    /// A departing employee: searches rising over two weeks, an export on the last day.
    Departing,
    /// A batch service's key used from a new address and client, at a new hour.
    ServiceDrift,
    /// Benign: an agent moved to a single-segment queue of their team (their tickets explain it).
    QueueMove,
    /// No attack.
    None,
}

/// Access-log file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Csv,
    CsvGz,
    Jsonl,
    Parquet,
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub employees: usize,
    pub days: u32,
    pub seed: u64,
    pub scenarios: Vec<Scenario>,
    pub format: OutputFormat,
    pub start: NaiveDate,
    /// Multiplies every agent's workload (1.0: about 45 events a working day).
    pub intensity: f64,
}

/// One planted attack in the ground truth.
#[derive(Debug, Clone, Serialize)]
pub struct Planted {
    pub scenario: Scenario,
    pub actor: String,
    pub onset: NaiveDate,
    pub last_day: NaiveDate,
    /// Detectors expected among the reasons.
    pub detectors: Vec<&'static str>,
    /// Customers the attack touched (empty for exports, which name none).
    pub victims: Vec<String>,
}

/// What was generated.
#[derive(Debug, Clone, Serialize)]
pub struct GroundTruth {
    pub seed: u64,
    pub start: NaiveDate,
    pub days: u32,
    pub events: usize,
    pub attacks: Vec<Planted>,
    pub surge: (String, NaiveDate),
    pub new_hires: Vec<(String, NaiveDate)>,
    pub team_leads: Vec<String>,
    pub services: Vec<String>,
    /// Agents moved to a single-segment queue of their team from a day on
    /// (benign: their tickets explain it).
    pub queue_moves: Vec<(String, NaiveDate)>,
}

struct Team {
    name: &'static str,
    utc_offset: i64,
    segments: &'static [&'static str],
}

const TEAMS: [Team; 6] = [
    Team {
        name: "consumer-en",
        utc_offset: -5,
        segments: &["en-US", "en-GB", "en-AU"],
    },
    Team {
        name: "consumer-de",
        utc_offset: 1,
        segments: &["de-DE", "de-AT"],
    },
    Team {
        name: "consumer-fr",
        utc_offset: 1,
        segments: &["fr-FR", "fr-CA"],
    },
    Team {
        name: "consumer-ja",
        utc_offset: 9,
        segments: &["ja-JP"],
    },
    Team {
        name: "business",
        utc_offset: -5,
        segments: &["en-US", "de-DE", "fr-FR"],
    },
    Team {
        name: "billing",
        utc_offset: 0,
        segments: &["en-GB", "de-DE", "en-US"],
    },
];
const SEGMENTS: [&str; 8] = [
    "en-US", "en-GB", "en-AU", "de-DE", "de-AT", "fr-FR", "fr-CA", "ja-JP",
];

struct Agent {
    id: String,
    team: usize,
    lead: bool,
    rate: f64,
    ip: String,
    start_day: u32,
    /// First day the agent no longer works here.
    end_day: u32,
    vacation: (u32, u32),
}

#[derive(Default)]
struct Rows {
    ts: Vec<NaiveDateTime>,
    /// UTC offset (hours) the source writes this row's time in.
    offset: Vec<i64>,
    actor: Vec<String>,
    action: Vec<&'static str>,
    records: Vec<Option<i64>>,
    customer: Vec<Option<String>>,
    segment: Vec<Option<&'static str>>,
    resource: Vec<&'static str>,
    fields: Vec<Option<&'static str>>,
    client: Vec<&'static str>,
    ip: Vec<String>,
    ticket: Vec<Option<String>>,
    kind: Vec<&'static str>,
    team: Vec<&'static str>,
}

struct Event<'a> {
    at: NaiveDateTime,
    actor: &'a str,
    action: &'static str,
    records: Option<i64>,
    customer: Option<u32>,
    resource: &'static str,
    fields: Option<&'static str>,
    client: &'static str,
    ip: &'a str,
    ticket: Option<String>,
    kind: &'static str,
    team: &'static str,
}

impl Rows {
    fn push(&mut self, e: Event, customers: &[usize]) {
        self.ts.push(e.at);
        // Sources write local time with an offset, as real shippers do.
        self.offset.push(
            TEAMS
                .iter()
                .find(|t| t.name == e.team)
                .map_or(0, |t| t.utc_offset),
        );
        self.actor.push(e.actor.to_string());
        self.action.push(e.action);
        self.records.push(e.records);
        self.customer.push(e.customer.map(|c| format!("C{c:07}")));
        self.segment
            .push(e.customer.map(|c| SEGMENTS[customers[c as usize]]));
        self.resource.push(e.resource);
        self.fields.push(e.fields);
        self.client.push(e.client);
        self.ip.push(e.ip.to_string());
        self.ticket.push(e.ticket);
        self.kind.push(e.kind);
        self.team.push(e.team);
    }
    fn frame(self, format: OutputFormat) -> PolarsResult<DataFrame> {
        let ts = if format == OutputFormat::Parquet {
            Column::new("ts".into(), self.ts)
        } else {
            let text: Vec<String> = self
                .ts
                .iter()
                .zip(&self.offset)
                .map(|(t, &h)| {
                    if h == 0 {
                        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
                    } else {
                        let local = *t + Duration::hours(h);
                        format!("{}{:+03}:00", local.format("%Y-%m-%dT%H:%M:%S%.3f"), h)
                    }
                })
                .collect();
            Column::new("ts".into(), text)
        };
        DataFrame::new_infer_height(vec![
            ts,
            Column::new("actor".into(), self.actor),
            Column::new("action".into(), self.action),
            Column::new("records".into(), self.records),
            Column::new("customer_id".into(), self.customer),
            Column::new("customer_segment".into(), self.segment),
            Column::new("resource".into(), self.resource),
            Column::new("fields".into(), self.fields),
            Column::new("client".into(), self.client),
            Column::new("source_ip".into(), self.ip),
            Column::new("ticket_id".into(), self.ticket),
            Column::new("actor_kind".into(), self.kind),
            Column::new("team".into(), self.team),
        ])
    }
}

fn at(day: NaiveDate, hour_utc: f64) -> NaiveDateTime {
    let millis = (hour_utc * 3_600_000.0).round() as i64;
    day.and_hms_opt(0, 0, 0).expect("midnight") + Duration::milliseconds(millis)
}

fn werr(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Write {
        path: path.to_path_buf(),
        source: e,
    }
}

fn write_frame(frame: &mut DataFrame, path: &Path, format: OutputFormat) -> Result<()> {
    let file = std::fs::File::create(path).map_err(werr(path))?;
    match format {
        OutputFormat::Csv => CsvWriter::new(file).finish(frame)?,
        OutputFormat::CsvGz => {
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
            CsvWriter::new(&mut gz).finish(frame)?;
            gz.finish().map_err(werr(path))?;
        }
        OutputFormat::Parquet => {
            ParquetWriter::new(file).finish(frame)?;
        }
        OutputFormat::Jsonl => {
            let mut out = std::io::BufWriter::new(file);
            let names: Vec<String> = frame
                .get_column_names()
                .iter()
                .map(|s| s.to_string())
                .collect();
            let columns: Vec<Column> = frame.columns().to_vec();
            for i in 0..frame.height() {
                let mut obj = serde_json::Map::new();
                for (name, c) in names.iter().zip(&columns) {
                    let v = c.get(i)?;
                    let value = match v {
                        AnyValue::Null => continue,
                        AnyValue::Int64(n) => serde_json::json!(n),
                        AnyValue::String(s) if name == "fields" => {
                            serde_json::json!(s.split(';').collect::<Vec<_>>())
                        }
                        AnyValue::String(s) => serde_json::json!(s),
                        other => serde_json::json!(other.to_string()),
                    };
                    obj.insert(name.clone(), value);
                }
                writeln!(out, "{}", serde_json::Value::Object(obj)).map_err(werr(path))?;
            }
            out.flush().map_err(werr(path))?;
        }
    }
    Ok(())
}

/// Generates the organisation into `dir`: `logs/` (one file per day),
/// `tickets.csv` and `ground_truth.json`.
pub fn write(dir: &Path, o: &GenerateOptions) -> Result<GroundTruth> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(werr(&logs))?;
    let mut rng = Rng::new(o.seed);
    let days = o.days.max(1);
    // Customers, each with a segment, indexed by segment.
    let n_customers = (o.employees * 400).max(20_000);
    let customers: Vec<usize> = (0..n_customers)
        .map(|_| rng.below(SEGMENTS.len()))
        .collect();
    let mut by_segment: Vec<Vec<u32>> = vec![Vec::new(); SEGMENTS.len()];
    for (c, s) in customers.iter().enumerate() {
        by_segment[*s].push(c as u32);
    }
    let seg_index = |name: &str| {
        SEGMENTS
            .iter()
            .position(|s| *s == name)
            .expect("known segment")
    };
    // Employees.
    let mut agents: Vec<Agent> = Vec::new();
    for i in 0..o.employees.max(TEAMS.len() * 5) {
        let team = i % TEAMS.len();
        let lead = i < TEAMS.len();
        let new_hire = !lead && days > 30 && rng.chance(0.03);
        let vac_start = rng.below(days as usize) as u32;
        agents.push(Agent {
            id: format!("emp-{:04}", i + 1),
            team,
            lead,
            rate: (12.0 + 20.0 * rng.f64()) * o.intensity.max(0.01),
            ip: format!("10.{}.{}.{}", team + 1, i / 250, i % 250 + 1),
            start_day: if new_hire {
                20 + rng.below((days - 25) as usize) as u32
            } else {
                0
            },
            end_day: days,
            vacation: (vac_start, vac_start + 7),
        });
    }
    let surge_team = 1;
    let mut surge_day = days * 2 / 3;
    while matches!(
        (o.start + Duration::days(surge_day as i64)).weekday(),
        Weekday::Sat | Weekday::Sun
    ) {
        surge_day += 1;
    }
    // Attack plans: each attacker is a distinct regular agent (no new hire).
    let mut taken: Vec<usize> = Vec::new();
    let mut pick = |team: usize, agents: &[Agent]| -> usize {
        let i = agents
            .iter()
            .enumerate()
            .position(|(i, a)| a.team == team && !a.lead && a.start_day == 0 && !taken.contains(&i))
            .unwrap_or_else(|| panic!("team {} has a free agent", TEAMS[team].name));
        taken.push(i);
        i
    };
    let insider = pick(0, &agents);
    let grabber = pick(2, &agents);
    let snooper = pick(1, &agents);
    let segment_dripper = pick(3, &agents);
    let dripper = pick(2, &agents);
    let enumerated = pick(5, &agents);
    let leaver = pick(4, &agents);
    let queue_mover = pick(4, &agents);
    let weekday_on_or_after = |d: u32| {
        let mut d = d;
        while matches!(
            (o.start + Duration::days(d as i64)).weekday(),
            Weekday::Sat | Weekday::Sun
        ) {
            d += 1;
        }
        d
    };
    let has = |s: Scenario| o.scenarios.contains(&s);
    let insider_onset = weekday_on_or_after(days / 2);
    let grab_day = weekday_on_or_after(days * 3 / 4);
    let vendor_onset = days * 3 / 5;
    let snoop_onset = weekday_on_or_after(days * 2 / 5);
    let segment_drip_onset = weekday_on_or_after(days * 9 / 20);
    let drip_onset = weekday_on_or_after(days * 11 / 20);
    let enumeration_day = weekday_on_or_after(days * 7 / 10);
    // The leaver's last day is a weekday near the end; searches rise over
    // the two weeks before it.
    let mut leave_day = days.saturating_sub(3);
    while leave_day > 0
        && matches!(
            (o.start + Duration::days(leave_day as i64)).weekday(),
            Weekday::Sat | Weekday::Sun
        )
    {
        leave_day -= 1;
    }
    let leave_ramp = leave_day.saturating_sub(14);
    let queue_move_day = weekday_on_or_after(days / 3);
    let service_drift_onset = days * 13 / 20;
    // Attackers are at work on their attack days.
    for a in [
        insider,
        grabber,
        snooper,
        segment_dripper,
        dripper,
        enumerated,
        leaver,
    ] {
        agents[a].vacation = (0, 0);
    }
    if has(Scenario::Departing) {
        agents[leaver].end_day = leave_day + 1;
    }
    let mut victims: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> =
        Default::default();
    let (mut t_id, mut t_customer, mut t_assignee, mut t_opened, mut t_closed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut total = 0usize;
    for d in 0..days {
        let day = o.start + Duration::days(d as i64);
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let mut rows = Rows::default();
        for (ai, a) in agents.iter().enumerate() {
            let team = &TEAMS[a.team];
            if d < a.start_day || d >= a.end_day || (d >= a.vacation.0 && d < a.vacation.1) {
                continue;
            }
            if weekend && !rng.chance(0.15) {
                continue;
            }
            let mut scale = if weekend { 0.5 } else { 1.0 } * (0.2 * rng.normal()).exp();
            if a.team == surge_team && d == surge_day {
                scale *= 2.5;
            }
            if a.lead {
                scale *= 0.5;
            }
            let work_hour = |rng: &mut Rng| 9.0 + 8.5 * rng.f64() - team.utc_offset as f64;
            let ip = if rng.chance(0.02) {
                format!("172.16.{}.{}", rng.below(250), rng.below(250) + 1)
            } else {
                a.ip.clone()
            };
            let n = rng.poisson(a.rate * scale);
            let moved = ai == queue_mover && has(Scenario::QueueMove) && d >= queue_move_day;
            for k in 0..n {
                let segments = if moved { &["fr-FR"][..] } else { team.segments };
                let seg = seg_index(segments[rng.below(segments.len())]);
                let c = by_segment[seg][rng.below(by_segment[seg].len())];
                // Most work follows a ticket filed before the agent's day
                // starts; a few customers are helped without one.
                let ticket = if rng.chance(0.03) {
                    None
                } else {
                    let ticket = format!("T{}-{}-{}", d, ai, k);
                    let opened = at(day, 9.0 - team.utc_offset as f64 - 20.0 * rng.f64());
                    t_id.push(ticket.clone());
                    t_customer.push(format!("C{c:07}"));
                    t_assignee.push(a.id.clone());
                    t_opened.push(opened.format("%Y-%m-%d %H:%M:%S").to_string());
                    t_closed.push(Some(
                        (opened + Duration::hours(36))
                            .format("%Y-%m-%d %H:%M:%S")
                            .to_string(),
                    ));
                    Some(ticket)
                };
                let fields = if rng.chance(0.25) {
                    "name;email;phone"
                } else {
                    "name;email"
                };
                for _ in 0..(1 + rng.poisson(1.5)) {
                    rows.push(
                        Event {
                            at: at(day, work_hour(&mut rng)),
                            actor: &a.id,
                            action: "view",
                            records: None,
                            customer: Some(c),
                            resource: "customers",
                            fields: Some(fields),
                            client: "support-ui",
                            ip: &ip,
                            ticket: ticket.clone(),
                            kind: "employee",
                            team: team.name,
                        },
                        &customers,
                    );
                }
                if rng.chance(0.3) {
                    rows.push(
                        Event {
                            at: at(day, work_hour(&mut rng)),
                            actor: &a.id,
                            action: "update",
                            records: None,
                            customer: Some(c),
                            resource: "tickets",
                            fields: Some("status;notes"),
                            client: "support-ui",
                            ip: &ip,
                            ticket: ticket.clone(),
                            kind: "employee",
                            team: team.name,
                        },
                        &customers,
                    );
                }
            }
            // Attacks hidden in normal work: customers viewed without a
            // ticket, from the agent's own session.
            let mut quiet_views = |rng: &mut Rng,
                                   rows: &mut Rows,
                                   label: &'static str,
                                   count: u64,
                                   segments: &[&str],
                                   fields: &'static str| {
                for _ in 0..count {
                    let seg = seg_index(segments[rng.below(segments.len())]);
                    let c = by_segment[seg][rng.below(by_segment[seg].len())];
                    victims.entry(label).or_default().insert(format!("C{c:07}"));
                    rows.push(
                        Event {
                            at: at(day, work_hour(rng)),
                            actor: &a.id,
                            action: "view",
                            records: None,
                            customer: Some(c),
                            resource: "customers",
                            fields: Some(fields),
                            client: "support-ui",
                            ip: &ip,
                            ticket: None,
                            kind: "employee",
                            team: team.name,
                        },
                        &customers,
                    );
                }
            };
            if ai == snooper && has(Scenario::Snoop) && d >= snoop_onset {
                let count = 5 + rng.below(6) as u64;
                quiet_views(
                    &mut rng,
                    &mut rows,
                    "snoop",
                    count,
                    team.segments,
                    "name;email;phone;address",
                );
            }
            if ai == segment_dripper && has(Scenario::SegmentDrip) && d >= segment_drip_onset {
                // As many extra customers as the day's tickets: a doubling.
                quiet_views(
                    &mut rng,
                    &mut rows,
                    "segment-drip",
                    n.max(1),
                    &["en-US", "en-GB", "en-AU"],
                    "name;email;phone",
                );
            }
            if ai == dripper && has(Scenario::Drip) && d >= drip_onset {
                quiet_views(
                    &mut rng,
                    &mut rows,
                    "drip",
                    n.max(1),
                    team.segments,
                    "name;email;phone",
                );
            }
            if ai == leaver && has(Scenario::Departing) && d >= leave_ramp {
                // Searches rising by a quarter a day over two weeks.
                let extra = (2.0 * 1.25f64.powi((d - leave_ramp) as i32)).round() as u64;
                for _ in 0..extra {
                    rows.push(
                        Event {
                            at: at(day, work_hour(&mut rng)),
                            actor: &a.id,
                            action: "search",
                            records: Some(5 + rng.poisson(10.0) as i64),
                            customer: None,
                            resource: "customers",
                            fields: Some("name;email;phone"),
                            client: "support-ui",
                            ip: &ip,
                            ticket: None,
                            kind: "employee",
                            team: team.name,
                        },
                        &customers,
                    );
                }
                if d == leave_day {
                    rows.push(
                        Event {
                            at: at(day, 16.5 - team.utc_offset as f64),
                            actor: &a.id,
                            action: "export",
                            records: Some(6_000),
                            customer: None,
                            resource: "customers",
                            fields: Some("name;email;phone;address"),
                            client: "support-ui",
                            ip: &ip,
                            ticket: None,
                            kind: "employee",
                            team: team.name,
                        },
                        &customers,
                    );
                }
            }
            if ai == enumerated
                && has(Scenario::Enumeration)
                && (d == enumeration_day || d == enumeration_day + 1)
            {
                // A script with the agent's stolen session pages through
                // the customer table at night, from an address never seen.
                let first = rng.below(n_customers - 500) as u32;
                let night = 2.0 - team.utc_offset as f64;
                for j in 0..400u32 {
                    let c = first + j;
                    victims
                        .entry("enumeration")
                        .or_default()
                        .insert(format!("C{c:07}"));
                    rows.push(
                        Event {
                            at: at(day, night + j as f64 * 0.004),
                            actor: &a.id,
                            action: "view",
                            records: None,
                            customer: Some(c),
                            resource: "customers",
                            fields: Some("name;email;phone;address"),
                            client: "support-ui",
                            ip: "198.51.100.23",
                            ticket: None,
                            kind: "employee",
                            team: team.name,
                        },
                        &customers,
                    );
                }
            }
            for _ in 0..rng.poisson(2.0 * scale) {
                rows.push(
                    Event {
                        at: at(day, work_hour(&mut rng)),
                        actor: &a.id,
                        action: "search",
                        records: Some(1 + rng.poisson(4.0) as i64),
                        customer: None,
                        resource: "customers",
                        fields: Some("name"),
                        client: "support-ui",
                        ip: &ip,
                        ticket: None,
                        kind: "employee",
                        team: team.name,
                    },
                    &customers,
                );
            }
            // Team leads' weekly report on Mondays.
            if a.lead && day.weekday() == Weekday::Mon {
                rows.push(
                    Event {
                        at: at(day, 10.0 - team.utc_offset as f64),
                        actor: &a.id,
                        action: "export",
                        records: Some(300 + rng.below(300) as i64),
                        customer: None,
                        resource: "tickets",
                        fields: Some("ticket_id;status;assignee"),
                        client: "reporting",
                        ip: &ip,
                        ticket: None,
                        kind: "employee",
                        team: team.name,
                    },
                    &customers,
                );
            }
            // The insider: several times their usual customers, no tickets, phone numbers.
            if ai == insider && has(Scenario::Insider) && d >= insider_onset {
                let extra = (3.0 * a.rate * scale).round() as u64 + 20;
                for _ in 0..extra {
                    let seg = seg_index(["en-US", "en-GB", "en-AU"][rng.below(3)]);
                    let c = by_segment[seg][rng.below(by_segment[seg].len())];
                    victims
                        .entry("insider")
                        .or_default()
                        .insert(format!("C{c:07}"));
                    rows.push(
                        Event {
                            at: at(day, work_hour(&mut rng)),
                            actor: &a.id,
                            action: "view",
                            records: None,
                            customer: Some(c),
                            resource: "customers",
                            fields: Some("name;email;phone"),
                            client: "support-ui",
                            ip: &ip,
                            ticket: None,
                            kind: "employee",
                            team: team.name,
                        },
                        &customers,
                    );
                }
            }
            if ai == grabber && has(Scenario::SmashAndGrab) && d == grab_day {
                rows.push(
                    Event {
                        at: at(day, 16.0 - team.utc_offset as f64),
                        actor: &a.id,
                        action: "export",
                        records: Some(20_000),
                        customer: None,
                        resource: "customers",
                        fields: Some("name;email;phone;address"),
                        client: "sql-console",
                        ip: &ip,
                        ticket: None,
                        kind: "employee",
                        team: team.name,
                    },
                    &customers,
                );
            }
        }
        // The chat vendor: around the clock, names and e-mails; card fields after the compromise.
        let skimming = has(Scenario::VendorCard) && d >= vendor_onset;
        for _ in 0..rng.poisson(150.0) {
            let c = rng.below(n_customers) as u32;
            if skimming {
                victims
                    .entry("vendor")
                    .or_default()
                    .insert(format!("C{c:07}"));
            }
            rows.push(
                Event {
                    at: at(day, 24.0 * rng.f64()),
                    actor: "vendor-chatwidget",
                    action: "view",
                    records: None,
                    customer: Some(c),
                    resource: if skimming { "payments" } else { "customers" },
                    fields: Some(if skimming {
                        "name;email;card_number;card_expiry"
                    } else {
                        "name;email"
                    }),
                    client: "chat-widget",
                    ip: "203.0.113.10",
                    ticket: None,
                    kind: "vendor",
                    team: "chat-vendor",
                },
                &customers,
            );
        }
        // Batch services: a nightly payments export and a CRM sync.
        rows.push(
            Event {
                at: at(day, 2.0),
                actor: "svc-billing-export",
                action: "export",
                records: Some(40_000 + rng.below(800) as i64),
                customer: None,
                resource: "payments",
                fields: Some("customer_id;amount;currency"),
                client: "batch",
                ip: "10.99.0.5",
                ticket: None,
                kind: "service",
                team: "batch",
            },
            &customers,
        );
        let drifted = has(Scenario::ServiceDrift) && d >= service_drift_onset;
        for _ in 0..rng.poisson(60.0) {
            let c = rng.below(n_customers) as u32;
            if drifted {
                victims
                    .entry("service")
                    .or_default()
                    .insert(format!("C{c:07}"));
            }
            rows.push(
                Event {
                    at: at(day, if drifted { 13.0 } else { 3.0 } + rng.f64()),
                    actor: "svc-crm-sync",
                    action: "update",
                    records: None,
                    customer: Some(c),
                    resource: "customers",
                    fields: Some("email"),
                    client: if drifted { "curl" } else { "api" },
                    ip: if drifted {
                        "198.51.100.77"
                    } else {
                        "10.99.0.6"
                    },
                    ticket: None,
                    kind: "service",
                    team: "batch",
                },
                &customers,
            );
        }
        total += rows.ts.len();
        let mut frame = rows.frame(o.format)?;
        let ext = match o.format {
            OutputFormat::Csv => "csv",
            OutputFormat::CsvGz => "csv.gz",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Parquet => "parquet",
        };
        let path = logs.join(format!("{day}.{ext}"));
        write_frame(&mut frame, &path, o.format)?;
    }
    let mut tickets_frame = DataFrame::new_infer_height(vec![
        Column::new("ticket_id".into(), t_id),
        Column::new("customer_id".into(), t_customer),
        Column::new("assignee".into(), t_assignee),
        Column::new("opened_at".into(), t_opened),
        Column::new("closed_at".into(), t_closed),
    ])?;
    let (tickets_name, tickets_format) = match o.format {
        OutputFormat::CsvGz => ("tickets.csv.gz", OutputFormat::CsvGz),
        _ => ("tickets.csv", OutputFormat::Csv),
    };
    write_frame(&mut tickets_frame, &dir.join(tickets_name), tickets_format)?;
    let last = o.start + Duration::days(days as i64 - 1);
    let date = |d: u32| o.start + Duration::days(d as i64);
    let mut victims_of = |label: &str| -> Vec<String> {
        victims
            .remove(label)
            .unwrap_or_default()
            .into_iter()
            .collect()
    };
    let mut attacks = Vec::new();
    let mut plant = |scenario: Scenario,
                     actor: &str,
                     onset: NaiveDate,
                     last_day: NaiveDate,
                     detectors: Vec<&'static str>,
                     victims: Vec<String>| {
        if has(scenario) {
            attacks.push(Planted {
                scenario,
                actor: actor.to_string(),
                onset,
                last_day,
                detectors,
                victims,
            });
        }
    };
    plant(
        Scenario::Insider,
        &agents[insider].id,
        date(insider_onset),
        last,
        vec!["distinct_customers", "record_volume"],
        victims_of("insider"),
    );
    plant(
        Scenario::SmashAndGrab,
        &agents[grabber].id,
        date(grab_day),
        date(grab_day),
        vec!["bulk_export"],
        Vec::new(),
    );
    plant(
        Scenario::VendorCard,
        "vendor-chatwidget",
        date(vendor_onset),
        last,
        vec!["sensitive_share", "new_field"],
        victims_of("vendor"),
    );
    plant(
        Scenario::Snoop,
        &agents[snooper].id,
        date(snoop_onset),
        last,
        vec!["need_to_know"],
        victims_of("snoop"),
    );
    plant(
        Scenario::SegmentDrip,
        &agents[segment_dripper].id,
        date(segment_drip_onset),
        last,
        vec![
            "segment_skew",
            "slow_drip",
            "distinct_customers",
            "need_to_know",
        ],
        victims_of("segment-drip"),
    );
    plant(
        Scenario::Drip,
        &agents[dripper].id,
        date(drip_onset),
        last,
        vec![
            "slow_drip",
            "distinct_customers",
            "record_volume",
            "need_to_know",
        ],
        victims_of("drip"),
    );
    plant(
        Scenario::Enumeration,
        &agents[enumerated].id,
        date(enumeration_day),
        date(enumeration_day + 1),
        vec!["enumeration", "new_source_ip", "off_hours"],
        victims_of("enumeration"),
    );
    plant(
        Scenario::ServiceDrift,
        "svc-crm-sync",
        date(service_drift_onset),
        last,
        vec!["new_source_ip", "new_client", "off_hours"],
        victims_of("service"),
    );
    plant(
        Scenario::Departing,
        &agents[leaver].id,
        date(leave_ramp),
        date(leave_day),
        vec!["slow_drip", "record_volume", "bulk_export"],
        Vec::new(),
    );
    let truth = GroundTruth {
        seed: o.seed,
        start: o.start,
        days,
        events: total,
        attacks,
        surge: (
            TEAMS[surge_team].name.to_string(),
            o.start + Duration::days(surge_day as i64),
        ),
        new_hires: agents
            .iter()
            .filter(|a| a.start_day > 0)
            .map(|a| (a.id.clone(), o.start + Duration::days(a.start_day as i64)))
            .collect(),
        team_leads: agents
            .iter()
            .filter(|a| a.lead)
            .map(|a| a.id.clone())
            .collect(),
        services: vec![
            "svc-billing-export".into(),
            "svc-crm-sync".into(),
            "vendor-chatwidget".into(),
        ],
        queue_moves: if has(Scenario::QueueMove) {
            vec![(agents[queue_mover].id.clone(), date(queue_move_day))]
        } else {
            Vec::new()
        },
    };
    let text = serde_json::to_string_pretty(&truth).map_err(|e| Error::Write {
        path: dir.join("ground_truth.json"),
        source: e.into(),
    })?;
    std::fs::write(dir.join("ground_truth.json"), text).map_err(werr(dir))?;
    Ok(truth)
}
