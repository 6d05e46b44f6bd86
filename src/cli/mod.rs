//! The command line: clap definitions (`*Args`) resolved into [`Settings`],
//! one file per subcommand. The library never sees these types.

pub mod analyze;
pub mod check;
pub mod generate;
pub mod investigate;
pub mod progress;

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use crate::error::Result;
use crate::settings::Settings;

/// Finds insiders and compromised vendor accounts stealing customer data,
/// from a support database's access logs.
///
/// leakwatch learns each actor's normal behaviour (their own history and
/// their team's), scores every actor-day, and writes ranked alerts that say
/// why in numbers, since when, and which customers were touched.
#[derive(Debug, Parser)]
#[command(name = "leakwatch", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Score access logs and write alerts.jsonl, report.html, run.json and a ranked table.
    Analyze(analyze::AnalyzeArgs),
    /// Validate access logs without analysing them (exit 1 if any row would be rejected).
    Check(check::CheckArgs),
    /// One actor's timeline against their baseline, and every customer they touched in the anomalous window.
    Investigate(investigate::InvestigateArgs),
    /// Write a deterministic synthetic support organisation with planted attacks.
    Generate(generate::GenerateArgs),
}

/// Options shared by commands that read logs.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// Access-log files, directories or globs (.csv, .jsonl, .ndjson, .parquet; text formats may be .gz).
    #[arg(required = true, value_hint = clap::ValueHint::AnyPath)]
    pub paths: Vec<String>,

    #[command(flatten)]
    pub source: SourceArgs,
}

impl InputArgs {
    /// Resolves the config file and flags into checked settings.
    pub fn settings(&self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Settings> {
        self.source.settings(from, to)
    }

    pub fn tickets(&self) -> Vec<String> {
        self.source.tickets()
    }
}

/// How to read the logs: tickets, config and time zone.
#[derive(Debug, Args, Clone)]
pub struct SourceArgs {
    /// Ticket-assignment snapshot (file, directory or glob), for need-to-know judging.
    #[arg(long, value_hint = clap::ValueHint::AnyPath, env = "LEAKWATCH_TICKETS", help_heading = "Input")]
    pub tickets: Option<String>,

    /// TOML config: thresholds, windows, `[columns]` and `[values.*]` mappings.
    #[arg(long, value_hint = clap::ValueHint::FilePath, env = "LEAKWATCH_CONFIG", help_heading = "Input")]
    pub config: Option<PathBuf>,

    /// IANA time zone for days and hours (default UTC), e.g. `Europe/Oslo`.
    #[arg(long, env = "LEAKWATCH_TIMEZONE", help_heading = "Input")]
    pub timezone: Option<String>,
}

impl SourceArgs {
    /// Resolves the config file and flags into checked settings.
    pub fn settings(&self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Settings> {
        let mut settings = match &self.config {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        if self.timezone.is_some() {
            settings.timezone = self.timezone.clone();
        }
        if from.is_some() {
            settings.from = from;
        }
        if to.is_some() {
            settings.to = to;
        }
        settings.validate()?;
        Ok(settings)
    }

    pub fn tickets(&self) -> Vec<String> {
        self.tickets.iter().cloned().collect()
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Check(args) => check::run(args),
        Command::Investigate(args) => investigate::run(args),
        Command::Generate(args) => generate::run(args),
    }
}
