//! Turns a raw frame into canonical events: parses timestamps, normalises
//! enums through the config's value maps, applies the `records` defaults, and
//! marks every bad value with its reason. All of it as polars expressions.

use polars::prelude::*;

use crate::schema::{self, *};
use crate::settings::Settings;

/// Prefix of the per-column reason columns (`__bad_ts`, ...).
pub const BAD_PREFIX: &str = "__bad_";

fn null_str() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// Trimmed text with empty strings as null.
fn text(name: &str) -> Expr {
    let trimmed = col(name).str().strip_chars(lit(NULL));
    when(trimmed.clone().eq(lit("")))
        .then(null_str())
        .otherwise(trimmed)
}

/// Optional text: kept as given, with empty strings as null (no trimming,
/// which would copy every string of every column).
fn optional_text(name: &str) -> Expr {
    when(col(name).str().len_bytes().eq(lit(0u32)))
        .then(null_str())
        .otherwise(col(name))
}

const TS_PARTS: &str = r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?(?P<off>Z|[+-]\d{2}:\d{2})?$";

/// Stage 1 of fast timestamp parsing: the parts of a text timestamp, from
/// one regex pass (a struct whose fields are null when the shape is wrong).
fn timestamp_parts(name: &str) -> Expr {
    text(name)
        .str()
        .extract_groups(TS_PARTS)
        .expect("the timestamp pattern compiles")
}

/// Stage 2: UTC nanoseconds from the parts (null when not a valid time).
fn timestamp_from_parts(parts: Expr) -> Expr {
    let field = |f: &str| parts.clone().struct_().field_by_name(f);
    let base = concat_str([field("date"), lit(" "), field("time")], "", false)
        .str()
        .strptime(
            DataType::Datetime(TimeUnit::Nanoseconds, None),
            StrptimeOptions {
                format: Some("%Y-%m-%d %H:%M:%S".into()),
                strict: false,
                exact: true,
                cache: false,
            },
            lit("raise"),
        );
    let frac_ns = field("frac")
        .str()
        .pad_end(lit(9), '0')
        .cast(DataType::Int64)
        .fill_null(lit(0i64));
    let off = field("off");
    let off_h = off
        .clone()
        .str()
        .slice(lit(1), lit(2))
        .cast(DataType::Int64);
    let off_m = off
        .clone()
        .str()
        .slice(lit(4), lit(2))
        .cast(DataType::Int64);
    let sign = when(off.clone().str().starts_with(lit("-")))
        .then(lit(-1i64))
        .otherwise(lit(1i64));
    let zulu = off.clone().is_null().or(off.eq(lit("Z")));
    let off_ns = when(zulu.clone())
        .then(lit(0i64))
        .otherwise(sign * (off_h.clone() * lit(60i64) + off_m.clone()) * lit(60_000_000_000i64));
    let offset_ok = zulu.or(off_h.lt_eq(lit(23i64)).and(off_m.lt_eq(lit(59i64))));
    when(offset_ok)
        .then(base.cast(DataType::Int64) + frac_ns - off_ns)
        .otherwise(lit(NULL).cast(DataType::Int64))
        .cast(DataType::Datetime(TimeUnit::Nanoseconds, None))
}

/// Parses a text timestamp of the contract into UTC nanoseconds in one
/// expression. Returns (parsed, reason-if-bad).
pub fn parse_timestamp_text(name: &str) -> (Expr, Expr) {
    parse_timestamp_parts(name, timestamp_parts(name))
}

