//! leakwatch: finds insiders stealing customer data from support-database
//! access logs.
//!
//! The stages, in the order data flows through them:
//!
//! 1. [`ingest`]: files → validated, de-duplicated canonical events
//!    (polars frames), with rejected rows reported or quarantined;
//! 2. [`features`]: events → per-actor-day tables (polars expressions,
//!    one file at a time) → [`features::ActorDay`] rows;
//! 3. [`baseline`]: causal personal and peer baselines per actor-day;
//! 4. [`detect`]: detectors → findings → combined p-value, q-value, score;
//! 5. [`scoring`]: the day-by-day walk that ties 3 and 4 together and keeps
//!    anomalous days out of baselines;
//! 6. [`report`]: alerts and their writers.
//!
//! [`pipeline`] is the one data flow; [`settings::Settings`] is every knob;
//! [`cli`] is the command line; [`generate`] writes synthetic organisations.

pub mod allocator;
pub mod baseline;
pub mod cli;
pub mod detect;
pub mod error;
pub mod features;
pub mod generate;
pub mod ingest;
pub mod investigate;
pub mod pipeline;
pub mod report;
pub mod schema;
pub mod scoring;
pub mod settings;
pub mod state;
pub mod stats;

pub use error::{Error, Result};
pub use settings::Settings;
