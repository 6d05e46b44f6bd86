//! The `leakwatch` binary: parse, run, map errors to exit codes (contract §5).

use std::error::Error as _;
use std::process::ExitCode;

use clap::Parser;

// polars allocates and frees many short-lived buffers from several threads;
// jemalloc, tuned for that, handles it better than the system allocator.
leakwatch::global_allocator!();

fn main() -> ExitCode {
    let cli = leakwatch::cli::Cli::parse();
    match leakwatch::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  Caused by: {cause}");
                source = cause.source();
            }
            if let Some(hint) = err.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(err.exit_code() as u8)
        }
    }
}
