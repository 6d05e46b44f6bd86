//! `leakwatch generate`: synthetic data for trying and testing leakwatch.

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::generate::{self, GenerateOptions, OutputFormat, Scenario};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output directory (logs/, tickets.csv, ground_truth.json).
    #[arg(long, value_hint = clap::ValueHint::DirPath)]
    pub out: PathBuf,
    /// Support employees (agents and team leads).
    #[arg(long, default_value_t = 120)]
    pub employees: usize,
    /// Days of activity.
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    /// Random seed: the same seed gives the same files.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Attacks to plant, comma-separated (`none` for a benign organisation).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "insider,smash-and-grab,vendor-card"
    )]
    pub scenarios: Vec<Scenario>,
    /// File format of the access logs (one file per day).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: OutputFormat,
    /// Workload multiplier: 1.0 gives about 45 events per agent per working day.
    #[arg(long, default_value_t = 1.0)]
    pub intensity: f64,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value = "2024-01-01")]
    pub start: chrono::NaiveDate,
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let options = GenerateOptions {
        employees: args.employees,
        days: args.days,
        seed: args.seed,
        scenarios: args
            .scenarios
            .into_iter()
            .filter(|s| *s != Scenario::None)
            .collect(),
        format: args.format,
        start: args.start,
        intensity: args.intensity,
    };
    let truth = generate::write(&args.out, &options)?;
    eprintln!(
        "wrote {} events over {} days to {}",
        truth.events,
        options.days,
        args.out.display()
    );
    Ok(())
}
