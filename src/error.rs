//! The library's error kinds. Each message names the file, line, column and
//! value it is about; `main` prints the `Caused by:` chain and any hint.

use std::path::PathBuf;

use crate::ingest::Rejection;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input path or glob matched no supported file.
    #[error("no input file matches `{0}`")]
    NoInput(String),

    /// A file could not be opened or decoded.
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A required contract column is absent from a file.
    #[error("`{}`: required column `{column}` is missing (columns found: {found})", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        found: String,
    },

    /// Rows with values the contract does not accept, and no `--quarantine`.
    #[error("{}", render_rejections(*.total, shown))]
    BadValues { total: usize, shown: Vec<Rejection> },

    /// `check` found rows that `analyze` would reject.
    #[error("{0} row(s) would be rejected")]
    CheckFailed(usize),

    /// The configuration file or a flag value is invalid (exit code 2).
    #[error("{0}")]
    Usage(String),

    /// An output file could not be written.
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Another run holds the state directory's lock (exit code 75).
    #[error("state `{}` is locked by another run ({holder})", path.display())]
    StateLocked { path: PathBuf, holder: String },

    /// The state cannot be used with this run as asked (see the hint).
    #[error("state `{}`: {reason}", path.display())]
    StateMismatch { path: PathBuf, reason: String },

    /// An error inside the dataframe engine.
    #[error("dataframe engine: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
}

impl Error {
    /// The process exit code of contract §5.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::StateLocked { .. } => 75,
            _ => 1,
        }
    }

    /// A suggestion printed after the error, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::MissingColumn { .. } => Some(
                "map a source column onto the contract name in the config's `[columns]` table, \
                 e.g. `user_name = \"actor\"`"
                    .into(),
            ),
            Error::BadValues { .. } => Some(
                "fix the rows, or pass `--quarantine FILE` to set them aside and go on".into(),
            ),
            Error::StateLocked { .. } => Some(
                "wait for that run to finish and try again; the lock is released when its process ends"
                    .into(),
            ),
            Error::StateMismatch { .. } => Some(
                "pass `--rebuild` with the inputs to rebuild the state from them".into(),
            ),
            Error::NoInput(_) => Some(
                "give a file, a directory or a glob of .csv, .jsonl, .ndjson or .parquet files (text formats may end in .gz)"
                    .into(),
            ),
            _ => None,
        }
    }
}

fn render_rejections(total: usize, shown: &[Rejection]) -> String {
    let mut out = format!("{total} row(s) with bad values");
    for r in shown {
        for p in &r.problems {
            out.push_str(&format!(
                "\n  {}:{}: column `{}`: value `{}`: {}",
                r.source,
                r.line,
                p.column,
                p.value.as_deref().unwrap_or(""),
                p.reason
            ));
        }
    }
    if total > shown.len() {
        out.push_str(&format!("\n  ... and {} more row(s)", total - shown.len()));
    }
    out
}