/// The common shape `YYYY-MM-DD HH:MM:SS` (no fraction, no offset: UTC)
/// parsed without extracting parts: null for any other shape and for
/// invalid dates, which the full parse ([`parse_timestamp_parts`]) then
/// judges. Where it is not null it equals the full parse.
pub fn plain_timestamp(name: &str) -> Expr {
    let raw = text(name);
    when(
        raw.clone()
            .str()
            .contains(lit(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"), true),
    )
    .then(raw.str().strptime(
        DataType::Datetime(TimeUnit::Nanoseconds, None),
        StrptimeOptions {
            format: Some("%Y-%m-%d %H:%M:%S".into()),
            strict: false,
            exact: true,
            cache: false,
        },
        lit("raise"),
    ))
    .otherwise(lit(NULL).cast(DataType::Datetime(TimeUnit::Nanoseconds, None)))
}

/// Whether a text column holds a value (not null, not blank).
pub fn is_given(name: &str) -> Expr {
    text(name).is_not_null()
}

/// The reason for a missing timestamp, where it is missing.
pub fn missing_timestamp(name: &str) -> Expr {
    when(text(name).is_null())
        .then(lit("missing timestamp"))
        .otherwise(null_str())
}

/// The parts of a text timestamp column as an expression, to be computed
/// once into a column and passed to [`parse_timestamp_parts`] (without
/// common-subexpression elimination, a regex used twice runs twice).
pub fn timestamp_parts_of(name: &str) -> Expr {
    timestamp_parts(name)
}

/// [`parse_timestamp_text`] from its parts, computed beforehand.
pub fn parse_timestamp_parts(name: &str, parts: Expr) -> (Expr, Expr) {
    let raw = text(name);
    let parsed = timestamp_from_parts(parts.clone());
    let reason = when(raw.clone().is_null())
        .then(lit("missing timestamp"))
        .when(raw.str().contains(lit(r"^[+-]?\d+(\.\d+)?$"), true))
        .then(lit(
            "epoch numbers are not accepted; expected YYYY-MM-DD HH:MM:SS",
        ))
        .when(parts.struct_().field_by_name("date").is_null())
        .then(lit(
            "not a timestamp; expected YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM]",
        ))
        .when(parsed.clone().is_null())
        .then(lit("not a valid date, time or UTC offset"))
        .otherwise(null_str());
    (parsed, reason)
}

/// A Parquet timestamp column of any unit; naive means UTC.
fn parse_timestamp_native(name: &str, dtype: &DataType) -> (Expr, Expr) {
    let mut e = col(name);
    if let DataType::Datetime(_, Some(_)) = dtype {
        e = e
            .dt()
            .convert_time_zone(TimeZone::UTC)
            .dt()
            .replace_time_zone(None, lit("raise"), NonExistent::Raise);
    }
    let parsed = e.cast(DataType::Datetime(TimeUnit::Nanoseconds, None));
    let reason = when(col(name).is_null())
        .then(lit("missing timestamp"))
        .otherwise(null_str());
    (parsed, reason)
}

/// Normalises an enum column: source values mapped by the config, then
/// lower-cased, then checked against the contract's set.
fn enum_column(
    name: &str,
    allowed: &[&str],
    default: Option<&str>,
    settings: &Settings,
) -> (Expr, Expr) {
    let raw = text(name);
    let mut mapped = raw.clone();
    if let Some(map) = settings.values.get(name) {
        for (from, to) in map {
            mapped = when(raw.clone().eq(lit(from.as_str())))
                .then(lit(to.as_str()))
                .otherwise(mapped);
        }
    }
    let lowered = mapped.str().to_lowercase();
    let value = match default {
        Some(d) => lowered.fill_null(lit(d)),
        None => lowered,
    };
    let allowed_series = Series::new("allowed".into(), allowed);
    let ok = value
        .clone()
        .is_in(lit(allowed_series).implode(true), false);
    let reason = when(value.clone().is_null())
        .then(lit(format!("missing {name}")))
        .when(ok.not())
        .then(lit(format!(
            "unknown {name}; expected one of {}",
            allowed.join(", ")
        )))
        .otherwise(null_str());
    (value, reason)
}

fn records_column(dtype: &DataType) -> (Expr, Expr) {
    let (parsed, shape_bad) = if dtype.is_integer() {
        (col(RECORDS).cast(DataType::Int64), lit(false))
    } else if dtype.is_float() {
        // Parquet writers often store integer counts with nulls as floats:
        // whole numbers are accepted, fractions are not.
        let value = col(RECORDS);
        let whole = value.clone().eq(value.clone().floor());
        let parsed = when(whole.clone())
            .then(value.clone().cast(DataType::Int64))
            .otherwise(lit(NULL).cast(DataType::Int64));
        (parsed, value.is_not_null().and(whole.not()))
    } else {
        let raw = text(RECORDS);
        let parsed = raw.clone().cast(DataType::Int64);
        (parsed.clone(), raw.is_not_null().and(parsed.is_null()))
    };
    let reason = when(shape_bad)
        .then(lit("not an integer"))
        .when(parsed.clone().lt(lit(0i64)))
        .then(lit("negative record count"))
        .otherwise(null_str());
    (parsed, reason)
}

/// Which columns of a raw frame already hold only canonical values, so
/// that validation can take them as they are instead of trimming and
/// lower-casing every row (judged on the actors' distinct values, one
/// comparison pass over the enum columns, and the null counts and
/// extremes the columns keep). When every column is, no row can be bad
/// and per-row checks are skipped ([`AlreadyCanonical::no_row_can_be_bad`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AlreadyCanonical {
    /// `ts` is a native timestamp without a null.
    pub ts: bool,
    /// `records` is absent, or integers none of which is negative.
    pub records: bool,
    /// `actor_kind` and `status` hold no value at all: every row takes
    /// the contract's default.
    pub actor_kind_absent: bool,
    pub status_absent: bool,
    /// Every actor is non-empty text without surrounding whitespace.
    pub actor: bool,
    /// Every value is present, allowed, lower-case, trimmed and unmapped.
    pub action: bool,
    pub actor_kind: bool,
    pub status: bool,
}

impl AlreadyCanonical {
    /// Every check [`validated`] makes per row is known to pass.
    pub fn no_row_can_be_bad(&self) -> bool {
        self.ts
            && self.actor
            && self.action
            && self.records
            && (self.actor_kind || self.actor_kind_absent)
            && (self.status || self.status_absent)
    }

    /// Judges the columns of `frame` (named as in the contract).
    pub fn of(frame: &DataFrame, settings: &Settings) -> PolarsResult<AlreadyCanonical> {
        let distinct = |name: &str| -> PolarsResult<Option<Vec<Option<String>>>> {
            let Ok(column) = frame.column(name) else {
                return Ok(None);
            };
            let Ok(values) = column.unique()?.str().cloned() else {
                return Ok(None);
            };
            Ok(Some(values.iter().map(|v| v.map(str::to_string)).collect()))
        };
        // An enum column is canonical when every row equals one of the
        // allowed values that the config does not map (comparisons of
        // short strings: cheaper than hashing every row for its distinct
        // values), judged for all enum columns in one pass.
        let enums = [
            (ACTION, &ACTIONS[..]),
            (ACTOR_KIND, &ACTOR_KINDS[..]),
            (STATUS, &STATUSES[..]),
        ];
        let mut checks = Vec::new();
        for (name, allowed) in enums {
            let Ok(column) = frame.column(name) else {
                continue;
            };
            if column.dtype() != &DataType::String || column.null_count() > 0 {
                continue;
            }
            let map = settings.values.get(name);
            let one_of = allowed
                .iter()
                .filter(|v| map.is_none_or(|m| !m.contains_key(**v)))
                .map(|v| col(name).eq(lit(*v)))
                .reduce(|a, b| a.or(b));
            if let Some(one_of) = one_of {
                checks.push(one_of.all(false).alias(name));
            }
        }
        let judged = frame.clone().lazy().select(checks).collect()?;
        let canonical_enum = |name: &str| -> bool {
            judged
                .column(name)
                .ok()
                .and_then(|c| c.bool().ok()?.get(0))
                .unwrap_or(false)
        };
        let all_null = |name: &str| frame.column(name).is_ok_and(|c| c.null_count() == c.len());
        let records = match frame.column(RECORDS) {
            Ok(c) if c.null_count() == c.len() => true,
            Ok(c) if c.dtype().is_integer() => c
                .cast(&DataType::Int64)?
                .i64()?
                .min()
                .is_none_or(|least| least >= 0),
            Ok(_) => false,
            Err(_) => true,
        };
        Ok(AlreadyCanonical {
            ts: frame.column(TS).is_ok_and(|c| {
                matches!(c.dtype(), DataType::Datetime(_, _)) && c.null_count() == 0
            }),
            records,
            actor_kind_absent: all_null(ACTOR_KIND),
            status_absent: all_null(STATUS),
            actor: distinct(ACTOR)?.is_some_and(|values| {
                values
                    .iter()
                    .all(|v| v.as_deref().is_some_and(|v| !v.is_empty() && v.trim() == v))
            }),
            action: canonical_enum(ACTION),
            actor_kind: canonical_enum(ACTOR_KIND),
            status: canonical_enum(STATUS),
        })
    }
}

/// Boolean column: the row has at least one bad value.
pub const BAD: &str = "__bad";

fn allowed(values: &[&str]) -> Expr {
    lit(Series::new("allowed".into(), values)).implode(true)
}

/// Adds the canonical contract columns (prefixed `__`) and the [`BAD`] flag
/// to a raw frame whose columns already carry contract names. Reasons are
/// worked out by [`with_reasons`] on the bad rows only.
pub fn validated(
    raw: LazyFrame,
    schema_of_raw: &Schema,
    canonical: AlreadyCanonical,
    settings: &Settings,
) -> LazyFrame {
    let as_is = |name: &str, yes: bool, normalised: Expr| if yes { col(name) } else { normalised };
    let ts_dtype = schema_of_raw.get(TS).cloned().unwrap_or(DataType::String);
    let native_ts = matches!(ts_dtype, DataType::Datetime(_, _));
    let rec_dtype = schema_of_raw
        .get(RECORDS)
        .cloned()
        .unwrap_or(DataType::String);
    let named = |name: &str| format!("__{name}");
    // An enum with a default: the default where the column holds nothing,
    // as given where already canonical, else normalised.
    let defaulted =
        |name: &str, allowed: &[&str], default: &str, (canonical, absent): (bool, bool)| {
            if absent {
                lit(default)
            } else {
                as_is(
                    name,
                    canonical,
                    enum_column(name, allowed, Some(default), settings).0,
                )
            }
            .alias(named(name))
        };
    // Stage 0: split text timestamps into parts with one regex pass.
    let raw = if native_ts {
        raw
    } else {
        raw.with_column(timestamp_parts(TS).alias("__ts_parts"))
    };
    // Stage 1: parse and normalise, each column once.
    let mut stage1 = vec![
        if native_ts {
            parse_timestamp_native(TS, &ts_dtype).0
        } else {
            timestamp_from_parts(col("__ts_parts"))
        }
        .alias(named(TS)),
        as_is(ACTOR, canonical.actor, text(ACTOR)).alias(named(ACTOR)),
        as_is(
            ACTION,
            canonical.action,
            enum_column(ACTION, &ACTIONS, None, settings).0,
        )
        .alias(named(ACTION)),
        defaulted(
            ACTOR_KIND,
            &ACTOR_KINDS,
            ACTOR_KIND_DEFAULT,
            (canonical.actor_kind, canonical.actor_kind_absent),
        ),
        defaulted(
            STATUS,
            &STATUSES,
            STATUS_DEFAULT,
            (canonical.status, canonical.status_absent),
        ),
        records_column(&rec_dtype).0.alias("__records_parsed"),
        if rec_dtype.is_integer() {
            lit(false)
        } else if rec_dtype.is_float() {
            col(RECORDS).is_not_null()
        } else {
            text(RECORDS).is_not_null()
        }
        .alias("__records_given"),
    ];
    for name in EVENT_TEXT_COLUMNS {
        stage1.push(optional_text(name).alias(named(name)));
    }
    let action = col(named(ACTION));
    let parsed = col("__records_parsed");
    // Stage 2: contract defaults for a missing `records`, and the bad flag.
    let records = when(parsed.clone().is_not_null())
        .then(parsed.clone())
        .when(
            // Comparisons, not `is_in`, which hashes every row.
            ["view", "update", "delete"]
                .into_iter()
                .map(|a| action.clone().eq(lit(a)))
                .reduce(|a, b| a.or(b))
                .expect("three actions"),
        )
        .then(lit(1i64))
        .when(action.clone().eq(lit("login")))
        .then(lit(0i64))
        .otherwise(lit(NULL).cast(DataType::Int64));
    let not_in = |name: &str, values: &[&str]| {
        col(named(name))
            .is_in(allowed(values), false)
            .fill_null(lit(false))
            .not()
    };
    let bad = if canonical.no_row_can_be_bad() {
        lit(false)
    } else {
        col(named(TS))
            .is_null()
            .or(col(named(ACTOR)).is_null())
            .or(not_in(ACTION, &ACTIONS))
            .or(not_in(ACTOR_KIND, &ACTOR_KINDS))
            .or(not_in(STATUS, &STATUSES))
            .or(parsed.clone().lt(lit(0i64)).fill_null(lit(false)))
            .or(col("__records_given").and(parsed.is_null()))
    };
    raw.with_columns(stage1)
        .with_columns([records.alias(named(RECORDS)), bad.alias(BAD)])
}

/// Adds the reason columns (`__bad_*`, null when fine) to bad rows.
pub fn with_reasons(bad_rows: LazyFrame, schema_of_raw: &Schema, settings: &Settings) -> LazyFrame {
    let ts_dtype = schema_of_raw.get(TS).cloned().unwrap_or(DataType::String);
    let rec_dtype = schema_of_raw
        .get(RECORDS)
        .cloned()
        .unwrap_or(DataType::String);
    let ts_bad = if matches!(ts_dtype, DataType::Datetime(_, _)) {
        parse_timestamp_native(TS, &ts_dtype).1
    } else {
        parse_timestamp_text(TS).1
    };
    let actor_bad = when(text(ACTOR).is_null())
        .then(lit("empty actor"))
        .otherwise(null_str());
    bad_rows.with_columns([
        ts_bad.alias(format!("{BAD_PREFIX}{TS}")),
        actor_bad.alias(format!("{BAD_PREFIX}{ACTOR}")),
        enum_column(ACTION, &ACTIONS, None, settings)
            .1
            .alias(format!("{BAD_PREFIX}{ACTION}")),
        records_column(&rec_dtype)
            .1
            .alias(format!("{BAD_PREFIX}{RECORDS}")),
        enum_column(ACTOR_KIND, &ACTOR_KINDS, Some(ACTOR_KIND_DEFAULT), settings)
            .1
            .alias(format!("{BAD_PREFIX}{ACTOR_KIND}")),
        enum_column(STATUS, &STATUSES, Some(STATUS_DEFAULT), settings)
            .1
            .alias(format!("{BAD_PREFIX}{STATUS}")),
    ])
}

/// The contract columns that carry a reason column.
pub const CHECKED: [&str; 6] = [TS, ACTOR, ACTION, RECORDS, ACTOR_KIND, STATUS];

/// Selects the canonical event columns (dropping the `__` prefix).
pub fn canonical_columns() -> Vec<Expr> {
    schema::EVENT_COLUMNS
        .iter()
        .map(|c| col(format!("__{c}")).alias(*c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(actors: &[&str], actions: &[&str]) -> DataFrame {
        let n = actors.len();
        let frame = df!(
            TS => vec!["2024-03-01 10:00:00"; n],
            ACTOR => actors,
            ACTION => actions,
            RECORDS => vec![None::<&str>; n],
            ACTOR_KIND => vec!["employee"; n],
            STATUS => vec!["ok"; n],
        )
        .unwrap();
        let path = std::path::Path::new("test.csv");
        super::super::conformed(frame, path, &EVENT_COLUMNS, &[])
            .unwrap()
            .0
    }

    fn canonical_events(frame: &DataFrame, canonical: AlreadyCanonical) -> DataFrame {
        let settings = Settings::default();
        validated(frame.clone().lazy(), frame.schema(), canonical, &settings)
            .select([
                col(named_for_test(ACTOR)),
                col(named_for_test(ACTION)),
                col(named_for_test(ACTOR_KIND)),
                col(named_for_test(STATUS)),
                col(BAD),
            ])
            .collect()
            .unwrap()
    }

    fn named_for_test(name: &str) -> String {
        format!("__{name}")
    }

    #[test]
    fn columns_already_canonical_skip_normalising_with_the_same_result() {
        let settings = Settings::default();
        let clean = raw(&["a", "b"], &["view", "export"]);
        let judged = AlreadyCanonical::of(&clean, &settings).unwrap();
        assert_eq!(
            judged,
            AlreadyCanonical {
                actor: true,
                action: true,
                actor_kind: true,
                status: true,
                // A text timestamp is parsed row by row.
                ts: false,
                records: true,
                actor_kind_absent: false,
                status_absent: false,
            }
        );
        assert_eq!(
            canonical_events(&clean, judged),
            canonical_events(&clean, AlreadyCanonical::default())
        );
        // Anything that normalising would change takes the full path.
        let messy = raw(&[" a", "b"], &["VIEW", "export"]);
        let judged = AlreadyCanonical::of(&messy, &settings).unwrap();
        assert!(!judged.actor && !judged.action && judged.status);
        let events = canonical_events(&messy, judged);
        let actors: Vec<Option<&str>> = events
            .column("__actor")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(actors, [Some("a"), Some("b")]);
        let actions: Vec<Option<&str>> = events
            .column("__action")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(actions, [Some("view"), Some("export")]);
        // A value the config maps is not canonical either.
        let mapped = Settings {
            values: [(
                ACTION.to_string(),
                [("export".to_string(), "view".to_string())]
                    .into_iter()
                    .collect(),
            )]
            .into_iter()
            .collect(),
            ..Settings::default()
        };
        assert!(!AlreadyCanonical::of(&clean, &mapped).unwrap().action);
        // An unknown action is left for validation to reject.
        let unknown = raw(&["a"], &["peek"]);
        let judged = AlreadyCanonical::of(&unknown, &settings).unwrap();
        assert!(!judged.action);
        let bad: Vec<Option<bool>> = canonical_events(&unknown, judged)
            .column(BAD)
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(bad, [Some(true)]);
    }

    /// A Parquet-like frame: native timestamps, integer records (some
    /// missing), no `actor_kind` or `status` values.
    fn typed(records: &[Option<i64>]) -> DataFrame {
        let n = records.len();
        let ts: Vec<chrono::NaiveDateTime> = (0..n)
            .map(|i| {
                chrono::DateTime::from_timestamp(1_709_280_000 + i as i64, 0)
                    .unwrap()
                    .naive_utc()
            })
            .collect();
        let actions: Vec<&str> = ["view", "search", "export", "login"]
            .into_iter()
            .cycle()
            .take(n)
            .collect();
        let frame = df!(
            TS => ts,
            ACTOR => vec!["a"; n],
            ACTION => actions,
            RECORDS => records,
        )
        .unwrap();
        let path = std::path::Path::new("test.parquet");
        super::super::conformed(frame, path, &EVENT_COLUMNS, &[])
            .unwrap()
            .0
    }

    fn validated_rows(frame: &DataFrame, canonical: AlreadyCanonical) -> DataFrame {
        let mut columns = canonical_columns();
        columns.push(col(BAD));
        validated(
            frame.clone().lazy(),
            frame.schema(),
            canonical,
            &Settings::default(),
        )
        .select(columns)
        .collect()
        .unwrap()
    }

    fn bad_flags(frame: &DataFrame, canonical: AlreadyCanonical) -> Vec<Option<bool>> {
        validated_rows(frame, canonical)
            .column(BAD)
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect()
    }

    #[test]
    fn a_frame_whose_every_column_is_canonical_skips_row_checks_with_the_same_events() {
        let settings = Settings::default();
        let frame = typed(&[Some(3), None, None, Some(0), None, Some(7)]);
        let judged = AlreadyCanonical::of(&frame, &settings).unwrap();
        assert!(judged.ts && judged.records);
        assert!(judged.actor_kind_absent && judged.status_absent);
        assert!(judged.no_row_can_be_bad());
        let fast = validated_rows(&frame, judged);
        assert_eq!(fast, validated_rows(&frame, AlreadyCanonical::default()));
        let kinds: Vec<Option<&str>> = fast
            .column(ACTOR_KIND)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(kinds, vec![Some(ACTOR_KIND_DEFAULT); 6]);
        // Missing records take the contract's defaults (a view 1, a
        // search or an export unknown, a login 0).
        let records: Vec<Option<i64>> = fast
            .column(RECORDS)
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(records, [Some(3), None, None, Some(0), Some(1), Some(7)]);
    }

    #[test]
    fn one_bad_value_sends_the_whole_frame_through_row_checks() {
        let settings = Settings::default();
        let negative = typed(&[Some(3), Some(-1)]);
        let judged = AlreadyCanonical::of(&negative, &settings).unwrap();
        assert!(!judged.records && !judged.no_row_can_be_bad());
        assert_eq!(bad_flags(&negative, judged), [Some(false), Some(true)]);
        let mut missing_ts = typed(&[Some(1), Some(2)]);
        let ts = missing_ts.column(TS).unwrap().clone();
        let mask = BooleanChunked::new("m".into(), [true, false]);
        missing_ts
            .with_column(
                ts.as_materialized_series()
                    .zip_with(&mask, &Series::full_null(TS.into(), 2, ts.dtype()))
                    .unwrap()
                    .into(),
            )
            .unwrap();
        let judged = AlreadyCanonical::of(&missing_ts, &settings).unwrap();
        assert!(!judged.ts && !judged.no_row_can_be_bad());
        assert_eq!(bad_flags(&missing_ts, judged), [Some(false), Some(true)]);
        let mut blank_kind = typed(&[Some(1), Some(2)]);
        blank_kind
            .with_column(Column::new(
                ACTOR_KIND.into(),
                [Some("vendor"), Some("robot")],
            ))
            .unwrap();
        let judged = AlreadyCanonical::of(&blank_kind, &settings).unwrap();
        assert!(!judged.actor_kind && !judged.actor_kind_absent);
        assert!(!judged.no_row_can_be_bad());
    }
}
