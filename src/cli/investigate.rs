//! `leakwatch investigate ACTOR PATH...`: the forensic view of one actor.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use super::SourceArgs;
use crate::error::Error;
use crate::error::Result;
use crate::investigate::{self, InvestigateOptions};

#[derive(Debug, Args)]
pub struct InvestigateArgs {
    /// The actor, exactly as in the logs.
    pub actor: String,

    /// Access-log files, directories or globs. With --state, optional and
    /// read only for each customer's fields, clients and addresses and for
    /// the exports and searches (the state does not keep them).
    #[arg(value_hint = clap::ValueHint::AnyPath)]
    pub paths: Vec<String>,

    /// Read the history from a state built by `analyze --state`.
    #[arg(long, value_hint = clap::ValueHint::DirPath, env = "LEAKWATCH_STATE", help_heading = "Input")]
    pub state: Option<PathBuf>,

    #[command(flatten)]
    pub source: SourceArgs,

    /// Output directory for timeline.csv, customers.csv, activity.csv and report.html.
    #[arg(long, default_value = "leakwatch-investigation", value_hint = clap::ValueHint::DirPath, help_heading = "Output")]
    pub out: PathBuf,

    /// First day shown (inclusive, YYYY-MM-DD); earlier input still builds baselines.
    #[arg(long, help_heading = "Days")]
    pub from: Option<NaiveDate>,

    /// Last day shown (inclusive, YYYY-MM-DD).
    #[arg(long, help_heading = "Days")]
    pub to: Option<NaiveDate>,
}

pub fn run(args: InvestigateArgs) -> Result<()> {
    if args.paths.is_empty() && args.state.is_none() {
        return Err(Error::Usage(
            "give the logs (PATH...) or a state (--state DIR) to investigate".into(),
        ));
    }
    let settings = args.source.settings(args.from, args.to)?;
    let options = InvestigateOptions {
        actor: args.actor.clone(),
        inputs: args.paths.clone(),
        tickets: args.source.tickets(),
        out: args.out.clone(),
        state: args.state.clone(),
    };
    let found = investigate::investigate(&options, &settings)?;
    println!(
        "{:<10} {:>6} {:>7} {:>9} {:>11} {:>9} {:>8}  reasons",
        "day", "events", "records", "customers", "usual", "no ticket", "severity"
    );
    for d in &found.timeline {
        let usual = d
            .usual_customers
            .map(|(lo, hi)| format!("{:.0}-{:.0}", lo, hi))
            .unwrap_or_default();
        let uncovered = d.uncovered.map(|u| format!("{u:.0}")).unwrap_or_default();
        println!(
            "{:<10} {:>6.0} {:>7.0} {:>9.0} {:>11} {:>9} {:>8}  {}",
            d.day,
            d.events,
            d.records,
            d.customers,
            usual,
            uncovered,
            d.severity.as_deref().unwrap_or(""),
            d.reasons.first().map(String::as_str).unwrap_or("")
        );
    }
    match found.window {
        Some((start, end)) => println!(
            "\n{}: {} alert(s); anomalous from {start} to {end}; {} customer(s) touched in that window{}; {} export(s) of {} rows in total (customers in an export are not named in the log)",
            args.actor,
            found.alerts.len(),
            found.customers,
            if found.tickets_known {
                ", each marked whether the actor's own ticket covered it"
            } else {
                " (no --tickets: ticket coverage unknown)"
            },
            found.exports,
            found.export_rows
        ),
        None => println!(
            "\n{}: no alert in the days shown; {} customer(s) touched",
            args.actor, found.customers
        ),
    }
    println!("wrote {}", args.out.display());
    Ok(())
}
