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
//! Layout: `DIR/v-<nanos>-<pid>/` holds one complete version (each
//! day-keyed table a folder of seven-day [`blocks`], those a run did not
//! change hard links to the previous version's files, never modified in
//! place; the de-duplication keys one file); `DIR/current` is a symbolic
//! link to it, replaced atomically (a new link renamed over
//! the old) once the new version is written and synced. A run killed at
//! any moment leaves `current` on a complete version. `DIR/lock` is held
//! (an advisory lock, released when the process ends) for the whole run.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

pub mod blocks;
pub mod history;

use crate::baseline::Checkpoint;
use crate::error::{Error, Result};
use crate::features::table::Derived;
use crate::features::FeatureTables;
use crate::report::files::private_file;
use crate::settings::Settings;
use blocks::{Block, Store};

/// Bumped when the files or their columns change.
pub const FORMAT_VERSION: u32 = 3;

/// The format before day blocks (each table one file), still read.
const SINGLE_FILE_FORMAT: u32 = 2;

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
    /// The stored blocks of each day-keyed table (see [`blocks`]); filled
    /// in by [`save`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub blocks: BTreeMap<String, Vec<Block>>,
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

/// The day-keyed tables, stored in day blocks.
const DAY_TABLES: [&str; 8] = [
    "actor_days",
    "hours",
    "items",
    "customers",
    "ticket_use",
    "derived",
    "segments",
    "verdicts",
];

/// The de-duplication keys (a few days' worth), stored whole.
const KEYS: &str = "keys";

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

/// One version's stored tables, as its manifest lists them.
struct VersionFiles<'a> {
    dir: PathBuf,
    manifest: &'a Manifest,
}

impl VersionFiles<'_> {
    /// Whether the version stores `name`.
    fn has(&self, name: &str) -> bool {
        if self.manifest.format_version == SINGLE_FILE_FORMAT || name == KEYS {
            self.dir.join(format!("{name}.parquet")).exists()
        } else {
            self.manifest.blocks.contains_key(name)
        }
    }

    /// Reads table `name`: its blocks in day order, or its one file.
    fn read(&self, name: &str) -> Result<DataFrame> {
        if self.manifest.format_version == SINGLE_FILE_FORMAT || name == KEYS {
            return read_parquet(&self.dir.join(format!("{name}.parquet")));
        }
        let dir = self.dir.join(name);
        let stored = self.manifest.blocks.get(name).ok_or_else(|| Error::Read {
            path: dir.clone(),
            source: format!("the manifest lists no table `{name}`").into(),
        })?;
        if stored.is_empty() {
            return read_parquet(&dir.join(blocks::EMPTY_FILE));
        }
        let mut frame: Option<DataFrame> = None;
        for block in stored {
            let path = dir.join(block.file_name());
            let part = read_parquet(&path)?;
            if part.height() != block.rows {
                return Err(Error::Read {
                    path,
                    source: format!(
                        "holds {} rows and the manifest says {}",
                        part.height(),
                        block.rows
                    )
                    .into(),
                });
            }
            match &mut frame {
                None => frame = Some(part),
                Some(f) => {
                    f.vstack_mut(&part).map_err(|e| Error::Read {
                        path,
                        source: Box::new(e),
                    })?;
                }
            }
        }
        Ok(frame.expect("at least one block"))
    }
}

fn current_version(dir: &Path) -> Result<Option<(PathBuf, Manifest)>> {
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
    Ok(Some((version, manifest)))
}

