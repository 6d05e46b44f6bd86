//! Persistent state for nightly runs (`analyze --state DIR`): the reduced
//! feature tables of the history (actor-day, hour, item, customer and
//! ticket-citation tables, as Parquet), the de-duplication keys of the last
//! `late_days` days of events, and a manifest (format version, the settings
//! the tables were reduced with, days and inputs seen).
//!
//! It also keeps the scored history ([`history`]): values derived from the
//! customer table, each actor-day's verdict, and the baseline engine's
//! checkpoint as of `late_days` before the last day. Baselines, peers and
//! the drip accumulators are a deterministic walk over the tables, so a
//! nightly run resumes that walk at the checkpoint and scores its days
//! exactly as one batch run over the same events would. A run with other
//! scoring settings replays the whole history instead (slower, and the
//! change applies to all of it at once). Only the settings that shape the
//! tables (time zone, sensitive fields and resources, column and value
//! maps, ticket grace) must match the state's, and so must whether
//! `--tickets` is given.
//!
//! Layout: `DIR/v-<nanos>-<pid>/` holds one complete version; `DIR/current`
//! is a symbolic link to it, replaced atomically (a new link renamed over
//! the old) once the new version is written and synced. A run killed at
//! any moment leaves `current` on a complete version. `DIR/lock` is held
//! (an advisory lock, released when the process ends) for the whole run.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

pub mod history;

use crate::baseline::Checkpoint;
use crate::error::{Error, Result};
use crate::features::table::Derived;
use crate::features::FeatureTables;
use crate::report::files::private_file;
use crate::settings::Settings;

/// Bumped when the files or their columns change.
pub const FORMAT_VERSION: u32 = 2;

const CURRENT: &str = "current";
const MANIFEST: &str = "manifest.json";
const CHECKPOINT: &str = "checkpoint.json";

/// The held lock on a state directory.
pub struct StateLock {
    _file: File,
}

fn werr(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Write {
        path: path.to_path_buf(),
        source: e,
    }
}

