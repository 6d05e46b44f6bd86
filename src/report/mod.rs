//! Report: alerts (contract §4) built from verdicts, and their writers:
//! `alerts.jsonl`, `run.json`, `report.html` and the ranked table on stdout. Every file is
//! written to a temporary name and renamed, readable by its owner only.

pub mod alert;
pub mod csv;
pub mod files;
pub mod html;
pub mod table;

pub use alert::{alerts, in_range, Alert, Reason};