/// Loads the current version, or `None` for a new state.
pub fn load(dir: &Path) -> Result<Option<Stored>> {
    let Some((version, manifest)) = current_version(dir)? else {
        return Ok(None);
    };
    if ![SINGLE_FILE_FORMAT, FORMAT_VERSION].contains(&manifest.format_version) {
        return Err(Error::StateMismatch {
            path: dir.to_path_buf(),
            reason: format!(
                "written in format {} and this leakwatch reads formats {SINGLE_FILE_FORMAT} and {FORMAT_VERSION}",
                manifest.format_version
            ),
        });
    }
    let files = VersionFiles {
        dir: version.clone(),
        manifest: &manifest,
    };
    let checkpoint_path = version.join(CHECKPOINT);
    let history = if checkpoint_path.exists() {
        let text = std::fs::read(&checkpoint_path).map_err(rerr(&checkpoint_path))?;
        let checkpoint: Checkpoint = serde_json::from_slice(&text).map_err(|e| Error::Read {
            path: checkpoint_path.clone(),
            source: Box::new(e),
        })?;
        Some(history::ScoredHistory {
            derived: Derived {
                columns: files.read("derived")?,
                segments: files.read("segments")?,
            },
            verdicts: files.read("verdicts")?,
            checkpoint,
        })
    } else {
        None
    };
    let tables = FeatureTables {
        actor_days: files.read("actor_days")?,
        hours: files.read("hours")?,
        items: files.read("items")?,
        customers: files.read("customers")?,
        ticket_use: if files.has("ticket_use") {
            Some(files.read("ticket_use")?)
        } else {
            None
        },
    };
    let keys = files.read(KEYS)?;
    Ok(Some(Stored {
        tables,
        keys,
        manifest,
        history,
    }))
}

/// Stores one day-keyed table in `version/name/`, linking the blocks
/// [`blocks::plan`] finds unchanged in `previous`; returns its blocks.
fn save_table(
    version: &Path,
    name: &str,
    frame: &DataFrame,
    previous: Option<&VersionFiles>,
    unchanged_before: NaiveDate,
) -> Result<Vec<Block>> {
    let dir = version.join(name);
    owner_only_dir(&dir)?;
    if frame.height() == 0 {
        write_parquet(&dir.join(blocks::EMPTY_FILE), frame)?;
        return Ok(Vec::new());
    }
    let previous_dir = previous.map(|p| p.dir.join(name));
    let stored = previous
        .filter(|p| p.manifest.format_version == FORMAT_VERSION)
        .and_then(|p| p.manifest.blocks.get(name));
    let planned = blocks::plan(
        frame,
        previous_dir.as_deref().zip(stored.map(Vec::as_slice)),
        unchanged_before,
    )?;
    let mut written = Vec::with_capacity(planned.len());
    for (block, store) in planned {
        let path = dir.join(block.file_name());
        match store {
            Store::Link(from) => {
                if std::fs::hard_link(&from, &path).is_err() {
                    // A file system without hard links: copy instead.
                    std::fs::copy(&from, &path)
                        .and_then(|_| File::open(&path)?.sync_all())
                        .map_err(werr(&path))?;
                }
            }
            Store::Write(rows) => write_parquet(&path, &rows)?,
        }
        written.push(block);
    }
    sync_dir(&dir)?;
    Ok(written)
}

/// The caller's word on what a run left as the current version has it:
/// the rows of days before `features` in the feature tables, and before
/// `history` in the scored history's (retention aside).
#[derive(Debug, Clone, Copy)]
pub struct UnchangedBefore {
    pub features: NaiveDate,
    pub history: NaiveDate,
}

impl UnchangedBefore {
    /// Everything may have changed: every block is written.
    pub const NOTHING: UnchangedBefore = UnchangedBefore {
        features: NaiveDate::MIN,
        history: NaiveDate::MIN,
    };
}

