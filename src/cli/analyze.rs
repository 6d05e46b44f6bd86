//! `leakwatch analyze`: the main job.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use super::InputArgs;
use crate::error::Result;
use crate::pipeline::{self, AnalyzeOptions};

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Output directory for alerts.jsonl, report.html and run.json.
    #[arg(long, default_value = "leakwatch-out", value_hint = clap::ValueHint::DirPath, env = "LEAKWATCH_OUT", help_heading = "Output")]
    pub out: PathBuf,

    /// First day to score and write (inclusive, YYYY-MM-DD); earlier input still builds baselines.
    #[arg(long, help_heading = "Days")]
    pub from: Option<NaiveDate>,

    /// Last day to score and write (inclusive, YYYY-MM-DD).
    #[arg(long, help_heading = "Days")]
    pub to: Option<NaiveDate>,

    /// Set rejected rows aside in this JSON Lines file and go on, instead of stopping.
    #[arg(long, value_hint = clap::ValueHint::FilePath, help_heading = "Input")]
    pub quarantine: Option<PathBuf>,

    /// Keep what later runs need in DIR (feature tables, recent event keys, a
    /// manifest): a nightly run over only yesterday's file then scores it
    /// against the whole history kept there. See the README.
    #[arg(long, value_hint = clap::ValueHint::DirPath, env = "LEAKWATCH_STATE", help_heading = "State")]
    pub state: Option<PathBuf>,

    /// Rebuild the state from the inputs given, discarding what it held.
    #[arg(long, requires = "state", help_heading = "State")]
    pub rebuild: bool,

    /// Print nothing but errors (the table and summary are skipped).
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: AnalyzeArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let settings = args.input.settings(args.from, args.to)?;
    let options = AnalyzeOptions {
        inputs: args.input.paths.clone(),
        tickets: args.input.tickets(),
        out: args.out.clone(),
        quarantine: args.quarantine.clone(),
        state: args.state.clone(),
        rebuild: args.rebuild,
    };
    let mut progress = super::progress::ProgressLine::new(!args.quiet);
    let analysis =
        pipeline::analyze_with_progress(&options, &settings, &mut |p| progress.update(p));
    progress.finish();
    let analysis = analysis?;
    // Warnings are printed even with --quiet: cron mails stderr.
    for w in &analysis.warnings {
        eprintln!("warning: {w}");
    }
    if !args.quiet {
        print!("{}", analysis.table);
        let c = &analysis.counts;
        let alerts: Vec<String> = ["critical", "high", "medium", "low"]
            .iter()
            .map(|s| format!("{} {s}", c.alerts.get(*s).copied().unwrap_or(0)))
            .collect();
        eprintln!(
            "read {} rows from {} file(s): {} events, {} rejected, {} duplicates dropped, {} search/export rows without a record count; {} actor-days scored; alerts: {}; {} reason(s) suppressed by [[allow]]; {:.1}s",
            c.rows,
            c.files,
            c.events,
            c.rejected,
            c.duplicates,
            c.unknown_records,
            c.actor_days,
            alerts.join(", "),
            c.suppressed_reasons,
            started.elapsed().as_secs_f64()
        );
        if !analysis.unknown_columns.is_empty() {
            eprintln!(
                "ignored columns not in the contract: {}",
                analysis.unknown_columns.join(", ")
            );
        }
        if options.tickets.is_empty() {
            eprintln!("need-to-know judging is off (no --tickets)");
        }
        eprintln!("wrote {}", args.out.join("alerts.jsonl").display());
    }
    Ok(())
}
