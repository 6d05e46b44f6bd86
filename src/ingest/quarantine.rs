//! Writes rejected rows to the `--quarantine` file as JSON Lines, one object
//! per row: `{"source","line","column","value","reason","problems","row"}`.

use std::io::Write;
use std::path::Path;

use super::Rejection;
use crate::error::{Error, Result};
use crate::report::files::private_file;

/// Writes every rejection (an empty file when there are none).
pub fn write(path: &Path, rejected: &[Rejection]) -> Result<()> {
    let werr = |e| Error::Write {
        path: path.to_path_buf(),
        source: e,
    };
    let mut out = std::io::BufWriter::new(private_file(path).map_err(werr)?);
    for r in rejected {
        let first = r.problems.first();
        let line = serde_json::json!({
            "source": r.source,
            "line": r.line,
            "column": first.map(|p| p.column.as_str()),
            "value": first.and_then(|p| p.value.as_deref()),
            "reason": r.problems.iter().map(|p| format!("{}: {}", p.column, p.reason)).collect::<Vec<_>>().join("; "),
            "problems": r.problems,
            "row": r.row,
        });
        writeln!(out, "{line}").map_err(werr)?;
    }
    out.flush().map_err(werr)
}