/// Writes a new version beside the current one and switches to it.
///
/// Blocks of days `unchanged` vouches for that still hold the same days
/// and rows are hard-links to the current version's files, not rewritten.
pub fn save(dir: &Path, stored: &Stored, unchanged: UnchangedBefore) -> Result<()> {
    let previous = current_version(dir)?;
    let previous = previous.as_ref().map(|(dir, manifest)| VersionFiles {
        dir: dir.clone(),
        manifest,
    });
    let name = format!(
        "v-{}-{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
        std::process::id()
    );
    let version = dir.join(&name);
    owner_only_dir(&version)?;
    let t = &stored.tables;
    let h = stored.history.as_ref();
    let (features, history) = (unchanged.features, unchanged.history);
    let tables: Vec<(&str, &DataFrame, NaiveDate)> = [
        ("actor_days", Some(&t.actor_days), features),
        ("hours", Some(&t.hours), features),
        ("items", Some(&t.items), features),
        ("customers", Some(&t.customers), features),
        ("ticket_use", t.ticket_use.as_ref(), features),
        ("derived", h.map(|h| &h.derived.columns), history),
        ("segments", h.map(|h| &h.derived.segments), history),
        ("verdicts", h.map(|h| &h.verdicts), history),
    ]
    .into_iter()
    .filter_map(|(file, frame, day)| frame.map(|f| (file, f, day)))
    .collect();
    // Each table is stored on its own thread, so that the syncs overlap;
    // the version is switched in only when all succeeded.
    let mut manifest = stored.manifest.clone();
    std::thread::scope(|scope| -> Result<()> {
        let (version, previous) = (&version, previous.as_ref());
        let keys = scope
            .spawn(move || write_parquet(&version.join(format!("{KEYS}.parquet")), &stored.keys));
        let writers: Vec<_> = tables
            .iter()
            .map(|&(table, frame, unchanged_before)| {
                debug_assert!(DAY_TABLES.contains(&table));
                let thread = scope
                    .spawn(move || save_table(version, table, frame, previous, unchanged_before));
                (table, thread)
            })
            .collect();
        keys.join().expect("a state writer thread panicked")?;
        for (table, thread) in writers {
            let blocks = thread.join().expect("a state writer thread panicked")?;
            manifest.blocks.insert(table.to_string(), blocks);
        }
        Ok(())
    })?;
    if let Some(h) = h {
        write_json(&version.join(CHECKPOINT), &h.checkpoint, false)?;
    }
    manifest.format_version = FORMAT_VERSION;
    write_json(&version.join(MANIFEST), &manifest, true)?;
    sync_dir(&version)?;
    switch(dir, &name)?;
    // Older versions are no longer needed (a crash here leaves them for
    // the next run to remove; files linked into the new version stay).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::DAY;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn frame(days: &[&str], tag: i64) -> DataFrame {
        let days: Vec<NaiveDate> = days.iter().map(|d| day(d)).collect();
        let tags = vec![tag; days.len()];
        df!(DAY => days, "tag" => tags).unwrap()
    }

    fn stored(days: &[&str]) -> Stored {
        let table = |tag| frame(days, tag);
        Stored {
            manifest: Manifest {
                format_version: FORMAT_VERSION,
                table_settings: serde_json::json!({}),
                first_day: days.first().map(|d| day(d)),
                last_day: days.last().map(|d| day(d)),
                inputs: vec!["in.parquet".into()],
                runs: 1,
                written_at: "now".into(),
                blocks: BTreeMap::new(),
            },
            tables: FeatureTables {
                actor_days: table(1),
                hours: table(2),
                items: frame(&[], 3),
                customers: table(4),
                ticket_use: None,
            },
            keys: df!("_utc_day" => [1i32], "_key" => [7u64]).unwrap(),
            history: None,
        }
    }

    fn assert_same(loaded: &Stored, expected: &Stored) {
        let (a, b) = (&loaded.tables, &expected.tables);
        assert_eq!(a.actor_days, b.actor_days);
        assert_eq!(a.hours, b.hours);
        assert_eq!(a.items, b.items);
        assert_eq!(a.customers, b.customers);
        assert!(a.ticket_use.is_none());
        assert_eq!(loaded.keys, expected.keys);
        assert_eq!(loaded.manifest.last_day, expected.manifest.last_day);
    }

    #[cfg(unix)]
    fn inode(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).unwrap().ino()
    }

    fn version_dir(dir: &Path) -> PathBuf {
        dir.join(std::fs::read_link(dir.join(CURRENT)).unwrap())
    }

    /// A night that adds a day rewrites only the block holding it; the
    /// others are the previous version's files, and everything reads back.
    #[test]
    #[cfg(unix)]
    fn a_night_rewrites_only_its_block_and_links_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let days = ["2024-03-18", "2024-03-19", "2024-03-25", "2024-03-26"];
        let first = stored(&days);
        save(dir.path(), &first, UnchangedBefore::NOTHING).unwrap();
        assert_same(&load(dir.path()).unwrap().unwrap(), &first);
        let old = version_dir(dir.path()).join("customers");
        let (old_a, old_b) = (
            inode(&old.join("2024-03-18.parquet")),
            inode(&old.join("2024-03-25.parquet")),
        );
        let mut next = stored(&[
            "2024-03-18",
            "2024-03-19",
            "2024-03-25",
            "2024-03-26",
            "2024-03-27",
        ]);
        next.keys = df!("_utc_day" => [2i32], "_key" => [8u64]).unwrap();
        let unchanged = UnchangedBefore {
            features: day("2024-03-27"),
            history: day("2024-03-27"),
        };
        save(dir.path(), &next, unchanged).unwrap();
        let new = version_dir(dir.path());
        assert_ne!(new.join("customers"), old);
        assert!(!old.exists(), "the old version is removed");
        let customers = new.join("customers");
        assert_eq!(inode(&customers.join("2024-03-18.parquet")), old_a);
        assert_ne!(inode(&customers.join("2024-03-25.parquet")), old_b);
        let loaded = load(dir.path()).unwrap().unwrap();
        assert_same(&loaded, &next);
        assert_eq!(loaded.manifest.blocks["customers"].len(), 2);
        assert_eq!(loaded.manifest.blocks["items"], Vec::new());
    }

    /// A state written before day blocks (one file per table) still loads,
    /// and its next version is written in blocks.
    #[test]
    #[cfg(unix)]
    fn a_single_file_state_loads_and_is_rewritten_in_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let old = stored(&["2024-03-18", "2024-03-25"]);
        let version = dir.path().join("v-1-1");
        owner_only_dir(&version).unwrap();
        let t = &old.tables;
        for (name, frame) in [
            ("actor_days", &t.actor_days),
            ("hours", &t.hours),
            ("items", &t.items),
            ("customers", &t.customers),
            ("keys", &old.keys),
        ] {
            write_parquet(&version.join(format!("{name}.parquet")), frame).unwrap();
        }
        let mut manifest = old.manifest.clone();
        manifest.format_version = SINGLE_FILE_FORMAT;
        write_json(&version.join(MANIFEST), &manifest, true).unwrap();
        switch(dir.path(), "v-1-1").unwrap();
        let loaded = load(dir.path()).unwrap().unwrap();
        assert_same(&loaded, &old);
        save(dir.path(), &loaded, UnchangedBefore::NOTHING).unwrap();
        let reloaded = load(dir.path()).unwrap().unwrap();
        assert_eq!(reloaded.manifest.format_version, FORMAT_VERSION);
        assert!(version_dir(dir.path())
            .join("customers/2024-03-25.parquet")
            .exists());
        assert_same(&reloaded, &old);
    }

    /// A block whose file lost rows is an error, not a shorter history.
    #[test]
    fn a_block_with_other_rows_than_its_manifest_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let first = stored(&["2024-03-18", "2024-03-19"]);
        save(dir.path(), &first, UnchangedBefore::NOTHING).unwrap();
        let block = version_dir(dir.path()).join("hours/2024-03-18.parquet");
        std::fs::remove_file(&block).unwrap();
        write_parquet(&block, &frame(&["2024-03-18"], 2)).unwrap();
        let err = load(dir.path()).err().expect("a short block is refused");
        let text = err.to_string() + &format!("{:?}", std::error::Error::source(&err));
        assert!(text.contains("2024-03-18.parquet"), "{text}");
        assert!(
            text.contains("holds 1 rows and the manifest says 2"),
            "{text}"
        );
    }
}
