//! `leakwatch check`: validate without analysing.

use clap::Args;

use super::InputArgs;
use crate::error::{Error, Result};
use crate::pipeline;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
}

pub fn run(args: CheckArgs) -> Result<()> {
    let settings = args.input.settings(None, None)?;
    let ingested = pipeline::check(&args.input.paths, &args.input.tickets(), &settings)?;
    let c = &ingested.counts;
    println!("files:      {}", c.files);
    println!("rows:       {}", c.rows);
    println!(
        "events:     {} ({} duplicates dropped)",
        c.events, c.duplicates
    );
    match (ingested.first_ts, ingested.last_ts) {
        (Some(a), Some(b)) => println!("time range: {a} .. {b} UTC"),
        _ => println!("time range: (no events)"),
    }
    println!("actors:     {}", c.actors);
    println!("days:       {}", c.days);
    if let Some(t) = c.ticket_rows {
        println!("tickets:    {t} rows");
    }
    if !ingested.unknown_columns.is_empty() {
        println!("ignored:    {}", ingested.unknown_columns.join(", "));
    }
    println!("rejected:   {}", c.rejected);
    for r in ingested.rejected.iter().take(10) {
        for p in &r.problems {
            println!(
                "  {}:{}: column `{}`: value `{}`: {}",
                r.source,
                r.line,
                p.column,
                p.value.as_deref().unwrap_or(""),
                p.reason
            );
        }
    }
    if c.rejected > 10 {
        println!("  ... and {} more", c.rejected - 10);
    }
    if c.rejected > 0 {
        return Err(Error::CheckFailed(c.rejected));
    }
    Ok(())
}