fn rerr(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Read {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

fn owner_only_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(werr(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(werr(path))?;
    }
    Ok(())
}

/// Takes the state's lock, or fails naming the run that holds it.
pub fn lock(dir: &Path) -> Result<StateLock> {
    owner_only_dir(dir)?;
    let path = dir.join("lock");
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(werr(&path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(Error::StateLocked {
                path: dir.to_path_buf(),
                holder: holder.trim().to_string(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(werr(&path)(e)),
    }
    let holder = format!(
        "pid {} since {}",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    file.set_len(0).map_err(werr(&path))?;
    file.rewind().map_err(werr(&path))?;
    file.write_all(holder.as_bytes()).map_err(werr(&path))?;
    file.sync_all().map_err(werr(&path))?;
    Ok(StateLock { _file: file })
}

/// What the state was built with and from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format_version: u32,
    /// The settings that shape the stored tables.
    pub table_settings: serde_json::Value,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    /// Every input file read into the state, in order.
    pub inputs: Vec<String>,
    pub runs: u32,
    pub written_at: String,
}

/// The settings that shape the stored tables (the rest only shape scoring,
/// which every run redoes over the whole history), and whether tickets are
/// given: a history judged for need-to-know cannot take a night without.
pub fn table_settings(settings: &Settings, tickets: bool) -> serde_json::Value {
    serde_json::json!({
        "tickets": tickets,
        "timezone": settings.timezone,
        "sensitive_fields": settings.sensitive_fields,
        "sensitive_resources": settings.sensitive_resources,
        "columns": settings.columns,
        "values": settings.values,
        "ticket_grace_minutes": settings.ticket_grace_minutes,
    })
}

/// A loaded (or to be saved) state.
pub struct Stored {
    pub manifest: Manifest,
    pub tables: FeatureTables,
    /// `_utc_day`, `_key` of the events of the last `late_days` days.
    pub keys: DataFrame,
    /// What earlier runs scored (absent in a state with no days).
    pub history: Option<history::ScoredHistory>,
}

const TABLES: [&str; 9] = [
    "actor_days",
    "hours",
    "items",
    "customers",
    "ticket_use",
    "keys",
    "derived",
    "segments",
    "verdicts",
];

fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).map_err(rerr(path))?;
    Ok(ParquetReader::new(file).finish()?)
}

fn write_parquet(path: &Path, frame: &DataFrame) -> Result<()> {
    let file = private_file(path).map_err(werr(path))?;
    let mut frame = frame.clone();
    let file = {
        let mut writer = std::io::BufWriter::new(file);
        ParquetWriter::new(&mut writer)
            .with_compression(ParquetCompression::Lz4Raw)
            .finish(&mut frame)?;
        writer
            .into_inner()
            .map_err(|e| werr(path)(e.into_error()))?
    };
    file.sync_all().map_err(werr(path))?;
    Ok(())
}

/// Loads the current version, or `None` for a new state.
pub fn load(dir: &Path) -> Result<Option<Stored>> {
    let current = dir.join(CURRENT);
    let version = match std::fs::read_link(&current) {
        Ok(target) => dir.join(target),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(rerr(&current)(e)),
    };
    let manifest_path = version.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).map_err(rerr(&manifest_path))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Read {
        path: manifest_path.clone(),
        source: Box::new(e),
    })?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(Error::StateMismatch {
            path: dir.to_path_buf(),
            reason: format!(
                "written in format {} and this leakwatch reads format {FORMAT_VERSION}",
                manifest.format_version
            ),
        });
    }
    let table = |name: &str| read_parquet(&version.join(format!("{name}.parquet")));
    let ticket_use = version.join("ticket_use.parquet");
    let checkpoint_path = version.join(CHECKPOINT);
    let history = if checkpoint_path.exists() {
        let text = std::fs::read(&checkpoint_path).map_err(rerr(&checkpoint_path))?;
        let checkpoint: Checkpoint = serde_json::from_slice(&text).map_err(|e| Error::Read {
            path: checkpoint_path.clone(),
            source: Box::new(e),
        })?;
        Some(history::ScoredHistory {
            derived: Derived {
                columns: table("derived")?,
                segments: table("segments")?,
            },
            verdicts: table("verdicts")?,
            checkpoint,
        })
    } else {
        None
    };
    Ok(Some(Stored {
        tables: FeatureTables {
            actor_days: table("actor_days")?,
            hours: table("hours")?,
            items: table("items")?,
            customers: table("customers")?,
            ticket_use: if ticket_use.exists() {
                Some(read_parquet(&ticket_use)?)
            } else {
                None
            },
        },
        keys: table("keys")?,
        manifest,
        history,
    }))
}

/// Writes a new version beside the current one and switches to it.
pub fn save(dir: &Path, stored: &Stored) -> Result<()> {
    let name = format!(
        "v-{}-{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
        std::process::id()
    );
    let version = dir.join(&name);
    owner_only_dir(&version)?;
    let t = &stored.tables;
    let h = stored.history.as_ref();
    let tables: Vec<(&str, &DataFrame)> = [
        ("actor_days", Some(&t.actor_days)),
        ("hours", Some(&t.hours)),
        ("items", Some(&t.items)),
        ("customers", Some(&t.customers)),
        ("ticket_use", t.ticket_use.as_ref()),
        ("keys", Some(&stored.keys)),
        ("derived", h.map(|h| &h.derived.columns)),
        ("segments", h.map(|h| &h.derived.segments)),
        ("verdicts", h.map(|h| &h.verdicts)),
    ]
    .into_iter()
    .filter_map(|(file, frame)| frame.map(|f| (file, f)))
    .collect();
    // Each table is encoded, written and synced on its own thread, so the
    // syncs overlap; the version is switched in only when all succeeded.
    std::thread::scope(|scope| -> Result<()> {
        let writers: Vec<_> = tables
            .iter()
            .map(|&(file, frame)| {
                debug_assert!(TABLES.contains(&file));
                let path = version.join(format!("{file}.parquet"));
                scope.spawn(move || write_parquet(&path, frame))
            })
            .collect();
        writers
            .into_iter()
            .try_for_each(|w| w.join().expect("a state writer thread panicked"))
    })?;
    if let Some(h) = h {
        write_json(&version.join(CHECKPOINT), &h.checkpoint, false)?;
    }
    write_json(&version.join(MANIFEST), &stored.manifest, true)?;
    sync_dir(&version)?;
    switch(dir, &name)?;
    // Older versions are no longer needed (a crash here leaves them for
    // the next run to remove).
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let old = entry.file_name().to_string_lossy().to_string();
            if old.starts_with("v-") && old != name {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

fn write_json(path: &Path, value: &impl Serialize, pretty: bool) -> Result<()> {
    let text = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    }
    .map_err(|e| Error::Write {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    let mut file = private_file(path).map_err(werr(path))?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .map_err(werr(path))
}

/// Points `current` at `version` atomically.
pub fn switch(dir: &Path, version: &str) -> Result<()> {
    let tmp: PathBuf = dir.join(format!("{CURRENT}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(version, &tmp).map_err(werr(&tmp))?;
    #[cfg(not(unix))]
    return Err(Error::Usage("--state needs a Unix file system".into()));
    std::fs::rename(&tmp, dir.join(CURRENT)).map_err(werr(dir))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(werr(dir))
}
